/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The sandbox's certificate authority: a fresh one at each start of the supervisor, before the agent,
 * with which the egress proxy signs the leaf certificates of the TLS connections it terminates (and
 * which the agent trusts). In the sandbox's runtime directory (root's, 0700):
 *  - tls/ca-key.pem: the private key, PKCS#8 PEM, EC P-256, 0600 in a 0700 folder. Only root reads
 *    it; the proxy unit gets its own copy with LoadCredential= (systemd reads it as root);
 *  - proxy/tls/openshell-ca.pem: the certificate, 0644, in the proxy's folder (sandbox-proxy.h);
 *  - tls-public/openshell-ca.pem and tls-public/ca-bundle.pem (the system's bundle followed by the
 *    certificate), 0644: the folder the agent and exec units bind read-only at /etc/openshell-tls.
 * Each file is replaced atomically. Subject CN=OpenShell Sandbox CA, O=OpenShell; basicConstraints
 * CA:TRUE and keyUsage keyCertSign, cRLSign (both critical); valid from an hour ago for 10 years;
 * random serial. */

#include <stddef.h>

/* SANDBOX_CA_PUBLIC_DIR, SANDBOX_CA_CERT and SANDBOX_CA_BUNDLE: the agent unit names them. */
#include "sandbox-unit.h"

#define SANDBOX_CA_DIR "tls"
#define SANDBOX_CA_KEY "ca-key.pem"
#define SANDBOX_CA_PROXY_DIR "proxy/tls"

#define SANDBOX_CA_COMMON_NAME "OpenShell Sandbox CA"
#define SANDBOX_CA_ORGANIZATION "OpenShell"
/* notBefore is this far in the past: clocks that lag a little still accept the certificate. */
#define SANDBOX_CA_BACKDATE_SEC 3600
#define SANDBOX_CA_VALIDITY_YEARS 10
/* A system bundle larger than this is refused (Debian's is about 200 KiB). */
#define SANDBOX_CA_BUNDLE_SIZE_MAX (16U * 1024 * 1024)

/* The system bundles the agent's ca-bundle.pem starts with: the first that exists (Debian, Fedora,
 * Alpine and the BSDs' layouts), NULL-terminated. */
extern const char *const sandbox_ca_system_bundles[];

/* A new key and self-signed certificate as PEM texts (NUL-terminated). Does not log; -EIO when
 * OpenSSL fails (its error queue says why). */
int sandbox_ca_generate(char **ret_key_pem, char **ret_cert_pem);

/* Generates a CA and writes the files above below RUNTIME_DIR (the sandbox's runtime directory),
 * creating the folders. SYSTEM_BUNDLES: candidates for the system's bundle, the first that exists
 * is used (none: the bundle is the CA alone, with a warning). Logs its errors. */
int sandbox_ca_prepare(const char *runtime_dir, const char *const *system_bundles);
