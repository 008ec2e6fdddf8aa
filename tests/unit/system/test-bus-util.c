/* SPDX-License-Identifier: Apache-2.0 */
/* Unit property assignments are marshalled in the D-Bus types systemd expects: build a message,
 * seal it, and read it back as systemd would. No bus connection is needed for that. Every kind of
 * assignment bus_append_unit_assignment() knows is read back here; that the policy compiler emits only
 * assignments it knows is test-policy-bus's. */
#include <sys/mount.h>

#include "bus-test-util.h"
#include "bus-util.h"
#include "check-util.h"

/* Reads the next ("Key", variant) pair and checks the key and the variant's signature. */
static void expect_property(sd_bus_message *m, const char *key, const char *signature) {
        const char *k, *contents;
        char type;

        ck_assert_int_gt(sd_bus_message_enter_container(m, 'r', "sv"), 0);
        ck_assert_int_ge(sd_bus_message_read(m, "s", &k), 0);
        ck_assert_str_eq(k, key);
        ck_assert_int_gt(sd_bus_message_peek_type(m, &type, &contents), 0);
        ck_assert_int_eq(type, 'v');
        ck_assert_str_eq(contents, signature);
}

static void end_property(sd_bus_message *m) {
        ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
}

/* The same, entering the variant (and leaving both). */
static void enter_property(sd_bus_message *m, const char *key, const char *signature) {
        expect_property(m, key, signature);
        ck_assert_int_gt(sd_bus_message_enter_container(m, 'v', signature), 0);
}

static void exit_property(sd_bus_message *m) {
        ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
        end_property(m);
}

static uint64_t read_t(sd_bus_message *m, const char *key) {
        uint64_t t;

        enter_property(m, key, "t");
        ck_assert_int_gt(sd_bus_message_read(m, "t", &t), 0);
        exit_property(m);
        return t;
}

START_TEST(test_assignments) {
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = test_properties_message_new(&bus);
        const char *s, *src, *dst;
        int b, ignore;
        uint64_t t, flags;

        ck_assert_int_eq(bus_append_unit_assignment(m, "PrivateTmp=yes"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "PrivateNetwork=off"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "ProtectSystem=strict"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "CapabilityBoundingSet="), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "Environment=A=b c"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "BindPaths=/var/lib/x:/sandbox"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "BindReadOnlyPaths=-/opt/tool"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "TemporaryFileSystem=/run:ro"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "TemporaryFileSystem=/var"), 0);
        test_properties_message_seal(m);

        expect_property(m, "PrivateTmp", "b");
        ck_assert_int_ge(sd_bus_message_read(m, "v", "b", &b), 0);
        ck_assert_int_eq(b, 1);
        end_property(m);

        expect_property(m, "PrivateNetwork", "b");
        ck_assert_int_ge(sd_bus_message_read(m, "v", "b", &b), 0);
        ck_assert_int_eq(b, 0);
        end_property(m);

        expect_property(m, "ProtectSystem", "s");
        ck_assert_int_ge(sd_bus_message_read(m, "v", "s", &s), 0);
        ck_assert_str_eq(s, "strict");
        end_property(m);

        expect_property(m, "CapabilityBoundingSet", "t");
        ck_assert_int_ge(sd_bus_message_read(m, "v", "t", &t), 0);
        ck_assert_uint_eq(t, 0);
        end_property(m);

        expect_property(m, "Environment", "as");
        ck_assert_int_ge(sd_bus_message_enter_container(m, 'v', "as"), 0);
        ck_assert_int_ge(sd_bus_message_enter_container(m, 'a', "s"), 0);
        ck_assert_int_gt(sd_bus_message_read(m, "s", &s), 0);
        ck_assert_str_eq(s, "A=b c");
        ck_assert_int_eq(sd_bus_message_read(m, "s", &s), 0);
        ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
        ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
        end_property(m);

        expect_property(m, "BindPaths", "a(ssbt)");
        ck_assert_int_ge(sd_bus_message_read(m, "v", "a(ssbt)", 1, &src, &dst, &ignore, &flags), 0);
        ck_assert_str_eq(src, "/var/lib/x");
        ck_assert_str_eq(dst, "/sandbox");
        ck_assert_int_eq(ignore, 0);
        ck_assert_uint_eq(flags, MS_REC);
        end_property(m);

        expect_property(m, "BindReadOnlyPaths", "a(ssbt)");
        ck_assert_int_ge(sd_bus_message_read(m, "v", "a(ssbt)", 1, &src, &dst, &ignore, &flags), 0);
        ck_assert_str_eq(src, "/opt/tool");
        ck_assert_str_eq(dst, "/opt/tool");
        ck_assert_int_eq(ignore, 1);
        end_property(m);

        expect_property(m, "TemporaryFileSystem", "a(ss)");
        ck_assert_int_ge(sd_bus_message_read(m, "v", "a(ss)", 1, &src, &s), 0);
        ck_assert_str_eq(src, "/run");
        ck_assert_str_eq(s, "ro");
        end_property(m);

        expect_property(m, "TemporaryFileSystem", "a(ss)");
        ck_assert_int_ge(sd_bus_message_read(m, "v", "a(ss)", 1, &src, &s), 0);
        ck_assert_str_eq(src, "/var");
        ck_assert_str_eq(s, "");
        end_property(m);
}
END_TEST

START_TEST(test_bad_assignments) {
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

        /* each on a fresh message: a failed append leaves a half-open container behind */
        static const struct {
                const char *a;
                int r;
        } cases[] = {
                { "NoSuchSetting=1", -EOPNOTSUPP },
                { "PrivateTmp=maybe", -EINVAL },
                { "=yes", -EINVAL },
                { "PrivateTmp", -EINVAL },
                { "CapabilityBoundingSet=CAP_NET_ADMIN", -EINVAL },
                { "BindPaths=relative:/sandbox", -EINVAL },
                { "BindPaths=/a:relative", -EINVAL },
                { "BindPaths=/a:/b:ro", -EINVAL },
                { "Environment=", -EINVAL },
                { "TemporaryFileSystem=run:ro", -EINVAL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                m = sd_bus_message_unref(m);
                bus = sd_bus_close_unref(bus);
                m = test_properties_message_new(&bus);
                ck_assert_msg(bus_append_unit_assignment(m, cases[i].a) == cases[i].r, "%s", cases[i].a);
        }
        ck_assert(bus_unit_assignment_key_supported("ProtectHome"));
        ck_assert(!bus_unit_assignment_key_supported("ProtectHom"));
}
END_TEST

START_TEST(test_kind_uint64_size_quota) {
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = test_properties_message_new(&bus);

        ck_assert_int_eq(bus_append_unit_assignment(m, "TasksMax=512"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "TasksMax=infinity"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "CPUWeight=50"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "MemoryMax=4G"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "MemoryHigh=1536M"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "MemoryMax=infinity"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "MemoryMax=12345"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "CPUQuota=150%"), 0);
        test_properties_message_seal(m);
        ck_assert_uint_eq(read_t(m, "TasksMax"), 512);
        ck_assert_uint_eq(read_t(m, "TasksMax"), UINT64_MAX);
        ck_assert_uint_eq(read_t(m, "CPUWeight"), 50);
        ck_assert_uint_eq(read_t(m, "MemoryMax"), UINT64_C(4) << 30);
        ck_assert_uint_eq(read_t(m, "MemoryHigh"), UINT64_C(1536) << 20);
        ck_assert_uint_eq(read_t(m, "MemoryMax"), UINT64_MAX);
        ck_assert_uint_eq(read_t(m, "MemoryMax"), 12345);
        /* CPUQuota= is CPUQuotaPerSecUSec on the bus: 150% = 1.5 s of CPU per second */
        ck_assert_uint_eq(read_t(m, "CPUQuotaPerSecUSec"), 1500000);
}
END_TEST

START_TEST(test_kind_rlimit) {
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = test_properties_message_new(&bus);

        ck_assert_int_eq(bus_append_unit_assignment(m, "LimitNOFILE=4096"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "LimitCORE=0"), 0);
        test_properties_message_seal(m);
        ck_assert_uint_eq(read_t(m, "LimitNOFILE"), 4096);
        ck_assert_uint_eq(read_t(m, "LimitNOFILESoft"), 4096);
        ck_assert_uint_eq(read_t(m, "LimitCORE"), 0);
        ck_assert_uint_eq(read_t(m, "LimitCORESoft"), 0);
}
END_TEST

START_TEST(test_kind_filter_list_and_words) {
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = test_properties_message_new(&bus);
        const char *s;
        int allow;

        ck_assert_int_eq(bus_append_unit_assignment(m, "SystemCallFilter=@system-service"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "SystemCallFilter=~ptrace  bpf"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "RestrictAddressFamilies=AF_UNIX AF_INET"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "SystemCallArchitectures=native"), 0);
        test_properties_message_seal(m);

        enter_property(m, "SystemCallFilter", "(bas)");
        ck_assert_int_gt(sd_bus_message_enter_container(m, 'r', "bas"), 0);
        ck_assert_int_gt(sd_bus_message_read(m, "b", &allow), 0);
        ck_assert(allow);
        ck_assert_int_gt(sd_bus_message_read(m, "as", 1, &s), 0);
        ck_assert_str_eq(s, "@system-service");
        ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
        exit_property(m);

        enter_property(m, "SystemCallFilter", "(bas)");
        ck_assert_int_gt(sd_bus_message_enter_container(m, 'r', "bas"), 0);
        ck_assert_int_gt(sd_bus_message_read(m, "b", &allow), 0);
        ck_assert(!allow);
        {
                const char *a, *b;
                ck_assert_int_gt(sd_bus_message_read(m, "as", 2, &a, &b), 0);
                ck_assert_str_eq(a, "ptrace");
                ck_assert_str_eq(b, "bpf");
        }
        ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
        exit_property(m);

        enter_property(m, "RestrictAddressFamilies", "(bas)");
        ck_assert_int_gt(sd_bus_message_enter_container(m, 'r', "bas"), 0);
        ck_assert_int_gt(sd_bus_message_read(m, "b", &allow), 0);
        ck_assert(allow);
        {
                const char *a, *b;
                ck_assert_int_gt(sd_bus_message_read(m, "as", 2, &a, &b), 0);
                ck_assert_str_eq(a, "AF_UNIX");
                ck_assert_str_eq(b, "AF_INET");
        }
        ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
        exit_property(m);

        enter_property(m, "SystemCallArchitectures", "as");
        ck_assert_int_gt(sd_bus_message_read(m, "as", 1, &s), 0);
        ck_assert_str_eq(s, "native");
        exit_property(m);
}
END_TEST

START_TEST(test_kind_errno_namespaces_mode_devices) {
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = test_properties_message_new(&bus);
        const char *path, *rights, *s;
        int32_t e;
        uint32_t mode;
        int b;

        ck_assert_int_eq(bus_append_unit_assignment(m, "SystemCallErrorNumber=EPERM"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "RestrictNamespaces=yes"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "UMask=0077"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "DeviceAllow=/dev/nvidia0 rw"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "ProtectKernelLogs=yes"), 0);
        ck_assert_int_eq(bus_append_unit_assignment(m, "ProtectProc=invisible"), 0);
        test_properties_message_seal(m);

        enter_property(m, "SystemCallErrorNumber", "i");
        ck_assert_int_gt(sd_bus_message_read(m, "i", &e), 0);
        ck_assert_int_eq(e, EPERM);
        exit_property(m);
        /* the set of namespace types that may be created: none */
        ck_assert_uint_eq(read_t(m, "RestrictNamespaces"), 0);
        enter_property(m, "UMask", "u");
        ck_assert_int_gt(sd_bus_message_read(m, "u", &mode), 0);
        ck_assert_uint_eq(mode, 077);
        exit_property(m);
        enter_property(m, "DeviceAllow", "a(ss)");
        ck_assert_int_gt(sd_bus_message_read(m, "a(ss)", 1, &path, &rights), 0);
        ck_assert_str_eq(path, "/dev/nvidia0");
        ck_assert_str_eq(rights, "rw");
        exit_property(m);
        enter_property(m, "ProtectKernelLogs", "b");
        ck_assert_int_gt(sd_bus_message_read(m, "b", &b), 0);
        ck_assert(b);
        exit_property(m);
        enter_property(m, "ProtectProc", "s");
        ck_assert_int_gt(sd_bus_message_read(m, "s", &s), 0);
        ck_assert_str_eq(s, "invisible");
        exit_property(m);
}
END_TEST

START_TEST(test_kinds_refuse_bad_values) {
        static const char *const bad[] = {
                "TasksMax=-1",        "TasksMax=lots",          "MemoryMax=4Q",     "MemoryMax=",
                "CPUQuota=150",       "CPUQuota=0%",            "CPUQuota=x%",      "LimitNOFILE=many",
                "SystemCallFilter=~", "SystemCallFilter=",      "SystemCallArchitectures=",
                "SystemCallErrorNumber=EWHAT", "SystemCallErrorNumber=0", "RestrictNamespaces=maybe",
                "UMask=0999",         "UMask=",                 "DeviceAllow=nvidia0 rw", "DeviceAllow=/dev/x rwx",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = test_properties_message_new(&bus);
                int r = bus_append_unit_assignment(m, bad[i]);
                ck_assert_msg(r == -EINVAL, "%s: expected -EINVAL, got %d", bad[i], r);
        }
}
END_TEST

START_TEST(test_exec_start) {
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = test_properties_message_new(&bus);
        char *argv[] = { (char *) "/usr/bin/agent", (char *) "--flag", (char *) "two words", (char *) "$HOME ${X} $$",
                         NULL };
        /* systemd would expand $VAR in ExecStart= arguments: sent escaped, they arrive literally */
        const char *expected[] = { "/usr/bin/agent", "--flag", "two words", "$$HOME $${X} $$$$" };
        char *empty[] = { NULL };
        const char *path, *a;
        int ignore;

        ck_assert_int_eq(bus_append_exec_start(m, empty), -EINVAL);
        ck_assert_int_eq(bus_append_exec_start(m, argv), 0);
        test_properties_message_seal(m);
        expect_property(m, "ExecStart", "a(sasb)");
        ck_assert_int_ge(sd_bus_message_enter_container(m, 'v', "a(sasb)"), 0);
        ck_assert_int_ge(sd_bus_message_enter_container(m, 'a', "(sasb)"), 0);
        ck_assert_int_ge(sd_bus_message_enter_container(m, 'r', "sasb"), 0);
        ck_assert_int_ge(sd_bus_message_read(m, "s", &path), 0);
        ck_assert_str_eq(path, "/usr/bin/agent");
        ck_assert_int_ge(sd_bus_message_enter_container(m, 'a', "s"), 0);
        for (size_t i = 0; i < ELEMENTSOF(expected); i++) {
                ck_assert_int_gt(sd_bus_message_read(m, "s", &a), 0);
                ck_assert_str_eq(a, expected[i]);
        }
        ck_assert_int_eq(sd_bus_message_read(m, "s", &a), 0);
        ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
        ck_assert_int_ge(sd_bus_message_read(m, "b", &ignore), 0);
        ck_assert_int_eq(ignore, 0);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("bus-util");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_assignments);
        tcase_add_test(tc, test_bad_assignments);
        tcase_add_test(tc, test_kind_uint64_size_quota);
        tcase_add_test(tc, test_kind_rlimit);
        tcase_add_test(tc, test_kind_filter_list_and_words);
        tcase_add_test(tc, test_kind_errno_namespaces_mode_devices);
        tcase_add_test(tc, test_kinds_refuse_bad_values);
        tcase_add_test(tc, test_exec_start);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}
