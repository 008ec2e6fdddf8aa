/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* TLS for openshell-proxy (openshell/SPEC.md §2.8): the sandbox CA that signs a leaf certificate per
 * host on demand, the server side that terminates an agent's TLS with such a leaf, and the client side
 * that opens TLS to the real upstream and verifies it against OpenSSL's default trust store.
 *
 * A ProxyStream is one side of a connection, plain or TLS, driven by the caller's event loop. TLS
 * streams use memory BIOs: the stream itself does every recv()/send() on the non-blocking socket, so
 * bytes already read before TLS started (a ClientHello sent right behind the CONNECT head) can be
 * handed in, and what a call waits for is always one of EPOLLIN/EPOLLOUT on that socket. No logging. */

#include <stdint.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "buf.h"

#define PROXY_TLS_CACHE_MAX 256U
/* Ciphertext queued for the socket before a stream stops accepting plaintext. */
#define PROXY_STREAM_OUT_MAX (64U * 1024U)

typedef struct ProxyTls {
        EVP_PKEY *ca_key, *leaf_key;
        X509 *ca_cert;
        SSL_CTX *server, *client;
        struct {
                char *host;
                X509 *cert;
        } cache[PROXY_TLS_CACHE_MAX];
        size_t n_cache;
} ProxyTls;

/* Loads the CA (PEM certificate; PEM private key, PKCS#8 or traditional) and checks that they belong
 * together and that the certificate may sign; makes the leaf key and both contexts. On failure
 * *ret_error says what is wrong in words a person can act on (static or allocated: free it). */
int proxy_tls_new(const char *ca_cert_path, const char *ca_key_path, ProxyTls **ret, char **ret_error);
ProxyTls *proxy_tls_free(ProxyTls *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(ProxyTls *, proxy_tls_free);

/* The leaf certificate for host (a DNS name, or an IPv4/IPv6 literal without brackets): CN=host, the
 * SAN a DNS name or an IP address, signed by the CA, valid from an hour ago for 30 days. Cached; the
 * cache is emptied when it holds PROXY_TLS_CACHE_MAX hosts. The reference returned belongs to the
 * cache and is valid until the next call. */
int proxy_tls_leaf(ProxyTls *t, const char *host, X509 **ret);

typedef struct ProxyStream {
        int fd;           /* borrowed */
        SSL *ssl;         /* NULL: plain bytes */
        BIO *rbio, *wbio; /* owned by ssl */
        Buf out;          /* ciphertext taken from wbio, not yet sent */
        bool handshake_done;
        bool eof;          /* the socket's read side ended */
        uint32_t wait;     /* EPOLLIN/EPOLLOUT the last call that returned -EAGAIN (or 0) waits for */
        int verify_result; /* client streams: X509_V_OK or why the upstream certificate failed */
} ProxyStream;

void proxy_stream_init(ProxyStream *s, int fd);
void proxy_stream_done(ProxyStream *s);

/* Terminates TLS on s with the leaf for host. prefix: bytes of the TLS stream already read from the
 * socket (may be NULL). */
int proxy_stream_tls_server(ProxyStream *s, ProxyTls *t, const char *host, const void *prefix, size_t size);
/* Opens TLS to the upstream host (name: SNI and name check; IP literal: IP check). */
int proxy_stream_tls_client(ProxyStream *s, ProxyTls *t, const char *host);

/* 1 when the handshake is done, -EAGAIN while it waits (s->wait says for what), -ECONNRESET if the
 * peer closed, -EPROTO on a TLS failure (client streams: s->verify_result tells a certificate
 * failure). Plain streams: 1 at once. */
int proxy_stream_handshake(ProxyStream *s);
/* > 0 bytes read, 0 at the end of the stream, -EAGAIN, or a negative errno. */
ssize_t proxy_stream_read(ProxyStream *s, void *buf, size_t size);
/* > 0 bytes taken (all of them for TLS streams), -EAGAIN when the socket is full, or a negative
 * errno. TLS streams take at most 16 KiB per call. */
ssize_t proxy_stream_write(ProxyStream *s, const void *buf, size_t size);
/* Sends queued ciphertext: 0 when nothing is left, -EAGAIN, or a negative errno. */
int proxy_stream_flush(ProxyStream *s);
/* Bytes the stream holds that a read returns without waiting for the socket. */
bool proxy_stream_has_pending(const ProxyStream *s) _pure_;
/* Queues close_notify (TLS) and flushes: 0 when all is sent, -EAGAIN, or a negative errno. The
 * caller shuts the socket down. */
int proxy_stream_close_notify(ProxyStream *s);
