/* SPDX-License-Identifier: Apache-2.0 */
/* The unit properties the policy compiler emits are marshalled by the supervisor with
 * bus_append_unit_assignment(): every one of them must be known there. (How each kind of assignment
 * is marshalled, in the D-Bus type systemd 252 expects, is read back in test-bus-util.) */

#include "bus-test-util.h"
#include "bus-util.h"
#include "policy-test-util.h"

/* Compiles p and appends every unit property to a StartTransientUnit message. */
static void check_compiled_marshal(const char *what, const Policy *p) {
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = test_properties_message_new(&bus);
        _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL;

        ck_assert_int_eq(policy_compile(p, NULL, &c), 0);
        ck_assert_msg(strv_length(c->unit) > 0, "%s: no unit property compiled", what);
        STRV_FOREACH(u, c->unit) {
                int r = bus_append_unit_assignment(m, *u);
                ck_assert_msg(r >= 0, "%s: cannot marshal '%s': %s", what, *u, strerror(-r));
        }
        test_properties_message_seal(m);
}

static void check_policy_marshals(const char *yaml) {
        _cleanup_(policy_freep) Policy *p = NULL;

        ck_assert_int_eq(load_string(yaml, &p, NULL), 0);
        check_compiled_marshal(yaml, p);
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
                _cleanup_(policy_freep) Policy *p = NULL;
                _cleanup_(diag_list_done) DiagList d = {};
                _cleanup_free_ char *path = test_data_path(files[i]);

                ck_assert_int_eq(policy_load_file(path, &p, &d), 0);
                check_compiled_marshal(files[i], p);
        }
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("policy-bus");
        TCase *tc = tcase_create("bus");

        tcase_add_test(tc, test_compiled_properties_marshal);
        tcase_add_test(tc, test_shipped_policies_marshal);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}
