/* SPDX-License-Identifier: Apache-2.0 */
/* The policy model: destructors, keyword tables, host and path normalisation, glob matching. */

#include <string.h>

#include "policy.h"
#include "string-util.h"

static void l7_rules_free(PolicyL7Rule *r, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(r[i].method);
                free(r[i].path);
                for (size_t j = 0; j < r[i].n_query; j++) {
                        free(r[i].query[j].param);
                        strv_free(r[i].query[j].globs);
                }
                free(r[i].query);
        }
        free(r);
}

static void paths_free(PolicyPath *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(p[i].path);
        free(p);
}

static void endpoint_done(PolicyEndpoint *e) {
        free(e->host);
        free(e->ports);
        free(e->path);
        l7_rules_free(e->rules, e->n_rules);
        l7_rules_free(e->deny_rules, e->n_deny_rules);
        paths_free(e->allowed_ips, e->n_allowed_ips);
}

static void rule_done(PolicyRule *r) {
        free(r->key);
        free(r->name);
        for (size_t i = 0; i < r->n_endpoints; i++)
                endpoint_done(&r->endpoints[i]);
        free(r->endpoints);
        for (size_t i = 0; i < r->n_binaries; i++)
                free(r->binaries[i].path);
        free(r->binaries);
}

Policy *policy_free(Policy *p) {
        if (!p)
                return NULL;
        free(p->file);
        paths_free(p->read_only, p->n_read_only);
        paths_free(p->read_write, p->n_read_write);
        free(p->run_as_user);
        free(p->run_as_group);
        for (size_t i = 0; i < p->n_rules; i++)
                rule_done(&p->rules[i]);
        free(p->rules);
        free(p->gpu_devices);
        paths_free(p->syscalls_allow, p->n_syscalls_allow);
        paths_free(p->syscalls_deny, p->n_syscalls_deny);
        paths_free(p->inaccessible, p->n_inaccessible);
        free(p->tcp_connect_ports);
        free(p->tcp_bind_ports);
        free(p);
        return NULL;
}

#define DEFINE_STRING_TABLE(name, type, max, ...)                                                      \
        static const char *const name##_table[max] = { __VA_ARGS__ };                                  \
        const char *name##_to_string(type v) {                                                          \
                return (int) v >= 0 && (int) v < (int) (max) ? name##_table[v] : NULL;                  \
        }                                                                                               \
        type name##_from_string(const char *s) {                                                        \
                if (!s)                                                                                 \
                        return (type) -EINVAL;                                                          \
                for (int i = 0; i < (int) (max); i++)                                                   \
                        if (name##_table[i] && streq(name##_table[i], s))                               \
                                return (type) i;                                                        \
                return (type) -EINVAL;                                                                  \
        }

DEFINE_STRING_TABLE(policy_protocol, PolicyProtocol, _POLICY_PROTOCOL_MAX,
                    [POLICY_PROTOCOL_NONE] = "",
                    [POLICY_PROTOCOL_REST] = "rest",
                    [POLICY_PROTOCOL_WEBSOCKET] = "websocket",
                    [POLICY_PROTOCOL_TCP] = "tcp",
                    [POLICY_PROTOCOL_GRAPHQL] = "graphql",
                    [POLICY_PROTOCOL_SQL] = "sql",
                    [POLICY_PROTOCOL_JSON_RPC] = "json-rpc",
                    [POLICY_PROTOCOL_MCP] = "mcp");

DEFINE_STRING_TABLE(policy_tls, PolicyTls, _POLICY_TLS_MAX,
                    [POLICY_TLS_AUTO] = "",
                    [POLICY_TLS_SKIP] = "skip",
                    [POLICY_TLS_TERMINATE] = "terminate",
                    [POLICY_TLS_PASSTHROUGH] = "passthrough");

DEFINE_STRING_TABLE(policy_enforcement, PolicyEnforcement, _POLICY_ENFORCEMENT_MAX,
                    [POLICY_ENFORCEMENT_AUDIT] = "audit",
                    [POLICY_ENFORCEMENT_ENFORCE] = "enforce");

DEFINE_STRING_TABLE(policy_access, PolicyAccess, _POLICY_ACCESS_MAX,
                    [POLICY_ACCESS_NONE] = "",
                    [POLICY_ACCESS_READ_ONLY] = "read-only",
                    [POLICY_ACCESS_READ_WRITE] = "read-write",
                    [POLICY_ACCESS_FULL] = "full");

DEFINE_STRING_TABLE(policy_landlock_compat, PolicyLandlockCompat, _POLICY_LANDLOCK_COMPAT_MAX,
                    [POLICY_LANDLOCK_BEST_EFFORT] = "best_effort",
                    [POLICY_LANDLOCK_HARD_REQUIREMENT] = "hard_requirement");

int policy_path_normalize(const char *path, char **ret) {
        size_t n = strlen(path), k = 0;
        char *s = malloc(n + 1);

        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (path[i] == '/' && k > 0 && s[k - 1] == '/')
                        continue;
                s[k++] = path[i];
        }
        while (k > 1 && s[k - 1] == '/')
                k--;
        s[k] = 0;
        *ret = s;
        return 0;
}

/* Decodes one UTF-8 sequence (strictly: no overlongs, no surrogates); returns its length or -EINVAL. */
static int utf8_decode(const unsigned char *s, uint32_t *ret) {
        uint32_t c;
        int n;

        if (s[0] < 0x80) {
                *ret = s[0];
                return 1;
        }
        if ((s[0] & 0xe0) == 0xc0)
                n = 2, c = s[0] & 0x1f;
        else if ((s[0] & 0xf0) == 0xe0)
                n = 3, c = s[0] & 0x0f;
        else if ((s[0] & 0xf8) == 0xf0)
                n = 4, c = s[0] & 0x07;
        else
                return -EINVAL;
        for (int i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return -EINVAL;
                c = (c << 6) | (s[i] & 0x3f);
        }
        if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10ffff ||
            (c >= 0xd800 && c <= 0xdfff))
                return -EINVAL;
        *ret = c;
        return n;
}

/* Simple case folding for the scripts people write host names in most: full IDNA mapping (UTS #46)
 * would need Unicode tables this library does not carry. */
static uint32_t fold_case(uint32_t c) {
        if (c >= 'A' && c <= 'Z')
                return c + 32;
        if ((c >= 0xc0 && c <= 0xde && c != 0xd7) || (c >= 0x391 && c <= 0x3a9 && c != 0x3a2) ||
            (c >= 0x410 && c <= 0x42f))
                return c + 32;
        if (c >= 0x400 && c <= 0x40f)
                return c + 80;
        return c;
}

/* RFC 3492 punycode of one label (code points cp[0..n)), appended to out. */
static int punycode_encode(const uint32_t *cp, size_t n, char *out, size_t out_size) {
        enum { BASE = 36, TMIN = 1, TMAX = 26, SKEW = 38, DAMP = 700, INITIAL_BIAS = 72, INITIAL_N = 128 };
        uint32_t cur = INITIAL_N, delta = 0, bias = INITIAL_BIAS;
        size_t k = 0, h, b = 0;

#define PUT(ch)                                                                                         \
        do {                                                                                            \
                if (k + 1 >= out_size)                                                                  \
                        return -E2BIG;                                                                  \
                out[k++] = (char) (ch);                                                                 \
        } while (0)

        for (size_t i = 0; i < n; i++)
                if (cp[i] < 0x80) {
                        PUT(cp[i]);
                        b++;
                }
        if (b > 0)
                PUT('-');
        h = b;
        while (h < n) {
                uint32_t m = UINT32_MAX;
                for (size_t i = 0; i < n; i++)
                        if (cp[i] >= cur && cp[i] < m)
                                m = cp[i];
                if ((uint64_t) (m - cur) * (h + 1) + delta > UINT32_MAX)
                        return -EOVERFLOW;
                delta += (m - cur) * (uint32_t) (h + 1);
                cur = m;
                for (size_t i = 0; i < n; i++) {
                        if (cp[i] < cur)
                                delta++;
                        if (cp[i] == cur) {
                                uint32_t q = delta;
                                for (uint32_t kk = BASE;; kk += BASE) {
                                        uint32_t t = kk <= bias ? TMIN : kk >= bias + TMAX ? TMAX : kk - bias;
                                        uint32_t d;
                                        if (q < t)
                                                break;
                                        d = t + (q - t) % (BASE - t);
                                        PUT(d < 26 ? 'a' + d : '0' + d - 26);
                                        q = (q - t) / (BASE - t);
                                }
                                PUT(q < 26 ? 'a' + q : '0' + q - 26);
                                /* adapt the bias */
                                {
                                        uint32_t dd = h == b ? delta / DAMP : delta / 2, kk = 0;
                                        dd += dd / (uint32_t) (h + 1);
                                        while (dd > ((BASE - TMIN) * TMAX) / 2) {
                                                dd /= BASE - TMIN;
                                                kk += BASE;
                                        }
                                        bias = kk + (BASE - TMIN + 1) * dd / (dd + SKEW);
                                }
                                delta = 0;
                                h++;
                        }
                }
                delta++;
                cur++;
        }
#undef PUT
        out[k] = 0;
        return (int) k;
}

int policy_host_normalize(const char *host, char **ret) {
        size_t len = strlen(host);
        _cleanup_free_ char *out = NULL;
        _cleanup_free_ uint32_t *cp = NULL;
        size_t k = 0;

        if (len > POLICY_STRING_MAX)
                return -E2BIG;
        /* Punycode of a label is at most a few times the label; hosts are short anyway. */
        out = malloc(len * 4 + 16);
        cp = calloc(len + 1, sizeof(uint32_t));
        if (!out || !cp)
                return -ENOMEM;

        for (const char *p = host; *p;) {
                const char *end = strchr(p, '.');
                size_t n_cp = 0;
                bool ascii = true;

                if (!end)
                        end = p + strlen(p);
                for (const char *q = p; q < end;) {
                        uint32_t c;
                        int r = utf8_decode((const unsigned char *) q, &c);
                        if (r < 0)
                                return r;
                        q += r;
                        c = fold_case(c);
                        if (c >= 0x80)
                                ascii = false;
                        cp[n_cp++] = c;
                }
                if (ascii)
                        for (size_t i = 0; i < n_cp; i++)
                                out[k++] = (char) cp[i];
                else {
                        int r;
                        memcpy(out + k, "xn--", 4);
                        k += 4;
                        r = punycode_encode(cp, n_cp, out + k, len * 4 + 16 - k);
                        if (r < 0)
                                return r;
                        k += (size_t) r;
                }
                if (!*end)
                        break;
                p = end + 1;
                if (!*p)
                        break; /* one trailing '.' is the DNS root: dropped */
                out[k++] = '.';
        }
        out[k] = 0;
        *ret = TAKE_PTR(out);
        return 0;
}

/* Character class at p (just after '['); sets *end to the character after ']'. Returns whether c is in
 * it, or -1 for an unterminated class (then '[' is a literal). */
static int glob_class(const char *p, char c, const char **end) {
        bool neg = false, match = false;

        if (*p == '!' || *p == '^') {
                neg = true;
                p++;
        }
        for (bool first = true; *p && (first || *p != ']'); first = false) {
                char lo = *p, hi = *p;
                if (p[1] == '-' && p[2] && p[2] != ']') {
                        hi = p[2];
                        p += 3;
                } else
                        p++;
                if (c >= lo && c <= hi)
                        match = true;
        }
        if (*p != ']')
                return -1;
        *end = p + 1;
        return match != neg;
}

typedef struct GlobToken {
        char type; /* 'c' literal, '?' one character, '[' class, '*' star, 'S' double star */
        char c;
        const char *class; /* after '[' */
} GlobToken;

bool policy_glob_match(const char *pat, const char *text, char delim) {
        /* A simulation of the pattern's automaton (one pass over the text, a set of live positions):
         * O(pattern x text) whatever the stars, so a hostile pattern cannot make matching explode the
         * way naive backtracking does. */
        GlobToken tok_stack[128];
        bool cur_stack[129], next_stack[129];
        _cleanup_free_ GlobToken *tok_heap = NULL;
        _cleanup_free_ bool *cur_heap = NULL, *next_heap = NULL;
        GlobToken *tok = tok_stack;
        bool *cur = cur_stack, *next = next_stack;
        size_t n = 0, lp = strlen(pat);

        /* Most patterns are plain names: no automaton needed. */
        if (!strpbrk(pat, "*?["))
                return streq(pat, text);
        /* Cheap rejections: the literal text before the first and after the last special character
         * must start and end the text ("*.example.com" needs the suffix ".example.com"). */
        {
                size_t pre = strcspn(pat, "*?["), lt = strlen(text), post = 0;
                for (size_t i = lp; i > 0 && !strchr("*?[]", pat[i - 1]); i--)
                        post++;
                if (pre > lt || strncmp(pat, text, pre) != 0)
                        return false;
                if (post > lt || memcmp(pat + lp - post, text + lt - post, post) != 0)
                        return false;
        }

        if (lp >= ELEMENTSOF(tok_stack)) {
                tok = tok_heap = calloc(lp + 1, sizeof(GlobToken));
                cur = cur_heap = calloc(lp + 1, sizeof(bool));
                next = next_heap = calloc(lp + 1, sizeof(bool));
                if (!tok || !cur || !next)
                        return false;
        } else
                memset(cur_stack, 0, sizeof(cur_stack));

        for (const char *p = pat; *p;) {
                const char *end;
                if (*p == '*') {
                        size_t k = 0;
                        while (p[k] == '*')
                                k++;
                        tok[n++] = (GlobToken) { .type = k >= 2 ? 'S' : '*' };
                        p += k;
                } else if (*p == '?') {
                        tok[n++] = (GlobToken) { .type = '?' };
                        p++;
                } else if (*p == '[' && glob_class(p + 1, 0, &end) >= 0) {
                        tok[n++] = (GlobToken) { .type = '[', .class = p + 1 };
                        p = end;
                } else
                        tok[n++] = (GlobToken) { .type = 'c', .c = *p++ };
        }

#define CLOSE(set)                                                                                      \
        for (size_t _i = 0; _i < n; _i++)                                                               \
                if ((set)[_i] && (tok[_i].type == '*' || tok[_i].type == 'S'))                          \
                        (set)[_i + 1] = true

        cur[0] = true;
        CLOSE(cur);
        for (const char *t = text; *t; t++) {
                bool any = false;
                bool *swap;
                const char *end;

                memset(next, 0, (n + 1) * sizeof(bool));
                for (size_t i = 0; i < n; i++) {
                        if (!cur[i])
                                continue;
                        switch (tok[i].type) {
                        case 'S':
                                next[i] = true;
                                break;
                        case '*':
                                if (*t != delim)
                                        next[i] = true;
                                break;
                        case '?':
                                if (*t != delim)
                                        next[i + 1] = true;
                                break;
                        case '[':
                                if (*t != delim && glob_class(tok[i].class, *t, &end) > 0)
                                        next[i + 1] = true;
                                break;
                        default:
                                if (*t == tok[i].c)
                                        next[i + 1] = true;
                        }
                }
                CLOSE(next);
                for (size_t i = 0; i <= n; i++)
                        any = any || next[i];
                if (!any)
                        return false;
                swap = cur, cur = next, next = swap;
        }
#undef CLOSE
        return cur[n];
}
