/* SPDX-License-Identifier: Apache-2.0 */
#include "check-util.h"
#include "time-util.h"

START_TEST(test_timespec_load) {
        ck_assert_uint_eq(timespec_load(&(struct timespec) { 0, 0 }), 0);
        ck_assert_uint_eq(timespec_load(&(struct timespec) { 3, 999999999 }), 3 * USEC_PER_SEC + 999999);
        ck_assert_uint_eq(timespec_load(&(struct timespec) { -1, 0 }), USEC_INFINITY);
        ck_assert_uint_eq(timespec_load(&(struct timespec) { INT64_MAX, 0 }), USEC_INFINITY);
        ck_assert_uint_eq(timespec_load(&(struct timespec) { (time_t) (UINT64_MAX / USEC_PER_SEC), 0 }),
                          UINT64_MAX / USEC_PER_SEC * USEC_PER_SEC);
        ck_assert_uint_eq(timespec_load(&(struct timespec) { (time_t) (UINT64_MAX / USEC_PER_SEC), 999999999 }),
                          USEC_INFINITY);
}
END_TEST

START_TEST(test_now) {
        usec_t a = now(CLOCK_MONOTONIC), b = now(CLOCK_MONOTONIC);

        ck_assert_uint_gt(a, 0);
        ck_assert_uint_ge(b, a);
        /* The realtime clock is past 2020-01-01 on any machine that runs the tests. */
        ck_assert_uint_gt(now(CLOCK_REALTIME), 1577836800ULL * USEC_PER_SEC);
        ck_assert_uint_eq(now((clockid_t) 4242), 0);
}
END_TEST

static Suite *time_util_suite(void) {
        Suite *s = suite_create("time-util");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_timespec_load);
        tcase_add_test(tc, test_now);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(time_util_suite());
}
