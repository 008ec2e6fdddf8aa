/* SPDX-License-Identifier: Apache-2.0 */
/* openshell-fake-https: an HTTPS server for the integration tests of the egress proxy's L7
 * inspection (tests/integration/cases/29-sandbox-l7.sh), which the testbed's minimal Python cannot
 * be (no ssl module) and nothing else there offers.
 *
 *   openshell-fake-https --listen ADDRESS:PORT --cert-out FILE
 *
 * Makes a fresh EC P-256 key and a self-signed certificate for ADDRESS (an IPv4 address: IP SAN and
 * CN), writes the certificate to FILE (the trust anchor a client needs), prints "ready" and serves:
 * one process per connection, requests read one after the other (keep-alive), each answered
 * 200 with the body "METHOD PATH". Request bodies with Content-Length are read and dropped. Ends
 * with SIGTERM. Only for tests: no limits beyond a 16 KiB request head. */

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define HEAD_MAX (16 * 1024)

static int fail(const char *what) {
        fprintf(stderr, "openshell-fake-https: %s\n", what);
        ERR_print_errors_fp(stderr);
        return EXIT_FAILURE;
}

static int add_ext(X509 *x, int nid, const char *value) {
        X509V3_CTX ctx;
        X509_EXTENSION *e;
        int r;

        X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
        e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
        if (!e)
                return -1;
        r = X509_add_ext(x, e, -1) ? 0 : -1;
        X509_EXTENSION_free(e);
        return r;
}

/* A self-signed certificate for the IPv4 address ADDR. */
static X509 *make_cert(EVP_PKEY *key, const char *addr) {
        X509 *x = X509_new();
        X509_NAME *name;
        char san[64];

        if (!x)
                return NULL;
        snprintf(san, sizeof san, "IP:%s", addr);
        name = X509_get_subject_name(x);
        if (!X509_set_version(x, 2) || !ASN1_INTEGER_set(X509_get_serialNumber(x), (long) getpid()) ||
            !X509_gmtime_adj(X509_getm_notBefore(x), -3600) || !X509_gmtime_adj(X509_getm_notAfter(x), 86400) ||
            !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *) addr, -1, -1, 0) ||
            !X509_set_issuer_name(x, name) || !X509_set_pubkey(x, key) ||
            add_ext(x, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
            add_ext(x, NID_subject_key_identifier, "hash") < 0 ||
            add_ext(x, NID_authority_key_identifier, "keyid:always") < 0 ||
            add_ext(x, NID_subject_alt_name, san) < 0 || !X509_sign(x, key, EVP_sha256())) {
                X509_free(x);
                return NULL;
        }
        return x;
}

/* Reads one request head into buf (NUL-terminated); its length, 0 at the end of the connection. */
static int read_head(SSL *ssl, char *buf, size_t size, size_t *have) {
        for (;;) {
                char *end = memmem(buf, *have, "\r\n\r\n", 4);
                int n;

                if (end)
                        return (int) (end - buf) + 4;
                if (*have >= size - 1)
                        return -1;
                n = SSL_read(ssl, buf + *have, (int) (size - 1 - *have));
                if (n <= 0)
                        return 0;
                *have += (size_t) n;
                buf[*have] = '\0';
        }
}

static void serve(SSL *ssl) {
        static char buf[HEAD_MAX + 1];
        size_t have = 0;

        for (;;) {
                char method[16], path[1024], answer[1200], body[1100];
                const char *cl;
                unsigned long length = 0;
                int head = read_head(ssl, buf, sizeof buf, &have);

                if (head <= 0 || sscanf(buf, "%15s %1023s", method, path) != 2)
                        return;
                cl = strcasestr(buf, "\r\ncontent-length:");
                if (cl && cl < buf + head)
                        length = strtoul(cl + strlen("\r\ncontent-length:"), NULL, 10);
                /* drop the body: what is buffered first, then the rest */
                have -= (size_t) head;
                memmove(buf, buf + head, have);
                while (length > 0) {
                        size_t take = length < have ? length : have;
                        int n;

                        memmove(buf, buf + take, have - take);
                        have -= take;
                        length -= take;
                        if (length == 0)
                                break;
                        n = SSL_read(ssl, buf, (int) (sizeof buf - 1));
                        if (n <= 0)
                                return;
                        have = (size_t) n;
                }
                snprintf(body, sizeof body, "%s %s", method, path);
                snprintf(answer, sizeof answer,
                         "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
                         strlen(body), body);
                if (SSL_write(ssl, answer, (int) strlen(answer)) <= 0)
                        return;
        }
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "listen", required_argument, NULL, 'l' },
                { "cert-out", required_argument, NULL, 'c' },
                {},
        };
        const char *listen_arg = NULL, *cert_out = NULL;
        char addr[INET_ADDRSTRLEN];
        struct sockaddr_in sa = { .sin_family = AF_INET };
        EVP_PKEY *key;
        X509 *cert;
        SSL_CTX *ctx;
        FILE *f;
        int c, fd, one = 1;
        const char *colon;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'l':
                        listen_arg = optarg;
                        break;
                case 'c':
                        cert_out = optarg;
                        break;
                default:
                        return 2;
                }
        colon = listen_arg ? strrchr(listen_arg, ':') : NULL;
        if (!colon || !cert_out || (size_t) (colon - listen_arg) >= sizeof addr) {
                fprintf(stderr, "usage: openshell-fake-https --listen ADDRESS:PORT --cert-out FILE\n");
                return 2;
        }
        memcpy(addr, listen_arg, (size_t) (colon - listen_arg));
        addr[colon - listen_arg] = '\0';
        sa.sin_port = htons((uint16_t) atoi(colon + 1));
        if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
                return fail("--listen: not an IPv4 address and port");

        key = EVP_EC_gen("P-256");
        cert = key ? make_cert(key, addr) : NULL;
        if (!cert)
                return fail("cannot make the certificate");
        f = fopen(cert_out, "we");
        if (!f || !PEM_write_X509(f, cert) || fclose(f) != 0)
                return fail("cannot write --cert-out");
        ctx = SSL_CTX_new(TLS_server_method());
        if (!ctx || !SSL_CTX_use_certificate(ctx, cert) || !SSL_CTX_use_PrivateKey(ctx, key))
                return fail("cannot set up TLS");

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
            bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(fd, 128) < 0)
                return fail(strerror(errno));
        signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
        printf("ready\n");
        fflush(stdout);

        for (;;) {
                int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
                pid_t pid;

                if (cfd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        return fail(strerror(errno));
                }
                pid = fork();
                if (pid == 0) {
                        SSL *ssl = SSL_new(ctx);

                        if (ssl && SSL_set_fd(ssl, cfd) && SSL_accept(ssl) == 1) {
                                serve(ssl);
                                (void) SSL_shutdown(ssl);
                        }
                        _exit(0);
                }
                close(cfd);
        }
}
