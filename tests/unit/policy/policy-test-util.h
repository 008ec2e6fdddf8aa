/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Helpers shared by the policy tests. */

#include <string.h>

#include "check-util.h"
#include "diag.h"
#include "policy-compile.h"
#include "policy.h"
#include "string-util.h"

/* OPENSHELL_SOURCE_ROOT/rel. */
static inline char *test_data_path(const char *rel) {
        char *p;
        ck_assert_int_ge(asprintf_safe(&p, "%s/%s", test_source_root(), rel), 0);
        return p;
}

/* Every diagnostic of the list, formatted. */
static inline char **diags_format(const DiagList *d) {
        char **l = NULL;

        for (size_t i = 0; i < d->n_items; i++) {
                char *s;
                ck_assert_int_ge(diag_format(&d->items[i], &s), 0);
                ck_assert_int_ge(strv_consume(&l, s), 0);
        }
        return l;
}

/* Loads yaml (as file "t.yaml"); returns the result, the policy if valid, and the formatted
 * diagnostics. */
static inline int load_string(const char *yaml, Policy **ret, char ***ret_diags) {
        _cleanup_(diag_list_done) DiagList d = {};
        Policy *p = NULL;
        int r;

        r = policy_load_buffer("t.yaml", yaml, strlen(yaml), &p, &d);
        if (ret)
                *ret = p;
        else
                policy_free(p);
        if (ret_diags)
                *ret_diags = diags_format(&d);
        return r;
}

static inline void dump_strv(char **l) {
        STRV_FOREACH(s, l)
                fprintf(stderr, "  | %s\n", *s);
}

/* Asserts yaml is refused and that one diagnostic reads exactly expected ("t.yaml:L:C: path: msg"). */
#define assert_policy_error(yaml, expected)                                                             \
        do {                                                                                            \
                _cleanup_strv_free_ char **_d_ = NULL;                                                  \
                int _r_ = load_string(yaml, NULL, &_d_);                                                \
                if (_r_ != -EBADMSG || !strv_contains(_d_, expected)) {                                 \
                        fprintf(stderr, "expected: %s\ngot r=%d:\n", expected, _r_);                    \
                        dump_strv(_d_);                                                                 \
                }                                                                                       \
                ck_assert_int_eq(_r_, -EBADMSG);                                                        \
                ck_assert_msg(strv_contains(_d_, expected), "missing diagnostic: %s", expected);         \
        } while (0)

/* Asserts yaml is valid and that one warning reads exactly expected. */
#define assert_policy_warning(yaml, expected)                                                           \
        do {                                                                                            \
                _cleanup_strv_free_ char **_d_ = NULL;                                                  \
                int _r_ = load_string(yaml, NULL, &_d_);                                                \
                if (_r_ != 0 || !strv_contains(_d_, expected)) {                                        \
                        fprintf(stderr, "expected: %s\ngot r=%d:\n", expected, _r_);                    \
                        dump_strv(_d_);                                                                 \
                }                                                                                       \
                ck_assert_int_eq(_r_, 0);                                                               \
                ck_assert_msg(strv_contains(_d_, expected), "missing warning: %s", expected);           \
        } while (0)
