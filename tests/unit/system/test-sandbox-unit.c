/* SPDX-License-Identifier: Apache-2.0 */
#include "bus-test-util.h"
#include "bus-util.h"
#include "check-util.h"
#include "sandbox-unit.h"
#include "string-util.h"

static const SandboxUnitConfig config = {
        .name = "demo",
        .workdir = "/var/lib/openshell/sandboxes/demo",
        .user = "openshell-agent",
        .command = (char *[]) { (char *) "/bin/sh", (char *) "-c", (char *) "echo hi", NULL },
        .environment = (char *[]) { (char *) "LOG_LEVEL=info", NULL },
};

START_TEST(test_assignments) {
        _cleanup_strv_free_ char **l = NULL;
        static const char *const required[] = {
                "User=openshell-agent",
                "Group=openshell-agent",
                "BindPaths=/var/lib/openshell/sandboxes/demo:/sandbox",
                "WorkingDirectory=/sandbox",
                "ProtectSystem=strict",
                "ProtectHome=yes",
                "PrivateTmp=yes",
                "PrivateDevices=yes",
                "PrivateNetwork=yes",
                "NoNewPrivileges=yes",
                "CapabilityBoundingSet=",
                "InaccessiblePaths=-/var/lib/openshell",
                "InaccessiblePaths=-/etc/openshell",
                "InaccessiblePaths=-/run/openshell",
                "CollectMode=inactive-or-failed",
                "BindsTo=openshell-sandbox@demo.service",
                "PartOf=openshell-sandbox@demo.service",
                "Slice=openshell-demo.slice",
                "Environment=HOME=/sandbox",
                "Environment=OPENSHELL_SANDBOX=demo",
                "Environment=LOG_LEVEL=info",
        };

        ck_assert_int_eq(sandbox_unit_assignments(&config, &l), 0);
        for (size_t i = 0; i < ELEMENTSOF(required); i++)
                ck_assert_msg(strv_contains(l, required[i]), "missing %s", required[i]);
        /* The agent must not be ordered after its supervisor: the supervisor waits for the agent to
         * start before it is itself started, so that ordering would deadlock. */
        STRV_FOREACH(a, l)
                ck_assert_msg(!startswith(*a, "After="), "unexpected %s", *a);
        /* the spec's environment comes last, after what the supervisor sets: a spec cannot be
         * overridden by our defaults, but our own settings are all before it */
        ck_assert_str_eq(l[strv_length(l) - 1], "Environment=LOG_LEVEL=info");
        /* every assignment is one the marshaller knows */
        STRV_FOREACH(a, l) {
                _cleanup_free_ char *key = strndup(*a, strcspn(*a, "="));
                ck_assert_msg(bus_unit_assignment_key_supported(key), "%s", key);
        }
}
END_TEST

/* With a root directory: it is set, and every InaccessiblePaths= (which systemd takes as host paths even
 * then) is moved below it, where the agent sees the path; other paths stay as they are. */
START_TEST(test_root_directory) {
        _cleanup_strv_free_ char **l = NULL;
        SandboxUnitConfig c = config;

        c.root_directory = "/run/openshell/sandboxes/demo/root";
        c.policy_unit = (char *[]) { (char *) "InaccessiblePaths=-/etc/ssh", (char *) "InaccessiblePaths=/etc/shadow",
                                     (char *) "BindReadOnlyPaths=-/usr", NULL };
        ck_assert_int_eq(sandbox_unit_assignments(&c, &l), 0);
        ck_assert(strv_contains(l, "RootDirectory=/run/openshell/sandboxes/demo/root"));
        ck_assert(strv_contains(l, "InaccessiblePaths=-/run/openshell/sandboxes/demo/root/etc/ssh"));
        ck_assert(strv_contains(l, "InaccessiblePaths=/run/openshell/sandboxes/demo/root/etc/shadow"));
        ck_assert(strv_contains(l, "InaccessiblePaths=-/run/openshell/sandboxes/demo/root/var/lib/openshell"));
        ck_assert(strv_contains(l, "BindReadOnlyPaths=-/usr"));
        ck_assert(strv_contains(l, "BindPaths=/var/lib/openshell/sandboxes/demo:/sandbox"));
        STRV_FOREACH(a, l)
                ck_assert_msg(!startswith(*a, "InaccessiblePaths=") ||
                                      strstr(*a, "=/run/openshell/sandboxes/demo/root/") ||
                                      strstr(*a, "=-/run/openshell/sandboxes/demo/root/"),
                              "not below the root: %s", *a);
}
END_TEST

/* With the sandbox's namespace: joined (PrivateNetwork= stays), the proxy started first, its variables
 * and the sandbox's CA (the folder and the variables of upstream's SPEC.md §2.5) set before the spec's
 * environment. Without it: none of that. */
START_TEST(test_netns) {
        _cleanup_strv_free_ char **l = NULL, **plain = NULL;
        SandboxUnitConfig c = config;
        static const char *const required[] = {
                "PrivateNetwork=yes",
                "NetworkNamespacePath=/run/openshell/netns/demo",
                "Requires=openshell-proxy@demo.service",
                "After=openshell-proxy@demo.service",
                "Environment=ALL_PROXY=http://127.0.0.1:3128",
                "Environment=HTTP_PROXY=http://127.0.0.1:3128",
                "Environment=HTTPS_PROXY=http://127.0.0.1:3128",
                "Environment=http_proxy=http://127.0.0.1:3128",
                "Environment=https_proxy=http://127.0.0.1:3128",
                "Environment=grpc_proxy=http://127.0.0.1:3128",
                "Environment=NO_PROXY=127.0.0.1,localhost,::1",
                "Environment=no_proxy=127.0.0.1,localhost,::1",
                "Environment=NODE_USE_ENV_PROXY=1",
                "BindReadOnlyPaths=/run/openshell/sandboxes/demo/tls-public:/etc/openshell-tls",
                "Environment=NODE_EXTRA_CA_CERTS=/etc/openshell-tls/openshell-ca.pem",
                "Environment=DENO_CERT=/etc/openshell-tls/openshell-ca.pem",
                "Environment=SSL_CERT_FILE=/etc/openshell-tls/ca-bundle.pem",
                "Environment=REQUESTS_CA_BUNDLE=/etc/openshell-tls/ca-bundle.pem",
                "Environment=CURL_CA_BUNDLE=/etc/openshell-tls/ca-bundle.pem",
                "Environment=GIT_SSL_CAINFO=/etc/openshell-tls/ca-bundle.pem",
        };

        c.netns_path = SANDBOX_NETNS_DIR "/demo";
        ck_assert_int_eq(sandbox_unit_assignments(&c, &l), 0);
        for (size_t i = 0; i < ELEMENTSOF(required); i++)
                ck_assert_msg(strv_contains(l, required[i]), "missing %s", required[i]);
        /* ordered after the proxy only, never after the supervisor */
        STRV_FOREACH(a, l)
                ck_assert_msg(!startswith(*a, "After=") || streq(*a, "After=openshell-proxy@demo.service"), "%s", *a);
        ck_assert_str_eq(l[strv_length(l) - 1], "Environment=LOG_LEVEL=info");
        STRV_FOREACH(a, l) {
                _cleanup_free_ char *key = strndup(*a, strcspn(*a, "="));
                ck_assert_msg(bus_unit_assignment_key_supported(key), "%s", key);
        }

        ck_assert_int_eq(sandbox_unit_assignments(&config, &plain), 0);
        STRV_FOREACH(a, plain)
                ck_assert_msg(!strstr(*a, "NetworkNamespacePath=") && !strstr(*a, "openshell-proxy@") &&
                                      !strstr(*a, "_PROXY") && !strstr(*a, "_proxy") &&
                                      !strstr(*a, "openshell-tls") && !strstr(*a, "CERT") &&
                                      !strstr(*a, "CA_"),
                              "%s", *a);
}
END_TEST

/* The spec's environment comes after the CA's variables: a spec may name another bundle. With a root
 * directory the CA's folder is bound the same way (the source is the host's, the destination below
 * the root). */
START_TEST(test_netns_ca_spec_and_root) {
        _cleanup_strv_free_ char **l = NULL;
        SandboxUnitConfig c = config;
        size_t ours = SIZE_MAX, spec = SIZE_MAX, i = 0;

        c.netns_path = SANDBOX_NETNS_DIR "/demo";
        c.root_directory = "/run/openshell/sandboxes/demo/root";
        c.environment = (char *[]) { (char *) "SSL_CERT_FILE=/sandbox/my-bundle.pem", NULL };
        ck_assert_int_eq(sandbox_unit_assignments(&c, &l), 0);
        ck_assert(strv_contains(
                l, "BindReadOnlyPaths=/run/openshell/sandboxes/demo/tls-public:/etc/openshell-tls"));
        STRV_FOREACH(a, l) {
                if (streq(*a, "Environment=SSL_CERT_FILE=/etc/openshell-tls/ca-bundle.pem"))
                        ours = i;
                if (streq(*a, "Environment=SSL_CERT_FILE=/sandbox/my-bundle.pem"))
                        spec = i;
                i++;
        }
        ck_assert_uint_lt(ours, spec);
        ck_assert_uint_ne(spec, SIZE_MAX);
}
END_TEST

START_TEST(test_message) {
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        const char *unit, *mode, *key;
        unsigned n = 0;
        bool exec = false;

        bus = test_bus_new();
        ck_assert_int_eq(sandbox_unit_new_start_message(bus, &config, &m), 0);
        ck_assert_str_eq(sd_bus_message_get_member(m), "StartTransientUnit");
        ck_assert_int_ge(sd_bus_message_seal(m, 1, 0), 0);
        ck_assert_int_ge(sd_bus_message_rewind(m, true), 0);
        ck_assert_int_ge(sd_bus_message_read(m, "ss", &unit, &mode), 0);
        ck_assert_str_eq(unit, "openshell-agent-demo.service");
        ck_assert_str_eq(mode, "fail");
        ck_assert_int_ge(sd_bus_message_enter_container(m, 'a', "(sv)"), 0);
        while (sd_bus_message_enter_container(m, 'r', "sv") > 0) {
                ck_assert_int_ge(sd_bus_message_read(m, "s", &key), 0);
                exec = exec || streq(key, "ExecStart");
                ck_assert_int_ge(sd_bus_message_skip(m, "v"), 0);
                ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
                n++;
        }
        ck_assert(exec);
        ck_assert_uint_ge(n, 20);
        ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
        ck_assert_int_ge(sd_bus_message_enter_container(m, 'a', "(sa(sv))"), 0);
}
END_TEST

START_TEST(test_invalid_name) {
        SandboxUnitConfig c = config;
        char **l = (char **) 0x1;

        c.name = "../etc";
        ck_assert_int_eq(sandbox_unit_assignments(&c, &l), -EINVAL);
        ck_assert_ptr_eq(l, (char **) 0x1);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("sandbox-unit");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_assignments);
        tcase_add_test(tc, test_root_directory);
        tcase_add_test(tc, test_netns);
        tcase_add_test(tc, test_netns_ca_spec_and_root);
        tcase_add_test(tc, test_message);
        tcase_add_test(tc, test_invalid_name);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}
