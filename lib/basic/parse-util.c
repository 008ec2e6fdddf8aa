/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "parse-util.h"

static int digit_value(char c, unsigned base) {
        unsigned v;

        if (c >= '0' && c <= '9')
                v = (unsigned) (c - '0');
        else if (c >= 'a' && c <= 'f')
                v = (unsigned) (c - 'a') + 10;
        else if (c >= 'A' && c <= 'F')
                v = (unsigned) (c - 'A') + 10;
        else
                return -EINVAL;
        return v < base ? (int) v : -EINVAL;
}

/* Reads the digits at *p (at least one), leaving *p after them. */
static int parse_digits(const char **p, unsigned base, uint64_t *ret) {
        const char *s = *p;
        uint64_t v = 0;
        int d;

        if (digit_value(*s, base) < 0)
                return -EINVAL;
        for (; (d = digit_value(*s, base)) >= 0; s++) {
                if (v > (UINT64_MAX - (uint64_t) d) / base)
                        return -ERANGE;
                v = v * base + (uint64_t) d;
        }
        *p = s;
        *ret = v;
        return 0;
}

int safe_atou64_full(const char *s, unsigned base, uint64_t *ret) {
        uint64_t v;
        int r;

        if (!s || (base != 8 && base != 10 && base != 16))
                return -EINVAL;
        r = parse_digits(&s, base, &v);
        if (r < 0)
                return r;
        if (*s)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int safe_atou_max(const char *s, uint64_t max, uint64_t *ret) {
        uint64_t v;
        int r;

        r = safe_atou64(s, &v);
        if (r < 0)
                return r;
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int safe_atou32(const char *s, uint32_t *ret) {
        uint64_t v;
        int r = safe_atou_max(s, UINT32_MAX, &v);
        if (r >= 0)
                *ret = (uint32_t) v;
        return r;
}

int safe_atou16(const char *s, uint16_t *ret) {
        uint64_t v;
        int r = safe_atou_max(s, UINT16_MAX, &v);
        if (r >= 0)
                *ret = (uint16_t) v;
        return r;
}

int safe_atou(const char *s, unsigned *ret) {
        uint64_t v;
        int r = safe_atou_max(s, UINT_MAX, &v);
        if (r >= 0)
                *ret = (unsigned) v;
        return r;
}

int parse_port(const char *s, uint16_t *ret) {
        uint16_t v;
        int r;

        r = safe_atou16(s, &v);
        if (r < 0)
                return r;
        if (v == 0)
                return -ERANGE;
        *ret = v;
        return 0;
}

int parse_size(const char *s, uint64_t *ret) {
        static const char suffixes[] = "KMGT";
        const char *p = s, *suffix;
        uint64_t v, mul = 1;
        int r;

        if (s && streq(s, "infinity")) {
                *ret = UINT64_MAX;
                return 0;
        }
        if (!s)
                return -EINVAL;
        r = parse_digits(&p, 10, &v);
        if (r < 0)
                return r;
        if (*p) {
                suffix = strchr(suffixes, *p);
                if (!suffix || p[1])
                        return -EINVAL;
                mul = UINT64_C(1) << (10 * (suffix - suffixes + 1));
        }
        if (v > UINT64_MAX / mul || v * mul == UINT64_MAX)
                return -ERANGE;
        *ret = v * mul;
        return 0;
}

int parse_keyed_u64(const char *text, const char *key, uint64_t *ret) {
        size_t k = strlen(key);

        for (const char *l = text; l && *l;) {
                if (strneq(l, key, k) && l[k] == ' ') {
                        const char *v = l + k + 1;
                        uint64_t n;

                        if (parse_digits(&v, 10, &n) < 0 || (*v != '\n' && *v != '\0'))
                                return -EINVAL;
                        *ret = n;
                        return 0;
                }
                l = strchr(l, '\n');
                if (l)
                        l++;
        }
        return -ENODATA;
}
