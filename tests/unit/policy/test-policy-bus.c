/* SPDX-License-Identifier: Apache-2.0 */
/* The unit properties the policy compiler emits are marshalled by the supervisor with
 * bus_append_unit_assignment(): every one of them must be known there, in the D-Bus type systemd 252
 * expects. Each kind of assignment the policy work added to bus-util.c is read back here. */

#include "bus-test-util.h"
#include "bus-util.h"
#include "policy-test-util.h"

/* Enters the next ("Key", variant) pair and the variant, checking key and signature. */
static void enter_property(sd_bus_message *m, const char *key, const char *signature) {
        const char *k;

        ck_assert_int_gt(sd_bus_message_enter_container(m, 'r', "sv"), 0);
        ck_assert_int_ge(sd_bus_message_read(m, "s", &k), 0);
        ck_assert_str_eq(k, key);
        ck_assert_int_gt(sd_bus_message_enter_container(m, 'v', signature), 0);
}

static void exit_property(sd_bus_message *m) {
        ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
        ck_assert_int_ge(sd_bus_message_exit_container(m), 0);
}

static uint64_t read_t(sd_bus_message *m, const char *key) {
        uint64_t t;

        enter_property(m, key, "t");
        ck_assert_int_gt(sd_bus_message_read(m, "t", &t), 0);
        exit_property(m);
        return t;
}

static void check_policy_marshals(const char *yaml) {
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = test_properties_message_new(&bus);
        _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;

        ck_assert_int_eq(load_string(yaml, &p, NULL), 0);
        ck_assert_int_eq(policy_compile(p, NULL, &c), 0);
        STRV_FOREACH(u, c->unit) {
                int r = bus_append_unit_assignment(m, *u);
                ck_assert_msg(r >= 0, "cannot marshal '%s': %s", *u, strerror(-r));
        }
        test_properties_message_seal(m);
}

START_TEST(test_compiled_properties_marshal) {
        check_policy_marshals("version: 1\n");
        check_policy_marshals("version: 1\n"
                              "process: { run_as_user: \"1000\", run_as_group: \"1000\" }\n"
                              "filesystem_policy: { read_write: [/srv/data] }\n"
                              "x-openshell:\n"
                              "  resources: { memory_max: 2G, memory_high: 1536M, cpu_quota: 150%, cpu_weight: 50, tasks_max: infinity, open_files: 1024 }\n"
                              "  gpu: { devices: [0, 1] }\n"
                              "  syscalls: { allow: [memfd_create], deny: [personality] }\n"
                              "  filesystem: { inaccessible: [/etc/ssh] }\n"
                              "  process: { memory_deny_write_execute: true }\n");
}
END_TEST

START_TEST(test_shipped_policies_marshal) {
        static const char *const files[] = { "policies/default.yaml", "policies/profiles/openclaw/policy.yaml" };

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = test_properties_message_new(&bus);
                _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL;
                _cleanup_(policy_freep) Policy *p = NULL;
                _cleanup_(diag_list_done) DiagList d = {};
                _cleanup_free_ char *path = test_data_path(files[i]);

                ck_assert_int_eq(policy_load_file(path, &p, &d), 0);
                ck_assert_int_eq(policy_compile(p, NULL, &c), 0);
                STRV_FOREACH(u, c->unit)
                        ck_assert_msg(bus_append_unit_assignment(m, *u) >= 0, "cannot marshal '%s'", *u);
                test_properties_message_seal(m);
        }
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
        const char *path, *rights;
        int32_t e;
        uint32_t mode;

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

static Suite *suite(void) {
        Suite *s = suite_create("policy-bus");
        TCase *tc = tcase_create("bus");

        tcase_add_test(tc, test_compiled_properties_marshal);
        tcase_add_test(tc, test_shipped_policies_marshal);
        tcase_add_test(tc, test_kind_uint64_size_quota);
        tcase_add_test(tc, test_kind_rlimit);
        tcase_add_test(tc, test_kind_filter_list_and_words);
        tcase_add_test(tc, test_kind_errno_namespaces_mode_devices);
        tcase_add_test(tc, test_kinds_refuse_bad_values);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}
