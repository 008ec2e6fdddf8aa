/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "check-util.h"
#include "fileio.h"
#include "fs-util.h"
#include "string-util.h"

static char *make_tmpdir(void) {
        char *d = strdup("/tmp/test-fileio-XXXXXX");

        ck_assert_ptr_nonnull(d);
        ck_assert_ptr_nonnull(mkdtemp(d));
        return d;
}

static void remove_tmpdir(char *d) {
        _cleanup_free_ char *copy = d;
        const char *slash = strrchr(d, '/');
        _cleanup_close_ int parent = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        ck_assert_int_eq(rm_rf_at(parent, slash + 1), 0);
}

START_TEST(test_read_full_file) {
        char *d = make_tmpdir();
        _cleanup_free_ char *path = NULL, *text = NULL;
        char *unchanged = (char *) "x";
        size_t size = 99;

        ck_assert_int_eq(asprintf_safe(&path, "%s/f", d), 0);
        ck_assert_int_eq(write_file_atomic(path, "hello", 5, 0644, 0), 0);
        ck_assert_int_eq(read_full_file(path, 5, &text, &size), 0);
        ck_assert_str_eq(text, "hello");
        ck_assert_uint_eq(size, 5);
        /* one byte over the ceiling is refused, and nothing is returned */
        text = mfree(text);
        text = unchanged;
        ck_assert_int_eq(read_full_file(path, 4, &text, NULL), -EFBIG);
        ck_assert_ptr_eq(text, unchanged);
        text = NULL;
        ck_assert_int_eq(read_full_file(d, 100, &text, NULL), -EISDIR);
        ck_assert_int_eq(read_full_file("/nonexistent/x", 100, &text, NULL), -ENOENT);
        ck_assert_ptr_null(text);

        /* an empty file is an empty string */
        ck_assert_int_eq(write_file_atomic(path, "", 0, 0644, 0), 0);
        ck_assert_int_eq(read_full_file(path, 0, &text, &size), 0);
        ck_assert_str_eq(text, "");
        ck_assert_uint_eq(size, 0);
        remove_tmpdir(d);
}
END_TEST

START_TEST(test_write_file_atomic) {
        char *d = make_tmpdir();
        _cleanup_free_ char *path = NULL, *deep = NULL, *text = NULL;
        struct stat st;

        ck_assert_int_eq(asprintf_safe(&path, "%s/secret", d), 0);
        ck_assert_int_eq(write_file_atomic(path, "k=v\n", 4, 0600, 0), 0);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0600);
        /* replaced as a whole */
        ck_assert_int_eq(write_file_atomic(path, "new\n", 4, 0640, 0), 0);
        ck_assert_int_eq(read_full_file(path, 100, &text, NULL), 0);
        ck_assert_str_eq(text, "new\n");
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0640);
        /* NOREPLACE keeps the existing file and leaves no temporary file behind */
        ck_assert_int_eq(write_file_atomic(path, "other", 5, 0644, WRITE_FILE_NOREPLACE), -EEXIST);
        text = mfree(text);
        ck_assert_int_eq(read_full_file(path, 100, &text, NULL), 0);
        ck_assert_str_eq(text, "new\n");
        {
                _cleanup_(closedirp) DIR *dir = opendir(d);
                unsigned n = 0;
                for (struct dirent *de; (de = readdir(dir));)
                        n += de->d_name[0] != '.';
                ck_assert_uint_eq(n, 1);
        }
        /* parents only with WRITE_FILE_MKDIR */
        ck_assert_int_eq(asprintf_safe(&deep, "%s/a/b/c", d), 0);
        ck_assert_int_eq(write_file_atomic(deep, "x", 1, 0644, 0), -ENOENT);
        ck_assert_int_eq(write_file_atomic(deep, "x", 1, 0644, WRITE_FILE_MKDIR), 0);
        ck_assert_int_eq(write_file_atomic("relative", "x", 1, 0644, 0), -EINVAL);
        ck_assert_int_eq(write_file_atomic("/tmp/", "x", 1, 0644, 0), -EINVAL);
        remove_tmpdir(d);
}
END_TEST

START_TEST(test_mkdir_p) {
        char *d = make_tmpdir();
        _cleanup_free_ char *path = NULL, *file = NULL;
        struct stat st;

        ck_assert_int_eq(asprintf_safe(&path, "%s/x/y/z", d), 0);
        ck_assert_int_eq(mkdir_p(path, 0700), 0);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
        ck_assert_uint_eq(st.st_mode & 0777, 0700);
        ck_assert_int_eq(mkdir_p(path, 0700), 0);
        ck_assert_int_eq(asprintf_safe(&file, "%s/x/file", d), 0);
        ck_assert_int_eq(write_file_atomic(file, "", 0, 0644, 0), 0);
        ck_assert_int_eq(mkdir_p(file, 0755), -ENOTDIR);
        remove_tmpdir(d);
}
END_TEST

int main(void) {
        Suite *s = suite_create("fileio");
        TCase *tc = tcase_create("core");

        umask(022);
        tcase_add_test(tc, test_read_full_file);
        tcase_add_test(tc, test_write_file_atomic);
        tcase_add_test(tc, test_mkdir_p);
        suite_add_tcase(s, tc);
        return check_run_suite(s);
}
