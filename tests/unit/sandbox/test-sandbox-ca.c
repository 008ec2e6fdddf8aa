/* SPDX-License-Identifier: Apache-2.0 */
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <time.h>
#include <unistd.h>

#include "check-util.h"
#include "fileio.h"
#include "fs-util.h"
#include "sandbox-ca.h"
#include "string-util.h"

static X509 *cert_from_pem(const char *pem) {
        BIO *b = BIO_new_mem_buf(pem, -1);
        X509 *x;

        ck_assert_ptr_nonnull(b);
        x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        BIO_free(b);
        ck_assert_ptr_nonnull(x);
        return x;
}

static EVP_PKEY *key_from_pem(const char *pem) {
        BIO *b = BIO_new_mem_buf(pem, -1);
        EVP_PKEY *k;

        ck_assert_ptr_nonnull(b);
        k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
        BIO_free(b);
        ck_assert_ptr_nonnull(k);
        return k;
}

static char *read_file(const char *dir, const char *name) {
        _cleanup_free_ char *path = NULL;
        char *text = NULL;

        ck_assert_int_ge(asprintf_safe(&path, "%s/%s", dir, name), 0);
        ck_assert_int_eq(read_full_file(path, 1024 * 1024, &text, NULL), 0);
        return text;
}

static mode_t mode_of(const char *dir, const char *name) {
        _cleanup_free_ char *path = NULL;
        struct stat st;

        ck_assert_int_ge(asprintf_safe(&path, "%s/%s", dir, name), 0);
        ck_assert_int_eq(lstat(path, &st), 0);
        return st.st_mode;
}

static const char *name_entry(X509_NAME *name, int nid) {
        int i = X509_NAME_get_index_by_NID(name, nid, -1);

        ck_assert_int_ge(i, 0);
        /* One entry of each: a second CN or O would be a different subject. */
        ck_assert_int_lt(X509_NAME_get_index_by_NID(name, nid, i), 0);
        return (const char *) ASN1_STRING_get0_data(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
}

static bool extension_is_critical(X509 *x, int nid) {
        int i = X509_get_ext_by_NID(x, nid, -1);

        ck_assert_int_ge(i, 0);
        return X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

/* Verified as a chain of one against a store that trusts nothing else. */
static int verify_alone(X509 *x) {
        X509_STORE *store = X509_STORE_new();
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        int ok;

        ck_assert(store && ctx);
        ck_assert_int_eq(X509_STORE_add_cert(store, x), 1);
        ck_assert_int_eq(X509_STORE_CTX_init(ctx, store, x, NULL), 1);
        X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx), X509_V_FLAG_X509_STRICT);
        ok = X509_verify_cert(ctx);
        X509_STORE_CTX_free(ctx);
        X509_STORE_free(store);
        return ok;
}

START_TEST(test_generate) {
        _cleanup_free_ char *key_pem = NULL, *cert_pem = NULL;
        const ASN1_TIME *not_before, *not_after;
        EVP_PKEY *key, *pub;
        BIGNUM *serial;
        X509 *x;
        char group[32];
        int days, secs;

        ck_assert_int_eq(sandbox_ca_generate(&key_pem, &cert_pem), 0);
        ck_assert(startswith(key_pem, "-----BEGIN PRIVATE KEY-----\n")); /* PKCS#8, not encrypted */
        ck_assert(startswith(cert_pem, "-----BEGIN CERTIFICATE-----\n"));
        x = cert_from_pem(cert_pem);
        key = key_from_pem(key_pem);

        /* EC P-256 */
        ck_assert(EVP_PKEY_is_a(key, "EC"));
        ck_assert_int_eq(EVP_PKEY_get_group_name(key, group, sizeof(group), NULL), 1);
        ck_assert_str_eq(group, "prime256v1");
        ck_assert_int_eq(X509_check_private_key(x, key), 1);

        /* subject = issuer = CN=OpenShell Sandbox CA, O=OpenShell */
        ck_assert_str_eq(name_entry(X509_get_subject_name(x), NID_commonName), "OpenShell Sandbox CA");
        ck_assert_str_eq(name_entry(X509_get_subject_name(x), NID_organizationName), "OpenShell");
        ck_assert_int_eq(X509_NAME_entry_count(X509_get_subject_name(x)), 2);
        ck_assert_int_eq(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);

        /* a CA: basicConstraints CA:TRUE and keyUsage keyCertSign, cRLSign, both critical */
        ck_assert_int_eq(X509_get_version(x), X509_VERSION_3);
        ck_assert_int_eq(X509_check_ca(x), 1);
        ck_assert(extension_is_critical(x, NID_basic_constraints));
        ck_assert(extension_is_critical(x, NID_key_usage));
        ck_assert_uint_eq(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
        ck_assert_ptr_nonnull(X509_get0_subject_key_id(x));
        ck_assert(X509_get_extension_flags(x) & EXFLAG_SS);

        /* it signed itself, and verifies as its own trust anchor, also under strict checks */
        pub = X509_get0_pubkey(x);
        ck_assert_int_eq(X509_verify(x, pub), 1);
        ck_assert_int_eq(verify_alone(x), 1);

        /* from an hour ago (not in the future, not more than a day back) for 10 calendar years */
        not_before = X509_get0_notBefore(x);
        not_after = X509_get0_notAfter(x);
        ck_assert_int_lt(X509_cmp_current_time(not_before), 0);
        ck_assert_int_eq(ASN1_TIME_diff(&days, &secs, not_before, NULL), 1);
        ck_assert_int_eq(days, 0);
        ck_assert_int_ge(secs, SANDBOX_CA_BACKDATE_SEC);
        ck_assert_int_eq(ASN1_TIME_diff(&days, &secs, not_before, not_after), 1);
        ck_assert_int_ge(days, 3652);
        ck_assert_int_le(days, 3653);
        ck_assert_int_eq(secs, 0);

        /* a positive serial of at most 20 octets (RFC 5280) */
        serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
        ck_assert_ptr_nonnull(serial);
        ck_assert(!BN_is_negative(serial) && !BN_is_zero(serial));
        ck_assert_int_le(BN_num_bytes(serial), 20);
        BN_free(serial);

        X509_free(x);
        EVP_PKEY_free(key);
}
END_TEST

START_TEST(test_generate_twice_differs) {
        _cleanup_free_ char *k1 = NULL, *c1 = NULL, *k2 = NULL, *c2 = NULL;
        X509 *x1, *x2;

        ck_assert_int_eq(sandbox_ca_generate(&k1, &c1), 0);
        ck_assert_int_eq(sandbox_ca_generate(&k2, &c2), 0);
        ck_assert_str_ne(k1, k2);
        x1 = cert_from_pem(c1);
        x2 = cert_from_pem(c2);
        ck_assert_int_ne(ASN1_INTEGER_cmp(X509_get0_serialNumber(x1), X509_get0_serialNumber(x2)), 0);
        ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(x1), X509_get0_pubkey(x2)), 0);
        X509_free(x1);
        X509_free(x2);
}
END_TEST

static char *make_tmpdir(void) {
        char *dir = strdup("/tmp/test-sandbox-ca.XXXXXX");

        ck_assert_ptr_nonnull(dir);
        ck_assert_ptr_nonnull(mkdtemp(dir));
        return dir;
}

static void remove_tmpdir(char *dir) {
        int fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(rm_rf_at(fd, dir + strlen("/tmp/")), 0);
        close(fd);
        free(dir);
}

START_TEST(test_prepare) {
        static const char system_bundle[] = "-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----";
        _cleanup_free_ char *bundle_path = NULL, *key = NULL, *proxy_cert = NULL, *cert = NULL,
                            *bundle = NULL, *expected = NULL;
        char *dir = make_tmpdir();
        const char *candidates[4] = { "/nonexistent/bundle.crt", NULL, "/nonexistent/other.pem", NULL };
        EVP_PKEY *k;
        X509 *x;

        ck_assert_int_ge(asprintf_safe(&bundle_path, "%s/system.crt", dir), 0);
        ck_assert_int_eq(write_file_atomic(bundle_path, system_bundle, strlen(system_bundle), 0644, 0), 0);
        candidates[1] = bundle_path;

        ck_assert_int_eq(sandbox_ca_prepare(dir, candidates), 0);

        /* the key: root's alone (0600 in a 0700 folder) */
        ck_assert_uint_eq(mode_of(dir, "tls"), S_IFDIR | 0700);
        ck_assert_uint_eq(mode_of(dir, "tls/ca-key.pem"), S_IFREG | 0600);
        /* the certificate for the proxy and the agent, readable by all */
        ck_assert_uint_eq(mode_of(dir, "proxy"), S_IFDIR | 0755);
        ck_assert_uint_eq(mode_of(dir, "proxy/tls"), S_IFDIR | 0755);
        ck_assert_uint_eq(mode_of(dir, "proxy/tls/openshell-ca.pem"), S_IFREG | 0644);
        ck_assert_uint_eq(mode_of(dir, "tls-public"), S_IFDIR | 0755);
        ck_assert_uint_eq(mode_of(dir, "tls-public/openshell-ca.pem"), S_IFREG | 0644);
        ck_assert_uint_eq(mode_of(dir, "tls-public/ca-bundle.pem"), S_IFREG | 0644);

        key = read_file(dir, "tls/ca-key.pem");
        proxy_cert = read_file(dir, "proxy/tls/openshell-ca.pem");
        cert = read_file(dir, "tls-public/openshell-ca.pem");
        bundle = read_file(dir, "tls-public/ca-bundle.pem");
        ck_assert_str_eq(proxy_cert, cert);
        k = key_from_pem(key);
        x = cert_from_pem(cert);
        ck_assert_int_eq(X509_check_private_key(x, k), 1);
        ck_assert_int_eq(X509_check_ca(x), 1);

        /* the first bundle that exists, a newline it lacked, then the CA: the CA ends the bundle */
        ck_assert_int_ge(asprintf_safe(&expected, "%s\n%s", system_bundle, cert), 0);
        ck_assert_str_eq(bundle, expected);
        ck_assert(endswith(bundle, cert));

        X509_free(x);
        EVP_PKEY_free(k);
        remove_tmpdir(dir);
}
END_TEST

START_TEST(test_prepare_without_system_bundle) {
        _cleanup_free_ char *cert = NULL, *bundle = NULL;
        char *dir = make_tmpdir();
        const char *candidates[] = { "/nonexistent/bundle.crt", NULL };

        ck_assert_int_eq(sandbox_ca_prepare(dir, candidates), 0);
        cert = read_file(dir, "tls-public/openshell-ca.pem");
        bundle = read_file(dir, "tls-public/ca-bundle.pem");
        ck_assert_str_eq(bundle, cert);
        remove_tmpdir(dir);
}
END_TEST

/* A second start replaces every file with a new CA, and resets a folder's mode. */
START_TEST(test_prepare_again) {
        _cleanup_free_ char *key1 = NULL, *key2 = NULL, *cert1 = NULL, *cert2 = NULL, *proxy2 = NULL,
                            *bundle2 = NULL, *tls = NULL;
        char *dir = make_tmpdir();
        const char *candidates[] = { NULL };

        ck_assert_int_eq(sandbox_ca_prepare(dir, candidates), 0);
        key1 = read_file(dir, "tls/ca-key.pem");
        cert1 = read_file(dir, "tls-public/openshell-ca.pem");

        ck_assert_int_ge(asprintf_safe(&tls, "%s/tls", dir), 0);
        ck_assert_int_eq(chmod(tls, 0755), 0);
        ck_assert_int_eq(sandbox_ca_prepare(dir, candidates), 0);
        ck_assert_uint_eq(mode_of(dir, "tls"), S_IFDIR | 0700);
        key2 = read_file(dir, "tls/ca-key.pem");
        cert2 = read_file(dir, "tls-public/openshell-ca.pem");
        proxy2 = read_file(dir, "proxy/tls/openshell-ca.pem");
        bundle2 = read_file(dir, "tls-public/ca-bundle.pem");
        ck_assert_str_ne(key1, key2);
        ck_assert_str_ne(cert1, cert2);
        ck_assert_str_eq(proxy2, cert2);
        ck_assert_str_eq(bundle2, cert2);
        remove_tmpdir(dir);
}
END_TEST

/* A candidate that exists but cannot be read is an error, not a silent skip to the next. */
START_TEST(test_prepare_unreadable_bundle) {
        char *dir = make_tmpdir();
        const char *candidates[] = { dir, NULL }; /* a directory */

        ck_assert_int_eq(sandbox_ca_prepare(dir, candidates), -EISDIR);
        remove_tmpdir(dir);
}
END_TEST

static Suite *sandbox_ca_suite(void) {
        Suite *s = suite_create("sandbox-ca");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_generate);
        tcase_add_test(tc, test_generate_twice_differs);
        tcase_add_test(tc, test_prepare);
        tcase_add_test(tc, test_prepare_without_system_bundle);
        tcase_add_test(tc, test_prepare_again);
        tcase_add_test(tc, test_prepare_unreadable_bundle);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(sandbox_ca_suite());
}
