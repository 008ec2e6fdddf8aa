/* SPDX-License-Identifier: Apache-2.0 */
/* The TLS layer: the CA loaded from the files the supervisor writes, leaf certificates that verify
 * against it (name and IP), the bounded cache, clear errors for bad CA files, and a handshake between
 * a server and a client stream over a socketpair, driven as the event loop drives them. */
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "check-util.h"
#include "proxy-tls.h"

static char dir[] = "/tmp/test-proxy-tls-XXXXXX";
static char ca_cert[256], ca_key[256], other_key[256], leaf_as_ca[256];

static void write_pem_key(const char *path, EVP_PKEY *k) {
        FILE *f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
        fclose(f);
}

static void add_ext(X509 *c, int nid, const char *v) {
        X509V3_CTX ctx;
        X509_EXTENSION *e;

        X509V3_set_ctx(&ctx, c, c, NULL, NULL, 0);
        e = X509V3_EXT_conf_nid(NULL, &ctx, nid, v);
        ck_assert_ptr_nonnull(e);
        ck_assert_int_eq(X509_add_ext(c, e, -1), 1);
        X509_EXTENSION_free(e);
}

/* A CA as contract 1 describes it (or, with ca false, a self-signed certificate that may not sign). */
static void write_cert(const char *path, EVP_PKEY *k, bool ca) {
        X509 *c = X509_new();
        FILE *f;

        ck_assert_ptr_nonnull(c);
        ASN1_INTEGER_set(X509_get_serialNumber(c), 1);
        X509_set_version(c, 2);
        X509_gmtime_adj(X509_getm_notBefore(c), -3600);
        X509_gmtime_adj(X509_getm_notAfter(c), 3600L * 24 * 365);
        X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC,
                                   (const unsigned char *) "OpenShell Sandbox CA", -1, -1, 0);
        X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "O", MBSTRING_ASC,
                                   (const unsigned char *) "OpenShell", -1, -1, 0);
        X509_set_issuer_name(c, X509_get_subject_name(c));
        X509_set_pubkey(c, k);
        if (ca) {
                add_ext(c, NID_basic_constraints, "critical,CA:TRUE");
                add_ext(c, NID_key_usage, "critical,keyCertSign,cRLSign");
        }
        add_ext(c, NID_subject_key_identifier, "hash");
        ck_assert_int_gt(X509_sign(c, k, EVP_sha256()), 0);
        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(PEM_write_X509(f, c), 1);
        fclose(f);
        X509_free(c);
}

static void setup(void) {
        EVP_PKEY *k = EVP_EC_gen("P-256"), *o = EVP_EC_gen("P-256");

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(ca_cert, sizeof(ca_cert), "%s/ca.pem", dir);
        snprintf(ca_key, sizeof(ca_key), "%s/ca-key.pem", dir);
        snprintf(other_key, sizeof(other_key), "%s/other-key.pem", dir);
        snprintf(leaf_as_ca, sizeof(leaf_as_ca), "%s/not-ca.pem", dir);
        write_cert(ca_cert, k, true);
        write_pem_key(ca_key, k);
        write_pem_key(other_key, o);
        write_cert(leaf_as_ca, o, false);
        EVP_PKEY_free(k);
        EVP_PKEY_free(o);
}

static void teardown(void) {
        char cmd[512];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
}

/* The leaf verifies against the CA for host (and only for it). */
static bool leaf_verifies(ProxyTls *t, X509 *leaf, const char *host, bool ip) {
        X509_STORE *store = X509_STORE_new();
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        bool ok;

        X509_STORE_add_cert(store, t->ca_cert);
        X509_STORE_CTX_init(ctx, store, leaf, NULL);
        if (ip)
                X509_VERIFY_PARAM_set1_ip_asc(X509_STORE_CTX_get0_param(ctx), host);
        else
                X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), host, 0);
        X509_VERIFY_PARAM_set_purpose(X509_STORE_CTX_get0_param(ctx), X509_PURPOSE_SSL_SERVER);
        ok = X509_verify_cert(ctx) == 1;
        X509_STORE_CTX_free(ctx);
        X509_STORE_free(store);
        return ok;
}

START_TEST(test_leaf_name_and_ip) {
        _cleanup_(proxy_tls_freep) ProxyTls *t = NULL;
        _cleanup_free_ char *error = NULL;
        X509 *a = NULL, *b = NULL, *c = NULL;
        char cn[256];

        ck_assert_int_eq(proxy_tls_new(ca_cert, ca_key, &t, &error), 0);
        ck_assert_ptr_null(error);
        ck_assert_int_eq(proxy_tls_leaf(t, "api.example.com", &a), 0);
        ck_assert(leaf_verifies(t, a, "api.example.com", false));
        ck_assert(!leaf_verifies(t, a, "other.example.com", false));
        ck_assert_int_gt(X509_NAME_get_text_by_NID(X509_get_subject_name(a), NID_commonName, cn, sizeof(cn)),
                         0);
        ck_assert_str_eq(cn, "api.example.com");

        ck_assert_int_eq(proxy_tls_leaf(t, "10.1.2.3", &b), 0);
        ck_assert(leaf_verifies(t, b, "10.1.2.3", true));
        ck_assert(!leaf_verifies(t, b, "10.1.2.4", true));
        ck_assert_int_eq(proxy_tls_leaf(t, "2001:db8::1", &c), 0);
        ck_assert(leaf_verifies(t, c, "2001:db8::1", true));

        /* cached: the same certificate again */
        ck_assert_int_eq(proxy_tls_leaf(t, "API.example.com", &c), 0);
        ck_assert_ptr_eq(c, a);
        /* nothing that is not a host name */
        ck_assert_int_eq(proxy_tls_leaf(t, "a,DNS:evil.com", &c), -EINVAL);
        ck_assert_int_eq(proxy_tls_leaf(t, "", &c), -EINVAL);
        ck_assert_int_eq(proxy_tls_leaf(t, "a:b", &c), -EINVAL);
}
END_TEST

START_TEST(test_cache_bound) {
        _cleanup_(proxy_tls_freep) ProxyTls *t = NULL;
        _cleanup_free_ char *error = NULL;
        X509 *c;

        ck_assert_int_eq(proxy_tls_new(ca_cert, ca_key, &t, &error), 0);
        for (unsigned i = 0; i < PROXY_TLS_CACHE_MAX + 10; i++) {
                char host[64];

                snprintf(host, sizeof(host), "h%u.example", i);
                ck_assert_int_eq(proxy_tls_leaf(t, host, &c), 0);
                ck_assert_uint_le(t->n_cache, PROXY_TLS_CACHE_MAX);
        }
        /* emptied once when full: the hosts after that are what it holds */
        ck_assert_uint_eq(t->n_cache, 10);
        ck_assert(leaf_verifies(t, c, "h265.example", false));
}
END_TEST

static void expect_error(const char *cert, const char *key, int err, const char *words) {
        ProxyTls *t = (ProxyTls *) 0x1;
        _cleanup_free_ char *error = NULL;

        ck_assert_int_eq(proxy_tls_new(cert, key, &t, &error), err);
        ck_assert_ptr_eq(t, (ProxyTls *) 0x1); /* untouched */
        ck_assert_ptr_nonnull(error);
        ck_assert_msg(strstr(error, words), "\"%s\" does not say \"%s\"", error, words);
}

START_TEST(test_bad_ca_files) {
        expect_error("/nonexistent/ca.pem", ca_key, -ENOENT,
                     "Cannot read the CA certificate /nonexistent/ca.pem");
        expect_error(ca_cert, "/nonexistent/key.pem", -ENOENT, "Cannot read the CA key /nonexistent/key.pem");
        expect_error(ca_key, ca_key, -EBADMSG, "No PEM certificate in");
        expect_error(ca_cert, ca_cert, -EBADMSG, "No PEM private key in");
        expect_error(ca_cert, other_key, -EINVAL, "does not match the key");
        expect_error(leaf_as_ca, other_key, -EINVAL, "is not a CA certificate");
}
END_TEST

/* Drives both handshakes over a socketpair as the loop would: each side runs until it waits. */
START_TEST(test_stream_handshake_and_data) {
        _cleanup_(proxy_tls_freep) ProxyTls *t = NULL;
        _cleanup_free_ char *error = NULL;
        ProxyStream srv, cli;
        SSL_CTX *trusting;
        int sv[2], rs = -EAGAIN, rc = -EAGAIN;
        char buf[64];
        ssize_t n;

        ck_assert_int_eq(proxy_tls_new(ca_cert, ca_key, &t, &error), 0);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        proxy_stream_init(&srv, sv[0]);
        proxy_stream_init(&cli, sv[1]);
        ck_assert_int_eq(proxy_stream_tls_server(&srv, t, "api.example.com", NULL, 0), 0);
        /* the agent's side: trusting only the sandbox CA (the client context of t trusts the system) */
        trusting = SSL_CTX_new(TLS_client_method());
        ck_assert_int_eq(SSL_CTX_load_verify_locations(trusting, ca_cert, NULL), 1);
        SSL_CTX_set_verify(trusting, SSL_VERIFY_PEER, NULL);
        SSL_CTX_free(t->client);
        t->client = trusting;
        ck_assert_int_eq(proxy_stream_tls_client(&cli, t, "api.example.com"), 0);
        for (unsigned i = 0; i < 100 && (rs != 1 || rc != 1); i++) {
                if (rc != 1)
                        rc = proxy_stream_handshake(&cli);
                if (rs != 1)
                        rs = proxy_stream_handshake(&srv);
                ck_assert(rc == 1 || rc == -EAGAIN);
                ck_assert(rs == 1 || rs == -EAGAIN);
        }
        ck_assert_int_eq(rc, 1);
        ck_assert_int_eq(rs, 1);
        ck_assert_int_eq(cli.verify_result, X509_V_OK);

        ck_assert_int_eq(proxy_stream_write(&cli, "GET / HTTP/1.1\r\n\r\n", 18), 18);
        n = -EAGAIN;
        for (unsigned i = 0; i < 10 && n == -EAGAIN; i++) {
                (void) proxy_stream_flush(&cli);
                n = proxy_stream_read(&srv, buf, sizeof(buf));
        }
        ck_assert_int_eq(n, 18);
        ck_assert(memcmp(buf, "GET / HTTP/1.1\r\n\r\n", 18) == 0);
        /* nothing more: the read waits for the socket */
        ck_assert_int_eq(proxy_stream_read(&srv, buf, sizeof(buf)), -EAGAIN);
        ck_assert_uint_eq(srv.wait, EPOLLIN);

        proxy_stream_done(&srv);
        proxy_stream_done(&cli);
        close(sv[0]);
        close(sv[1]);
}
END_TEST

/* A client that verifies the leaf for another name fails with a certificate error. */
START_TEST(test_stream_wrong_name) {
        _cleanup_(proxy_tls_freep) ProxyTls *t = NULL;
        _cleanup_free_ char *error = NULL;
        ProxyStream srv, cli;
        SSL_CTX *trusting;
        int sv[2], rs = -EAGAIN, rc = -EAGAIN;

        ck_assert_int_eq(proxy_tls_new(ca_cert, ca_key, &t, &error), 0);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        proxy_stream_init(&srv, sv[0]);
        proxy_stream_init(&cli, sv[1]);
        ck_assert_int_eq(proxy_stream_tls_server(&srv, t, "api.example.com", NULL, 0), 0);
        trusting = SSL_CTX_new(TLS_client_method());
        ck_assert_int_eq(SSL_CTX_load_verify_locations(trusting, ca_cert, NULL), 1);
        SSL_CTX_set_verify(trusting, SSL_VERIFY_PEER, NULL);
        SSL_CTX_free(t->client);
        t->client = trusting;
        ck_assert_int_eq(proxy_stream_tls_client(&cli, t, "10.9.9.9"), 0);
        for (unsigned i = 0; i < 100 && rc == -EAGAIN; i++) {
                rc = proxy_stream_handshake(&cli);
                if (rs == -EAGAIN)
                        rs = proxy_stream_handshake(&srv);
        }
        ck_assert_int_eq(rc, -EPROTO);
        ck_assert_int_eq(cli.verify_result, X509_V_ERR_IP_ADDRESS_MISMATCH);
        proxy_stream_done(&srv);
        proxy_stream_done(&cli);
        close(sv[0]);
        close(sv[1]);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("proxy-tls");
        TCase *tc = tcase_create("core");

        tcase_add_unchecked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_leaf_name_and_ip);
        tcase_add_test(tc, test_cache_bound);
        tcase_add_test(tc, test_bad_ca_files);
        tcase_add_test(tc, test_stream_handshake_and_data);
        tcase_add_test(tc, test_stream_wrong_name);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}
