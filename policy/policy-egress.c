/* SPDX-License-Identifier: Apache-2.0 */
/* The egress table and its matcher: the semantics of upstream's sandbox-policy.rego network decision
 * (SPEC.md §1.5, §1.8, §2.7) without OPA. */

#include <arpa/inet.h>
#include <string.h>

#include "in-addr-util.h"
#include "policy-compile.h"
#include "string-util.h"

const char *egress_decision_to_string(EgressDecision d) {
        static const char *const names[_EGRESS_DECISION_MAX] = {
                [EGRESS_DENY] = "deny",
                [EGRESS_ALLOW] = "allow",
        };
        return d >= 0 && d < _EGRESS_DECISION_MAX ? names[d] : NULL;
}

static int compare_entries(const void *a, const void *b) {
        const EgressEntry *x = a, *y = b;
        int c = strcmp(x->rule->key, y->rule->key);

        if (c != 0)
                return c;
        return x->endpoint_index < y->endpoint_index ? -1 : x->endpoint_index > y->endpoint_index;
}

int policy_egress_build(const Policy *p, PolicyEgress *ret) {
        size_t n = 0, k = 0;
        EgressEntry *e;

        for (size_t i = 0; i < p->n_rules; i++)
                n += p->rules[i].n_endpoints;
        e = calloc(n + 1, sizeof(EgressEntry));
        if (!e)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_rules; i++)
                for (size_t j = 0; j < p->rules[i].n_endpoints; j++)
                        e[k++] = (EgressEntry) { .rule = &p->rules[i], .endpoint = &p->rules[i].endpoints[j],
                                                 .endpoint_index = j };
        qsort(e, n, sizeof(EgressEntry), compare_entries);
        *ret = (PolicyEgress) { .entries = e, .n_entries = n };
        return 0;
}

static bool ip_in_cidr(const char *ip, const char *cidr) {
        unsigned char a[16];
        Cidr c;

        if (cidr_parse(cidr, &c) < 0 || inet_pton(c.family, ip, a) != 1)
                return false;
        return cidr_contains(&c, c.family, a);
}

static bool endpoint_matches(const PolicyEndpoint *e, const char *host, bool host_is_ip, uint16_t port) {
        bool port_ok = false;

        for (size_t i = 0; i < e->n_ports; i++)
                if (e->ports[i] == port)
                        port_ok = true;
        if (!port_ok)
                return false;
        if (isempty(e->host)) {
                /* host-less endpoint: the destination IP itself must be in allowed_ips */
                if (!host_is_ip)
                        return false;
                for (size_t i = 0; i < e->n_allowed_ips; i++)
                        if (ip_in_cidr(host, e->allowed_ips[i].path))
                                return true;
                return false;
        }
        return policy_glob_match(e->host, host, '.');
}

static bool binaries_match(const PolicyRule *r, const char *exe, char *const *ancestors) {
        for (size_t i = 0; i < r->n_binaries; i++) {
                if (exe && policy_glob_match(r->binaries[i].path, exe, '/'))
                        return true;
                STRV_FOREACH(a, ancestors)
                        if (policy_glob_match(r->binaries[i].path, *a, '/'))
                                return true;
        }
        return false;
}

int policy_egress_match(const PolicyEgress *t, const char *host, uint16_t port, const char *exe, char *const *ancestors,
                        EgressMatch *ret) {
        _cleanup_free_ char *h = NULL;
        unsigned char buf[16];
        bool is_ip, endpoint_seen = false;
        int r;

        if (!host)
                return -EINVAL;
        is_ip = inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
        if (is_ip)
                h = strdup(host);
        else {
                r = policy_host_normalize(host, &h);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        /* not a host name anyone could have allowed */
                        *ret = (EgressMatch) {
                                .decision = EGRESS_DENY,
                                .reason = t->n_entries ? EGRESS_REASON_NO_ENDPOINT : EGRESS_REASON_NO_POLICIES,
                        };
                        return 0;
                }
        }
        if (!h)
                return -ENOMEM;

        if (t->n_entries == 0) {
                *ret = (EgressMatch) { .decision = EGRESS_DENY, .reason = EGRESS_REASON_NO_POLICIES };
                return 0;
        }
        /* Entries are sorted by rule key: the first full match is the smallest matching key. */
        for (size_t i = 0; i < t->n_entries; i++) {
                const EgressEntry *e = &t->entries[i];

                if (!endpoint_matches(e->endpoint, h, is_ip, port))
                        continue;
                endpoint_seen = true;
                if (binaries_match(e->rule, exe, ancestors)) {
                        *ret = (EgressMatch) { .decision = EGRESS_ALLOW, .reason = EGRESS_REASON_ALLOWED, .entry = e,
                                               .rule = e->rule->key };
                        return 0;
                }
        }
        *ret = (EgressMatch) { .decision = EGRESS_DENY,
                               .reason = endpoint_seen ? EGRESS_REASON_BINARY : EGRESS_REASON_NO_ENDPOINT };
        return 0;
}

int policy_egress_reason(const PolicyEgress *t, const EgressMatch *m, const char *host, uint16_t port, const char *exe,
                         char *const *ancestors, char **ret) {
        _cleanup_free_ char *s = NULL, *anc = NULL;
        const char *last = NULL;

        switch (m->reason) {
        case EGRESS_REASON_ALLOWED:
                return asprintf_safe(ret, "allowed by policy '%s'", m->rule);
        case EGRESS_REASON_NO_POLICIES:
                return asprintf_safe(ret, "network connections not allowed by policy");
        case EGRESS_REASON_NO_ENDPOINT:
                return asprintf_safe(ret, "endpoint %s:%u is not allowed by any policy", host, port);
        case EGRESS_REASON_BINARY:
                STRV_FOREACH(a, ancestors) {
                        char *n;
                        if (asprintf_safe(&n, "%s%s%s", anc ?: "", anc ? " -> " : "", *a) < 0)
                                return -ENOMEM;
                        free(anc);
                        anc = n;
                }
                /* one clause per rule whose endpoint matched, joined with "; " as upstream */
                for (size_t i = 0; i < t->n_entries; i++) {
                        const EgressEntry *e = &t->entries[i];
                        _cleanup_free_ char *h = NULL;
                        char *n;

                        if (last && streq(last, e->rule->key))
                                continue;
                        unsigned char buf[16];
                        bool is_ip = inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;

                        /* an IP literal is compared as it is, as policy_egress_match() does */
                        if (is_ip ? !(h = strdup(host)) : policy_host_normalize(host, &h) < 0)
                                continue;
                        if (!endpoint_matches(e->endpoint, h, is_ip, port))
                                continue;
                        last = e->rule->key;
                        if (asprintf_safe(&n, "%s%sbinary '%s' not allowed in policy '%s'%s%s%s", s ?: "", s ? "; " : "",
                                          exe ?: "", e->rule->key, anc ? " (ancestors: [" : "", anc ?: "",
                                          anc ? "])" : "") < 0)
                                return -ENOMEM;
                        free(s);
                        s = n;
                }
                if (!s)
                        return asprintf_safe(ret, "binary '%s' not allowed", exe ?: "");
                *ret = TAKE_PTR(s);
                return 0;
        default:
                return -EINVAL;
        }
}

const char *l7_decision_to_string(L7Decision d) {
        static const char *const names[_L7_DECISION_MAX] = {
                [L7_ALLOW] = "allow",
                [L7_DENY_NOT_PERMITTED] = "deny",
                [L7_DENY_RULE] = "deny-rule",
        };
        return d >= 0 && d < _L7_DECISION_MAX ? names[d] : NULL;
}

bool policy_l7_path_match(const char *pattern, const char *path) {
        /* upstream's L7 globs: '*' and '**' both cross '/'; no delimiter at all */
        return policy_glob_match(pattern, path, '\0');
}

static bool query_value_matches(const PolicyL7Query *q, const char *value) {
        STRV_FOREACH(g, q->globs)
                if (policy_glob_match(*g, value, '\0'))
                        return true;
        return false;
}

static bool l7_rule_matches(const PolicyL7Rule *r, const char *method, const char *path, const L7QueryParam *query,
                            size_t n_query, bool deny) {
        if (!streq(r->method, "*") && !streq(r->method, method))
                return false;
        if (!policy_l7_path_match(r->path, path))
                return false;
        for (size_t i = 0; i < r->n_query; i++) {
                size_t seen = 0, matched = 0;

                for (size_t k = 0; k < n_query; k++)
                        if (streq(query[k].name, r->query[i].param)) {
                                seen++;
                                if (query_value_matches(&r->query[i], query[k].value))
                                        matched++;
                        }
                if (seen == 0)
                        return false; /* allow: nothing to match; deny: the rule does not apply */
                if (deny ? matched == 0 : matched != seen)
                        return false;
        }
        return true;
}

L7Decision policy_l7_decide(const PolicyEndpoint *e, const char *method, const char *path, const L7QueryParam *query,
                            size_t n_query) {
        if (!method || !path)
                return L7_DENY_NOT_PERMITTED;
        for (size_t i = 0; i < e->n_deny_rules; i++)
                if (l7_rule_matches(&e->deny_rules[i], method, path, query, n_query, true))
                        return L7_DENY_RULE;
        for (size_t i = 0; i < e->n_rules; i++)
                if (l7_rule_matches(&e->rules[i], method, path, query, n_query, false))
                        return L7_ALLOW;
        return L7_DENY_NOT_PERMITTED;
}
