/* SPDX-License-Identifier: Apache-2.0 */
/* The parts of openshell-exec that can be checked without applying anything: the ruleset format and
 * the rights each Landlock ABI knows. (Applying is tested in the testbed, against a real kernel.) */
#define OPENSHELL_EXEC_NO_MAIN 1
#include "openshell-exec.c"

#include "check-util.h"

/* Parses a copy of text; rs points into that copy, which lives until the next call. */
static int parse(const char *text, Ruleset *rs, unsigned *line) {
        static char *copy;

        free(copy);
        copy = strdup(text);
        ck_assert_ptr_nonnull(copy);
        return exec_parse_ruleset(copy, rs, line);
}

START_TEST(test_valid) {
        static Ruleset rs;
        unsigned line;

        ck_assert_int_eq(parse("openshell-landlock 1\n"
                               "compatibility hard_requirement\n"
                               "handled_fs 0xffff\n"
                               "handled_net 0x3\n"
                               "scoped 0x3\n"
                               "path 0x7 /usr\n"
                               "path 0xffff /sandbox dir with spaces\n"
                               "port 0x2 443\n",
                               &rs, &line),
                         0);
        ck_assert(rs.hard_requirement);
        ck_assert_uint_eq(rs.handled_fs, 0xffff);
        ck_assert_uint_eq(rs.handled_net, 3);
        ck_assert_uint_eq(rs.scoped, 3);
        ck_assert_uint_eq(rs.n_paths, 2);
        ck_assert_str_eq(rs.paths[0].path, "/usr");
        ck_assert_uint_eq(rs.paths[0].access, 7);
        ck_assert_str_eq(rs.paths[1].path, "/sandbox dir with spaces");
        ck_assert_uint_eq(rs.paths[1].access, 0xffff);
        ck_assert_uint_eq(rs.n_ports, 1);
        ck_assert_uint_eq(rs.ports[0].port, 443);
        ck_assert_uint_eq(rs.ports[0].access, 2);

        /* policy_landlock_serialize()'s form: decimal numbers, closed by "end" */
        ck_assert_int_eq(parse("openshell-landlock 1\ncompatibility best_effort\nhandled_fs 65535\n"
                               "path 13 /usr\nport 2 3128\nend\n",
                               &rs, &line),
                         0);
        ck_assert_uint_eq(rs.handled_fs, 65535);
        ck_assert_str_eq(rs.paths[0].path, "/usr");
        ck_assert_uint_eq(rs.paths[0].access, 13);
        ck_assert_uint_eq(rs.ports[0].port, 3128);

        ck_assert_int_eq(parse("openshell-landlock 1\ncompatibility best_effort\n", &rs, &line), 0);
        ck_assert(!rs.hard_requirement);
        ck_assert_uint_eq(rs.n_paths, 0);
}
END_TEST

START_TEST(test_invalid) {
        static const struct {
                const char *text;
                unsigned line;
        } cases[] = {
                { "", 1 },
                { "openshell-landlock 2\n", 1 },
                { "something else\n", 1 },
                { "openshell-landlock 1\ncompatibility maybe\n", 2 },
                { "openshell-landlock 1\nhandled_fs zz\n", 2 },
                { "openshell-landlock 1\nhandled_fs -1\n", 2 },
                { "openshell-landlock 1\npath 0x7 relative/path\n", 2 },
                { "openshell-landlock 1\npath 0x7\n", 2 },
                { "openshell-landlock 1\nport 0x2 65536\n", 2 },
                { "openshell-landlock 1\nport 0x2 http\n", 2 },
                { "openshell-landlock 1\nhandled_fs 0x1 extra\n", 2 },
                { "openshell-landlock 1\nunknown 0x1\n", 2 },
                { "openshell-landlock 1\nnospace\n", 2 },
                { "openshell-landlock 1\nend\npath 13 /usr\n", 3 },
                { "end\n", 1 },
        };
        static Ruleset rs;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                unsigned line = 0;
                ck_assert_msg(parse(cases[i].text, &rs, &line) == -EBADMSG, "case %zu accepted", i);
                ck_assert_msg(line == cases[i].line, "case %zu: line %u, expected %u", i, line, cases[i].line);
        }
}
END_TEST

START_TEST(test_abi_rights) {
        ck_assert_uint_eq(exec_fs_rights_for_abi(0), 0);
        ck_assert_uint_eq(exec_fs_rights_for_abi(-1), 0);
        ck_assert_uint_eq(exec_fs_rights_for_abi(1), 0x1fff);
        ck_assert_uint_eq(exec_fs_rights_for_abi(2), 0x3fff);
        ck_assert_uint_eq(exec_fs_rights_for_abi(3), 0x7fff);
        ck_assert_uint_eq(exec_fs_rights_for_abi(4), 0x7fff);
        ck_assert_uint_eq(exec_fs_rights_for_abi(5), 0xffff);
        ck_assert_uint_eq(exec_fs_rights_for_abi(7), 0xffff);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("exec-ruleset");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_valid);
        tcase_add_test(tc, test_invalid);
        tcase_add_test(tc, test_abi_rights);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        /* referenced so the file builds without openshell-exec's main(); applied in the testbed only */
        (void) apply_landlock;
        (void) apply_seccomp;
        (void) read_seccomp;
        (void) die_status;
        return check_run_suite(suite());
}
