/* SPDX-License-Identifier: Apache-2.0 */
#include "bus-util.h"
#include "sandbox-name.h"
#include "sandbox-unit.h"
#include "string-util.h"

/* The fixed floor of hardening every agent unit gets, whatever its spec says. Each line is checked by
 * the integration tests (tests/integration/cases/10-sandbox-hardening.sh): removing one makes them fail. */
static const char *const sandbox_unit_hardening[] = {
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "PrivateNetwork=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        /* Other sandboxes' workdirs and the product's configuration are not the agent's business. */
        "InaccessiblePaths=-/var/lib/openshell",
        "InaccessiblePaths=-/etc/openshell",
        "InaccessiblePaths=-/run/openshell",
        /* The unit is gone once stopped, also after a failure; the supervisor reports the result. */
        "CollectMode=inactive-or-failed",
};

/* Appends one assignment. InaccessiblePaths= takes paths of the host even when the unit has a
 * RootDirectory= (systemd.exec(5); systemd drops those outside the root without a word): a path the
 * policy hides is hidden where the agent sees it, below the root directory. */
static int add_assignment(char ***l, const SandboxUnitConfig *c, const char *a) {
        static const char key[] = "InaccessiblePaths=";
        const char *v = a + strlen(key);

        if (!c->root_directory || !startswith(a, key))
                return strv_extend(l, a);
        return strv_extendf(l, "InaccessiblePaths=%s%s%s", *v == '-' ? "-" : "", c->root_directory,
                            *v == '-' ? v + 1 : v);
}

/* What upstream's sandboxes set for the proxy (openshell/SPEC.md §2.5), on 127.0.0.1 here: the proxy
 * listens inside the sandbox's own namespace. */
static const char *const sandbox_unit_proxy_environment[] = {
        "ALL_PROXY=" SANDBOX_PROXY_URL,
        "HTTP_PROXY=" SANDBOX_PROXY_URL,
        "HTTPS_PROXY=" SANDBOX_PROXY_URL,
        "http_proxy=" SANDBOX_PROXY_URL,
        "https_proxy=" SANDBOX_PROXY_URL,
        "grpc_proxy=" SANDBOX_PROXY_URL,
        "NO_PROXY=127.0.0.1,localhost,::1",
        "no_proxy=127.0.0.1,localhost,::1",
        "NODE_USE_ENV_PROXY=1",
};

/* Where upstream's sandboxes point TLS clients (openshell/SPEC.md §2.5): the sandbox's CA alone for
 * those that add it to their own roots, the system's bundle followed by it for those that replace
 * theirs. */
static const char *const sandbox_unit_tls_environment[] = {
        "NODE_EXTRA_CA_CERTS=" SANDBOX_TLS_IN_SANDBOX "/" SANDBOX_CA_CERT,
        "DENO_CERT=" SANDBOX_TLS_IN_SANDBOX "/" SANDBOX_CA_CERT,
        "SSL_CERT_FILE=" SANDBOX_TLS_IN_SANDBOX "/" SANDBOX_CA_BUNDLE,
        "REQUESTS_CA_BUNDLE=" SANDBOX_TLS_IN_SANDBOX "/" SANDBOX_CA_BUNDLE,
        "CURL_CA_BUNDLE=" SANDBOX_TLS_IN_SANDBOX "/" SANDBOX_CA_BUNDLE,
        "GIT_SSL_CAINFO=" SANDBOX_TLS_IN_SANDBOX "/" SANDBOX_CA_BUNDLE,
};

int sandbox_unit_assignments(const SandboxUnitConfig *c, char ***ret) {
        _cleanup_free_ char *supervisor = NULL, *slice = NULL, *runtime = NULL;
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = sandbox_supervisor_unit(c->name, &supervisor);
        if (r < 0)
                return r;
        r = sandbox_slice_unit(c->name, &slice);
        if (r < 0)
                return r;
        r = sandbox_runtime_path(c->name, &runtime);
        if (r < 0)
                return r;

#define ADD(...) STRV_EXTENDF_OR_RETURN(&l, __VA_ARGS__)

        ADD("Description=OpenShell sandbox '%s' (agent)", c->name);
        /* The policy's settings first: the fixed floor below comes after them, so that a policy can add
         * restrictions but never lift one of these (for systemd the last assignment wins). */
        STRV_FOREACH(a, c->policy_unit)
                if ((r = add_assignment(&l, c, *a)) < 0)
                        return r;
        if (!sandbox_unit_assignment_value(c->policy_unit, "User")) {
                ADD("User=%s", c->user);
                ADD("Group=%s", c->user);
        }
        if (c->root_directory) {
                /* Only what the policy binds in is there: the rest of the host is not hidden, it is absent. */
                ADD("RootDirectory=%s", c->root_directory);
        }
        ADD("BindPaths=%s:%s", c->workdir, SANDBOX_WORKDIR_IN_SANDBOX);
        ADD("WorkingDirectory=%s", SANDBOX_WORKDIR_IN_SANDBOX);
        for (size_t i = 0; i < ELEMENTSOF(sandbox_unit_hardening); i++)
                if ((r = add_assignment(&l, c, sandbox_unit_hardening[i])) < 0)
                        return r;
        if (c->credentials_dir) {
                ADD("LoadCredential=" SANDBOX_LANDLOCK_CREDENTIAL ":%s/" SANDBOX_LANDLOCK_FILE, c->credentials_dir);
                ADD("LoadCredential=" SANDBOX_SECCOMP_CREDENTIAL ":%s/" SANDBOX_SECCOMP_FILE, c->credentials_dir);
                /* systemd 252's @system-service lacks these; openshell-exec needs them to restrict
                 * itself further (they can only take rights away). */
                ADD("SystemCallFilter=landlock_create_ruleset landlock_add_rule landlock_restrict_self seccomp");
        }
        /* Fail closed: if the supervisor goes away for any reason, so does the agent. No After=: the
         * supervisor is still starting (it says READY=1 only once the agent runs), so an ordering
         * dependency on it would leave the agent's start job waiting forever. */
        ADD("BindsTo=%s", supervisor);
        ADD("PartOf=%s", supervisor);
        if (c->netns_path) {
                /* With PrivateNetwork=yes above: systemd joins the path (and systemd-analyze security still
                 * credits PrivateNetwork). The proxy starts first; if it cannot, neither does the agent.
                 * Requires=, not BindsTo=: a proxy that dies leaves the agent without a way out (its socket
                 * unit holds the port and starts the proxy again), never with a direct one. */
                ADD("NetworkNamespacePath=%s", c->netns_path);
                ADD("Requires=" SANDBOX_PROXY_SERVICE_PREFIX "%s.service", c->name);
                ADD("After=" SANDBOX_PROXY_SERVICE_PREFIX "%s.service", c->name);
                /* The sandbox's CA, which the proxy signs with, and the system's bundle. A bind source is
                 * a path of the host even with RootDirectory= (only the destination is below the root),
                 * and mounts apply in the order of their destinations, so the InaccessiblePaths= of
                 * /run/openshell above comes after this one. */
                ADD("BindReadOnlyPaths=%s/" SANDBOX_CA_PUBLIC_DIR ":" SANDBOX_TLS_IN_SANDBOX, runtime);
        }
        /* Its own cgroup subtree: the policy's limits apply to everything the agent starts, and
         * `systemd-cgls openshell.slice` shows every sandbox. */
        ADD("Slice=%s", slice);
        ADD("Environment=HOME=%s", SANDBOX_WORKDIR_IN_SANDBOX);
        ADD("Environment=OPENSHELL_SANDBOX=%s", c->name);
        /* Before the spec's environment, which may add to NO_PROXY or name another bundle (the last
         * assignment wins). */
        if (c->netns_path) {
                for (size_t i = 0; i < ELEMENTSOF(sandbox_unit_proxy_environment); i++)
                        ADD("Environment=%s", sandbox_unit_proxy_environment[i]);
                for (size_t i = 0; i < ELEMENTSOF(sandbox_unit_tls_environment); i++)
                        ADD("Environment=%s", sandbox_unit_tls_environment[i]);
        }
        STRV_FOREACH(e, c->environment)
                ADD("Environment=%s", *e);
#undef ADD

        *ret = TAKE_PTR(l);
        return 0;
}

const char *sandbox_unit_assignment_value(char *const *assignments, const char *key) {
        const char *v = NULL;
        size_t n = strlen(key);

        STRV_FOREACH(a, assignments)
                if (strneq(*a, key, n) && (*a)[n] == '=')
                        v = *a + n + 1;
        return v;
}

bool sandbox_unit_uses_shim(char *const *assignments) {
        STRV_FOREACH(a, assignments)
                if (startswith(*a, "LoadCredential=" SANDBOX_LANDLOCK_CREDENTIAL ":"))
                        return true;
        return false;
}

int sandbox_unit_exec_argv(char *const *command, bool shim, char ***ret) {
        _cleanup_strv_free_ char **argv = NULL;

        if (shim && (strv_extend(&argv, SANDBOX_EXEC_SHIM) < 0 || strv_extend(&argv, "--") < 0))
                return -ENOMEM;
        STRV_FOREACH(a, command)
                if (strv_extend(&argv, *a) < 0)
                        return -ENOMEM;
        if (!argv)
                return -EINVAL;
        *ret = TAKE_PTR(argv);
        return 0;
}

int sandbox_unit_new_start_message(sd_bus *bus, const SandboxUnitConfig *c, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_strv_free_ char **assignments = NULL, **argv = NULL;
        _cleanup_free_ char *unit = NULL;
        int r;

        r = sandbox_agent_unit(c->name, &unit);
        if (r < 0)
                return r;
        r = sandbox_unit_assignments(c, &assignments);
        if (r < 0)
                return r;

        r = bus_transient_unit_begin(bus, unit, &m);
        if (r < 0)
                return r;
        STRV_FOREACH(a, assignments) {
                r = bus_append_unit_assignment(m, *a);
                if (r < 0)
                        return r;
        }
        r = sandbox_unit_exec_argv(c->command, c->credentials_dir, &argv);
        if (r < 0)
                return r;
        r = bus_transient_unit_end(m, argv);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(m);
        return 0;
}
