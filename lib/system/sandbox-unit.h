/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The transient unit that is the sandbox proper: what it runs and every restriction systemd gives it. */

#include <systemd/sd-bus.h>

#include "exec-credentials.h"
#include "macro.h"

typedef struct SandboxUnitConfig {
        const char *name;            /* sandbox name */
        const char *workdir;         /* host path bound at /sandbox */
        const char *user;            /* unprivileged account the agent runs as (without a policy) */
        char *const *command;        /* argv */
        char *const *environment;    /* "K=V" from the spec */
        char *const *policy_unit;    /* the compiled policy's unit settings, or NULL */
        /* Where the compiled Landlock ruleset and seccomp filter are (SANDBOX_LANDLOCK_FILE,
         * SANDBOX_SECCOMP_FILE), or NULL: the agent then starts through openshell-exec, which applies
         * them, handed over with LoadCredential=. */
        const char *credentials_dir;
        /* An empty directory the agent runs in (RootDirectory=): the compiled policy binds into it what
         * it grants, nothing else is there. NULL: the host's root, read-only (no compiled policy). */
        const char *root_directory;
        /* The sandbox's network namespace (SANDBOX_NETNS_DIR/NAME), or NULL: loopback of its own only.
         * Set, the agent joins it, gets the proxy variables, the sandbox's CA (SANDBOX_TLS_IN_SANDBOX and
         * the variables that point there), and Requires=/After= the proxy's unit. */
        const char *netns_path;
} SandboxUnitConfig;

/* Where the supervisor keeps the sandboxes' network namespaces (sandbox-netns.h). */
#define SANDBOX_NETNS_DIR "/run/openshell/netns"
/* The egress proxy, listening inside the sandbox's namespace (openshell-proxy@NAME.socket). */
#define SANDBOX_PROXY_PORT 3128
#define SANDBOX_PROXY_URL "http://127.0.0.1:3128"
#define SANDBOX_PROXY_SERVICE_PREFIX "openshell-proxy@"
/* The sandbox's CA (services/sandbox/sandbox-ca.h): the supervisor writes the certificate and the
 * bundle the agent trusts in this folder of the sandbox's runtime directory, which the agent unit
 * binds read-only at SANDBOX_TLS_IN_SANDBOX (upstream's path). */
#define SANDBOX_CA_PUBLIC_DIR "tls-public"
#define SANDBOX_CA_CERT "openshell-ca.pem"
#define SANDBOX_CA_BUNDLE "ca-bundle.pem"
#define SANDBOX_TLS_IN_SANDBOX "/etc/openshell-tls"

#define SANDBOX_LANDLOCK_FILE "landlock"
#define SANDBOX_SECCOMP_FILE "seccomp.bpf"
/* The agent's root directory, below the sandbox's runtime directory. */
#define SANDBOX_ROOT_DIR "root"
#define SANDBOX_EXEC_SHIM LIBEXECDIR "/openshell-exec"

/* The agent's argv as the unit runs it: through openshell-exec when the unit carries its credentials. */
int sandbox_unit_exec_argv(char *const *command, bool shim, char ***ret);
/* True if the settings hand openshell-exec its ruleset (so commands must start through it). */
bool sandbox_unit_uses_shim(char *const *assignments) _pure_;
/* The value of the last "KEY=" assignment, or NULL. */
const char *sandbox_unit_assignment_value(char *const *assignments, const char *key) _pure_;

/* The settings as "Key=Value" assignments, in the order they are sent (a printable, reviewable list:
 * `systemctl show` of the agent unit shows the same). */
int sandbox_unit_assignments(const SandboxUnitConfig *c, char ***ret);

/* A StartTransientUnit method call for the agent unit, ready to send. */
int sandbox_unit_new_start_message(sd_bus *bus, const SandboxUnitConfig *c, sd_bus_message **ret);
