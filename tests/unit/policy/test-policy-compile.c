/* SPDX-License-Identifier: Apache-2.0 */
/* The compiler: golden files of both printed forms, the hard defaults of an empty policy, the Landlock
 * data per ABI, the seccomp filter (built and exported as BPF), and the shipped policies.
 *
 * Golden files: tests/data/policies/golden/NAME.yaml -> NAME.unit and NAME.json. To regenerate after
 * a deliberate change, run the test with OPENSHELL_UPDATE_GOLDEN=1 and review the diff. */

#include <fcntl.h>
#include <linux/filter.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "policy-test-util.h"
#include "sandbox-spec.h"

static char *read_file(const char *path) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char *buf = NULL;
        size_t n = 0;
        FILE *m;

        if (!f)
                return NULL;
        m = open_memstream(&buf, &n);
        ck_assert_ptr_nonnull(m);
        for (int c; (c = fgetc(f)) != EOF;)
                fputc(c, m);
        fclose(m);
        return buf;
}

static char *compile_to_string(const char *name, const char *yaml, bool json) {
        _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_(diag_list_done) DiagList d = {};
        char *buf = NULL;
        size_t n = 0;
        FILE *f;

        ck_assert_int_eq(policy_load_buffer(name, yaml, strlen(yaml), &p, &d), 0);
        ck_assert_int_eq(policy_compile(p, NULL, &c), 0);
        f = open_memstream(&buf, &n);
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(json ? policy_print_json(c, f) : policy_print_unit(c, f), 0);
        fclose(f);
        return buf;
}

/* yaml_rel: the policy, relative to the source root; NULL for golden/NAME.yaml */
static void check_golden(const char *name, const char *yaml_rel) {
        _cleanup_free_ char *yaml_path = NULL, *yaml = NULL;
        const char *update = secure_getenv("OPENSHELL_UPDATE_GOLDEN");

        if (yaml_rel)
                yaml_path = test_data_path(yaml_rel);
        else
                ck_assert_int_ge(asprintf_safe(&yaml_path, "%s/tests/data/policies/golden/%s.yaml", test_source_root(), name), 0);
        yaml = read_file(yaml_path);
        ck_assert_msg(yaml, "cannot read %s", yaml_path);

        for (int json = 0; json <= 1; json++) {
                _cleanup_free_ char *out_path = NULL, *want = NULL, *got = NULL, *file = NULL;

                ck_assert_int_ge(asprintf_safe(&file, "%s.yaml", name), 0);
                got = compile_to_string(file, yaml, json);
                ck_assert_int_ge(asprintf_safe(&out_path, "%s/tests/data/policies/golden/%s.%s", test_source_root(), name,
                                               json ? "json" : "unit"),
                                 0);
                if (update && streq(update, "1")) {
                        _cleanup_fclose_ FILE *f = fopen(out_path, "we");
                        ck_assert_ptr_nonnull(f);
                        fputs(got, f);
                        continue;
                }
                want = read_file(out_path);
                ck_assert_msg(want, "cannot read %s (run with OPENSHELL_UPDATE_GOLDEN=1 to create it)", out_path);
                if (!streq(want, got))
                        fprintf(stderr, "--- %s differs; got:\n%s\n", out_path, got);
                ck_assert_msg(streq(want, got), "%s differs from the compiler's output", out_path);
        }
}

START_TEST(test_golden_minimal) {
        check_golden("minimal", NULL);
}
END_TEST

START_TEST(test_golden_github) {
        check_golden("github", NULL);
}
END_TEST

START_TEST(test_golden_extensions) {
        check_golden("extensions", NULL);
}
END_TEST

START_TEST(test_golden_default) {
        /* the shipped default policy, compiled */
        check_golden("default", "policies/default.yaml");
}
END_TEST

/* An empty policy gets the hardest sensible settings. */
START_TEST(test_minimal_defaults) {
        _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        static const char *const must[] = {
                "User=nobody-test",
                "Group=nobody-test",
                "NoNewPrivileges=yes",
                "CapabilityBoundingSet=",
                "AmbientCapabilities=",
                "ProtectSystem=strict",
                "ProtectHome=yes",
                "PrivateTmp=yes",
                "PrivateDevices=yes",
                "PrivateNetwork=yes",
                "RestrictNamespaces=yes",
                /* JIT runtimes (Node, Bun, Java) need W+X memory: W^X is an opt-in */
                "MemoryDenyWriteExecute=no",
                "DevicePolicy=closed",
                "SystemCallArchitectures=native",
                "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
                "MemoryMax=4G",
                "TasksMax=512",
                "LimitNOFILE=4096",
                "LimitCORE=0",
        };
        PolicyCompileOptions o = { .agent_user = "nobody-test" };

        ck_assert_int_eq(load_string("version: 1\n", &p, NULL), 0);
        ck_assert_int_eq(policy_compile(p, &o, &c), 0);
        for (size_t i = 0; i < ELEMENTSOF(must); i++)
                ck_assert_msg(strv_contains(c->unit, must[i]), "missing %s", must[i]);
        /* no egress at all */
        ck_assert_uint_eq(c->egress.n_entries, 0);
        /* Landlock: everything handled; only the baseline and the workdir (include_workdir is true
         * when filesystem_policy is absent, as upstream) */
        ck_assert_uint_eq(c->landlock.handled_fs, landlock_fs_rights_for_abi(LL_ABI_MAX));
        ck_assert_int_eq(c->landlock.compatibility, POLICY_LANDLOCK_BEST_EFFORT);
        for (size_t i = 0; i < c->landlock.n_paths; i++) {
                const LandlockPathRule *r = &c->landlock.paths[i];
                ck_assert(r->origin == LANDLOCK_ORIGIN_BASELINE || r->origin == LANDLOCK_ORIGIN_WORKDIR);
                if (r->access & LL_FS_WRITE_FILE)
                        ck_assert_msg(streq(r->path, "/tmp") || streq(r->path, "/dev/null") || streq(r->path, "/sandbox"),
                                      "unexpected writable %s", r->path);
        }
        /* only the proxy port may be connected to */
        ck_assert_uint_eq(c->landlock.n_ports, 1);
        ck_assert_uint_eq(c->landlock.ports[0].port, 3128);
        ck_assert_uint_eq(c->landlock.ports[0].access, LL_NET_CONNECT_TCP);
}
END_TEST

START_TEST(test_include_workdir_false) {
        _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;

        ck_assert_int_eq(load_string("version: 1\nfilesystem_policy: { read_write: [/srv/data] }\n", &p, NULL), 0);
        ck_assert_int_eq(policy_compile(p, NULL, &c), 0);
        for (size_t i = 0; i < c->landlock.n_paths; i++)
                ck_assert_str_ne(c->landlock.paths[i].path, "/sandbox");
        ck_assert(strv_contains(c->unit, "BindPaths=-/srv/data"));
}
END_TEST

/* The agent's file system is an empty root with the grants bound in: read-only grants read-only,
 * writable ones writable; API file systems, private folders and the workdir are not bound. */
START_TEST(test_filesystem_view) {
        _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;

        ck_assert_int_eq(load_string("version: 1\nfilesystem_policy:\n"
                                     "  read_only: [/opt/tools, /sandbox/ro, /sys/class, /proc]\n"
                                     "  read_write: [/srv/data, /tmp/x, /var/tmp, /dev/null]\n",
                                     &p, NULL),
                         0);
        ck_assert_int_eq(policy_compile(p, NULL, &c), 0);
        ck_assert(strv_contains(c->unit, "MountAPIVFS=yes"));
        ck_assert(strv_contains(c->unit, "TemporaryFileSystem=/run:ro"));
        ck_assert(strv_contains(c->unit, "BindReadOnlyPaths=-/opt/tools"));
        ck_assert(strv_contains(c->unit, "BindReadOnlyPaths=-/usr"));   /* baseline */
        ck_assert(strv_contains(c->unit, "BindPaths=-/srv/data"));
        STRV_FOREACH(a, c->unit) {
                const char *v = startswith(*a, "BindPaths=") ? *a + strlen("BindPaths=")
                              : startswith(*a, "BindReadOnlyPaths=") ? *a + strlen("BindReadOnlyPaths=") : NULL;
                if (!v)
                        continue;
                ck_assert_msg(!startswith(v, "-/sandbox") && !startswith(v, "-/sys") && !startswith(v, "-/proc") &&
                              !startswith(v, "-/tmp") && !startswith(v, "-/var/tmp") && !startswith(v, "-/dev"),
                              "%s should not be bound", *a);
        }
        /* Paths are bound, not made writable in the host's tree (which is not the agent's root). */
        STRV_FOREACH(a, c->unit)
                ck_assert_msg(!startswith(*a, "ReadWritePaths="), "unexpected %s", *a);

        /* A policy that grants /run itself gets the host's, not an empty one. */
        policy_compiled_free(TAKE_PTR(c));
        policy_free(TAKE_PTR(p));
        ck_assert_int_eq(load_string("version: 1\nfilesystem_policy: { read_only: [/run] }\n", &p, NULL), 0);
        ck_assert_int_eq(policy_compile(p, NULL, &c), 0);
        ck_assert(!strv_contains(c->unit, "TemporaryFileSystem=/run:ro"));
        ck_assert(strv_contains(c->unit, "BindReadOnlyPaths=-/run"));
}
END_TEST

START_TEST(test_landlock_abi) {
        ck_assert_uint_eq(landlock_fs_rights_for_abi(0), 0);
        ck_assert_uint_eq(landlock_fs_rights_for_abi(1), (LL_FS_MAKE_SYM << 1) - 1);
        ck_assert_uint_eq(landlock_fs_rights_for_abi(2), landlock_fs_rights_for_abi(1) | LL_FS_REFER);
        ck_assert_uint_eq(landlock_fs_rights_for_abi(3), landlock_fs_rights_for_abi(2) | LL_FS_TRUNCATE);
        ck_assert_uint_eq(landlock_fs_rights_for_abi(4), landlock_fs_rights_for_abi(3));
        ck_assert_uint_eq(landlock_fs_rights_for_abi(5), landlock_fs_rights_for_abi(4) | LL_FS_IOCTL_DEV);
        ck_assert_uint_eq(landlock_fs_rights_for_abi(99), landlock_fs_rights_for_abi(LL_ABI_MAX));
        ck_assert_uint_eq(landlock_net_rights_for_abi(3), 0);
        ck_assert_uint_eq(landlock_net_rights_for_abi(4), LL_NET_BIND_TCP | LL_NET_CONNECT_TCP);
        ck_assert_uint_eq(landlock_scope_for_abi(5), 0);
        ck_assert_uint_eq(landlock_scope_for_abi(6), LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL);
        /* same values as the kernel headers of the build host, where they exist */
        ck_assert_uint_eq(LL_FS_EXECUTE, 1);
        ck_assert_uint_eq(LL_FS_REFER, 1 << 13);
}
END_TEST

START_TEST(test_seccomp_export) {
        _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_close_ int fd = -EBADF;
        scmp_filter_ctx ctx = NULL;
        struct stat st;

        ck_assert_int_eq(load_string("version: 1\n", &p, NULL), 0);
        ck_assert_int_eq(policy_compile(p, NULL, &c), 0);
        ck_assert_uint_gt(c->seccomp.n_rules, 10);
        ck_assert_int_eq(policy_seccomp_build(&c->seccomp, &ctx), 0);
        ck_assert_ptr_nonnull(ctx);
        seccomp_release(ctx);

        fd = memfd_create("bpf", MFD_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(policy_seccomp_export_bpf(&c->seccomp, fd), 0);
        ck_assert_int_eq(fstat(fd, &st), 0);
        ck_assert_int_gt(st.st_size, 0);
        ck_assert_int_eq(st.st_size % (off_t) sizeof(struct sock_filter), 0);
        ck_assert_int_eq(policy_seccomp_export_bpf(&c->seccomp, -EBADF), -EBADF);
}
END_TEST

START_TEST(test_seccomp_rules) {
        _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL, *c2 = NULL;
        _cleanup_(policy_freep) Policy *p = NULL, *p2 = NULL;
        bool clone3 = false, newuser = false, tiocsti = false, seccomp_filter = false, netlink = false;
        bool found_mandatory = false;

        ck_assert_int_eq(load_string("version: 1\n", &p, NULL), 0);
        ck_assert_int_eq(policy_compile(p, NULL, &c), 0);
        for (size_t i = 0; i < c->seccomp.n_rules; i++) {
                const SeccompRule *r = &c->seccomp.rules[i];
                if (streq(r->syscall, "clone3"))
                        clone3 = r->error == ENOSYS && r->n_args == 0;
                if (streq(r->syscall, "unshare") && streq(r->args[0].value_name, "CLONE_NEWUSER"))
                        newuser = r->error == EPERM;
                if (streq(r->syscall, "ioctl") && streq(r->args[0].value_name, "TIOCSTI"))
                        tiocsti = true;
                if (streq(r->syscall, "seccomp"))
                        seccomp_filter = true;
                if (streq(r->syscall, "socket") && r->n_args == 2)
                        netlink = r->args[1].op == SECCOMP_OP_NE && r->args[1].value == 0;
        }
        ck_assert(clone3 && newuser && tiocsti && seccomp_filter && netlink);

        /* x-openshell.syscalls.allow: [seccomp] lifts the nested-filter rule; others stay */
        ck_assert_int_eq(load_string("version: 1\nx-openshell: { syscalls: { allow: [seccomp, memfd_create], deny: [personality] } }\n", &p2, NULL), 0);
        ck_assert_int_eq(policy_compile(p2, NULL, &c2), 0);
        for (size_t i = 0; i < c2->seccomp.n_rules; i++)
                ck_assert_str_ne(c2->seccomp.rules[i].syscall, "seccomp");
        STRV_FOREACH(u, c2->unit)
                if (startswith(*u, "SystemCallFilter=~memfd_create") || strstr(*u, " memfd_create"))
                        ck_abort_msg("memfd_create still denied: %s", *u);
        ck_assert_uint_eq(c2->seccomp.n_rules, c->seccomp.n_rules - 1);
        {
                bool found = false;
                STRV_FOREACH(u, c2->unit)
                        if (startswith(*u, "SystemCallFilter=~") && endswith(*u, " personality"))
                                found = true;
                ck_assert(found);
        }
        /* whatever the policy allows, the mandatory set stays denied */
        STRV_FOREACH(u, c2->unit) {
                if (!startswith(*u, "SystemCallFilter=~ptrace"))
                        continue;
                for (const char *const *m = (const char *const[]) { "ptrace", "bpf", "mount", "setns", "pivot_root",
                                                                    "keyctl", "add_key", "userfaultfd", "perf_event_open",
                                                                    "kexec_load", "finit_module", "process_vm_readv",
                                                                    "pidfd_getfd", NULL };
                     *m; m++) {
                        _cleanup_free_ char *word = NULL;
                        ck_assert_int_ge(asprintf(&word, " %s ", *m), 0);
                        ck_assert_msg(strstr(*u, word) || startswith(*u + strlen("SystemCallFilter=~"), *m),
                                      "%s missing from %s", *m, *u);
                }
                found_mandatory = true;
        }
        ck_assert(found_mandatory);
}
END_TEST

/* The mandatory ones cannot be allowed: validation refuses such a policy. */
START_TEST(test_mandatory_syscalls_not_allowable) {
        _cleanup_(policy_freep) Policy *p = NULL;

        for (const char *const *m = (const char *const[]) { "ptrace", "bpf", "mount", "setns", "keyctl", "userfaultfd",
                                                            "perf_event_open", "init_module", NULL };
             *m; m++) {
                _cleanup_free_ char *yaml = NULL;
                ck_assert_int_ge(asprintf(&yaml, "version: 1\nx-openshell: { syscalls: { allow: [%s] } }\n", *m), 0);
                ck_assert_msg(load_string(yaml, &p, NULL) < 0, "allow: [%s] was accepted", *m);
                p = policy_free(p);
        }
}
END_TEST

START_TEST(test_gpu_and_resources) {
        _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        static const char yaml[] =
                "version: 1\n"
                "x-openshell:\n"
                "  resources: { memory_max: 2G, memory_high: 1536M, cpu_quota: 150%, cpu_weight: 50, tasks_max: 64, open_files: 1024 }\n"
                "  gpu: { devices: [0] }\n"
                "  process: { memory_deny_write_execute: true }\n";
        static const char *const must[] = {
                "MemoryMax=2G", "MemoryHigh=1536M", "CPUQuota=150%", "CPUWeight=50", "TasksMax=64", "LimitNOFILE=1024",
                "MemoryDenyWriteExecute=yes", "BindPaths=-/dev/nvidia0", "DeviceAllow=/dev/nvidia0 rw",
                "DeviceAllow=/dev/nvidiactl rw", "DeviceAllow=/dev/nvidia-uvm rw", "PrivateDevices=yes",
        };

        ck_assert_int_eq(load_string(yaml, &p, NULL), 0);
        ck_assert_int_eq(policy_compile(p, NULL, &c), 0);
        for (size_t i = 0; i < ELEMENTSOF(must); i++)
                ck_assert_msg(strv_contains(c->unit, must[i]), "missing %s", must[i]);
        ck_assert(!strv_contains(c->unit, "DeviceAllow=/dev/nvidia1 rw"));
}
END_TEST

START_TEST(test_no_gpu_by_default) {
        _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;

        ck_assert_int_eq(load_string("version: 1\n", &p, NULL), 0);
        ck_assert_int_eq(policy_compile(p, NULL, &c), 0);
        STRV_FOREACH(u, c->unit)
                ck_assert_msg(!strstr(*u, "nvidia") && !startswith(*u, "DeviceAllow="), "unexpected %s", *u);
}
END_TEST

static void check_shipped(const char *rel) {
        _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_free_ char *path = test_data_path(rel);
        EgressMatch m;

        ck_assert_int_eq(policy_load_file(path, &p, &d), 0);
        ck_assert_uint_eq(d.n_errors, 0);
        ck_assert_int_eq(policy_compile(p, NULL, &c), 0);

        /* nothing of /home, /root, ssh or credential stores */
        for (size_t i = 0; i < c->landlock.n_paths; i++) {
                const char *s = c->landlock.paths[i].path;
                ck_assert_msg(!startswith(s, "/home") && !startswith(s, "/root") && !startswith(s, "/etc/ssh") &&
                                      !startswith(s, "/etc/openshell") && !startswith(s, "/var/lib/openshell"),
                              "%s grants %s", rel, s);
        }
        ck_assert(strv_contains(c->unit, "ProtectHome=yes"));
        ck_assert(strv_contains(c->unit, "InaccessiblePaths=-/etc/ssh"));
        ck_assert(strv_contains(c->unit, "InaccessiblePaths=-/etc/openshell"));
        /* Node, Bun and the other JIT runtimes agents are written in must run under every shipped policy */
        ck_assert_msg(strv_contains(c->unit, "MemoryDenyWriteExecute=no"), "%s: W^X memory must stay allowed", rel);

        /* no egress: inference.local is answered by the proxy before the table, anything else is denied */
        ck_assert_uint_eq(c->egress.n_entries, 0);
        ck_assert_int_eq(policy_egress_match(&c->egress, "api.openai.com", 443, "/usr/bin/node", NULL, &m), 0);
        ck_assert_int_eq(m.decision, EGRESS_DENY);
}

START_TEST(test_shipped_default) {
        check_shipped("policies/default.yaml");
}
END_TEST

START_TEST(test_shipped_openclaw) {
        _cleanup_(sandbox_spec_freep) SandboxSpec *s = NULL;
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_free_ char *spec = test_data_path("policies/profiles/openclaw/sandbox.yaml");

        check_shipped("policies/profiles/openclaw/policy.yaml");
        ck_assert_int_eq(sandbox_spec_load(spec, &s, &d), 0);
        ck_assert_ptr_nonnull(s->command);
        ck_assert_uint_eq(s->n_forward, 1);
        ck_assert_uint_eq(s->forward[0], 18789);
}
END_TEST

START_TEST(test_landlock_serialize) {
        _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t n = 0;
        FILE *f;

        ck_assert_int_eq(load_string("version: 1\nlandlock: { compatibility: hard_requirement }\n"
                                     "filesystem_policy: { include_workdir: false, read_only: [/opt/my#tools] }\n"
                                     "x-openshell: { network: { tcp_bind_ports: [8080] } }\n",
                                     &p, NULL),
                         0);
        ck_assert_int_eq(policy_compile(p, NULL, &c), 0);
        f = open_memstream(&buf, &n);
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(policy_landlock_serialize(&c->landlock, f), 0);
        fclose(f);
        ck_assert_str_eq(buf,
                         "openshell-landlock 1\n"
                         "compatibility hard_requirement\n"
                         "handled_fs 65535\n"
                         "handled_net 3\n"
                         "scoped 3\n"
                         "path 13 /app\n"
                         "path 13 /bin\n"
                         "path 65535 /dev/null\n"
                         "path 13 /dev/urandom\n"
                         "path 13 /etc\n"
                         "path 13 /lib\n"
                         "path 13 /lib64\n"
                         "path 13 /opt/my#tools\n"
                         "path 13 /proc\n"
                         "path 13 /sbin\n"
                         "path 65535 /tmp\n"
                         "path 13 /usr\n"
                         "path 13 /var/log\n"
                         "port 2 3128\n"
                         "port 1 8080\n"
                         "end\n");
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("policy-compile");
        TCase *tc = tcase_create("compile");

        tcase_add_test(tc, test_golden_minimal);
        tcase_add_test(tc, test_golden_github);
        tcase_add_test(tc, test_golden_extensions);
        tcase_add_test(tc, test_golden_default);
        tcase_add_test(tc, test_minimal_defaults);
        tcase_add_test(tc, test_include_workdir_false);
        tcase_add_test(tc, test_filesystem_view);
        tcase_add_test(tc, test_landlock_abi);
        tcase_add_test(tc, test_landlock_serialize);
        tcase_add_test(tc, test_seccomp_export);
        tcase_add_test(tc, test_seccomp_rules);
        tcase_add_test(tc, test_mandatory_syscalls_not_allowable);
        tcase_add_test(tc, test_gpu_and_resources);
        tcase_add_test(tc, test_no_gpu_by_default);
        tcase_add_test(tc, test_shipped_default);
        tcase_add_test(tc, test_shipped_openclaw);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}
