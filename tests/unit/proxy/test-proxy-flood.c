/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "check-util.h"
#include "proxy-flood.h"

static uint64_t suppressed_for(const FloodSummary *s, size_t n, const char *host) {
        for (size_t i = 0; i < n; i++)
                if (host ? s[i].host && strcmp(s[i].host, host) == 0 : !s[i].host)
                        return s[i].suppressed;
        return 0;
}

START_TEST(test_burst_then_counted) {
        FloodLimiter l = FLOOD_LIMITER_INIT(3, 10);
        FloodSummary *s = NULL;
        size_t n = 99;
        unsigned recorded = 0;

        for (unsigned i = 0; i < 1000; i++) {
                int r = flood_admit(&l, "a.example");
                ck_assert_int_ge(r, 0);
                recorded += r;
        }
        ck_assert_uint_eq(recorded, 3);
        ck_assert_int_eq(flood_admit(&l, "b.example"), 1); /* per host */

        ck_assert_int_eq(flood_end_period(&l, &s, &n), 0);
        ck_assert_uint_eq(n, 1); /* b had nothing suppressed */
        ck_assert_uint_eq(suppressed_for(s, n, "a.example"), 997); /* recorded + suppressed = all */
        flood_summaries_free(s, n);

        /* a new period starts afresh */
        ck_assert_int_eq(flood_admit(&l, "a.example"), 1);
        ck_assert_int_eq(flood_end_period(&l, &s, &n), 0);
        ck_assert_uint_eq(n, 0);
        ck_assert_ptr_null(s);
        flood_limiter_done(&l);
}
END_TEST

START_TEST(test_bounded_table) {
        FloodLimiter l = FLOOD_LIMITER_INIT(1, 4);
        FloodSummary *s = NULL;
        size_t n = 0;
        uint64_t total = 0;

        for (unsigned i = 0; i < 100; i++) {
                char host[32];
                snprintf(host, sizeof(host), "h%u.example", i);
                ck_assert_int_ge(flood_admit(&l, host), 0);
                ck_assert_int_ge(flood_admit(&l, host), 0);
        }
        ck_assert_uint_le(l.n_hosts, 4);
        ck_assert_int_eq(flood_end_period(&l, &s, &n), 0);
        for (size_t i = 0; i < n; i++)
                total += s[i].suppressed;
        /* 4 hosts each recorded once; every other denial is in some count */
        ck_assert_uint_eq(total, 200 - 4);
        ck_assert_uint_eq(suppressed_for(s, n, NULL), 96 * 2);
        flood_summaries_free(s, n);
        flood_limiter_done(&l);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("proxy-flood");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_burst_then_counted);
        tcase_add_test(tc, test_bounded_table);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}
