/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Shared helpers for the Check unit tests. */

#include <check.h>
#include <stdlib.h>
#include <string.h>

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
