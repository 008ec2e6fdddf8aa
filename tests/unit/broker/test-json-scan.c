/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "check-util.h"
#include "json-scan.h"

/* The members of text, as "key=value;" for each, or NULL when the walk fails. */
static char *members(const char *text) {
        static char out[1024];
        const char *p = text, *end = text + strlen(text);
        JsonMember m;
        size_t n = 0;
        int r;

        out[0] = 0;
        for (bool first = true; (r = json_next_member(&p, end, first, &m)) > 0; first = false)
                n += (size_t) snprintf(out + n, sizeof(out) - n, "%.*s=%.*s;", (int) m.key_size, m.key,
                                       (int) (m.value_end - m.value), m.value);
        if (r < 0)
                return NULL;
        ck_assert_ptr_eq(json_skip_space(p, end), end);
        return out;
}

START_TEST(test_members) {
        ck_assert_str_eq(members("{}"), "");
        ck_assert_str_eq(members(" { \"a\" : 1 , \"b\":\"x\\\"}\" }\n"), "a=1;b=\"x\\\"}\";");
        ck_assert_str_eq(members("{\"o\":{\"p\":[1,{\"q\":null}]},\"t\":true}"), "o={\"p\":[1,{\"q\":null}]};t=true;");
        /* Keys are compared as written: an escaped key is not decoded. */
        ck_assert_str_eq(members("{\"\\u006d\":2}"), "\\u006d=2;");
}
END_TEST

START_TEST(test_members_malformed) {
        static const char *const bad[] = {
                "", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1 \"b\":2}", "{a:1}",
                "{\"a\":'x'}", "{\"a\":1/*c*/}", "{\"a\":\"open}", "{\"a\":{\"b\":1}",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(!members(bad[i]), "accepted %s", bad[i]);
}
END_TEST

START_TEST(test_key_is) {
        const char *text = "{\"model\":1}", *p = text;
        JsonMember m;

        ck_assert_int_eq(json_next_member(&p, text + strlen(text), true, &m), 1);
        ck_assert(json_key_is(&m, "model"));
        ck_assert(!json_key_is(&m, "mode"));
        ck_assert(!json_key_is(&m, "models"));
}
END_TEST

static bool integer(const char *s, int64_t *ret) {
        return json_integer(s, s + strlen(s), ret);
}

START_TEST(test_integer) {
        int64_t v = 42;

        ck_assert(integer("0", &v));
        ck_assert_int_eq(v, 0);
        ck_assert(integer("-17", &v));
        ck_assert_int_eq(v, -17);
        ck_assert(integer("9223372036854775807", &v));
        ck_assert_int_eq(v, INT64_MAX);

        v = 42;
        ck_assert(!integer("", &v));
        ck_assert(!integer("-", &v));
        ck_assert(!integer("1.5", &v));
        ck_assert(!integer("1e3", &v));
        ck_assert(!integer("+1", &v));
        ck_assert(!integer("9223372036854775808", &v));
        ck_assert(!integer("true", &v));
        ck_assert_int_eq(v, 42); /* untouched on failure */
}
END_TEST

static Suite *json_scan_suite(void) {
        Suite *s = suite_create("json-scan");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_members);
        tcase_add_test(tc, test_members_malformed);
        tcase_add_test(tc, test_key_is);
        tcase_add_test(tc, test_integer);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(json_scan_suite());
}
