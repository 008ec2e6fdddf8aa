/* SPDX-License-Identifier: Apache-2.0 */
#include "check-util.h"
#include "sandbox-oom.h"
#include "string-util.h"

START_TEST(test_parse_kills) {
        uint64_t n = 42;

        ck_assert_int_eq(oom_control_parse_kills("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", &n), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_int_eq(oom_control_parse_kills("oom_kill 0", &n), 0);
        ck_assert_uint_eq(n, 0);

        /* "oom_kill_disable" is not "oom_kill"; old kernels have no counter */
        n = 42;
        ck_assert_int_eq(oom_control_parse_kills("oom_kill_disable 1\nunder_oom 1\n", &n), -ENODATA);
        ck_assert_int_eq(oom_control_parse_kills("", &n), -ENODATA);
        ck_assert_int_eq(oom_control_parse_kills("oom_kill x\n", &n), -EINVAL);
        ck_assert_int_eq(oom_control_parse_kills("oom_kill -1\n", &n), -EINVAL);
        ck_assert_int_eq(oom_control_parse_kills("oom_kill 1x\n", &n), -EINVAL);
        ck_assert_int_eq(oom_control_parse_kills("oom_kill 99999999999999999999999\n", &n), -EINVAL);
        ck_assert_uint_eq(n, 42);
}
END_TEST

/* The kernel signals once per OOM and once when the cgroup is removed; only the order tells them apart. */
START_TEST(test_update) {
        OomWatch w = OOM_WATCH_NULL;

        /* the agent ended some other way: the removal signal alone */
        oom_watch_update(&w, 1, false);
        ck_assert(!w.oom);

        /* an OOM read while the cgroup is still there */
        w = OOM_WATCH_NULL;
        oom_watch_update(&w, 1, true);
        ck_assert(w.oom);
        oom_watch_update(&w, 1, false);
        ck_assert(w.oom);

        /* the OOM and the removal read in one go */
        w = OOM_WATCH_NULL;
        oom_watch_update(&w, 2, false);
        ck_assert(w.oom);

        /* the OOM read just after the cgroup went, then the removal */
        w = OOM_WATCH_NULL;
        oom_watch_update(&w, 1, false);
        ck_assert(!w.oom);
        oom_watch_update(&w, 1, false);
        ck_assert(w.oom);

        /* a wake-up with nothing to read changes nothing */
        w = OOM_WATCH_NULL;
        oom_watch_update(&w, 0, true);
        ck_assert(!w.oom);
}
END_TEST

START_TEST(test_start_missing_cgroup) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        OomWatch w = OOM_WATCH_NULL;

        ck_assert_int_ge(sd_event_new(&e), 0);
        ck_assert_int_eq(oom_watch_start(&w, e, "/openshell-test-no-such-cgroup"),
                         oom_watch_needed() ? -ENOENT : -EOPNOTSUPP);
        ck_assert_int_eq(w.event_fd, -EBADF);
        ck_assert_int_eq(w.oom_control_fd, -EBADF);
        ck_assert_ptr_null(w.source);
        ck_assert(!w.oom);
        oom_watch_done(&w);
        oom_watch_done(&w);
}
END_TEST

START_TEST(test_event_fields) {
        _cleanup_strv_free_ char **l = NULL;
        SandboxOomEvent ev = {
                .sandbox = "demo",
                .agent_unit = "openshell-agent-demo.service",
                .memory_max = "64M",
                .from_policy = true,
                .main_killed = true,
                .pid = 1234,
                .binary = "/usr/bin/node",
        };

        ck_assert_int_eq(sandbox_oom_event_fields(&ev, &l), 0);
        ck_assert_str_eq(journal_field(l, "MESSAGE_ID"), SANDBOX_OOM_MESSAGE_ID);
        ck_assert_str_eq(journal_field(l, "PRIORITY"), "3");
        ck_assert_str_eq(journal_field(l, "MESSAGE"),
                         "Agent openshell-agent-demo.service was killed by the kernel's OOM killer: it exceeded "
                         "MemoryMax=64M of its policy (x-openshell.resources.memory_max).");
        ck_assert_str_eq(journal_field(l, "OPENSHELL_SANDBOX"), "demo");
        ck_assert_str_eq(journal_field(l, "OPENSHELL_EVENT"), "process");
        ck_assert_str_eq(journal_field(l, "OPENSHELL_DECISION"), "deny");
        ck_assert_str_eq(journal_field(l, "OPENSHELL_POLICY"), "x-openshell.resources.memory_max");
        ck_assert_str_eq(journal_field(l, "OPENSHELL_REASON"), "oom-kill: exceeded MemoryMax=64M");
        ck_assert_str_eq(journal_field(l, "OPENSHELL_PID"), "1234");
        ck_assert_str_eq(journal_field(l, "OPENSHELL_BINARY"), "/usr/bin/node");
        /* the caller sends MESSAGE as the third field when the journal is unreachable */
        ck_assert(startswith(l[2], "MESSAGE="));
}
END_TEST

START_TEST(test_event_fields_default_limit) {
        _cleanup_strv_free_ char **l = NULL;
        SandboxOomEvent ev = {
                .sandbox = "demo",
                .agent_unit = "openshell-agent-demo.service",
                .memory_max = "4G",
        };

        ck_assert_int_eq(sandbox_oom_event_fields(&ev, &l), 0);
        ck_assert_str_eq(journal_field(l, "MESSAGE"),
                         "A process of agent openshell-agent-demo.service was killed by the kernel's OOM killer: the "
                         "agent exceeded MemoryMax=4G, the default for a policy without "
                         "x-openshell.resources.memory_max.");
        ck_assert_ptr_null(journal_field(l, "OPENSHELL_PID"));
        ck_assert_ptr_null(journal_field(l, "OPENSHELL_BINARY"));
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("sandbox-oom");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_parse_kills);
        tcase_add_test(tc, test_update);
        tcase_add_test(tc, test_start_missing_cgroup);
        tcase_add_test(tc, test_event_fields);
        tcase_add_test(tc, test_event_fields_default_limit);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}
