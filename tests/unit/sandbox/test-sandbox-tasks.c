/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check-util.h"
#include "sandbox-tasks.h"
#include "string-util.h"

#define SEC 1000000ULL

START_TEST(test_parse_max) {
        uint64_t n = 42;

        ck_assert_int_eq(pids_events_parse_max("max 7\n", &n), 0);
        ck_assert_uint_eq(n, 7);
        ck_assert_int_eq(pids_events_parse_max("other 1\nmax 0", &n), 0);
        ck_assert_uint_eq(n, 0);
        n = 42;
        ck_assert_int_eq(pids_events_parse_max("", &n), -ENODATA);
        ck_assert_int_eq(pids_events_parse_max("maximum 3\n", &n), -ENODATA);
        ck_assert_int_eq(pids_events_parse_max("max x\n", &n), -EINVAL);
        ck_assert_int_eq(pids_events_parse_max("max 3x\n", &n), -EINVAL);
        ck_assert_int_eq(pids_events_parse_max("max 99999999999999999999999\n", &n), -EINVAL);
        ck_assert_uint_eq(n, 42);
}
END_TEST

static void set_counter(int fd, uint64_t n) {
        char buf[64];
        int k = snprintf(buf, sizeof buf, "max %" PRIu64 "\n", n);

        ck_assert_int_eq(ftruncate(fd, 0), 0);
        ck_assert_int_eq(pwrite(fd, buf, (size_t) k, 0), k);
}

/* The first refusals are reported at once, later ones at most once a minute, all of them when the agent
 * ends; a counter that does not grow, or a cgroup that is gone, reports nothing. */
START_TEST(test_check) {
        char path[] = "/tmp/test-sandbox-tasks.XXXXXX";
        TasksWatch w = TASKS_WATCH_NULL;
        int fd = mkstemp(path);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(unlink(path), 0);
        w.events_fd = fd;
        w.sandbox = "demo";
        w.agent_unit = "openshell-agent-demo.service";
        w.tasks_max = "64";
        w.from_policy = true;

        set_counter(fd, 0);
        tasks_watch_check(&w, 1 * SEC, false);
        ck_assert_uint_eq(w.reported, 0);

        set_counter(fd, 5);
        tasks_watch_check(&w, 2 * SEC, false);
        ck_assert_uint_eq(w.refused, 5);
        ck_assert_uint_eq(w.reported, 5);

        set_counter(fd, 9);
        tasks_watch_check(&w, 30 * SEC, false);
        ck_assert_uint_eq(w.refused, 9);
        ck_assert_uint_eq(w.reported, 5);   /* not yet due */

        set_counter(fd, 10);
        tasks_watch_check(&w, 63 * SEC, false);
        ck_assert_uint_eq(w.reported, 10);

        set_counter(fd, 11);
        tasks_watch_check(&w, 64 * SEC, true); /* the agent ended */
        ck_assert_uint_eq(w.reported, 11);

        tasks_watch_check(&w, 200 * SEC, true);
        ck_assert_uint_eq(w.reported, 11);
        ck_assert_uint_eq(w.last_report_usec, 64 * SEC);

        tasks_watch_done(&w);
        ck_assert_int_lt(w.events_fd, 0);
        tasks_watch_check(&w, 300 * SEC, true); /* no file: nothing */
        ck_assert_uint_eq(w.reported, 11);
}
END_TEST

START_TEST(test_start_missing_cgroup) {
        TasksWatch w = TASKS_WATCH_NULL;

        ck_assert_int_eq(tasks_watch_start(&w, NULL, "/no/such/cgroup.service"), -ENOENT);
        ck_assert_int_lt(w.events_fd, 0);
        tasks_watch_done(&w);
}
END_TEST

START_TEST(test_event_fields) {
        _cleanup_strv_free_ char **l = NULL;
        TasksWatch w = TASKS_WATCH_NULL;

        w.sandbox = "demo";
        w.agent_unit = "openshell-agent-demo.service";
        w.tasks_max = "64";
        w.from_policy = true;
        ck_assert_int_eq(sandbox_tasks_event_fields(&w, 3, 8, &l), 0);
        ck_assert(strv_contains(l, "MESSAGE_ID=" SANDBOX_TASKS_MESSAGE_ID));
        ck_assert(strv_contains(l, "MESSAGE=Agent openshell-agent-demo.service reached TasksMax=64 of its policy "
                                   "(x-openshell.resources.tasks_max): 3 new processes were refused (8 in all)."));
        ck_assert(strv_contains(l, "OPENSHELL_SANDBOX=demo"));
        ck_assert(strv_contains(l, "OPENSHELL_EVENT=process"));
        ck_assert(strv_contains(l, "OPENSHELL_DECISION=deny"));
        ck_assert(strv_contains(l, "OPENSHELL_POLICY=x-openshell.resources.tasks_max"));
        ck_assert(strv_contains(l, "OPENSHELL_REASON=tasks-max: 3 fork/clone refused at TasksMax=64"));
        ck_assert(startswith(l[2], "MESSAGE="));
        strv_free(l);
        l = NULL;

        w.tasks_max = "512";
        w.from_policy = false;
        ck_assert_int_eq(sandbox_tasks_event_fields(&w, 1, 1, &l), 0);
        ck_assert(strv_contains(l, "MESSAGE=Agent openshell-agent-demo.service reached TasksMax=512, the default for "
                                   "a policy without x-openshell.resources.tasks_max: 1 new process was refused (1 in all)."));
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("sandbox-tasks");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_parse_max);
        tcase_add_test(tc, test_check);
        tcase_add_test(tc, test_start_missing_cgroup);
        tcase_add_test(tc, test_event_fields);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}
