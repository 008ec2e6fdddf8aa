/* SPDX-License-Identifier: Apache-2.0 */
#include "check-util.h"
#include "parse-util.h"

START_TEST(test_safe_atou64) {
        uint64_t v = 42;

        ck_assert_int_eq(safe_atou64("0", &v), 0);
        ck_assert_uint_eq(v, 0);
        ck_assert_int_eq(safe_atou64("18446744073709551615", &v), 0);
        ck_assert_uint_eq(v, UINT64_MAX);
        v = 42;
        /* out of range, and everything that is not only digits: nothing written */
        ck_assert_int_eq(safe_atou64("18446744073709551616", &v), -ERANGE);
        ck_assert_int_eq(safe_atou64("", &v), -EINVAL);
        ck_assert_int_eq(safe_atou64("-1", &v), -EINVAL);
        ck_assert_int_eq(safe_atou64("+1", &v), -EINVAL);
        ck_assert_int_eq(safe_atou64(" 1", &v), -EINVAL);
        ck_assert_int_eq(safe_atou64("1 ", &v), -EINVAL);
        ck_assert_int_eq(safe_atou64("1x", &v), -EINVAL);
        ck_assert_int_eq(safe_atou64("0x10", &v), -EINVAL);
        ck_assert_int_eq(safe_atou64(NULL, &v), -EINVAL);
        ck_assert_uint_eq(v, 42);

        ck_assert_int_eq(safe_atou64_full("755", 8, &v), 0);
        ck_assert_uint_eq(v, 0755);
        ck_assert_int_eq(safe_atou64_full("8", 8, &v), -EINVAL);
        ck_assert_int_eq(safe_atou64_full("fF", 16, &v), 0);
        ck_assert_uint_eq(v, 255);
        ck_assert_int_eq(safe_atou64_full("1", 2, &v), -EINVAL);
}
END_TEST

START_TEST(test_narrow) {
        uint32_t u32 = 7;
        uint16_t u16 = 7;
        unsigned u = 7;

        ck_assert_int_eq(safe_atou32("4294967295", &u32), 0);
        ck_assert_uint_eq(u32, UINT32_MAX);
        ck_assert_int_eq(safe_atou32("4294967296", &u32), -ERANGE);
        ck_assert_uint_eq(u32, UINT32_MAX);
        ck_assert_int_eq(safe_atou16("65535", &u16), 0);
        ck_assert_int_eq(safe_atou16("65536", &u16), -ERANGE);
        ck_assert_uint_eq(u16, 65535);
        ck_assert_int_eq(safe_atou("12", &u), 0);
        ck_assert_uint_eq(u, 12);
        ck_assert_int_eq(safe_atou("1.5", &u), -EINVAL);

        ck_assert_int_eq(parse_port("443", &u16), 0);
        ck_assert_uint_eq(u16, 443);
        ck_assert_int_eq(parse_port("0", &u16), -ERANGE);
        ck_assert_int_eq(parse_port("65536", &u16), -ERANGE);
        ck_assert_int_eq(parse_port("http", &u16), -EINVAL);
        ck_assert_uint_eq(u16, 443);
}
END_TEST

START_TEST(test_parse_size) {
        uint64_t v = 1;

        ck_assert_int_eq(parse_size("1048576", &v), 0);
        ck_assert_uint_eq(v, 1048576);
        ck_assert_int_eq(parse_size("4K", &v), 0);
        ck_assert_uint_eq(v, 4096);
        ck_assert_int_eq(parse_size("512M", &v), 0);
        ck_assert_uint_eq(v, UINT64_C(512) << 20);
        ck_assert_int_eq(parse_size("4G", &v), 0);
        ck_assert_uint_eq(v, UINT64_C(4) << 30);
        ck_assert_int_eq(parse_size("2T", &v), 0);
        ck_assert_uint_eq(v, UINT64_C(2) << 40);
        ck_assert_int_eq(parse_size("infinity", &v), 0);
        ck_assert_uint_eq(v, UINT64_MAX);
        v = 1;
        /* only infinity means UINT64_MAX: a number that reaches it is out of range */
        ck_assert_int_eq(parse_size("18446744073709551615", &v), -ERANGE);
        ck_assert_int_eq(parse_size("16777216T", &v), -ERANGE);
        ck_assert_int_eq(parse_size("4KB", &v), -EINVAL);
        ck_assert_int_eq(parse_size("4k", &v), -EINVAL);
        ck_assert_int_eq(parse_size("K", &v), -EINVAL);
        ck_assert_int_eq(parse_size("-4G", &v), -EINVAL);
        ck_assert_int_eq(parse_size("", &v), -EINVAL);
        ck_assert_uint_eq(v, 1);
}
END_TEST

START_TEST(test_parse_keyed_u64) {
        uint64_t v = 5;

        ck_assert_int_eq(parse_keyed_u64("max 0\nmax_foo 3\nmax 9\n", "max", &v), 0);
        ck_assert_uint_eq(v, 0);
        ck_assert_int_eq(parse_keyed_u64("oom_kill 7", "oom_kill", &v), 0);
        ck_assert_uint_eq(v, 7);
        v = 5;
        ck_assert_int_eq(parse_keyed_u64("max_foo 3\n", "max", &v), -ENODATA);
        ck_assert_int_eq(parse_keyed_u64("max x\n", "max", &v), -EINVAL);
        ck_assert_int_eq(parse_keyed_u64("max 1 2\n", "max", &v), -EINVAL);
        ck_assert_uint_eq(v, 5);
}
END_TEST

int main(void) {
        Suite *s = suite_create("parse-util");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_safe_atou64);
        tcase_add_test(tc, test_narrow);
        tcase_add_test(tc, test_parse_size);
        tcase_add_test(tc, test_parse_keyed_u64);
        suite_add_tcase(s, tc);
        return check_run_suite(s);
}
