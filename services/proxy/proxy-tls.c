/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "proxy-tls.h"
#include "string-util.h"

#define LEAF_DAYS 30
#define TLS_RECORD_MAX (16U * 1024U)

static const unsigned char alpn_http11[] = { 8, 'h', 't', 't', 'p', '/', '1', '.', '1' };

static inline BIO *bio_free(BIO *b) {
        BIO_free(b);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, bio_free);

static void proxy_tls_cache_clear(ProxyTls *t) {
        for (size_t i = 0; i < t->n_cache; i++) {
                free(t->cache[i].host);
                X509_free(t->cache[i].cert);
        }
        t->n_cache = 0;
}

ProxyTls *proxy_tls_free(ProxyTls *t) {
        if (!t)
                return NULL;
        proxy_tls_cache_clear(t);
        SSL_CTX_free(t->server);
        SSL_CTX_free(t->client);
        X509_free(t->ca_cert);
        EVP_PKEY_free(t->ca_key);
        EVP_PKEY_free(t->leaf_key);
        return mfree(t);
}

/* The agent's client asked for protocols: only http/1.1 is offered, so nobody speaks h2 to the
 * inspecting parser; a client that offers no http/1.1 gets no ALPN answer and falls back to it. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned inlen, void *arg) {
        for (unsigned i = 0; i < inlen; i += 1U + in[i])
                if (in[i] == 8 && i + 9 <= inlen && memcmp(in + i + 1, "http/1.1", 8) == 0) {
                        *out = in + i + 1;
                        *outlen = 8;
                        return SSL_TLSEXT_ERR_OK;
                }
        return SSL_TLSEXT_ERR_NOACK;
}

static char *openssl_error(void) {
        unsigned long e = ERR_get_error();
        char buf[256];

        if (e == 0)
                return strdup("unknown error");
        ERR_error_string_n(e, buf, sizeof(buf));
        ERR_clear_error();
        return strdup(buf);
}

/* "WHAT PATH: openssl's reason" */
static int fail(char **ret_error, int r, const char *what, const char *path) {
        _cleanup_free_ char *why = openssl_error();

        if (asprintf_safe(ret_error, "%s %s: %s", what, path, strna(why)) < 0)
                *ret_error = NULL;
        return r;
}

static int load_ca(ProxyTls *t, const char *cert_path, const char *key_path, char **ret_error) {
        _cleanup_(bio_freep) BIO *cb = NULL, *kb = NULL;

        cb = BIO_new_file(cert_path, "r");
        if (!cb)
                return fail(ret_error, -ENOENT, "Cannot read the CA certificate", cert_path);
        t->ca_cert = PEM_read_bio_X509(cb, NULL, NULL, NULL);
        if (!t->ca_cert)
                return fail(ret_error, -EBADMSG, "No PEM certificate in", cert_path);
        kb = BIO_new_file(key_path, "r");
        if (!kb)
                return fail(ret_error, -ENOENT, "Cannot read the CA key", key_path);
        t->ca_key = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
        if (!t->ca_key)
                return fail(ret_error, -EBADMSG, "No PEM private key in", key_path);
        if (X509_check_private_key(t->ca_cert, t->ca_key) != 1)
                return fail(ret_error, -EINVAL, "The CA certificate does not match the key", key_path);
        if (X509_check_ca(t->ca_cert) == 0) {
                ERR_clear_error();
                return asprintf_safe(ret_error,
                                     "%s is not a CA certificate (basicConstraints CA:TRUE is missing)",
                                     cert_path) < 0
                               ? -ENOMEM
                               : -EINVAL;
        }
        return 0;
}

static SSL_CTX *server_ctx_new(void) {
        SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

        if (!ctx)
                return NULL;
        if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
                SSL_CTX_free(ctx);
                return NULL;
        }
        SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_num_tickets(ctx, 0);
        SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
        return ctx;
}

static SSL_CTX *client_ctx_new(void) {
        SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

        if (!ctx)
                return NULL;
        /* The trust store is the system's (SSL_CERT_FILE/SSL_CERT_DIR override it, as for any
         * OpenSSL program). */
        if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
            SSL_CTX_set_default_verify_paths(ctx) != 1 ||
            SSL_CTX_set_alpn_protos(ctx, alpn_http11, sizeof(alpn_http11)) != 0) {
                SSL_CTX_free(ctx);
                return NULL;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
        return ctx;
}

int proxy_tls_new(const char *ca_cert_path, const char *ca_key_path, ProxyTls **ret, char **ret_error) {
        _cleanup_(proxy_tls_freep) ProxyTls *t = NULL;
        int r;

        *ret_error = NULL;
        t = calloc(1, sizeof(ProxyTls));
        if (!t)
                return -ENOMEM;
        r = load_ca(t, ca_cert_path, ca_key_path, ret_error);
        if (r < 0)
                return r;
        /* One leaf key for the whole process: a leaf is only as trusted as the CA that signs it, and
         * making a key per host would cost a key generation per new host. */
        t->leaf_key = EVP_EC_gen("P-256");
        t->server = server_ctx_new();
        t->client = client_ctx_new();
        if (!t->leaf_key || !t->server || !t->client)
                return fail(ret_error, -ENOMEM, "Cannot set up TLS with", ca_cert_path);
        *ret = TAKE_PTR(t);
        return 0;
}

static int leaf_add_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
        X509V3_CTX ctx;
        X509_EXTENSION *ext;
        int r;

        X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
        ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
        if (!ext)
                return -EINVAL;
        r = X509_add_ext(cert, ext, -1);
        X509_EXTENSION_free(ext);
        return r == 1 ? 0 : -ENOMEM;
}

static int leaf_make(ProxyTls *t, const char *host, X509 **ret) {
        _cleanup_free_ char *san = NULL;
        unsigned char serial[16], addr[16];
        X509 *cert;
        BIGNUM *bn = NULL;
        bool ip;
        int r = -ENOMEM;

        /* Names only of the characters a DNS name has: nothing that the config syntax of
         * X509V3_EXT_conf_nid() would read as a separator. */
        if (isempty(host) || strlen(host) > 253 ||
            host[strspn(host, "abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")])
                return -EINVAL;
        ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
        if (!ip && strchr(host, ':'))
                return -EINVAL;
        if (asprintf_safe(&san, "%s:%s", ip ? "IP" : "DNS", host) < 0)
                return -ENOMEM;

        cert = X509_new();
        if (!cert)
                return -ENOMEM;
        if (RAND_bytes(serial, sizeof(serial)) != 1)
                goto finish;
        serial[0] &= 0x7f; /* positive */
        bn = BN_bin2bn(serial, sizeof(serial), NULL);
        if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)))
                goto finish;
        if (X509_set_version(cert, 2) != 1 || !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
            !X509_gmtime_adj(X509_getm_notAfter(cert), (long) LEAF_DAYS * 24 * 3600) ||
            X509_set_issuer_name(cert, X509_get_subject_name(t->ca_cert)) != 1 ||
            X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                                       (const unsigned char *) host, -1, -1, 0) != 1 ||
            X509_set_pubkey(cert, t->leaf_key) != 1)
                goto finish;
        r = leaf_add_ext(cert, t->ca_cert, NID_subject_alt_name, san);
        if (r >= 0)
                r = leaf_add_ext(cert, t->ca_cert, NID_basic_constraints, "critical,CA:FALSE");
        if (r >= 0)
                r = leaf_add_ext(cert, t->ca_cert, NID_key_usage, "critical,digitalSignature,keyEncipherment");
        if (r >= 0)
                r = leaf_add_ext(cert, t->ca_cert, NID_ext_key_usage, "serverAuth");
        if (r >= 0)
                r = leaf_add_ext(cert, t->ca_cert, NID_subject_key_identifier, "hash");
        if (r >= 0)
                r = leaf_add_ext(cert, t->ca_cert, NID_authority_key_identifier, "keyid:always");
        if (r < 0)
                goto finish;
        r = X509_sign(cert, t->ca_key, EVP_sha256()) > 0 ? 0 : -EINVAL;
finish:
        BN_free(bn);
        if (r < 0) {
                ERR_clear_error();
                X509_free(cert);
                return r;
        }
        *ret = cert;
        return 0;
}

int proxy_tls_leaf(ProxyTls *t, const char *host, X509 **ret) {
        X509 *cert = NULL;
        char *h;
        int r;

        for (size_t i = 0; i < t->n_cache; i++)
                if (strcasecmp(t->cache[i].host, host) == 0) {
                        *ret = t->cache[i].cert;
                        return 0;
                }
        r = leaf_make(t, host, &cert);
        if (r < 0)
                return r;
        h = strdup(host);
        if (!h) {
                X509_free(cert);
                return -ENOMEM;
        }
        /* As upstream: a full cache is emptied, not evicted one by one. Sessions hold their own
         * reference (SSL_use_certificate()), so no certificate in use goes away. */
        if (t->n_cache >= PROXY_TLS_CACHE_MAX)
                proxy_tls_cache_clear(t);
        t->cache[t->n_cache].host = h;
        t->cache[t->n_cache].cert = cert;
        t->n_cache++;
        *ret = cert;
        return 0;
}

/* ---- streams ---- */

void proxy_stream_init(ProxyStream *s, int fd) {
        *s = (ProxyStream) {
                .fd = fd,
                .out = BUF_INIT(PROXY_STREAM_OUT_MAX + 2 * TLS_RECORD_MAX + 1024),
                .verify_result = X509_V_OK,
        };
}

void proxy_stream_done(ProxyStream *s) {
        SSL_free(s->ssl);
        s->ssl = NULL;
        s->rbio = s->wbio = NULL;
        buf_done(&s->out);
}

static int stream_tls_new(ProxyStream *s, SSL_CTX *ctx) {
        s->ssl = SSL_new(ctx);
        s->rbio = BIO_new(BIO_s_mem());
        s->wbio = BIO_new(BIO_s_mem());
        if (!s->ssl || !s->rbio || !s->wbio) {
                BIO_free(s->rbio);
                BIO_free(s->wbio);
                SSL_free(s->ssl);
                s->ssl = NULL;
                s->rbio = s->wbio = NULL;
                return -ENOMEM;
        }
        /* A read from an empty memory BIO is "retry", not the end of the stream. */
        BIO_set_mem_eof_return(s->rbio, -1);
        SSL_set_bio(s->ssl, s->rbio, s->wbio);
        return 0;
}

int proxy_stream_tls_server(ProxyStream *s, ProxyTls *t, const char *host, const void *prefix, size_t size) {
        X509 *cert;
        int r;

        r = proxy_tls_leaf(t, host, &cert);
        if (r < 0)
                return r;
        r = stream_tls_new(s, t->server);
        if (r < 0)
                return r;
        if (SSL_use_certificate(s->ssl, cert) != 1 || SSL_use_PrivateKey(s->ssl, t->leaf_key) != 1 ||
            (size > 0 && BIO_write(s->rbio, prefix, (int) size) != (int) size)) {
                ERR_clear_error();
                return -ENOMEM;
        }
        SSL_set_accept_state(s->ssl);
        return 0;
}

int proxy_stream_tls_client(ProxyStream *s, ProxyTls *t, const char *host) {
        unsigned char addr[16];
        bool ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
        int r;

        r = stream_tls_new(s, t->client);
        if (r < 0)
                return r;
        if (ip)
                r = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), host) == 1 ? 0 : -EINVAL;
        else
                r = SSL_set_tlsext_host_name(s->ssl, host) == 1 && SSL_set1_host(s->ssl, host) == 1 ? 0
                                                                                                    : -EINVAL;
        if (r < 0) {
                ERR_clear_error();
                return r;
        }
        SSL_set_connect_state(s->ssl);
        return 0;
}

/* Moves what TLS produced to the socket. */
int proxy_stream_flush(ProxyStream *s) {
        if (s->ssl)
                while (BIO_ctrl_pending(s->wbio) > 0 && s->out.size < PROXY_STREAM_OUT_MAX) {
                        char buf[TLS_RECORD_MAX];
                        int n = BIO_read(s->wbio, buf, sizeof(buf));

                        if (n <= 0)
                                break;
                        if (buf_append(&s->out, buf, (size_t) n) < 0)
                                return -ENOMEM;
                }
        while (s->out.size > 0) {
                ssize_t n = send(s->fd, s->out.data, s->out.size, MSG_NOSIGNAL | MSG_DONTWAIT);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                s->wait = EPOLLOUT;
                                return -EAGAIN;
                        }
                        return -errno;
                }
                buf_consume(&s->out, (size_t) n);
                if (s->out.size == 0 && s->ssl && BIO_ctrl_pending(s->wbio) > 0)
                        return proxy_stream_flush(s);
        }
        return 0;
}

/* Moves what the socket has to TLS: 1, 0 at its end, -EAGAIN, or a negative errno. */
static int stream_fill(ProxyStream *s) {
        char buf[TLS_RECORD_MAX];
        ssize_t n;

        if (s->eof)
                return 0;
        n = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                        s->wait = EPOLLIN;
                        return -EAGAIN;
                }
                return -errno;
        }
        if (n == 0) {
                s->eof = true;
                return 0;
        }
        return BIO_write(s->rbio, buf, (int) n) == (int) n ? 1 : -ENOMEM;
}

int proxy_stream_handshake(ProxyStream *s) {
        int r;

        if (!s->ssl || s->handshake_done)
                return 1;
        for (;;) {
                int k = SSL_do_handshake(s->ssl);

                r = proxy_stream_flush(s);
                if (r < 0 && r != -EAGAIN)
                        return r;
                if (k == 1) {
                        s->handshake_done = true;
                        /* the last flight may still be queued: it goes with the next write or flush */
                        return 1;
                }
                switch (SSL_get_error(s->ssl, k)) {
                case SSL_ERROR_WANT_READ:
                        if (r == -EAGAIN)
                                return -EAGAIN; /* the peer needs our flight first */
                        r = stream_fill(s);
                        if (r == 0)
                                return -ECONNRESET;
                        if (r < 0)
                                return r;
                        continue;
                default:
                        s->verify_result = (int) SSL_get_verify_result(s->ssl);
                        ERR_clear_error();
                        return -EPROTO;
                }
        }
}

ssize_t proxy_stream_read(ProxyStream *s, void *buf, size_t size) {
        int r;

        if (!s->ssl) {
                ssize_t n = recv(s->fd, buf, size, MSG_DONTWAIT);

                if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                        s->wait = EPOLLIN;
                        return -EAGAIN;
                }
                if (n == 0)
                        s->eof = true;
                return n < 0 ? -errno : n;
        }
        for (;;) {
                int n = SSL_read(s->ssl, buf, (int) MIN(size, (size_t) INT32_MAX));

                if (n > 0)
                        return n;
                switch (SSL_get_error(s->ssl, n)) {
                case SSL_ERROR_ZERO_RETURN:
                        return 0;
                case SSL_ERROR_WANT_READ:
                        r = proxy_stream_flush(s);
                        if (r < 0 && r != -EAGAIN)
                                return r;
                        r = stream_fill(s);
                        if (r == 0)
                                return 0; /* closed without close_notify: the end, for HTTP framing to judge */
                        if (r < 0)
                                return r;
                        continue;
                default:
                        ERR_clear_error();
                        return -EPROTO;
                }
        }
}

ssize_t proxy_stream_write(ProxyStream *s, const void *buf, size_t size) {
        int r, n;

        if (size == 0)
                return 0;
        if (!s->ssl) {
                ssize_t k = send(s->fd, buf, size, MSG_NOSIGNAL | MSG_DONTWAIT);

                if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
                        s->wait = EPOLLOUT;
                        return -EAGAIN;
                }
                return k < 0 ? -errno : k;
        }
        r = proxy_stream_flush(s);
        if (r < 0)
                return r;
        n = SSL_write(s->ssl, buf, (int) MIN(size, TLS_RECORD_MAX));
        if (n <= 0) {
                ERR_clear_error();
                return -EPROTO;
        }
        r = proxy_stream_flush(s);
        if (r < 0 && r != -EAGAIN)
                return r;
        return n;
}

bool proxy_stream_has_pending(const ProxyStream *s) {
        return s->ssl && (SSL_pending(s->ssl) > 0 || BIO_ctrl_pending(s->rbio) > 0);
}

int proxy_stream_close_notify(ProxyStream *s) {
        if (s->ssl && s->handshake_done) {
                (void) SSL_shutdown(s->ssl);
                ERR_clear_error();
        }
        return proxy_stream_flush(s);
}
