/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <strings.h>

#include "http-parser.h"
#include "proxy-l7.h"
#include "string-util.h"

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

int proxy_tunnel_classify(const void *data, size_t size, bool final) {
        const unsigned char *d = data;
        size_t n;

        if (size == 0)
                return final ? PROXY_TUNNEL_OTHER : -EAGAIN;
        if (d[0] == 0x16)
                return PROXY_TUNNEL_TLS;
        n = MIN(size, sizeof(h2_preface) - 1);
        if (memcmp(d, h2_preface, n) == 0) {
                if (n >= 4)
                        return PROXY_TUNNEL_H2C; /* "PRI ": the method HTTP/2 reserved for its preface */
                if (!final)
                        return -EAGAIN;
        }
        /* An HTTP/1 request line: a method token, then a space. */
        for (size_t i = 0; i < size && i < 32; i++) {
                if (d[i] == ' ')
                        return i > 0 ? PROXY_TUNNEL_HTTP1 : PROXY_TUNNEL_OTHER;
                if (!http_token_char((char) d[i]))
                        return PROXY_TUNNEL_OTHER;
        }
        return size >= 32 || final ? PROXY_TUNNEL_OTHER : -EAGAIN;
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Decodes s[0..n) into a new string; keep_slash: "%2F" stays as written. -EINVAL for bad escapes
 * and decoded control characters. */
static int percent_decode(const char *s, size_t n, bool plus_space, bool keep_slash, bool *ret_slash,
                          char **ret) {
        _cleanup_free_ char *d = malloc(n + 1);
        size_t j = 0;

        if (!d)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];

                if (c == '%') {
                        int hi, lo;

                        if (i + 2 >= n)
                                return -EINVAL;
                        hi = unhex(s[i + 1]);
                        lo = hi < 0 ? -1 : unhex(s[i + 2]);
                        if (hi < 0 || lo < 0)
                                return -EINVAL;
                        c = (unsigned char) (hi * 16 + lo);
                        if (c == '/') {
                                if (ret_slash)
                                        *ret_slash = true;
                                if (keep_slash) {
                                        memcpy(d + j, s + i, 3);
                                        j += 3;
                                        i += 2;
                                        continue;
                                }
                        }
                        i += 2;
                } else if (c == '+' && plus_space)
                        c = ' ';
                if (c < 0x20 || c == 0x7f)
                        return -EINVAL;
                d[j++] = (char) c;
        }
        d[j] = 0;
        *ret = TAKE_PTR(d);
        return 0;
}

int proxy_l7_path(const char *target, bool allow_encoded_slash, char **ret_path, char **ret_query) {
        _cleanup_free_ char *path = NULL, *query = NULL;
        size_t n = strcspn(target, "?");
        bool slash = false;
        int r;

        if (target[0] != '/')
                return -EINVAL;
        r = percent_decode(target, n, false, true, &slash, &path);
        if (r < 0)
                return r;
        if (slash && !allow_encoded_slash)
                return -EPERM;
        /* Dot segments would make the path decided differ from the one a server resolves. */
        for (const char *p = path; *p;) {
                size_t k;

                p += strspn(p, "/");
                k = strcspn(p, "/");
                if ((k == 1 && p[0] == '.') || (k == 2 && p[0] == '.' && p[1] == '.'))
                        return -EINVAL;
                p += k;
        }
        if (target[n] == '?') {
                query = strdup(target + n + 1);
                if (!query)
                        return -ENOMEM;
        }
        *ret_path = TAKE_PTR(path);
        *ret_query = TAKE_PTR(query);
        return 0;
}

void proxy_l7_query_free(L7QueryParam *q, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free((char *) q[i].name);
                free((char *) q[i].value);
        }
        free(q);
}

int proxy_l7_query_parse(const char *query, L7QueryParam **ret, size_t *ret_n) {
        L7QueryParam *q = NULL;
        size_t n = 0;
        int r = 0;

        for (const char *p = query; p && *p;) {
                size_t k = strcspn(p, "&"), e;
                char *name = NULL, *value = NULL;

                if (k > 0) {
                        if (n >= PROXY_L7_QUERY_MAX) {
                                r = -E2BIG;
                                break;
                        }
                        e = strcspn(p, "=&");
                        r = percent_decode(p, e, true, false, NULL, &name);
                        if (r >= 0)
                                r = e < k ? percent_decode(p + e + 1, k - e - 1, true, false, NULL, &value)
                                    : (value = strdup("")) ? 0
                                                           : -ENOMEM;
                        if (r >= 0 && !q && !(q = calloc(PROXY_L7_QUERY_MAX, sizeof(L7QueryParam))))
                                r = -ENOMEM;
                        if (r < 0) {
                                free(name);
                                free(value);
                                break;
                        }
                        q[n++] = (L7QueryParam) { .name = name, .value = value };
                }
                p += k;
                if (*p == '&')
                        p++;
        }
        if (r < 0) {
                proxy_l7_query_free(q, n);
                return r;
        }
        *ret = q;
        *ret_n = n;
        return 0;
}

bool proxy_l7_authority_matches(const char *authority, const char *host, uint16_t port, uint16_t default_port) {
        _cleanup_free_ char *h = NULL;
        uint16_t p;

        if (!authority || http_authority_parse(authority, strlen(authority), default_port, &h, &p) < 0)
                return false;
        return p == port && strcasecmp(h, host) == 0;
}
