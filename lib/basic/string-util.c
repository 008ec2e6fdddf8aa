/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>

#include "string-util.h"

char **strv_free(char **l) {
        STRV_FOREACH(s, l)
                free(*s);
        free(l);
        return NULL;
}

size_t strv_length(char *const *l) {
        size_t n = 0;

        STRV_FOREACH(s, l)
                n++;
        return n;
}

int strv_consume(char ***l, char *s) {
        size_t n = strv_length(*l);
        char **c;

        if (!s)
                return -ENOMEM;
        c = reallocarray(*l, n + 2, sizeof(char *));
        if (!c) {
                free(s);
                return -ENOMEM;
        }
        c[n] = s;
        c[n + 1] = NULL;
        *l = c;
        return 0;
}

int strv_extend(char ***l, const char *s) {
        return strv_consume(l, strdup(s));
}

int strv_extendf(char ***l, const char *fmt, ...) {
        char *s;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf_safe(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return r;
        return strv_consume(l, s);
}

bool strv_contains(char *const *l, const char *s) {
        STRV_FOREACH(i, l)
                if (streq(*i, s))
                        return true;
        return false;
}

char **strv_copy(char *const *l) {
        _cleanup_strv_free_ char **c = calloc(1, sizeof(char *));

        if (!c)
                return NULL;
        STRV_FOREACH(s, l)
                if (strv_extend(&c, *s) < 0)
                        return NULL;
        return TAKE_PTR(c);
}

int vasprintf_safe(char **ret, const char *fmt, va_list ap) {
        char *s;

        if (vasprintf(&s, fmt, ap) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int asprintf_safe(char **ret, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf_safe(ret, fmt, ap);
        va_end(ap);
        return r;
}

/* Words we compare are keys of a schema: short. Longer input gets the maximum distance. */
#define DISTANCE_MAX_LEN 64

size_t string_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b), prev[DISTANCE_MAX_LEN + 1], cur[DISTANCE_MAX_LEN + 1];

        if (la > DISTANCE_MAX_LEN || lb > DISTANCE_MAX_LEN)
                return SIZE_MAX;
        for (size_t j = 0; j <= lb; j++)
                prev[j] = j;
        for (size_t i = 1; i <= la; i++) {
                cur[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
                        cur[j] = MIN(MIN(prev[j] + 1, cur[j - 1] + 1), sub);
                }
                memcpy(prev, cur, sizeof(size_t) * (lb + 1));
        }
        return prev[lb];
}

const char *string_suggest(const char *word, const char *const *candidates) {
        const char *best = NULL;
        size_t best_d = SIZE_MAX, limit;

        /* One typo per three characters, at least one, at most three: "comand" -> "command", but
         * "foo" suggests nothing. */
        limit = MIN(MAX(strlen(word) / 3, (size_t) 1), (size_t) 3);
        for (const char *const *c = candidates; c && *c; c++) {
                size_t d = string_distance(word, *c);
                if (d < best_d) {
                        best_d = d;
                        best = *c;
                }
        }
        return best_d <= limit ? best : NULL;
}

bool string_has_cc(const char *s) {
        for (const char *p = s; *p; p++)
                if ((unsigned char) *p < ' ' || *p == 127)
                        return true;
        return false;
}

bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool endswith(const char *s, const char *suffix) {
        size_t ls = strlen(s), lx = strlen(suffix);
        return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

char *strv_join(char *const *l, const char *sep) {
        size_t n = 0, k = strlen(sep);
        char *r, *p;

        STRV_FOREACH(s, l)
                n += strlen(*s) + k;
        r = malloc(n + 1);
        if (!r)
                return NULL;
        p = r;
        STRV_FOREACH(s, l) {
                if (p != r)
                        p = stpcpy(p, sep);
                p = stpcpy(p, *s);
        }
        *p = 0;
        return r;
}
