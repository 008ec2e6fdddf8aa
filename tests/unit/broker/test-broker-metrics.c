/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "broker-metrics.h"
#include "check-util.h"

static BackendState *backend_new(const char *url, BackendState *next) {
        BackendState *b = calloc(1, sizeof(BackendState));

        ck_assert_ptr_nonnull(b);
        b->url = strdup(url);
        ck_assert_ptr_nonnull(b->url);
        b->next = next;
        return b;
}

START_TEST(test_count_answer) {
        BrokerStats s = {};

        broker_stats_count_answer(&s, 200, (TokenUsage) { 12, 34 });
        broker_stats_count_answer(&s, 200, TOKEN_USAGE_UNKNOWN);
        broker_stats_count_answer(&s, 499, (TokenUsage) { 0, 5 });
        /* Out of range: not counted, and no write beyond the table. */
        broker_stats_count_answer(&s, 600, TOKEN_USAGE_UNKNOWN);
        broker_stats_count_answer(&s, -1, TOKEN_USAGE_UNKNOWN);
        ck_assert_uint_eq(s.status_counts[200], 2);
        ck_assert_uint_eq(s.status_counts[499], 1);
        ck_assert_uint_eq(s.status_counts[0], 0);
        ck_assert_uint_eq(s.tokens_in, 12);
        ck_assert_uint_eq(s.tokens_out, 39);
}
END_TEST

START_TEST(test_format) {
        _cleanup_(buf_done) Buf o = BUF_INIT(METRICS_SIZE_MAX);
        _cleanup_(router_done) Router router = {};
        BrokerStats s = { .failovers = 3, .connections_total = 7 };
        BrokerGauges g = { .requests_in_flight = 2, .connections = 5 };
        usec_t now = 1000 * USEC_PER_SEC;

        s.status_counts[429] = 4;
        router.backends = backend_new("http://a:1/v1", backend_new("http://b\"\\\n/v1", NULL));
        router.backends->outstanding = 6;
        router.backends->next->open_until = now + 1;

        ck_assert_int_eq(metrics_format(&s, &g, &router, now, &o), 0);
        ck_assert_int_eq(buf_terminate(&o), 0);
        ck_assert_ptr_nonnull(strstr(o.data, "\nopenshell_broker_requests_total{code=\"429\"} 4\n"));
        ck_assert_ptr_null(strstr(o.data, "code=\"200\""));
        ck_assert_ptr_nonnull(strstr(o.data, "\nopenshell_broker_requests_in_flight 2\n"));
        ck_assert_ptr_nonnull(strstr(o.data, "\nopenshell_broker_connections 5\n"));
        ck_assert_ptr_nonnull(strstr(o.data, "\nopenshell_broker_connections_total 7\n"));
        ck_assert_ptr_nonnull(strstr(o.data, "\nopenshell_broker_failovers_total 3\n"));
        ck_assert_ptr_nonnull(strstr(o.data, "\nopenshell_broker_backend_outstanding{backend=\"http://a:1/v1\"} 6\n"));
        /* A label value is escaped: quote, backslash, newline. */
        ck_assert_ptr_nonnull(
                strstr(o.data, "\nopenshell_broker_backend_circuit_open{backend=\"http://b\\\"\\\\\\n/v1\"} 1\n"));
        ck_assert_ptr_nonnull(strstr(o.data, "\nopenshell_broker_backend_circuit_open{backend=\"http://a:1/v1\"} 0\n"));
}
END_TEST

START_TEST(test_format_too_large) {
        _cleanup_(buf_done) Buf o = BUF_INIT(256);
        _cleanup_(router_done) Router router = {};
        BrokerStats s = {};
        BrokerGauges g = {};

        ck_assert_int_eq(metrics_format(&s, &g, &router, 0, &o), -ENOBUFS);
}
END_TEST

static Suite *metrics_suite(void) {
        Suite *s = suite_create("broker-metrics");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_count_answer);
        tcase_add_test(tc, test_format);
        tcase_add_test(tc, test_format_too_large);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(metrics_suite());
}
