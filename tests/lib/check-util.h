/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Shared helpers for the Check unit tests. */

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "macro.h"

/* Exit status meson (and automake) read as "skipped". */
#define EXIT_TEST_SKIP 77

/* Runs one suite and returns the process exit status; CK_FORK stays as Check's default (each test in
 * its own process, so a crash fails one test, not the program). */
static inline int check_run_suite(Suite *s) {
        SRunner *sr = srunner_create(s);
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* The source tree's top directory, for test data; meson passes it in the environment. */
static inline const char *test_source_root(void) {
        const char *e = secure_getenv("OPENSHELL_SOURCE_ROOT");
        return e ?: ".";
}

/* The value of "KEY=value" in a list of journal fields (an audit event as its builder returns it), or NULL. */
static inline const char *journal_field(char *const *fields, const char *key) {
        size_t n = strlen(key);

        for (; fields && *fields; fields++)
                if (strncmp(*fields, key, n) == 0 && (*fields)[n] == '=')
                        return *fields + n + 1;
        return NULL;
}

/* Upstream's policy files: $OPENSHELL_SHARED_ROOT/openshell/policies (meson points it at the shared/
 * folder beside the checkout). */
static inline const char *test_upstream_policies_dir(void) {
        static char dir[PATH_MAX];
        const char *e = secure_getenv("OPENSHELL_SHARED_ROOT");

        snprintf(dir, sizeof dir, "%s/openshell/policies", e ?: "../shared");
        return dir;
}

/* A user's clone has no shared/ beside it: the tests that read upstream's files skip there (CI has
 * it, and runs them). Exits with EXIT_TEST_SKIP and the reason when the folder is absent. */
static inline void test_require_upstream_policies(void) {
        struct stat st;

        if (stat(test_upstream_policies_dir(), &st) < 0 || !S_ISDIR(st.st_mode)) {
                printf("SKIP: %s is absent (upstream's policy files, read where they are)\n",
                       test_upstream_policies_dir());
                exit(EXIT_TEST_SKIP);
        }
}
