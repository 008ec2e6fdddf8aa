/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdarg.h>
#include <string.h>

#include "macro.h"

/* NULL-terminated string vectors ("strv"), as in systemd. */
char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

size_t strv_length(char *const *l) _pure_;
/* Appends s (taking ownership, also on failure). */
int strv_consume(char ***l, char *s);
int strv_extend(char ***l, const char *s);
/* Appends a formatted string. */
int strv_extendf(char ***l, const char *fmt, ...) _printf_(2, 3);
/* strv_extendf(), returning its error from the calling function: for builders of long settings lists,
 * used as a one-line local ADD(...) over the list being built. */
#define STRV_EXTENDF_OR_RETURN(l, ...)                                                                  \
        do {                                                                                            \
                int _r_ = strv_extendf(l, __VA_ARGS__);                                                 \
                if (_r_ < 0)                                                                            \
                        return _r_;                                                                     \
        } while (0)
bool strv_contains(char *const *l, const char *s) _pure_;
char **strv_copy(char *const *l);
/* The entries joined with sep between them ("" for an empty list); NULL on allocation failure. */
char *strv_join(char *const *l, const char *sep);

#define STRV_FOREACH(s, l) for (typeof(*(l)) *s = (l); s && *s; s++)

/* asprintf() that returns a negative errno. */
int asprintf_safe(char **ret, const char *fmt, ...) _printf_(2, 3);
int vasprintf_safe(char **ret, const char *fmt, va_list ap) _printf_(2, 0);

/* Edit distance (Levenshtein), capped: used for "did you mean" suggestions. */
size_t string_distance(const char *a, const char *b) _pure_;
/* The candidate closest to word when it is close enough to be a plausible typo, else NULL. */
const char *string_suggest(const char *word, const char *const *candidates) _pure_;

bool string_has_cc(const char *s) _pure_;
bool startswith(const char *s, const char *prefix) _pure_;
bool endswith(const char *s, const char *suffix) _pure_;

/* streq() where either side may be NULL: equal when both are, or both are the same string. */
static inline bool streq_ptr(const char *a, const char *b) {
        return a && b ? streq(a, b) : a == b;
}
static inline const char *strempty(const char *s) {
        return s ?: "";
}
static inline const char *strna(const char *s) {
        return s ?: "n/a";
}
