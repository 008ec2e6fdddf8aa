/* SPDX-License-Identifier: Apache-2.0 */
/* Validation cases that are easier to generate than to write as files (limits, hostile input), and
 * the warnings. The rule-per-file cases are in tests/data/policies (test-policy-files.c). */

#include "policy-test-util.h"

static char *repeat(const char *s, size_t n) {
        size_t l = strlen(s);
        char *r = malloc(l * n + 1);

        ck_assert_ptr_nonnull(r);
        for (size_t i = 0; i < n; i++)
                memcpy(r + i * l, s, l);
        r[l * n] = 0;
        return r;
}

START_TEST(test_path_too_long) {
        _cleanup_free_ char *a = repeat("a", 4096), *yaml = NULL, *want = NULL, *a64 = repeat("a", 63);

        ck_assert_int_ge(asprintf_safe(&yaml, "version: 1\nfilesystem_policy:\n  read_only:\n    - /%s\n", a), 0);
        ck_assert_int_ge(asprintf_safe(&want, "t.yaml:4:7: filesystem_policy.read_only[0]: path exceeds maximum length (4097 > 4096): /%s...", a64), 0);
        assert_policy_error(yaml, want);
}
END_TEST

START_TEST(test_path_max_length_ok) {
        _cleanup_free_ char *a = repeat("a", 4095), *yaml = NULL;

        ck_assert_int_ge(asprintf_safe(&yaml, "version: 1\nfilesystem_policy:\n  read_only:\n    - /%s\n", a), 0);
        ck_assert_int_eq(load_string(yaml, NULL, NULL), 0);
}
END_TEST

START_TEST(test_too_many_paths) {
        _cleanup_free_ char *ro = NULL, *rw = NULL, *yaml = NULL, *ok = NULL;

        /* distinct paths: 200 read-only, 57 read-write */
        for (unsigned i = 0; i < 257; i++) {
                char **l = i < 200 ? &ro : &rw, *n;
                ck_assert_int_ge(asprintf_safe(&n, "%s    - /p%u\n", *l ?: "", i), 0);
                free(*l);
                *l = n;
        }

        ck_assert_int_ge(asprintf_safe(&yaml, "version: 1\nfilesystem_policy:\n  read_only:\n%s  read_write:\n%s", ro, rw), 0);
        assert_policy_error(yaml, "t.yaml:205:7: filesystem_policy: too many filesystem paths (257 > 256)");
        /* 256 is the limit, inclusive */
        *strrchr(rw, '-') = 0; /* drop the last entry: "    " remains, which YAML ignores */
        ck_assert_int_ge(asprintf_safe(&ok, "version: 1\nfilesystem_policy:\n  read_only:\n%s  read_write:\n%s", ro, rw), 0);
        ck_assert_int_eq(load_string(ok, NULL, NULL), 0);
}
END_TEST

START_TEST(test_deep_nesting) {
        _cleanup_free_ char *open = repeat("[", 100), *close = repeat("]", 100), *yaml = NULL;

        ck_assert_int_ge(asprintf_safe(&yaml, "version: 1\nx: %s%s\n", open, close), 0);
        assert_policy_error(yaml, "t.yaml:2:67: nesting is too deep (more than 64 levels)");
}
END_TEST

START_TEST(test_alias_bomb) {
        static const char yaml[] =
                "version: 1\n"
                "a: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n"
                "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n";

        assert_policy_error(yaml, "t.yaml:3:8: YAML aliases ('*a') are not supported (write the value out in full)");
}
END_TEST

START_TEST(test_not_utf8) {
        _cleanup_strv_free_ char **d = NULL;
        static const char yaml[] = "version: 1\nnetwork_policies:\n  caf\xe9: {}\n";

        ck_assert_int_eq(load_string(yaml, NULL, &d), -EBADMSG);
        ck_assert_uint_eq(strv_length(d), 1);
        ck_assert(startswith(d[0], "t.yaml:3:6: invalid UTF-8"));
}
END_TEST

START_TEST(test_binary_garbage) {
        /* deterministic pseudo-random bytes: must be refused cleanly, whatever they are */
        uint32_t x = 2463534242U;

        for (unsigned round = 0; round < 64; round++) {
                _cleanup_(diag_list_done) DiagList d = {};
                Policy *p = NULL;
                unsigned char buf[512];
                int r;

                for (size_t i = 0; i < sizeof(buf); i++) {
                        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
                        buf[i] = (unsigned char) x;
                }
                r = policy_load_buffer("t.yaml", buf, sizeof(buf), &p, &d);
                ck_assert_int_eq(r, -EBADMSG);
                ck_assert_ptr_null(p);
                ck_assert_uint_gt(d.n_errors, 0);
        }
}
END_TEST

START_TEST(test_huge_file) {
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_free_ char *buf = malloc(YAML_FILE_SIZE_MAX + 1);
        _cleanup_strv_free_ char **got = NULL;
        Policy *p = NULL;

        ck_assert_ptr_nonnull(buf);
        memset(buf, ' ', YAML_FILE_SIZE_MAX + 1);
        ck_assert_int_eq(policy_load_buffer("t.yaml", buf, YAML_FILE_SIZE_MAX + 1, &p, &d), -EBADMSG);
        got = diags_format(&d);
        ck_assert_str_eq(got[0], "t.yaml: file is too large (4194305 bytes, at most 4194304)");
}
END_TEST

START_TEST(test_empty) {
        assert_policy_error("", "t.yaml: file is empty (a policy needs at least 'version: 1')");
        assert_policy_error("# nothing\n", "t.yaml: file is empty (a policy needs at least 'version: 1')");
        assert_policy_error("~\n", "t.yaml: file is empty (a policy needs at least 'version: 1')");
}
END_TEST

START_TEST(test_control_characters_escaped) {
        /* a quoted key may hold terminal escapes: messages show them as \xNN, never raw */
        assert_policy_error("version: 1\n\"bad\\e[31mkey\": 1\n",
                            "t.yaml:2:1: bad\\x1b[31mkey: unknown key 'bad\\x1b[31mkey' (expected one of: version, filesystem_policy, landlock, process, network_policies, x-openshell)");
}
END_TEST

START_TEST(test_output_unchanged_on_failure) {
        _cleanup_(diag_list_done) DiagList d = {};
        Policy *sentinel = (Policy *) &d, *p = sentinel;
        static const char yaml[] = "version: 1\nprocess: { run_as_user: root }\n";

        ck_assert_int_eq(policy_load_buffer("t.yaml", yaml, strlen(yaml), &p, &d), -EBADMSG);
        ck_assert_ptr_eq(p, sentinel);
}
END_TEST

START_TEST(test_all_errors_reported) {
        _cleanup_(diag_list_done) DiagList d = {};
        Policy *p = NULL;
        static const char yaml[] =
                "version: 1\n"
                "filesystem_policy: { read_only: [relative], include_workdir: sure }\n"
                "process: { run_as_user: root }\n"
                "network_policies:\n"
                "  a: { endpoints: [ { host: \"*.com\", port: 0 } ], binaries: [ { path: /usr/bin/curl } ] }\n";

        ck_assert_int_eq(policy_load_buffer("t.yaml", yaml, strlen(yaml), &p, &d), -EBADMSG);
        /* include_workdir type, relative path, root, TLD wildcard, port 0: parse and validation errors
         * together, one per problem */
        ck_assert_uint_eq(d.n_errors, 5);
}
END_TEST

START_TEST(test_warnings) {
        static const char audit[] =
                "version: 1\n"
                "landlock: { compatibility: hard_requirement }\n"
                "network_policies:\n"
                "  api:\n"
                "    endpoints:\n"
                "      - { host: api.example.com, port: 443, protocol: rest, access: read-only }\n"
                "      - { host: b.example.com, port: 443, access: full }\n"
                "      - { host: c.example.com, port: 443, tls: terminate }\n"
                "      - { host: d.example.com, port: 443, tls: passthrough }\n"
                "      - { host: e.example.com, port: 443, ports: [8443] }\n"
                "      - { host: f.example.com, port: 443, protocol: rest, enforcement: enforce, access: full, tls: skip }\n"
                "  nobody:\n"
                "    endpoints: [ { host: x.example.com, port: 443 } ]\n";

        assert_policy_warning(audit, "t.yaml:6:9: network_policies.api.endpoints[0]: warning: network policy 'api': endpoint 0: L7 rules are only audited: requests they do not allow are logged but still forwarded (add 'enforcement: enforce' to block them)");
        assert_policy_warning(audit, "t.yaml:7:9: network_policies.api.endpoints[1]: warning: network policy 'api': endpoint 1 has 'access' but no protocol, so it has no L7 effect: the connection is passed through whole (add 'protocol: rest' to inspect HTTP requests)");
        assert_policy_warning(audit, "t.yaml:8:48: network_policies.api.endpoints[2].tls: warning: tls: terminate is deprecated and has no effect (TLS is detected and terminated automatically; use 'tls: skip' to disable that)");
        assert_policy_warning(audit, "t.yaml:9:48: network_policies.api.endpoints[3].tls: warning: tls: passthrough is deprecated and has no effect (TLS is detected and terminated automatically; use 'tls: skip' to disable that)");
        assert_policy_warning(audit, "t.yaml:10:38: network_policies.api.endpoints[4]: warning: both 'port' and 'ports' are given; 'port' is ignored (list every port in 'ports')");
        assert_policy_warning(audit, "t.yaml:11:9: network_policies.api.endpoints[5]: warning: network policy 'api': endpoint 5: 'tls: skip' turns TLS inspection off, so L7 rules cannot apply to HTTPS traffic on this endpoint");
        assert_policy_warning(audit, "t.yaml:12:3: network_policies.nobody: warning: network policy 'nobody' has no binaries, so it denies every connection (list the programs allowed to connect, e.g. binaries: [{ path: /usr/bin/curl }])");
        assert_policy_warning("version: 1\n",
                              "t.yaml: landlock.compatibility: warning: Landlock is best_effort (the default): on a kernel without Landlock the agent runs without this filesystem layer (systemd's ProtectSystem= and friends still apply); set 'compatibility: hard_requirement' to refuse to start instead");
        assert_policy_warning("version: 1\nlandlock:\n  compatibility: best_effort\n",
                              "t.yaml:3:18: landlock.compatibility: warning: Landlock is best_effort: on a kernel without Landlock the agent runs without this filesystem layer (systemd's ProtectSystem= and friends still apply); set 'compatibility: hard_requirement' to refuse to start instead");
        assert_policy_warning("version: 1\nfilesystem_policy:\n  read_only: [/usr, /usr/]\n  read_write: [/usr]\n",
                              "t.yaml:3:21: filesystem_policy.read_only[1]: warning: '/usr' is listed twice (first at line 3)");
        assert_policy_warning("version: 1\nfilesystem_policy:\n  include_workdir: true\n  read_only: [/sandbox/.config, /srv/a/b]\n  read_write: [/srv]\n",
                              "t.yaml:4:15: filesystem_policy.read_only[0]: warning: '/sandbox/.config' is inside the read-write '/sandbox', so it stays writable (Landlock rights add up; hide or move it instead)");
        assert_policy_warning("version: 1\nfilesystem_policy:\n  include_workdir: true\n  read_only: [/sandbox/.config, /srv/a/b]\n  read_write: [/srv]\n",
                              "t.yaml:4:33: filesystem_policy.read_only[1]: warning: '/srv/a/b' is inside the read-write '/srv', so it stays writable (Landlock rights add up; hide or move it instead)");
        assert_policy_warning("version: 1\nfilesystem_policy:\n  read_only: [/usr]\n  read_write: [/usr]\n",
                              "t.yaml:3:15: filesystem_policy.read_only[0]: warning: '/usr' is also listed in read_write (line 4); read-write wins");
}
END_TEST

START_TEST(test_hard_requirement_no_warning) {
        _cleanup_strv_free_ char **d = NULL;

        ck_assert_int_eq(load_string("version: 1\nlandlock: { compatibility: hard_requirement }\n", NULL, &d), 0);
        ck_assert_uint_eq(strv_length(d), 0);
}
END_TEST

START_TEST(test_identity_valid) {
        _cleanup_(policy_freep) Policy *p = NULL;

        ck_assert_int_eq(load_string("version: 1\nprocess: { run_as_user: \"1\", run_as_group: 4294967294 }\n", &p, NULL), 0);
        ck_assert_str_eq(p->run_as_user, "1");
        ck_assert_str_eq(p->run_as_group, "4294967294");
        assert_policy_error("version: 1\nprocess: { run_as_user: \"\" }\n",
                            "t.yaml:2:25: process.run_as_user: run_as_user must be 'sandbox' or a numeric UID/GID in range [1, 4294967294], got ''");
        assert_policy_error("version: 1\nprocess: { run_as_user: \"01234567890\" }\n",
                            "t.yaml:2:25: process.run_as_user: run_as_user must be 'sandbox' or a numeric UID/GID in range [1, 4294967294], got '01234567890'");
}
END_TEST

START_TEST(test_paths_normalised) {
        _cleanup_(policy_freep) Policy *p = NULL;

        ck_assert_int_eq(load_string("version: 1\nfilesystem_policy: { read_only: [\"//usr//lib/\"], read_write: [/sandbox/] }\n", &p, NULL), 0);
        ck_assert_str_eq(p->read_only[0].path, "/usr/lib");
        ck_assert_str_eq(p->read_write[0].path, "/sandbox");
}
END_TEST

START_TEST(test_extensions_parsed) {
        _cleanup_(policy_freep) Policy *p = NULL, *empty = NULL;
        static const char yaml[] =
                "version: 1\n"
                "x-openshell:\n"
                "  resources: { memory_max: 2G, memory_high: 1536M, cpu_quota: 150%, cpu_weight: 50, tasks_max: infinity, open_files: 65536 }\n"
                "  gpu: { devices: [1, 0] }\n"
                "  syscalls: { allow: [memfd_create, seccomp], deny: [personality] }\n"
                "  filesystem: { inaccessible: [/etc/ssh/] }\n"
                "  process: { memory_deny_write_execute: true }\n"
                "  network: { tcp_connect_ports: [18789, 8080, 18789], tcp_bind_ports: [18789] }\n";

        ck_assert_int_eq(load_string(yaml, &p, NULL), 0);
        ck_assert_uint_eq(p->resources.memory_max, UINT64_C(2) << 30);
        ck_assert_uint_eq(p->resources.memory_high, UINT64_C(1536) << 20);
        ck_assert_uint_eq(p->resources.cpu_quota_percent, 150);
        ck_assert_uint_eq(p->resources.cpu_weight, 50);
        ck_assert_uint_eq(p->resources.tasks_max, UINT64_MAX);
        ck_assert_uint_eq(p->resources.open_files, 65536);
        ck_assert_uint_eq(p->n_gpu_devices, 2);
        ck_assert_uint_eq(p->n_syscalls_allow, 2);
        ck_assert_str_eq(p->syscalls_deny[0].path, "personality");
        ck_assert_str_eq(p->inaccessible[0].path, "/etc/ssh");
        ck_assert(p->memory_deny_write_execute);
        /* W^X is an opt-in: JIT runtimes (Node, Bun) must run under a policy that does not ask for it */
        ck_assert_int_eq(load_string("version: 1\n", &empty, NULL), 0);
        ck_assert(!empty->memory_deny_write_execute);
        ck_assert_uint_eq(p->n_tcp_connect_ports, 2);
        ck_assert_uint_eq(p->tcp_connect_ports[0], 8080);
        ck_assert(p->tcp_bind_restricted);
        assert_policy_error("version: 1\nx-openshell:\n  resources: { memory_max: 1G, memory_high: 2G }\n",
                            "t.yaml:3:14: x-openshell.resources.memory_high: memory_high (2147483648 bytes) must not exceed memory_max (1073741824 bytes)");
}
END_TEST

static void check_reload(const char *old_yaml, const char *new_yaml, int want, const char *diag) {
        _cleanup_(policy_freep) Policy *a = NULL, *b = NULL;
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_strv_free_ char **got = NULL;

        ck_assert_int_eq(load_string(old_yaml, &a, NULL), 0);
        ck_assert_int_eq(load_string(new_yaml, &b, NULL), 0);
        ck_assert_int_eq(policy_check_reload(a, b, &d), want);
        got = diags_format(&d);
        if (diag && !strv_contains(got, diag))
                dump_strv(got);
        ck_assert_msg(!diag || strv_contains(got, diag), "missing: %s", diag);
}

START_TEST(test_reload) {
        static const char base[] =
                "version: 1\n"
                "filesystem_policy: { include_workdir: true, read_only: [/usr, /etc], read_write: [/tmp] }\n"
                "landlock: { compatibility: best_effort }\n"
                "process: { run_as_user: sandbox, run_as_group: sandbox }\n"
                "network_policies:\n"
                "  a: { endpoints: [ { host: a.example.com, port: 443 } ], binaries: [ { path: /usr/bin/curl } ] }\n";
        static const char net_changed[] =
                "version: 1\n"
                "filesystem_policy: { include_workdir: true, read_only: [/etc, /usr], read_write: [/tmp] }\n"
                "landlock: { compatibility: best_effort }\n"
                "process: { run_as_user: sandbox, run_as_group: sandbox }\n"
                "network_policies:\n"
                "  b: { endpoints: [ { host: b.example.com, port: 443 } ], binaries: [ { path: /usr/bin/curl } ] }\n";

        /* network policies may change; path order does not matter */
        check_reload(base, net_changed, 0, NULL);
        check_reload(base, "version: 1\nfilesystem_policy: { include_workdir: true, read_only: [/usr, /etc], read_write: [/tmp] }\n"
                           "landlock: { compatibility: hard_requirement }\nprocess: { run_as_user: sandbox, run_as_group: sandbox }\n",
                     -EBADMSG, "t.yaml:3:28: landlock: landlock policy cannot be changed on a live sandbox (applied at startup)");
        check_reload(base, "version: 1\nfilesystem_policy: { include_workdir: true, read_only: [/usr, /etc], read_write: [/tmp] }\n"
                           "landlock: { compatibility: best_effort }\n",
                     -EBADMSG, "t.yaml: process: process policy cannot be changed on a live sandbox (applied at startup)");
        check_reload(base, "version: 1\nlandlock: { compatibility: best_effort }\nprocess: { run_as_user: sandbox, run_as_group: sandbox }\n",
                     -EBADMSG, "t.yaml: filesystem_policy: filesystem policy cannot be removed on a live sandbox");
        check_reload(base, "version: 1\nfilesystem_policy: { include_workdir: false, read_only: [/usr], read_write: [/tmp, /srv] }\n"
                           "landlock: { compatibility: best_effort }\nprocess: { run_as_user: sandbox, run_as_group: sandbox }\n",
                     -EBADMSG, "t.yaml: filesystem_policy.read_only: filesystem read_only path '/etc' cannot be removed on a live sandbox");
        check_reload(base, "version: 1\nfilesystem_policy: { include_workdir: false, read_only: [/usr, /etc], read_write: [/tmp] }\n"
                           "landlock: { compatibility: best_effort }\nprocess: { run_as_user: sandbox, run_as_group: sandbox }\n",
                     -EBADMSG, "t.yaml: filesystem_policy.include_workdir: filesystem include_workdir cannot be changed on a live sandbox");
        check_reload(base, "version: 1\nfilesystem_policy: { include_workdir: true, read_only: [/usr, /etc], read_write: [/tmp, /srv] }\n"
                           "landlock: { compatibility: best_effort }\nprocess: { run_as_user: sandbox, run_as_group: sandbox }\n",
                     0, "t.yaml:2:89: filesystem_policy.read_write: warning: filesystem read_write path '/srv' was added: it takes effect when the sandbox restarts");
        check_reload("version: 1\n", "version: 1\nx-openshell: { resources: { tasks_max: 64 } }\n", -EBADMSG,
                     "t.yaml: x-openshell.resources: resource limits cannot be changed on a live sandbox (applied at startup)");
        check_reload("version: 1\n", "version: 1\nx-openshell: { process: { memory_deny_write_execute: true } }\n", -EBADMSG,
                     "t.yaml: x-openshell.process: process settings cannot be changed on a live sandbox (applied at startup)");
        check_reload("version: 1\n", "version: 1\nx-openshell: { syscalls: { deny: [personality] } }\n", -EBADMSG,
                     "t.yaml: x-openshell.syscalls: system call filters cannot be changed on a live sandbox (applied at startup)");
        check_reload("version: 1\n", "version: 1\nx-openshell: { network: { tcp_connect_ports: [80] } }\n", -EBADMSG,
                     "t.yaml: x-openshell.network: Landlock network ports cannot be changed on a live sandbox (applied at startup)");
        check_reload("version: 1\n", "version: 1\nx-openshell: { gpu: { devices: [0] } }\n", -EBADMSG,
                     "t.yaml: x-openshell.gpu: GPU access cannot be changed on a live sandbox (applied at startup)");
        check_reload("version: 1\n", "version: 1\nx-openshell: { filesystem: { inaccessible: [/srv] } }\n", -EBADMSG,
                     "t.yaml: x-openshell.filesystem: inaccessible paths cannot be changed on a live sandbox (applied at startup)");
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("policy-validate");
        TCase *tc = tcase_create("validate");

        tcase_add_test(tc, test_path_too_long);
        tcase_add_test(tc, test_path_max_length_ok);
        tcase_add_test(tc, test_too_many_paths);
        tcase_add_test(tc, test_deep_nesting);
        tcase_add_test(tc, test_alias_bomb);
        tcase_add_test(tc, test_not_utf8);
        tcase_add_test(tc, test_binary_garbage);
        tcase_add_test(tc, test_huge_file);
        tcase_add_test(tc, test_empty);
        tcase_add_test(tc, test_output_unchanged_on_failure);
        tcase_add_test(tc, test_control_characters_escaped);
        tcase_add_test(tc, test_all_errors_reported);
        tcase_add_test(tc, test_warnings);
        tcase_add_test(tc, test_hard_requirement_no_warning);
        tcase_add_test(tc, test_identity_valid);
        tcase_add_test(tc, test_paths_normalised);
        tcase_add_test(tc, test_extensions_parsed);
        tcase_add_test(tc, test_reload);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}
