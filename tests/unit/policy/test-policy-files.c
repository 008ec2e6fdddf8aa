/* SPDX-License-Identifier: Apache-2.0 */
/* The policies under tests/data/policies/: each file says what it must produce, in comment lines
 *   # error: LINE:COLUMN: path.to.key: message     (exactly these errors, no other)
 *   # warning: LINE:COLUMN: path.to.key: message   (at least these warnings)
 * Files in valid/ must load; files in invalid/ must be refused with exactly their errors. Every
 * compiled valid file must also compile. */

#include <dirent.h>
#include <fcntl.h>

#include "policy-test-util.h"

static int compare_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The expectations of a file: its "# error: " / "# warning: " lines, as formatted diagnostics. */
static void read_expectations(const char *path, char ***errors, char ***warnings) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char line[8192];

        ck_assert_msg(f, "cannot open %s", path);
        while (fgets(line, sizeof(line), f)) {
                const char *m;
                char *s;
                bool err;

                line[strcspn(line, "\n")] = 0;
                if (startswith(line, "# error: "))
                        err = true, m = line + strlen("# error: ");
                else if (startswith(line, "# warning: "))
                        err = false, m = line + strlen("# warning: ");
                else
                        continue;
                /* Expectations are written without the file name; problems with a line number have
                 * "L:C: ", others start with the key path. Warnings carry the "warning: " marker
                 * after the path, as printed. */
                ck_assert_int_ge(asprintf_safe(&s, "%s:%s%s", path, m[0] >= '0' && m[0] <= '9' ? "" : " ", m), 0);
                ck_assert_int_ge(strv_consume(err ? errors : warnings, s), 0);
        }
}

static char **list_yaml(const char *dir) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        char **l = NULL;

        ck_assert_msg(d, "cannot open %s", dir);
        for (struct dirent *de; (de = readdir(d));) {
                char *p;
                if (!endswith(de->d_name, ".yaml"))
                        continue;
                ck_assert_int_ge(asprintf_safe(&p, "%s/%s", dir, de->d_name), 0);
                ck_assert_int_ge(strv_consume(&l, p), 0);
        }
        if (l)
                qsort(l, strv_length(l), sizeof(char *), compare_str);
        return l;
}

static void check_file(const char *path, bool valid) {
        _cleanup_strv_free_ char **errors = NULL, **warnings = NULL, **got = NULL;
        _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_(diag_list_done) DiagList d = {};
        size_t n_errors = 0;
        int r;

        read_expectations(path, &errors, &warnings);
        r = policy_load_file(path, &p, &d);
        got = diags_format(&d);

        STRV_FOREACH(e, errors)
                if (!strv_contains(got, *e)) {
                        fprintf(stderr, "%s: missing error:\n  %s\ngot:\n", path, *e);
                        dump_strv(got);
                        ck_abort_msg("%s: missing error: %s", path, *e);
                }
        STRV_FOREACH(w, warnings) {
                /* written as printed: "L:C: path: warning: msg" */
                if (!strv_contains(got, *w)) {
                        fprintf(stderr, "%s: missing warning:\n  %s\ngot:\n", path, *w);
                        dump_strv(got);
                        ck_abort_msg("%s: missing warning: %s", path, *w);
                }
        }
        for (size_t i = 0; i < d.n_items; i++)
                if (d.items[i].level == DIAG_ERROR) {
                        n_errors++;
                        ck_assert_msg(strv_contains(errors, got[i]), "%s: unexpected error: %s", path, got[i]);
                }
        ck_assert_int_eq(n_errors, strv_length(errors));

        if (valid) {
                ck_assert_msg(r == 0, "%s: expected valid, got %d", path, r);
                ck_assert_int_eq(policy_compile(p, NULL, &c), 0);
        } else {
                ck_assert_msg(r == -EBADMSG, "%s: expected -EBADMSG, got %d", path, r);
                ck_assert_msg(!p, "%s: no policy may be returned for an invalid file", path);
                ck_assert_msg(n_errors > 0, "%s: an invalid file must list its '# error:' lines", path);
        }
}

static void check_dir(const char *rel, bool valid) {
        _cleanup_free_ char *dir = test_data_path(rel);
        _cleanup_strv_free_ char **files = list_yaml(dir);

        ck_assert_int_gt(strv_length(files), 0);
        STRV_FOREACH(f, files)
                check_file(*f, valid);
}

START_TEST(test_valid_files) {
        check_dir("tests/data/policies/valid", true);
}
END_TEST

START_TEST(test_invalid_files) {
        check_dir("tests/data/policies/invalid", false);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("policy-files");
        TCase *tc = tcase_create("files");

        tcase_add_test(tc, test_valid_files);
        tcase_add_test(tc, test_invalid_files);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}
