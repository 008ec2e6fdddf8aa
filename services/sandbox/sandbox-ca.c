/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fileio.h"
#include "log.h"
#include "sandbox-ca.h"
#include "string-util.h"

const char *const sandbox_ca_system_bundles[] = {
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
        NULL,
};

/* OpenSSL's destructors return void, unlike those DEFINE_TRIVIAL_CLEANUP_FUNC expects. */
#define DEFINE_OPENSSL_CLEANUP_FUNC(type, func)                                                             \
        static inline void func##p(type *p) {                                                               \
                func(*p);                                                                                   \
        }
DEFINE_OPENSSL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);
DEFINE_OPENSSL_CLEANUP_FUNC(X509 *, X509_free);
DEFINE_OPENSSL_CLEANUP_FUNC(X509_NAME *, X509_NAME_free);
DEFINE_OPENSSL_CLEANUP_FUNC(X509_EXTENSION *, X509_EXTENSION_free);
DEFINE_OPENSSL_CLEANUP_FUNC(BIGNUM *, BN_free);
DEFINE_OPENSSL_CLEANUP_FUNC(BIO *, BIO_free_all);

/* The key's PEM text is wiped before it is freed. */
static void erase_freep(char **p) {
        if (*p) {
                OPENSSL_cleanse(*p, strlen(*p));
                free(*p);
        }
}

/* A positive 159-bit serial (RFC 5280: at most 20 octets, positive), never zero. */
static int set_random_serial(X509 *x) {
        _cleanup_(BN_freep) BIGNUM *bn = BN_new();

        if (!bn)
                return -ENOMEM;
        do
                if (BN_rand(bn, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1)
                        return -EIO;
        while (BN_is_zero(bn));
        return BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ? 0 : -EIO;
}

/* notBefore an hour ago, notAfter the same moment SANDBOX_CA_VALIDITY_YEARS calendar years later (a
 * 29 February becomes 1 March). */
static int set_validity(X509 *x) {
        time_t from = time(NULL) - SANDBOX_CA_BACKDATE_SEC, until;
        struct tm tm;

        if (!gmtime_r(&from, &tm))
                return -EOVERFLOW;
        tm.tm_year += SANDBOX_CA_VALIDITY_YEARS;
        until = timegm(&tm);
        if (until == (time_t) -1)
                return -EOVERFLOW;
        if (!ASN1_TIME_set(X509_getm_notBefore(x), from) || !ASN1_TIME_set(X509_getm_notAfter(x), until))
                return -EIO;
        return 0;
}

static int set_subject(X509 *x) {
        _cleanup_(X509_NAME_freep) X509_NAME *name = X509_NAME_new();

        if (!name)
                return -ENOMEM;
        if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                        (const unsigned char *) SANDBOX_CA_COMMON_NAME, -1, -1, 0) ||
            !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                        (const unsigned char *) SANDBOX_CA_ORGANIZATION, -1, -1, 0))
                return -EIO;
        /* Self-signed: the issuer is the subject. */
        if (!X509_set_subject_name(x, name) || !X509_set_issuer_name(x, name))
                return -EIO;
        return 0;
}

/* The key identifiers are not in the contract but strict verifiers want them (OpenSSL's
 * X509_V_FLAG_X509_STRICT, on by default in recent Python, refuses a CA without subjectKeyIdentifier). */
static int add_extensions(X509 *x) {
        static const struct {
                int nid;
                const char *value;
        } exts[] = {
                { NID_basic_constraints, "critical,CA:TRUE" },
                { NID_key_usage, "critical,keyCertSign,cRLSign" },
                { NID_subject_key_identifier, "hash" },
                { NID_authority_key_identifier, "keyid:always" },
        };
        X509V3_CTX ctx;

        X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
        for (size_t i = 0; i < ELEMENTSOF(exts); i++) {
                _cleanup_(X509_EXTENSION_freep)
                        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, exts[i].nid, exts[i].value);
                if (!e || !X509_add_ext(x, e, -1))
                        return -EIO;
        }
        return 0;
}

static int bio_to_string(BIO *bio, char **ret) {
        char *data, *s;
        long n;

        n = BIO_get_mem_data(bio, &data);
        if (n <= 0)
                return -EIO;
        s = strndup(data, (size_t) n);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int sandbox_ca_generate(char **ret_key_pem, char **ret_cert_pem) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        _cleanup_(X509_freep) X509 *x = NULL;
        _cleanup_(BIO_free_allp) BIO *key_bio = NULL, *cert_bio = NULL;
        _cleanup_(erase_freep) char *key_pem = NULL;
        _cleanup_free_ char *cert_pem = NULL;
        int r;

        pkey = EVP_EC_gen("P-256");
        x = X509_new();
        if (!pkey || !x)
                return -EIO;
        if (!X509_set_version(x, X509_VERSION_3) || !X509_set_pubkey(x, pkey))
                return -EIO;
        if ((r = set_random_serial(x)) < 0 || (r = set_validity(x)) < 0 || (r = set_subject(x)) < 0 ||
            (r = add_extensions(x)) < 0)
                return r;
        if (X509_sign(x, pkey, EVP_sha256()) <= 0)
                return -EIO;

        key_bio = BIO_new(BIO_s_secmem());
        cert_bio = BIO_new(BIO_s_mem());
        if (!key_bio || !cert_bio)
                return -ENOMEM;
        /* PEM_write_bio_PrivateKey() writes PKCS#8 ("BEGIN PRIVATE KEY"), unencrypted. */
        if (!PEM_write_bio_PrivateKey(key_bio, pkey, NULL, NULL, 0, NULL, NULL) ||
            !PEM_write_bio_X509(cert_bio, x))
                return -EIO;
        if ((r = bio_to_string(key_bio, &key_pem)) < 0 || (r = bio_to_string(cert_bio, &cert_pem)) < 0)
                return r;

        *ret_key_pem = TAKE_PTR(key_pem);
        *ret_cert_pem = TAKE_PTR(cert_pem);
        return 0;
}

/* The first system bundle that exists, or NULL text when there is none (*ret_path NULL too). */
static int read_system_bundle(const char *const *candidates, char **ret_text, size_t *ret_size,
                              const char **ret_path) {
        for (const char *const *c = candidates; c && *c; c++) {
                int r = read_full_file(*c, SANDBOX_CA_BUNDLE_SIZE_MAX, ret_text, ret_size);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return log_error_errno(r, "Failed to read the system's CA bundle %s: %m", *c);
                *ret_path = *c;
                return 0;
        }
        *ret_text = NULL;
        *ret_size = 0;
        *ret_path = NULL;
        return 0;
}

static int write_public(const char *dir, const char *name, const void *data, size_t size) {
        _cleanup_free_ char *path = NULL;
        int r;

        if (asprintf_safe(&path, "%s/%s", dir, name) < 0)
                return log_oom();
        r = write_file_atomic(path, data, size, 0644, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", path);
        return 0;
}

static int make_dir(const char *path, mode_t mode) {
        int r = mkdir_p(path, mode);

        if (r < 0)
                return log_error_errno(r, "Failed to create %s: %m", path);
        /* An existing folder (a supervisor restarted without its runtime directory being removed) keeps
         * whatever mode it had: set ours. */
        if (chmod(path, mode) < 0)
                return log_error_errno(errno, "Failed to set the mode of %s: %m", path);
        return 0;
}

int sandbox_ca_prepare(const char *runtime_dir, const char *const *system_bundles) {
        _cleanup_free_ char *key_dir = NULL, *key_path = NULL, *proxy_dir = NULL, *public_dir = NULL;
        _cleanup_(erase_freep) char *key_pem = NULL;
        _cleanup_free_ char *cert_pem = NULL, *bundle = NULL, *system = NULL;
        /* Initialized for clang's analyzer, which lets log_error_errno() return non-negative. */
        const char *system_path = NULL;
        size_t system_size = 0, cert_size;
        int r;

        if (asprintf_safe(&key_dir, "%s/" SANDBOX_CA_DIR, runtime_dir) < 0 ||
            asprintf_safe(&key_path, "%s/" SANDBOX_CA_KEY, key_dir) < 0 ||
            asprintf_safe(&proxy_dir, "%s/" SANDBOX_CA_PROXY_DIR, runtime_dir) < 0 ||
            asprintf_safe(&public_dir, "%s/" SANDBOX_CA_PUBLIC_DIR, runtime_dir) < 0)
                return log_oom();

        r = sandbox_ca_generate(&key_pem, &cert_pem);
        if (r < 0) {
                char err[256];
                ERR_error_string_n(ERR_get_error(), err, sizeof(err));
                return log_error_errno(r, "Failed to generate the sandbox's CA: %s", err);
        }
        cert_size = strlen(cert_pem);

        r = read_system_bundle(system_bundles, &system, &system_size, &system_path);
        if (r < 0)
                return r;
        if (!system_path)
                log_warning("No system CA bundle found: the agent's %s trusts the sandbox's CA alone.",
                            SANDBOX_CA_BUNDLE);
        /* The system's certificates, then ours; a bundle without a final newline gets one. */
        if (asprintf_safe(&bundle, "%s%s%s", strempty(system),
                          system_size > 0 && system[system_size - 1] != '\n' ? "\n" : "", cert_pem) < 0)
                return log_oom();

        /* The key first, 0600 in a 0700 folder (write_file_atomic sets the mode before any byte). */
        if ((r = make_dir(key_dir, 0700)) < 0 || (r = make_dir(proxy_dir, 0755)) < 0 ||
            (r = make_dir(public_dir, 0755)) < 0)
                return r;
        r = write_file_atomic(key_path, key_pem, strlen(key_pem), 0600, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", key_path);
        if ((r = write_public(proxy_dir, SANDBOX_CA_CERT, cert_pem, cert_size)) < 0 ||
            (r = write_public(public_dir, SANDBOX_CA_CERT, cert_pem, cert_size)) < 0 ||
            (r = write_public(public_dir, SANDBOX_CA_BUNDLE, bundle, strlen(bundle))) < 0)
                return r;
        log_debug("Sandbox CA written below %s (system bundle: %s).", runtime_dir, strna(system_path));
        return 0;
}
