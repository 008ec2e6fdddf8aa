/* SPDX-License-Identifier: Apache-2.0 */
/* The rules a parsed policy must follow: upstream's (SPEC.md §1.12, with its message texts) and this
 * project's (host pattern shapes, duplicate names, limits, warnings where upstream is silently weak).
 * Also expands the shorthands, so that what leaves here means exactly what the compiler sees. */

#include <arpa/inet.h>
#include <inttypes.h>
#include <seccomp.h>
#include <string.h>

#include "in-addr-util.h"
#include "policy-internal.h"
#include "sandbox-name.h"
#include "string-util.h"

#define ERRP(rep, place, path, ...) policy_error_at(rep, place, path, __VA_ARGS__)
#define WARNP(rep, place, path, ...) policy_warning_at(rep, place, path, __VA_ARGS__)

/* ---- filesystem ------------------------------------------------------------------------------- */

static bool path_has_dotdot(const char *p) {
        for (const char *s = p; (s = strstr(s, "..")); s += 2)
                if ((s == p || s[-1] == '/') && (s[2] == 0 || s[2] == '/'))
                        return true;
        return false;
}

/* Checks one path with upstream's messages and normalises it in place. */
static bool validate_path(DiagReporter *rep, PolicyPath *pp, const char *path, bool rw) {
        size_t len = strlen(pp->path);
        char *n;

        if (len > POLICY_PATH_LENGTH_MAX) {
                ERRP(rep, pp->place, path, "path exceeds maximum length (%zu > %u): %.64s...", len,
                     POLICY_PATH_LENGTH_MAX, pp->path);
                return false;
        }
        if (pp->path[0] != '/') {
                ERRP(rep, pp->place, path, "path must be absolute (start with '/'): %s", pp->path);
                return false;
        }
        if (path_has_dotdot(pp->path)) {
                ERRP(rep, pp->place, path, "path contains '..' traversal component: %s", pp->path);
                return false;
        }
        if (policy_path_normalize(pp->path, &n) < 0) {
                rep->r = -ENOMEM;
                return false;
        }
        if (strpbrk(n, " \t:")) {
                /* Unit files take whitespace-separated path lists, and Bind*Paths= use ':' between source,
                 * destination and options: such a path would mean something else in the compiled unit. */
                ERRP(rep, pp->place, path, "paths that systemd binds into the sandbox or hides cannot contain spaces or ':': %s", pp->path);
                free(n);
                return false;
        }
        if (rw && streq(n, "/")) {
                ERRP(rep, pp->place, path, "read-write path is overly broad: %s", pp->path);
                free(n);
                return false;
        }
        free(pp->path);
        pp->path = n;
        return true;
}

static void validate_path_list(DiagReporter *rep, PolicyPath *l, size_t n, const char *list_path, bool rw) {
        for (size_t i = 0; i < n && rep->r >= 0; i++) {
                _cleanup_free_ char *ip = diag_path_index(rep, list_path, l[i].index);
                if (!ip)
                        return;
                if (!validate_path(rep, &l[i], ip, rw))
                        continue;
                for (size_t j = 0; j < i; j++)
                        if (streq(l[j].path, l[i].path)) {
                                WARNP(rep, l[i].place, ip, "'%s' is listed twice (first at line %u)", l[i].path,
                                      l[j].place.line);
                                break;
                        }
        }
}

/* path strictly below dir ("/" contains everything) */
static bool path_is_below(const char *path, const char *dir) {
        size_t n = strlen(dir);

        if (streq(dir, "/"))
                return !streq(path, "/");
        return strneq(path, dir, n) && path[n] == '/';
}

static void validate_filesystem(DiagReporter *rep, Policy *p) {
        size_t total = p->n_read_only + p->n_read_write;

        /* First, so that it is reported even when the per-path problems fill the diagnostics list. */
        if (total > POLICY_PATHS_MAX) {
                PolicyPlace at = p->n_read_write > 0 ? p->read_write[0].place : p->read_only[0].place;
                ERRP(rep, at, "filesystem_policy", "too many filesystem paths (%zu > %u)", total, POLICY_PATHS_MAX);
        }
        validate_path_list(rep, p->read_only, p->n_read_only, "filesystem_policy.read_only", false);
        validate_path_list(rep, p->read_write, p->n_read_write, "filesystem_policy.read_write", true);
        /* Landlock rights add up: a read-only path below a read-write one stays writable. */
        for (size_t i = 0; i < p->n_read_only; i++) {
                const char *ro = p->read_only[i].path, *parent = NULL;
                bool workdir = !p->has_filesystem_policy || p->include_workdir;

                if (workdir && path_is_below(ro, SANDBOX_WORKDIR_IN_SANDBOX))
                        parent = SANDBOX_WORKDIR_IN_SANDBOX;
                for (size_t j = 0; j < p->n_read_write && !parent; j++)
                        if (path_is_below(ro, p->read_write[j].path))
                                parent = p->read_write[j].path;
                if (parent) {
                        _cleanup_free_ char *ip = diag_path_index(rep, "filesystem_policy.read_only", p->read_only[i].index);
                        if (ip)
                                WARNP(rep, p->read_only[i].place, ip,
                                      "'%s' is inside the read-write '%s', so it stays writable (Landlock rights add up; hide or move it instead)",
                                      ro, parent);
                }
        }
        for (size_t i = 0; i < p->n_read_only; i++)
                for (size_t j = 0; j < p->n_read_write; j++)
                        if (streq(p->read_only[i].path, p->read_write[j].path)) {
                                _cleanup_free_ char *ip = diag_path_index(rep, "filesystem_policy.read_only", p->read_only[i].index);
                                if (ip)
                                        WARNP(rep, p->read_only[i].place, ip,
                                              "'%s' is also listed in read_write (line %u); read-write wins",
                                              p->read_only[i].path, p->read_write[j].place.line);
                        }
}

/* ---- process ---------------------------------------------------------------------------------- */

static bool identity_is_valid(const char *s) {
        uint64_t v = 0;

        if (streq(s, "sandbox"))
                return true;
        if (isempty(s) || strlen(s) > 10)
                return false;
        for (const char *c = s; *c; c++) {
                if (*c < '0' || *c > '9')
                        return false;
                v = v * 10 + (uint64_t) (*c - '0');
        }
        return v >= 1 && v <= 4294967294ULL;
}

static void validate_process(DiagReporter *rep, Policy *p) {
        if (p->run_as_user && !identity_is_valid(p->run_as_user))
                ERRP(rep, p->run_as_user_place, "process.run_as_user",
                     "run_as_user must be 'sandbox' or a numeric UID/GID in range [1, 4294967294], got '%s'",
                     p->run_as_user);
        if (p->run_as_group && !identity_is_valid(p->run_as_group))
                ERRP(rep, p->run_as_group_place, "process.run_as_group",
                     "run_as_group must be 'sandbox' or a numeric UID/GID in range [1, 4294967294], got '%s'",
                     p->run_as_group);
}

/* ---- hosts ------------------------------------------------------------------------------------ */

static bool host_is_ip_literal(const char *h) {
        unsigned char buf[16];
        return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

/* Checks the written host and replaces it with its normalised form. */
static void validate_host(DiagReporter *rep, const PolicyRule *rule, PolicyEndpoint *e, const char *path) {
        const char *h = e->host, *scheme;
        _cleanup_free_ char *n = NULL;
        size_t n_labels = 1;
        int r;

        if ((scheme = strstr(h, "://"))) {
                ERRP(rep, e->host_place, path,
                     "network policy '%s': endpoint host '%s' must be a host name, not a URL (remove '%.*s://' and any path)",
                     rule->key, h, (int) (scheme - h), h);
                return;
        }
        if (strchr(h, '/')) {
                ERRP(rep, e->host_place, path,
                     "network policy '%s': endpoint host '%s' must not contain a path (write the host alone; HTTP paths go in 'path:')",
                     rule->key, h);
                return;
        }
        if (strpbrk(h, " \t")) {
                ERRP(rep, e->host_place, path, "network policy '%s': endpoint host '%s' must not contain spaces", rule->key, h);
                return;
        }
        if (host_is_ip_literal(h))
                return;
        if (strchr(h, ':')) {
                ERRP(rep, e->host_place, path,
                     "network policy '%s': endpoint host '%s' must not contain a port (write the port in 'port:')",
                     rule->key, h);
                return;
        }

        r = policy_host_normalize(h, &n);
        if (r == -ENOMEM) {
                rep->r = r;
                return;
        }
        if (r < 0) {
                ERRP(rep, e->host_place, path, "network policy '%s': endpoint host '%s' is not a valid host name (%s)",
                     rule->key, h, r == -EINVAL ? "invalid UTF-8" : "too long");
                return;
        }
        if (streq(n, "*") || streq(n, "**")) {
                ERRP(rep, e->host_place, path,
                     "network policy '%s': host wildcard '%s' would allow every host; name the hosts or use subdomain wildcards like '*.example.com'",
                     rule->key, h);
                return;
        }
        if (isempty(n) || strlen(n) > POLICY_HOST_LENGTH_MAX) {
                ERRP(rep, e->host_place, path, "network policy '%s': endpoint host '%s' is not a valid host name (%s)",
                     rule->key, h, isempty(n) ? "empty" : "longer than 253 characters");
                return;
        }
        for (const char *c = n; *c; c++) {
                if (*c == '.')
                        n_labels++;
                else if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '*')) {
                        ERRP(rep, e->host_place, path,
                             "network policy '%s': endpoint host '%s' contains the invalid character '%c' (host names use letters, digits, '-', '.', and '*' for wildcards)",
                             rule->key, h, *c);
                        return;
                }
        }

        /* Labels: none empty, none longer than 63; wildcard shapes as upstream (SPEC.md §1.10). */
        {
                size_t i = 0;
                bool wild = strchr(n, '*');

                for (const char *lab = n;; i++) {
                        const char *end = strchr(lab, '.');
                        size_t len = end ? (size_t) (end - lab) : strlen(lab);
                        bool has_star = memchr(lab, '*', len), has_dstar = false;

                        for (size_t k = 0; k + 1 < len; k++)
                                if (lab[k] == '*' && lab[k + 1] == '*')
                                        has_dstar = true;
                        if (len == 0 || len > 63) {
                                ERRP(rep, e->host_place, path,
                                     "network policy '%s': endpoint host '%s' is not a valid host name (%s label)", rule->key, h,
                                     len == 0 ? "empty" : "over-long");
                                return;
                        }
                        if (wild && n_labels <= 2 && i == 0 && has_star) {
                                ERRP(rep, e->host_place, path,
                                     "network policy '%s': TLD wildcard '%s' is not allowed; use subdomain wildcards like '*.example.com' instead",
                                     rule->key, h);
                                return;
                        }
                        if ((has_dstar && (i > 0 || len != 2)) || (has_star && i > 0 && (len != 1 || i == n_labels - 1))) {
                                ERRP(rep, e->host_place, path,
                                     "network policy '%s': invalid host wildcard '%s'; middle DNS label wildcards must be the entire label '*' and recursive '**' is only allowed as the entire first label",
                                     rule->key, h);
                                return;
                        }
                        if (!end)
                                break;
                        lab = end + 1;
                }
        }

        free(e->host);
        e->host = TAKE_PTR(n);
}

/* ---- allowed_ips ------------------------------------------------------------------------------ */

static void validate_allowed_ips(DiagReporter *rep, const PolicyRule *rule, PolicyEndpoint *e, const char *path) {
        static const struct {
                const char *cidr, *what;
        } blocked[] = {
                { "127.0.0.0/8", "loopback" },  { "169.254.0.0/16", "link-local" }, { "0.0.0.0/32", "unspecified" },
                { "::1/128", "loopback" },      { "fe80::/10", "link-local" },     { "::/128", "unspecified" },
        };

        _cleanup_free_ char *ap = diag_path_key(rep, path, "allowed_ips");

        if (!ap)
                return;
        for (size_t k = 0; k < e->n_allowed_ips; k++) {
                _cleanup_free_ char *ip = diag_path_index(rep, ap, e->allowed_ips[k].index);
                const char *const *s = (const char *const *) &e->allowed_ips[k].path;
                PolicyPlace at = e->allowed_ips[k].place;
                Cidr c;

                if (!ip)
                        return;
                if (cidr_parse(*s, &c) < 0) {
                        ERRP(rep, at, ip,
                             "network policy '%s': allowed_ips entry '%s' is not an IP address or CIDR (e.g. 10.0.0.0/8)",
                             rule->key, *s);
                        continue;
                }
                for (size_t i = 0; i < ELEMENTSOF(blocked); i++) {
                        Cidr b;
                        if (cidr_parse(blocked[i].cidr, &b) < 0)
                                continue;
                        if (cidr_overlaps(&c, &b)) {
                                ERRP(rep, at, ip,
                                     "network policy '%s': allowed_ips entry '%s' overlaps the %s range %s, which is always blocked",
                                     rule->key, *s, blocked[i].what, blocked[i].cidr);
                                break;
                        }
                }
                if ((c.family == AF_INET && c.prefix < 16) || (c.family == AF_INET6 && c.prefix < 48))
                        WARNP(rep, at, ip, "allowed_ips entry '%s' is very broad (a /%u network)", *s, c.prefix);
        }
}

/* ---- L7 --------------------------------------------------------------------------------------- */

static void l7_error(DiagReporter *rep, const PolicyRule *rule, PolicyPlace at, size_t idx, const char *path,
                     const char *reason) {
        ERRP(rep, at, path, "network policy '%s': endpoint %zu has invalid L7 configuration: %s", rule->key, idx,
             reason);
}

static bool l7_path_is_valid(const char *p) {
        return p[0] == '/' || streq(p, "**");
}

static bool method_is_valid(const char *m) {
        if (streq(m, "*"))
                return true;
        if (isempty(m) || strlen(m) > 32)
                return false;
        for (const char *c = m; *c; c++)
                if (!((*c >= 'A' && *c <= 'Z') || *c == '_' || *c == '-'))
                        return false;
        return true;
}

static void validate_l7_rules(DiagReporter *rep, const PolicyRule *rule, PolicyEndpoint *e, size_t idx,
                              PolicyL7Rule *rules, size_t n, const char *path, bool deny) {
        for (size_t i = 0; i < n && rep->r >= 0; i++) {
                PolicyL7Rule *x = &rules[i];
                _cleanup_free_ char *ip = diag_path_index(rep, path, x->index);

                if (!ip)
                        return;
                if (!x->method) {
                        ERRP(rep, x->place, ip, "network policy '%s': endpoint %zu: %s[%zu] needs 'method' (an HTTP method such as GET, or \"*\" for any)",
                             rule->key, idx, deny ? "deny_rules" : "rules", x->index);
                        continue;
                }
                for (char *c = x->method; *c; c++)
                        if (*c >= 'a' && *c <= 'z')
                                *c = (char) (*c - 'a' + 'A');
                if (!method_is_valid(x->method))
                        ERRP(rep, x->place, ip, "network policy '%s': endpoint %zu: invalid method '%s' (an HTTP method such as GET, or \"*\")",
                             rule->key, idx, x->method);
                if (streq(x->method, "WEBSOCKET_TEXT") && e->protocol != POLICY_PROTOCOL_WEBSOCKET)
                        ERRP(rep, x->place, ip, "network policy '%s': endpoint %zu: method WEBSOCKET_TEXT is only valid with protocol websocket",
                             rule->key, idx);
                if (!x->path) {
                        x->path = strdup("**");
                        if (!x->path) {
                                rep->r = -ENOMEM;
                                return;
                        }
                } else if (!l7_path_is_valid(x->path))
                        l7_error(rep, rule, x->place, idx, ip, "path must start with '/' or be '**'");
        }
}

static int l7_rule_add(PolicyL7Rule **rules, size_t *n, const char *method) {
        PolicyL7Rule *r = reallocarray(*rules, *n + 1, sizeof(PolicyL7Rule));

        if (!r)
                return -ENOMEM;
        *rules = r;
        r[*n] = (PolicyL7Rule) { .method = strdup(method), .path = strdup("**") };
        if (!r[*n].method || !r[*n].path) {
                free(r[*n].method);
                free(r[*n].path);
                return -ENOMEM;
        }
        (*n)++;
        return 0;
}

/* Access presets -> allow rules, as upstream's access_preset_rules() (SPEC.md §1.6). */
static int expand_access(PolicyEndpoint *e) {
        static const char *const rest_ro[] = { "GET", "HEAD", "OPTIONS", NULL },
                                 *const rest_rw[] = { "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", NULL },
                                 *const ws_ro[] = { "GET", NULL }, *const ws_rw[] = { "GET", "WEBSOCKET_TEXT", NULL },
                                 *const full[] = { "*", NULL };
        const char *const *m;
        bool ws = e->protocol == POLICY_PROTOCOL_WEBSOCKET;
        int r;

        switch (e->access) {
        case POLICY_ACCESS_READ_ONLY:
                m = ws ? ws_ro : rest_ro;
                break;
        case POLICY_ACCESS_READ_WRITE:
                m = ws ? ws_rw : rest_rw;
                break;
        case POLICY_ACCESS_FULL:
                m = full;
                break;
        default:
                return 0;
        }
        for (; *m; m++) {
                r = l7_rule_add(&e->rules, &e->n_rules, *m);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void validate_l7(DiagReporter *rep, const PolicyRule *rule, PolicyEndpoint *e, size_t idx, const char *path) {
        bool l7 = e->protocol == POLICY_PROTOCOL_REST || e->protocol == POLICY_PROTOCOL_WEBSOCKET;
        bool has_access = e->access > POLICY_ACCESS_NONE;
        _cleanup_free_ char *rp = diag_path_key(rep, path, "rules"), *dp = diag_path_key(rep, path, "deny_rules");

        if (!rp || !dp || e->l7_invalid)
                return;
        if (e->path && !l7_path_is_valid(e->path))
                l7_error(rep, rule, e->place, idx, path, "path must start with '/' or be '**'");

        if (!l7) {
                if (e->deny_rules_set)
                        l7_error(rep, rule, e->place, idx, path, "deny_rules require protocol (L7 inspection must be enabled)");
                else if (e->rules_set || has_access)
                        WARNP(rep, e->place, path,
                              "network policy '%s': endpoint %zu has %s but no protocol, so it has no L7 effect: the connection is passed through whole (add 'protocol: rest' to inspect HTTP requests)",
                              rule->key, idx, has_access ? "'access'" : "'rules'");
                return;
        }

        if (e->rules_set && has_access) {
                l7_error(rep, rule, e->place, idx, path, "rules and access are mutually exclusive");
                return;
        }
        if (e->deny_rules_set && !e->rules_set && !has_access) {
                l7_error(rep, rule, e->place, idx, path, "deny_rules require rules or access to define the base allow set");
                return;
        }
        if (!e->rules_set && !has_access) {
                l7_error(rep, rule, e->place, idx, path, "protocol requires rules or access to define allowed traffic");
                return;
        }
        if (e->rules_set && e->n_rules == 0) {
                l7_error(rep, rule, e->place, idx, path,
                         "rules would deny all traffic (no allow clause found). Use `access: full` or add allow clauses to rules.");
                return;
        }
        if (e->deny_rules_set && e->n_deny_rules == 0) {
                ERRP(rep, e->place, dp, "network policy '%s': endpoint %zu: deny_rules must not be empty (remove the key or add deny rules)",
                     rule->key, idx);
                return;
        }

        validate_l7_rules(rep, rule, e, idx, e->rules, e->n_rules, rp, false);
        validate_l7_rules(rep, rule, e, idx, e->deny_rules, e->n_deny_rules, dp, true);
        if (rep->r < 0)
                return;
        if (expand_access(e) < 0) {
                rep->r = -ENOMEM;
                return;
        }

        if (e->enforcement != POLICY_ENFORCEMENT_ENFORCE)
                WARNP(rep, e->place, path,
                      "network policy '%s': endpoint %zu: L7 rules are only audited: requests they do not allow are logged but still forwarded (add 'enforcement: enforce' to block them)",
                      rule->key, idx);
        if (e->tls == POLICY_TLS_SKIP)
                WARNP(rep, e->place, path,
                      "network policy '%s': endpoint %zu: 'tls: skip' turns TLS inspection off, so L7 rules cannot apply to HTTPS traffic on this endpoint",
                      rule->key, idx);
}

static int compare_u16(const void *a, const void *b) {
        return (int) *(const uint16_t *) a - (int) *(const uint16_t *) b;
}

static size_t sort_unique_ports(uint16_t *p, size_t n) {
        size_t k = 0;

        if (n == 0)
                return 0;
        qsort(p, n, sizeof(uint16_t), compare_u16);
        for (size_t i = 1; i < n; i++)
                if (p[i] != p[k])
                        p[++k] = p[i];
        return k + 1;
}

static void validate_endpoint(DiagReporter *rep, const PolicyRule *rule, PolicyEndpoint *e, size_t idx,
                              const char *path) {
        _cleanup_free_ char *hp = diag_path_key(rep, path, "host");

        if (!hp || e->unusable)
                return;
        if (e->host_invalid)
                ;
        else if (isempty(e->host)) {
                if (e->n_allowed_ips == 0) {
                        ERRP(rep, e->host_place.line ? e->host_place : e->place, hp,
                             "network policy '%s': endpoint host must not be empty unless allowed_ips constrains a non-TCP proxy endpoint",
                             rule->key);
                        return;
                }
        } else
                validate_host(rep, rule, e, hp);

        if (!e->host && !(e->host = strdup(""))) {
                rep->r = -ENOMEM;
                return;
        }
        if (e->n_ports == 0 && !e->ports_invalid)
                ERRP(rep, e->ports_place.line ? e->ports_place : e->place, path,
                     "network policy '%s': endpoint '%s' must declare at least one port", rule->key, e->host);
        e->n_ports = sort_unique_ports(e->ports, e->n_ports);

        validate_allowed_ips(rep, rule, e, path);
        validate_l7(rep, rule, e, idx, path);
}

static void validate_rules(DiagReporter *rep, Policy *p) {
        for (size_t i = 0; i < p->n_rules && rep->r >= 0; i++) {
                PolicyRule *rule = &p->rules[i];
                _cleanup_free_ char *rp = diag_path_key(rep, "network_policies", rule->key), *ep = NULL;

                if (!rp)
                        return;
                if (rule->unusable)
                        continue;
                if (startswith(rule->key, "_provider_"))
                        ERRP(rep, rule->place, rp,
                             "network_policies key '%s' uses reserved '_provider_' prefix for provider composition; choose another key",
                             rule->key);
                if (string_has_cc(rule->key))
                        ERRP(rep, rule->place, rp, "network policy key contains control characters");
                if (!rule->name && !(rule->name = strdup(rule->key))) {
                        rep->r = -ENOMEM;
                        return;
                }
                for (size_t j = 0; j < i; j++)
                        if (p->rules[j].name && streq(p->rules[j].name, rule->name)) {
                                ERRP(rep, rule->name_place.line ? rule->name_place : rule->place, rp,
                                     "network policy '%s': name '%s' is already used by network policy '%s' (line %u); names identify rules in logs and must be unique",
                                     rule->key, rule->name, p->rules[j].key, p->rules[j].place.line);
                                break;
                        }

                ep = diag_path_key(rep, rp, "endpoints");
                if (!ep)
                        return;
                if (rule->n_endpoints == 0 && !rule->endpoints_invalid)
                        WARNP(rep, rule->place, rp, "network policy '%s' has no endpoints, so it allows nothing", rule->key);
                for (size_t k = 0; k < rule->n_endpoints && rep->r >= 0; k++) {
                        _cleanup_free_ char *ip = diag_path_index(rep, ep, k);
                        if (!ip)
                                return;
                        validate_endpoint(rep, rule, &rule->endpoints[k], k, ip);
                }

                if (rule->n_binaries == 0 && !rule->binaries_invalid)
                        WARNP(rep, rule->place, rp,
                              "network policy '%s' has no binaries, so it denies every connection (list the programs allowed to connect, e.g. binaries: [{ path: /usr/bin/curl }])",
                              rule->key);
                for (size_t k = 0; k < rule->n_binaries; k++) {
                        PolicyBinary *b = &rule->binaries[k];
                        _cleanup_free_ char *bp = NULL;

                        if (asprintf_safe(&bp, "%s.binaries[%zu].path", rp, b->index) < 0) {
                                rep->r = -ENOMEM;
                                return;
                        }
                        if (b->path[0] != '/')
                                ERRP(rep, b->place, bp,
                                     "network policy '%s': binary path must be absolute (start with '/'), got '%s' (e.g. /usr/bin/curl or \"/usr/lib/node_modules/**\")",
                                     rule->key, b->path);
                        else if (strlen(b->path) > POLICY_PATH_LENGTH_MAX)
                                ERRP(rep, b->place, bp, "path exceeds maximum length (%zu > %u): %.64s...", strlen(b->path),
                                     POLICY_PATH_LENGTH_MAX, b->path);
                        else if (path_has_dotdot(b->path))
                                ERRP(rep, b->place, bp, "path contains '..' traversal component: %s", b->path);
                }
        }
}

/* ---- extensions ------------------------------------------------------------------------------- */

static bool placed_contains(const PolicyPath *l, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (streq(l[i].path, s))
                        return true;
        return false;
}

static void validate_syscall_list(DiagReporter *rep, const PolicyPath *l, size_t n, const char *path, bool allow) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *ip = diag_path_index(rep, path, l[i].index);
                const char *const *s = (const char *const *) &l[i].path;

                if (!ip)
                        return;
                if (seccomp_syscall_resolve_name(*s) == __NR_SCMP_ERROR)
                        ERRP(rep, l[i].place, ip, "unknown system call '%s'", *s);
                else if (allow && policy_syscall_is_mandatory(*s))
                        ERRP(rep, l[i].place, ip,
                             "system call '%s' is always denied in a sandbox; a policy can only allow: memfd_create, pidfd_open, pidfd_send_signal, io_uring_setup, io_uring_enter, io_uring_register, seccomp",
                             *s);
                else if (allow && !policy_syscall_is_allowable(*s))
                        ERRP(rep, l[i].place, ip,
                             "system call '%s' is not in the default deny list, so it cannot be allowed here (only these can: memfd_create, pidfd_open, pidfd_send_signal, io_uring_setup, io_uring_enter, io_uring_register, seccomp)",
                             *s);
                else if (!allow && (policy_syscall_is_mandatory(*s) || policy_syscall_is_allowable(*s)))
                        WARNP(rep, l[i].place, ip, "system call '%s' is already denied by default", *s);
        }
}

static void validate_extensions(DiagReporter *rep, Policy *p) {
        validate_syscall_list(rep, p->syscalls_allow, p->n_syscalls_allow, "x-openshell.syscalls.allow", true);
        validate_syscall_list(rep, p->syscalls_deny, p->n_syscalls_deny, "x-openshell.syscalls.deny", false);
        for (size_t i = 0; i < p->n_syscalls_allow; i++)
                if (placed_contains(p->syscalls_deny, p->n_syscalls_deny, p->syscalls_allow[i].path))
                        ERRP(rep, p->syscalls_allow[i].place, "x-openshell.syscalls",
                             "system call '%s' is both allowed and denied", p->syscalls_allow[i].path);

        validate_path_list(rep, p->inaccessible, p->n_inaccessible, "x-openshell.filesystem.inaccessible", false);
        for (size_t i = 0; i < p->n_inaccessible; i++)
                if (streq(p->inaccessible[i].path, "/")) {
                        _cleanup_free_ char *ip = diag_path_index(rep, "x-openshell.filesystem.inaccessible", p->inaccessible[i].index);
                        if (ip)
                                ERRP(rep, p->inaccessible[i].place, ip, "'/' cannot be made inaccessible (nothing would run)");
                }

        if (p->resources.memory_high && p->resources.memory_max && p->resources.memory_high != UINT64_MAX &&
            p->resources.memory_high > p->resources.memory_max)
                ERRP(rep, p->resources_place, "x-openshell.resources.memory_high",
                     "memory_high (%" PRIu64 " bytes) must not exceed memory_max (%" PRIu64 " bytes)",
                     p->resources.memory_high, p->resources.memory_max);

        p->n_tcp_connect_ports = sort_unique_ports(p->tcp_connect_ports, p->n_tcp_connect_ports);
        p->n_tcp_bind_ports = sort_unique_ports(p->tcp_bind_ports, p->n_tcp_bind_ports);
}

int policy_validate(Policy *p, DiagList *diags) {
        DiagReporter rep = { .file = p->file, .diags = diags };
        size_t errors_before = diags->n_errors;

        validate_filesystem(&rep, p);
        validate_process(&rep, p);
        validate_rules(&rep, p);
        validate_extensions(&rep, p);
        if (rep.r >= 0 && p->landlock_compatibility == POLICY_LANDLOCK_BEST_EFFORT)
                diag_report(&rep, DIAG_WARNING, p->landlock_place.line, p->landlock_place.column, "landlock.compatibility",
                              "Landlock is best_effort%s: on a kernel without Landlock the agent runs without this filesystem layer (systemd's ProtectSystem= and friends still apply); set 'compatibility: hard_requirement' to refuse to start instead",
                              p->landlock_set ? "" : " (the default)");

        if (rep.r < 0)
                return rep.r;
        return diags->n_errors > errors_before ? -EBADMSG : 0;
}
