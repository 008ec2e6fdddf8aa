/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "json-scan.h"

const char *json_skip_space(const char *p, const char *end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
                p++;
        return p;
}

/* p at the opening quote; returns the byte after the closing one, NULL if the text ends first. A
 * quote ends the string unless an odd number of backslashes comes before it. */
static const char *json_skip_string(const char *p, const char *end) {
        for (p++; p < end;) {
                const char *q = memchr(p, '"', (size_t) (end - p)), *b;

                if (!q)
                        return NULL;
                for (b = q; b > p && b[-1] == '\\'; b--)
                        ;
                if ((q - b) % 2 == 0)
                        return q + 1;
                p = q + 1;
        }
        return NULL;
}

/* Bytes of numbers and of true, false and null. */
static bool json_scalar_char(char c) {
        return c != 0 && strchr("0123456789+-.eEtrufalsn", c);
}

/* p at the first byte of a value; returns the byte after it, NULL if the text ends first or has a byte
 * outside strings that standard JSON does not (single quotes, comments: json-c's leniencies, which
 * other parsers may read otherwise). */
static const char *json_skip_value(const char *p, const char *end) {
        unsigned depth = 0;

        if (p >= end)
                return NULL;
        if (*p != '{' && *p != '[' && *p != '"') {
                /* a number or a literal */
                while (p < end && json_scalar_char(*p))
                        p++;
                return p;
        }
        do {
                switch (*p) {
                case '"':
                        p = json_skip_string(p, end);
                        if (!p)
                                return NULL;
                        continue;
                case '{':
                case '[':
                        depth++;
                        break;
                case '}':
                case ']':
                        depth--;
                        break;
                case ',':
                case ':':
                case ' ':
                case '\t':
                case '\r':
                case '\n':
                        break;
                default:
                        if (!json_scalar_char(*p))
                                return NULL;
                }
                p++;
        } while (depth > 0 && p < end);
        return depth == 0 ? p : NULL;
}

int json_next_member(const char **p, const char *end, bool first, JsonMember *ret) {
        const char *q = json_skip_space(*p, end);

        if (first) {
                if (q >= end || *q != '{')
                        return -EBADMSG;
                q = json_skip_space(q + 1, end);
                if (q < end && *q == '}') {
                        *p = q + 1;
                        return 0;
                }
        } else {
                if (q < end && *q == '}') {
                        *p = q + 1;
                        return 0;
                }
                if (q >= end || *q != ',')
                        return -EBADMSG;
                q = json_skip_space(q + 1, end);
        }
        if (q >= end || *q != '"')
                return -EBADMSG;
        ret->key = q + 1;
        q = json_skip_string(q, end);
        if (!q)
                return -EBADMSG;
        ret->key_size = (size_t) (q - 1 - ret->key);
        q = json_skip_space(q, end);
        if (q >= end || *q != ':')
                return -EBADMSG;
        ret->value = json_skip_space(q + 1, end);
        ret->value_end = json_skip_value(ret->value, end);
        if (!ret->value_end || ret->value_end == ret->value)
                return -EBADMSG;
        *p = ret->value_end;
        return 1;
}

bool json_integer(const char *p, const char *end, int64_t *ret) {
        bool negative = p < end && *p == '-';
        uint64_t v = 0;

        if (negative)
                p++;
        if (p >= end)
                return false;
        for (; p < end; p++) {
                if (*p < '0' || *p > '9')
                        return false;
                if (v > ((uint64_t) INT64_MAX - (uint64_t) (*p - '0')) / 10)
                        return false;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        *ret = negative ? -(int64_t) v : (int64_t) v;
        return true;
}
