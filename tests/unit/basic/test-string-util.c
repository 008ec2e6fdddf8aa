/* SPDX-License-Identifier: Apache-2.0 */
#include "check-util.h"
#include "sandbox-name.h"
#include "string-util.h"

START_TEST(test_strv) {
        _cleanup_strv_free_ char **l = NULL, **c = NULL;

        ck_assert_int_eq(strv_length(l), 0);
        ck_assert_int_eq(strv_extend(&l, "a"), 0);
        ck_assert_int_eq(strv_consume(&l, strdup("b")), 0);
        ck_assert_int_eq(strv_length(l), 2);
        ck_assert(strv_contains(l, "b"));
        ck_assert(!strv_contains(l, "c"));
        c = strv_copy(l);
        ck_assert_ptr_nonnull(c);
        ck_assert_str_eq(c[0], "a");
        ck_assert_str_eq(c[1], "b");
        ck_assert_ptr_null(c[2]);
        ck_assert_int_eq(strv_consume(&l, NULL), -ENOMEM);
        ck_assert_int_eq(strv_length(l), 2);
        ck_assert_int_eq(strv_extendf(&l, "%s=%d", "k", 7), 0);
        ck_assert_str_eq(l[2], "k=7");
        {
                _cleanup_free_ char *j = strv_join(l, ", "), *e = strv_join(NULL, ",");
                ck_assert_str_eq(j, "a, b, k=7");
                ck_assert_str_eq(e, "");
        }
}
END_TEST

START_TEST(test_distance_and_suggest) {
        static const char *const keys[] = { "command", "environment", "policy", NULL };

        ck_assert_uint_eq(string_distance("", ""), 0);
        ck_assert_uint_eq(string_distance("comand", "command"), 1);
        ck_assert_uint_eq(string_distance("kitten", "sitting"), 3);
        ck_assert_str_eq(string_suggest("comand", keys), "command");
        ck_assert_str_eq(string_suggest("enviroment", keys), "environment");
        ck_assert_str_eq(string_suggest("polcy", keys), "policy");
        /* too far from anything: no suggestion rather than a silly one */
        ck_assert_ptr_null(string_suggest("xyz", keys));
        ck_assert_ptr_null(string_suggest("networking", keys));
}
END_TEST

START_TEST(test_prefix_suffix_cc) {
        ck_assert(startswith("openshell-sandbox@x", "openshell-sandbox@"));
        ck_assert(!startswith("open", "openshell"));
        ck_assert(endswith("a.yaml", ".yaml"));
        ck_assert(!endswith("yaml", ".yaml"));
        ck_assert(string_has_cc("a\nb"));
        ck_assert(string_has_cc("\x7f"));
        ck_assert(!string_has_cc("plain text"));
}
END_TEST

START_TEST(test_sandbox_name) {
        _cleanup_free_ char *p = NULL;
        char *unchanged = (char *) "unchanged";

        ck_assert(sandbox_name_is_valid("demo"));
        ck_assert(sandbox_name_is_valid("a"));
        ck_assert(sandbox_name_is_valid("my_agent-2"));
        ck_assert(sandbox_name_is_valid("0abc"));
        ck_assert(sandbox_name_is_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 63 */
        ck_assert(!sandbox_name_is_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 64 */
        ck_assert(!sandbox_name_is_valid(""));
        ck_assert(!sandbox_name_is_valid(NULL));
        ck_assert(!sandbox_name_is_valid("-x"));
        ck_assert(!sandbox_name_is_valid("_x"));
        ck_assert(!sandbox_name_is_valid("a.b"));
        ck_assert(!sandbox_name_is_valid("a/b"));
        ck_assert(!sandbox_name_is_valid("../etc"));
        ck_assert(!sandbox_name_is_valid("a b"));
        ck_assert(!sandbox_name_is_valid("a@b"));
        ck_assert(!sandbox_name_is_valid("ünïcode"));

        ck_assert_int_eq(sandbox_spec_path("demo", &p), 0);
        ck_assert_str_eq(p, "/etc/openshell/sandboxes/demo.yaml");
        free(p);
        ck_assert_int_eq(sandbox_workdir_path("demo", &p), 0);
        ck_assert_str_eq(p, "/var/lib/openshell/sandboxes/demo");
        free(p);
        ck_assert_int_eq(sandbox_supervisor_unit("demo", &p), 0);
        ck_assert_str_eq(p, "openshell-sandbox@demo.service");
        free(p);
        ck_assert_int_eq(sandbox_agent_unit("demo", &p), 0);
        ck_assert_str_eq(p, "openshell-agent-demo.service");
        free(p);
        ck_assert_int_eq(sandbox_slice_unit("demo", &p), 0);
        ck_assert_str_eq(p, "openshell-demo.slice");
        free(p);
        ck_assert_int_eq(sandbox_slice_unit("my-agent_2", &p), 0);
        ck_assert_str_eq(p, "openshell-my\\x2dagent_2.slice");
        free(p);
        p = unchanged;
        ck_assert_int_eq(sandbox_agent_unit("../x", &p), -EINVAL);
        ck_assert_ptr_eq(p, unchanged); /* not written on failure */
        p = NULL;
}
END_TEST

START_TEST(test_proxy_user_name) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

        ck_assert_int_eq(sandbox_proxy_user_name("demo", &a), 0);
        ck_assert_str_eq(a, "openshell-proxy-demo");
        ck_assert_int_eq(sandbox_proxy_user_name("a-name-of-fifteen", &b), 1); /* 16 + 17 > 31 */
        ck_assert_uint_eq(strlen(b), 31);
        ck_assert(startswith(b, "openshell-prox_"));
        free(b);
        ck_assert_int_eq(sandbox_proxy_user_name("egress-with-a-rather-long-name", &b), 1);
        /* FNV-1a 64 of the name (checked against an independent implementation): stable, so a unit
         * loaded earlier has the same user. */
        ck_assert_str_eq(b, "openshell-prox_01be46c9b8906cfb");
        ck_assert_int_eq(sandbox_proxy_user_name("fifteen-chars15", &c), 0);
        ck_assert_str_eq(c, "openshell-proxy-fifteen-chars15");
        free(c);
        c = NULL;
        /* A name no unit could have is refused rather than hashed. */
        ck_assert_int_eq(sandbox_proxy_user_name("../x", &c), -EINVAL);
        ck_assert_ptr_null(c);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("string-util");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_strv);
        tcase_add_test(tc, test_distance_and_suggest);
        tcase_add_test(tc, test_prefix_suffix_cc);
        tcase_add_test(tc, test_sandbox_name);
        tcase_add_test(tc, test_proxy_user_name);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}
