/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "check-util.h"
#include "policy-status.h"

#define H "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

START_TEST(test_parse) {
        PolicyStatus s = {};

        ck_assert_int_eq(policy_status_parse("loaded " H "\n", &s), 0);
        ck_assert(s.loaded);
        ck_assert_str_eq(s.hash, H);
        ck_assert_ptr_null(s.message);

        ck_assert_int_eq(policy_status_parse("failed " H " process policy cannot be changed\n", &s), 0);
        ck_assert(!s.loaded);
        ck_assert_str_eq(s.hash, H);
        ck_assert_str_eq(s.message, "process policy cannot be changed");
        policy_status_done(&s);
        ck_assert_ptr_null(s.message);

        /* anything else is not a status */
        static const char *const bad[] = {
                "",
                "loaded " H,                    /* not ended */
                "loaded " H " extra\n",         /* loaded has no message */
                "failed " H "\n",               /* failed needs one */
                "failed " H " \n",              /* a non-empty one */
                "loaded " H "\nloaded " H "\n", /* one line */
                "loaded 0123\n",                /* short hash */
                "loaded " H "0\n",              /* long hash */
                "loaded 0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\n", /* lowercase */
                "pending " H "\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                ck_assert_msg(policy_status_parse(bad[i], &s) == -EBADMSG, "accepted: %s", bad[i]);
}
END_TEST

START_TEST(test_format) {
        PolicyStatus s = {};
        char *line = NULL;

        ck_assert_int_eq(policy_status_format(true, H, NULL, &line), 0);
        ck_assert_str_eq(line, "loaded " H "\n");
        free(line);
        ck_assert_int_eq(policy_status_format(false, H, "two\nlines\n", &line), 0);
        ck_assert_str_eq(line, "failed " H " two lines \n");
        ck_assert_int_eq(policy_status_parse(line, &s), 0);
        ck_assert_str_eq(s.message, "two lines ");
        policy_status_done(&s);
        free(line);
        ck_assert_int_eq(policy_status_format(false, H, NULL, &line), -EINVAL);
        ck_assert_int_eq(policy_status_format(true, "nothex", NULL, &line), -EINVAL);
        ck_assert_int_eq(policy_status_format(true, POLICY_HASH_NONE, NULL, &line), 0);
        free(line);
}
END_TEST

START_TEST(test_hex) {
        char out[2 * 4 + 1];

        hex_encode((const uint8_t[]) { 0x00, 0x0f, 0xa5, 0xff }, 4, out);
        ck_assert_str_eq(out, "000fa5ff");
}
END_TEST

static Suite *policy_status_suite(void) {
        Suite *s = suite_create("policy-status");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_parse);
        tcase_add_test(tc, test_format);
        tcase_add_test(tc, test_hex);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(policy_status_suite());
}
