/* SPDX-License-Identifier: Apache-2.0 */
/* YAML tree -> Policy: structure, key names and value types. The rules about values (paths, hosts,
 * ports, L7 consistency, ...) are in policy-validate.c. */

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "parse-util.h"
#include "policy-internal.h"
#include "string-util.h"

#define ERR(rep, node, path, ...) policy_error_at(rep, place_of(node), path, __VA_ARGS__)
#define WARN(rep, node, path, ...) policy_warning_at(rep, place_of(node), path, __VA_ARGS__)

#define NOT_SUPPORTED "not supported yet by openshell-systemd"

/* A key of the schema. not_yet: upstream has it, this project does not implement it; it is refused by
 * name whatever its value (bool_not_yet: refused only when true, since false is the default and means
 * the feature is off). */
typedef struct KeyDef {
        const char *key;
        const char *not_yet; /* what is not supported, for the message; NULL if supported */
        bool bool_not_yet;
} KeyDef;

/* Checks every key of mapping m against defs: unknown keys are errors with a suggestion. Returns false
 * if m is not a mapping (after reporting it). */
static bool check_mapping(DiagReporter *rep, const YamlNode *m, const char *path, const KeyDef *defs,
                          size_t n_defs, const char *what) {
        if (m->type != YAML_NODE_MAPPING) {
                ERR(rep, m, path, "expected a mapping (%s), got %s", what, yaml_node_describe(m));
                return false;
        }

        for (size_t i = 0; i + 1 < m->n_items && rep->r >= 0; i += 2) {
                const YamlNode *k = m->items[i], *v = m->items[i + 1];
                _cleanup_free_ char *kp = diag_path_key(rep, path, k->value);
                const KeyDef *d = NULL;

                if (!kp)
                        return false;
                for (size_t j = 0; j < n_defs; j++)
                        if (streq(defs[j].key, k->value))
                                d = &defs[j];
                if (d) {
                        bool b;
                        if (!d->not_yet)
                                continue;
                        if (d->bool_not_yet) {
                                if (yaml_node_get_bool(v, &b) < 0)
                                        ERR(rep, v, kp, "expected a boolean (true or false), got %s",
                                            yaml_node_describe(v));
                                else if (b)
                                        ERR(rep, k, kp, "%s is " NOT_SUPPORTED " (remove the key or set it to false)",
                                            d->not_yet);
                                continue;
                        }
                        ERR(rep, k, kp, "%s is " NOT_SUPPORTED " (remove the key)", d->not_yet);
                        continue;
                }

                /* unknown key: suggest the closest known one */
                {
                        const char *keydef_names[64];
                        size_t n = MIN(n_defs, ELEMENTSOF(keydef_names) - 1);
                        const char *hint;
                        char list[1024] = "";

                        for (size_t j = 0; j < n; j++)
                                keydef_names[j] = defs[j].key;
                        keydef_names[n] = NULL;
                        hint = string_suggest(k->value, keydef_names);
                        if (hint)
                                ERR(rep, k, kp, "unknown key '%s' (did you mean '%s'?)", k->value, hint);
                        else {
                                for (size_t j = 0; j < n; j++)
                                        if (!defs[j].not_yet) {
                                                if (list[0])
                                                        strncat(list, ", ", sizeof(list) - strlen(list) - 1);
                                                strncat(list, defs[j].key, sizeof(list) - strlen(list) - 1);
                                        }
                                ERR(rep, k, kp, "unknown key '%s' (expected one of: %s)", k->value, list);
                        }
                }
        }
        return true;
}

static const char *get_string(DiagReporter *rep, const YamlNode *n, const char *path, const char *what) {
        const char *s = yaml_node_get_string(n);

        if (n->type != YAML_NODE_SCALAR || !s) {
                ERR(rep, n, path, "expected %s, got %s", what, yaml_node_describe(n));
                return NULL;
        }
        if (strlen(s) > POLICY_STRING_MAX) {
                ERR(rep, n, path, "value is too long (%zu characters, at most %u)", strlen(s), POLICY_STRING_MAX);
                return NULL;
        }
        if (string_has_cc(s)) {
                ERR(rep, n, path, "value contains control characters");
                return NULL;
        }
        return s;
}

static int dup_string(DiagReporter *rep, const YamlNode *n, const char *path, const char *what, char **ret) {
        const char *s = get_string(rep, n, path, what);

        if (!s)
                return -EINVAL;
        *ret = strdup(s);
        if (!*ret) {
                rep->r = -ENOMEM;
                return -ENOMEM;
        }
        return 0;
}

static int get_bool(DiagReporter *rep, const YamlNode *n, const char *path, bool *ret) {
        if (yaml_node_get_bool(n, ret) < 0) {
                ERR(rep, n, path, "expected a boolean (true or false), got %s", yaml_node_describe(n));
                return -EINVAL;
        }
        return 0;
}

/* A list; null counts as an empty list. Returns false (after reporting) if n is something else. */
static bool is_list(DiagReporter *rep, const YamlNode *n, const char *path, const char *what) {
        if (yaml_node_is_null(n) || n->type == YAML_NODE_SEQUENCE)
                return true;
        ERR(rep, n, path, "expected a list (%s), got %s", what, yaml_node_describe(n));
        return false;
}

static size_t list_length(const YamlNode *n) {
        return n && n->type == YAML_NODE_SEQUENCE ? n->n_items : 0;
}

static void parse_paths(DiagReporter *rep, const YamlNode *n, const char *path, PolicyPath **ret, size_t *ret_n) {
        size_t len = list_length(n);

        if (!is_list(rep, n, path, "of strings"))
                return;
        *ret = calloc(len ?: 1, sizeof(PolicyPath));
        if (!*ret) {
                rep->r = -ENOMEM;
                return;
        }
        for (size_t i = 0; i < list_length(n) && rep->r >= 0; i++) {
                _cleanup_free_ char *ip = diag_path_index(rep, path, i);
                const char *s;

                if (!ip)
                        return;
                s = get_string(rep, n->items[i], ip, "a string");
                if (!s || *ret_n >= len)
                        continue;
                (*ret)[*ret_n].place = place_of(n->items[i]);
                (*ret)[*ret_n].index = i;
                (*ret)[*ret_n].path = strdup(s);
                if (!(*ret)[*ret_n].path) {
                        rep->r = -ENOMEM;
                        return;
                }
                (*ret_n)++;
        }
}

static int parse_strv(DiagReporter *rep, const YamlNode *n, const char *path, const char *what, char ***ret) {
        if (!is_list(rep, n, path, what))
                return -EINVAL;
        for (size_t i = 0; i < list_length(n) && rep->r >= 0; i++) {
                _cleanup_free_ char *ip = diag_path_index(rep, path, i);
                const char *s;

                if (!ip)
                        return -ENOMEM;
                s = get_string(rep, n->items[i], ip, "a string");
                if (s && strv_extend(ret, s) < 0)
                        return (rep->r = -ENOMEM);
        }
        return 0;
}

/* -EINVAL (reported here) for a non-number, -ERANGE (reported by the caller, which knows the context
 * upstream's message names) for a number outside 1..65535. */
static int parse_port_value(DiagReporter *rep, const YamlNode *n, const char *path, uint16_t *ret) {
        int64_t v;
        int r = yaml_node_get_integer(n, INT64_MIN, INT64_MAX, &v);

        if (r == -EINVAL) {
                ERR(rep, n, path, "expected a port number (1..=65535), got %s", yaml_node_describe(n));
                return -EINVAL;
        }
        if (r < 0 || v < 1 || v > 65535)
                return -ERANGE;
        *ret = (uint16_t) v;
        return 0;
}

static void endpoint_port_error(DiagReporter *rep, const YamlNode *n, const char *path, const char *rule_key,
                                const PolicyEndpoint *e) {
        ERR(rep, n, path, "network policy '%s': endpoint '%s' has invalid port %s; expected 1..=65535", rule_key,
            e->host ?: "", n->value);
}

/* ---- network_policies ---------------------------------------------------------------------------- */

static const KeyDef l7_rule_keys[] = {
        { "method" },
        { "path" },
        { "query" },
        { "command", "the SQL rule field 'command'" },
        { "operation_type", "the GraphQL rule field 'operation_type'" },
        { "operation_name", "the GraphQL rule field 'operation_name'" },
        { "fields", "the GraphQL rule field 'fields'" },
        { "tool", "the MCP rule field 'tool'" },
        { "params", "the MCP rule field 'params'" },
};

static void parse_l7_query(DiagReporter *rep, const YamlNode *n, const char *path, PolicyL7Rule *rule) {
        if (yaml_node_is_null(n))
                return;
        if (n->type != YAML_NODE_MAPPING) {
                ERR(rep, n, path, "expected a mapping of parameter: glob, got %s", yaml_node_describe(n));
                return;
        }
        rule->query = calloc(n->n_items / 2 + 1, sizeof(PolicyL7Query));
        if (!rule->query) {
                rep->r = -ENOMEM;
                return;
        }
        for (size_t i = 0; i + 1 < n->n_items && rep->r >= 0; i += 2) {
                const YamlNode *k = n->items[i], *v = n->items[i + 1];
                _cleanup_free_ char *kp = diag_path_key(rep, path, k->value);
                PolicyL7Query *q = &rule->query[rule->n_query];

                if (!kp)
                        return;
                if (v->type == YAML_NODE_MAPPING) {
                        static const KeyDef any_keys[] = { { "any" } };
                        const YamlNode *any = yaml_mapping_get(v, "any");
                        _cleanup_free_ char *ap = diag_path_key(rep, kp, "any");

                        if (!ap || !check_mapping(rep, v, kp, any_keys, ELEMENTSOF(any_keys), "{any: [globs]}"))
                                continue;
                        if (!any) {
                                ERR(rep, v, kp, "missing required key 'any' (a list of globs)");
                                continue;
                        }
                        if (parse_strv(rep, any, ap, "of globs", &q->globs) < 0)
                                continue;
                        if (!q->globs) {
                                ERR(rep, any, ap, "must not be empty (list at least one glob)");
                                continue;
                        }
                } else {
                        const char *s = get_string(rep, v, kp, "a glob string or {any: [globs]}");
                        if (!s || strv_extend(&q->globs, s) < 0) {
                                if (s)
                                        rep->r = -ENOMEM;
                                continue;
                        }
                }
                q->param = strdup(k->value);
                if (!q->param) {
                        rep->r = -ENOMEM;
                        return;
                }
                rule->n_query++;
        }
}

static void parse_l7_fields(DiagReporter *rep, const YamlNode *n, const char *path, PolicyL7Rule *rule) {
        const YamlNode *v;

        rule->place = place_of(n);
        if (!check_mapping(rep, n, path, l7_rule_keys, ELEMENTSOF(l7_rule_keys), "an L7 rule such as {method: GET, path: \"/**\"}"))
                return;
        if ((v = yaml_mapping_get(n, "method"))) {
                _cleanup_free_ char *kp = diag_path_key(rep, path, "method");
                if (kp)
                        (void) dup_string(rep, v, kp, "an HTTP method such as GET or \"*\"", &rule->method);
        }
        if ((v = yaml_mapping_get(n, "path"))) {
                _cleanup_free_ char *kp = diag_path_key(rep, path, "path");
                if (kp)
                        (void) dup_string(rep, v, kp, "a path glob such as \"/**\"", &rule->path);
        }
        if ((v = yaml_mapping_get(n, "query"))) {
                _cleanup_free_ char *kp = diag_path_key(rep, path, "query");
                if (kp)
                        parse_l7_query(rep, v, kp, rule);
        }
}

static void parse_l7_rules(DiagReporter *rep, const YamlNode *n, const char *path, bool deny, PolicyL7Rule **ret,
                           size_t *ret_n) {
        static const KeyDef allow_keys[] = { { "allow" } };

        if (!is_list(rep, n, path, deny ? "of L7 deny rules" : "of L7 rules such as - allow: {method: GET, path: \"/**\"}"))
                return;
        if (list_length(n) > POLICY_L7_RULES_MAX) {
                ERR(rep, n, path, "too many rules (%zu > %u)", list_length(n), POLICY_L7_RULES_MAX);
                return;
        }
        *ret = calloc(list_length(n) + 1, sizeof(PolicyL7Rule));
        if (!*ret) {
                rep->r = -ENOMEM;
                return;
        }
        for (size_t i = 0; i < list_length(n) && rep->r >= 0; i++) {
                const YamlNode *item = n->items[i], *allow;
                _cleanup_free_ char *ip = diag_path_index(rep, path, i), *ap = NULL;

                if (!ip)
                        return;
                if (deny) {
                        (*ret)[*ret_n].index = i;
                        parse_l7_fields(rep, item, ip, &(*ret)[(*ret_n)++]);
                        continue;
                }
                if (!check_mapping(rep, item, ip, allow_keys, ELEMENTSOF(allow_keys), "- allow: {method: ..., path: ...}"))
                        continue;
                allow = yaml_mapping_get(item, "allow");
                /* An entry without 'allow' allows nothing: the validator reports the rule set if nothing
                 * allows anything ("rules would deny all traffic"). */
                if (!allow || yaml_node_is_null(allow))
                        continue;
                ap = diag_path_key(rep, ip, "allow");
                if (!ap)
                        return;
                (*ret)[*ret_n].index = i;
                parse_l7_fields(rep, allow, ap, &(*ret)[(*ret_n)++]);
        }
}

static const KeyDef endpoint_keys[] = {
        { "host" },
        { "port" },
        { "ports" },
        { "path" },
        { "protocol" },
        { "tls" },
        { "enforcement" },
        { "access" },
        { "rules" },
        { "deny_rules" },
        { "allowed_ips" },
        { "allow_encoded_slash" },
        { "websocket_credential_rewrite", "credential rewriting in WebSocket frames", true },
        { "request_body_credential_rewrite", "credential rewriting in request bodies", true },
        { "allow_uninspected_credentials", "credential injection (and so its escape hatch)", true },
        { "credential_signing", "request signing (AWS SigV4)" },
        { "signing_service", "request signing (AWS SigV4)" },
        { "signing_region", "request signing (AWS SigV4)" },
        { "credential_binding", "credential binding to providers" },
        { "persisted_queries", "GraphQL inspection" },
        { "graphql_persisted_queries", "GraphQL inspection" },
        { "graphql_max_body_bytes", "GraphQL inspection" },
        { "json_rpc", "JSON-RPC inspection" },
        { "mcp", "MCP inspection" },
};

static void parse_endpoint(DiagReporter *rep, const YamlNode *n, const char *path, const char *rule_key,
                           PolicyEndpoint *e) {
        const YamlNode *port = NULL, *ports = NULL;

        e->place = place_of(n);
        if (!check_mapping(rep, n, path, endpoint_keys, ELEMENTSOF(endpoint_keys),
                           "an endpoint such as {host: api.example.com, port: 443}")) {
                e->unusable = true;
                return;
        }

        for (size_t i = 0; i + 1 < n->n_items && rep->r >= 0; i += 2) {
                const char *k = n->items[i]->value;
                const YamlNode *v = n->items[i + 1];
                _cleanup_free_ char *kp = diag_path_key(rep, path, k);
                const char *s;

                if (!kp)
                        return;
                if (streq(k, "host")) {
                        e->host_place = place_of(v);
                        if (dup_string(rep, v, kp, "a host name or pattern such as \"*.example.com\"", &e->host) < 0)
                                e->host_invalid = true;
                } else if (streq(k, "port"))
                        port = v;
                else if (streq(k, "ports"))
                        ports = v;
                else if (streq(k, "path"))
                        (void) dup_string(rep, v, kp, "an HTTP path glob such as \"/v1/**\"", &e->path);
                else if (streq(k, "protocol")) {
                        e->protocol_place = place_of(v);
                        s = get_string(rep, v, kp, "a protocol name (rest or websocket)");
                        if (!s) {
                                e->l7_invalid = true;
                                continue;
                        }
                        e->protocol = policy_protocol_from_string(s);
                        if (e->protocol < 0 || e->protocol == POLICY_PROTOCOL_TCP || e->protocol >= POLICY_PROTOCOL_GRAPHQL)
                                e->l7_invalid = true;
                        if (e->protocol < 0)
                                ERR(rep, v, kp, "unknown protocol '%s' (expected tcp, rest, websocket, graphql, sql, json-rpc, or mcp)", s);
                        else if (e->protocol == POLICY_PROTOCOL_TCP)
                                ERR(rep, v, kp, "protocol 'tcp' (transparent TCP capture through policy DNS) is " NOT_SUPPORTED " (remove 'protocol: tcp' to use the proxy, which covers TLS and HTTP clients)");
                        else if (e->protocol >= POLICY_PROTOCOL_GRAPHQL)
                                ERR(rep, v, kp, "protocol '%s' (L7 inspection) is " NOT_SUPPORTED " (supported: rest, websocket, or no protocol for L4 passthrough)", s);
                } else if (streq(k, "tls")) {
                        s = get_string(rep, v, kp, "a TLS mode (skip)");
                        if (!s)
                                continue;
                        e->tls = policy_tls_from_string(s);
                        if (e->tls < 0)
                                ERR(rep, v, kp, "unknown tls mode '%s' (expected skip; terminate and passthrough are deprecated)", s);
                        else if (e->tls == POLICY_TLS_TERMINATE || e->tls == POLICY_TLS_PASSTHROUGH)
                                WARN(rep, v, kp, "tls: %s is deprecated and has no effect (TLS is detected and terminated automatically; use 'tls: skip' to disable that)", s);
                } else if (streq(k, "enforcement")) {
                        s = get_string(rep, v, kp, "enforce or audit");
                        if (!s) {
                                e->l7_invalid = true;
                                continue;
                        }
                        e->enforcement = policy_enforcement_from_string(s);
                        e->enforcement_set = true;
                        /* Upstream treats anything but "enforce" as audit; a typo must not quietly
                         * turn enforcement off, so only the two real values are accepted. */
                        if (e->enforcement < 0) {
                                ERR(rep, v, kp, "unknown enforcement '%s' (expected enforce or audit)", s);
                                e->enforcement = POLICY_ENFORCEMENT_ENFORCE;
                                e->l7_invalid = true;
                        }
                } else if (streq(k, "access")) {
                        s = get_string(rep, v, kp, "an access preset (read-only, read-write or full)");
                        if (!s) {
                                e->l7_invalid = true;
                                continue;
                        }
                        e->access = policy_access_from_string(s);
                        if (e->access <= 0) {
                                const char *const presets[] = { "read-only", "read-write", "full", NULL };
                                const char *hint = string_suggest(s, presets);
                                e->access = POLICY_ACCESS_NONE;
                                e->l7_invalid = true;
                                if (hint)
                                        ERR(rep, v, kp, "unknown access preset '%s' (did you mean '%s'?)", s, hint);
                                else
                                        ERR(rep, v, kp, "unknown access preset '%s' (expected read-only, read-write, or full)", s);
                        }
                } else if (streq(k, "rules")) {
                        size_t before = rep->diags->n_errors;
                        e->rules_set = true;
                        parse_l7_rules(rep, v, kp, false, &e->rules, &e->n_rules);
                        e->l7_invalid = e->l7_invalid || rep->diags->n_errors > before;
                } else if (streq(k, "deny_rules")) {
                        size_t before = rep->diags->n_errors;
                        e->deny_rules_set = true;
                        parse_l7_rules(rep, v, kp, true, &e->deny_rules, &e->n_deny_rules);
                        e->l7_invalid = e->l7_invalid || rep->diags->n_errors > before;
                } else if (streq(k, "allowed_ips"))
                        parse_paths(rep, v, kp, &e->allowed_ips, &e->n_allowed_ips);
                else if (streq(k, "allow_encoded_slash"))
                        (void) get_bool(rep, v, kp, &e->allow_encoded_slash);
        }

        /* `ports` takes precedence over `port`, as upstream; `port: N` becomes `ports: [N]`. */
        if (ports) {
                _cleanup_free_ char *pp = diag_path_key(rep, path, "ports");

                if (!pp)
                        return;
                if (!is_list(rep, ports, pp, "of port numbers")) {
                        e->ports_invalid = true;
                        return;
                }
                e->ports_place = place_of(ports);
                if (list_length(ports) > POLICY_PORTS_MAX) {
                        ERR(rep, ports, pp, "too many ports (%zu > %u)", list_length(ports), POLICY_PORTS_MAX);
                        return;
                }
                e->ports = calloc(list_length(ports) + 1, sizeof(uint16_t));
                if (!e->ports) {
                        rep->r = -ENOMEM;
                        return;
                }
                for (size_t i = 0; i < list_length(ports); i++) {
                        _cleanup_free_ char *ip = diag_path_index(rep, pp, i);
                        if (!ip)
                                return;
                        int r = parse_port_value(rep, ports->items[i], ip, &e->ports[e->n_ports]);
                        if (r < 0)
                                e->ports_invalid = true;
                        if (r == -ERANGE)
                                endpoint_port_error(rep, ports->items[i], ip, rule_key, e);
                        else if (r >= 0)
                                e->n_ports++;
                }
                if (port)
                        WARN(rep, port, path, "both 'port' and 'ports' are given; 'port' is ignored (list every port in 'ports')");
        } else if (port) {
                _cleanup_free_ char *pp = diag_path_key(rep, path, "port");
                int r;

                if (!pp)
                        return;
                e->ports_place = place_of(port);
                e->ports = calloc(1, sizeof(uint16_t));
                if (!e->ports) {
                        rep->r = -ENOMEM;
                        return;
                }
                r = parse_port_value(rep, port, pp, &e->ports[0]);
                if (r < 0)
                        e->ports_invalid = true;
                if (r == -ERANGE)
                        endpoint_port_error(rep, port, pp, rule_key, e);
                else if (r >= 0)
                        e->n_ports = 1;
        }
}

static void parse_binaries(DiagReporter *rep, const YamlNode *n, const char *path, PolicyRule *rule) {
        static const KeyDef binary_keys[] = { { "path" }, { "harness" } };

        if (!is_list(rep, n, path, "of binaries such as - { path: /usr/bin/curl }")) {
                rule->binaries_invalid = true;
                return;
        }
        rule->binaries = calloc(list_length(n) + 1, sizeof(PolicyBinary));
        if (!rule->binaries) {
                rep->r = -ENOMEM;
                return;
        }
        for (size_t i = 0; i < list_length(n) && rep->r >= 0; i++) {
                const YamlNode *b = n->items[i], *p, *h;
                _cleanup_free_ char *ip = diag_path_index(rep, path, i), *pp = NULL;
                PolicyBinary *out = &rule->binaries[rule->n_binaries];

                if (!ip)
                        return;
                if (!check_mapping(rep, b, ip, binary_keys, ELEMENTSOF(binary_keys), "{ path: /usr/bin/curl }")) {
                        rule->binaries_invalid = true;
                        continue;
                }
                if ((h = yaml_mapping_get(b, "harness"))) {
                        _cleanup_free_ char *hp = diag_path_key(rep, ip, "harness");
                        bool dummy;
                        if (hp && get_bool(rep, h, hp, &dummy) >= 0)
                                WARN(rep, h, hp, "'harness' is deprecated and ignored (remove it)");
                }
                p = yaml_mapping_get(b, "path");
                if (!p) {
                        ERR(rep, b, ip, "missing required key 'path' (the program, e.g. /usr/bin/curl, or a glob such as \"/usr/lib/node_modules/**\")");
                        continue;
                }
                pp = diag_path_key(rep, ip, "path");
                if (!pp)
                        return;
                out->place = place_of(p);
                out->index = i;
                if (dup_string(rep, p, pp, "a program path", &out->path) >= 0)
                        rule->n_binaries++;
                else
                        rule->binaries_invalid = true;
        }
}

static void parse_rule(DiagReporter *rep, const YamlNode *k, const YamlNode *n, const char *path, PolicyRule *rule) {
        static const KeyDef rule_keys[] = { { "name" }, { "endpoints" }, { "binaries" } };
        const YamlNode *v;

        rule->place = place_of(k);
        rule->key = strdup(k->value);
        if (!rule->key) {
                rep->r = -ENOMEM;
                return;
        }
        if (!check_mapping(rep, n, path, rule_keys, ELEMENTSOF(rule_keys), "a rule with name, endpoints and binaries")) {
                rule->unusable = true;
                return;
        }

        if ((v = yaml_mapping_get(n, "name"))) {
                _cleanup_free_ char *kp = diag_path_key(rep, path, "name");
                rule->name_place = place_of(v);
                if (kp)
                        (void) dup_string(rep, v, kp, "a display name", &rule->name);
        }
        if ((v = yaml_mapping_get(n, "endpoints"))) {
                _cleanup_free_ char *kp = diag_path_key(rep, path, "endpoints");

                if (!kp)
                        return;
                if (!is_list(rep, v, kp, "of endpoints such as - { host: api.example.com, port: 443 }"))
                        rule->endpoints_invalid = true;
                else if (list_length(v) > POLICY_ENDPOINTS_MAX) {
                        ERR(rep, v, kp, "too many endpoints (%zu > %u)", list_length(v), POLICY_ENDPOINTS_MAX);
                        rule->endpoints_invalid = true;
                } else {
                        rule->endpoints = calloc(list_length(v) + 1, sizeof(PolicyEndpoint));
                        if (!rule->endpoints) {
                                rep->r = -ENOMEM;
                                return;
                        }
                        for (size_t i = 0; i < list_length(v) && rep->r >= 0; i++) {
                                _cleanup_free_ char *ip = diag_path_index(rep, kp, i);
                                if (!ip)
                                        return;
                                parse_endpoint(rep, v->items[i], ip, rule->key, &rule->endpoints[rule->n_endpoints++]);
                        }
                }
        }
        if ((v = yaml_mapping_get(n, "binaries"))) {
                _cleanup_free_ char *kp = diag_path_key(rep, path, "binaries");
                if (kp)
                        parse_binaries(rep, v, kp, rule);
        }
}

static void parse_network_policies(DiagReporter *rep, const YamlNode *n, Policy *p) {
        if (yaml_node_is_null(n))
                return;
        if (n->type != YAML_NODE_MAPPING) {
                ERR(rep, n, "network_policies", "expected a mapping of rule id: rule, got %s", yaml_node_describe(n));
                return;
        }
        if (n->n_items / 2 > POLICY_RULES_MAX) {
                ERR(rep, n, "network_policies", "too many network policies (%zu > %u)", n->n_items / 2, POLICY_RULES_MAX);
                return;
        }
        p->rules = calloc(n->n_items / 2 + 1, sizeof(PolicyRule));
        if (!p->rules) {
                rep->r = -ENOMEM;
                return;
        }
        for (size_t i = 0; i + 1 < n->n_items && rep->r >= 0; i += 2) {
                _cleanup_free_ char *kp = diag_path_key(rep, "network_policies", n->items[i]->value);
                if (!kp)
                        return;
                parse_rule(rep, n->items[i], n->items[i + 1], kp, &p->rules[p->n_rules++]);
        }
}

/* ---- static sections -------------------------------------------------------------------------- */

static void parse_filesystem(DiagReporter *rep, const YamlNode *n, Policy *p) {
        static const KeyDef keys[] = { { "include_workdir" }, { "read_only" }, { "read_write" } };
        const YamlNode *v;

        if (yaml_node_is_null(n))
                return;
        if (!check_mapping(rep, n, "filesystem_policy", keys, ELEMENTSOF(keys), "include_workdir, read_only, read_write"))
                return;
        p->has_filesystem_policy = true;
        if ((v = yaml_mapping_get(n, "include_workdir")))
                (void) get_bool(rep, v, "filesystem_policy.include_workdir", &p->include_workdir);
        if ((v = yaml_mapping_get(n, "read_only")))
                parse_paths(rep, v, "filesystem_policy.read_only", &p->read_only, &p->n_read_only);
        if ((v = yaml_mapping_get(n, "read_write")))
                parse_paths(rep, v, "filesystem_policy.read_write", &p->read_write, &p->n_read_write);
}

static void parse_landlock(DiagReporter *rep, const YamlNode *n, Policy *p) {
        static const KeyDef keys[] = { { "compatibility" } };
        const YamlNode *v;
        const char *s;

        if (yaml_node_is_null(n))
                return;
        if (!check_mapping(rep, n, "landlock", keys, ELEMENTSOF(keys), "compatibility"))
                return;
        v = yaml_mapping_get(n, "compatibility");
        if (!v)
                return;
        s = get_string(rep, v, "landlock.compatibility", "best_effort or hard_requirement");
        if (!s)
                return;
        p->landlock_compatibility = policy_landlock_compat_from_string(s);
        p->landlock_set = true;
        p->landlock_place = place_of(v);
        /* Upstream silently treats anything but "hard_requirement" as best_effort, so a typo in the one
         * value that makes Landlock mandatory would quietly make it optional. Refuse it instead. */
        if (p->landlock_compatibility < 0) {
                const char *const values[] = { "best_effort", "hard_requirement", NULL };
                const char *hint = string_suggest(s, values);
                p->landlock_compatibility = POLICY_LANDLOCK_HARD_REQUIREMENT;
                if (hint)
                        ERR(rep, v, "landlock.compatibility", "unknown compatibility '%s' (did you mean '%s'?)", s, hint);
                else
                        ERR(rep, v, "landlock.compatibility", "unknown compatibility '%s' (expected best_effort or hard_requirement)", s);
        }
}

static void parse_process(DiagReporter *rep, const YamlNode *n, Policy *p) {
        static const KeyDef keys[] = { { "run_as_user" }, { "run_as_group" } };
        const YamlNode *v;

        if (yaml_node_is_null(n))
                return;
        if (!check_mapping(rep, n, "process", keys, ELEMENTSOF(keys), "run_as_user, run_as_group"))
                return;
        if ((v = yaml_mapping_get(n, "run_as_user")) && !yaml_node_is_null(v))
                p->run_as_user_place = place_of(v), (void) dup_string(rep, v, "process.run_as_user", "'sandbox' or a numeric UID", &p->run_as_user);
        if ((v = yaml_mapping_get(n, "run_as_group")) && !yaml_node_is_null(v))
                p->run_as_group_place = place_of(v), (void) dup_string(rep, v, "process.run_as_group", "'sandbox' or a numeric GID", &p->run_as_group);
}

/* ---- x-openshell extensions ------------------------------------------------------------------ */

static void parse_uint_key(DiagReporter *rep, const YamlNode *v, const char *path, uint64_t min, uint64_t max,
                           bool infinity, uint64_t *ret) {
        int64_t i;
        int r;

        if (infinity && yaml_node_get_string(v) && streq(v->value, "infinity")) {
                *ret = UINT64_MAX;
                return;
        }
        r = yaml_node_get_integer(v, (int64_t) min, (int64_t) max, &i);
        if (r == -ERANGE)
                ERR(rep, v, path, "value %s is out of range (expected %" PRIu64 "..%" PRIu64 "%s)", v->value, min, max,
                    infinity ? " or infinity" : "");
        else if (r < 0)
                ERR(rep, v, path, "expected a number%s, got %s", infinity ? " or infinity" : "", yaml_node_describe(v));
        else
                *ret = (uint64_t) i;
}

static void parse_resources(DiagReporter *rep, const YamlNode *n, const char *path, Policy *p) {
        static const KeyDef keys[] = { { "memory_max" }, { "memory_high" }, { "cpu_quota" }, { "cpu_weight" },
                                       { "tasks_max" }, { "open_files" } };

        if (!check_mapping(rep, n, path, keys, ELEMENTSOF(keys), "memory_max, memory_high, cpu_quota, cpu_weight, tasks_max, open_files"))
                return;
        p->has_resources = true;
        p->resources_place = place_of(n);
        for (size_t i = 0; i + 1 < n->n_items && rep->r >= 0; i += 2) {
                const char *k = n->items[i]->value;
                const YamlNode *v = n->items[i + 1];
                _cleanup_free_ char *kp = diag_path_key(rep, path, k);
                const char *s = yaml_node_get_string(v);

                if (!kp)
                        return;
                if (streq(k, "memory_max") || streq(k, "memory_high")) {
                        uint64_t *out = streq(k, "memory_max") ? &p->resources.memory_max : &p->resources.memory_high;
                        int r = v->type == YAML_NODE_SCALAR && s ? parse_size(s, out) : -EINVAL;
                        if (r == -ERANGE)
                                ERR(rep, v, kp, "size '%s' is too large", s);
                        else if (r < 0)
                                ERR(rep, v, kp, "expected a size in bytes with an optional K, M, G or T suffix (e.g. 4G) or infinity, got %s%s%s",
                                    s ? "'" : "", s ?: yaml_node_describe(v), s ? "'" : "");
                        else if (*out == 0)
                                ERR(rep, v, kp, "size must be greater than 0");
                } else if (streq(k, "cpu_quota")) {
                        /* "150%" or 150: percent of one CPU, as CPUQuota= */
                        _cleanup_free_ char *num = NULL;
                        int64_t pc;
                        YamlNode tmp;

                        if (v->type != YAML_NODE_SCALAR || !s) {
                                ERR(rep, v, kp, "expected a percentage such as \"200%%\", got %s", yaml_node_describe(v));
                                continue;
                        }
                        num = strndup(s, endswith(s, "%") ? strlen(s) - 1 : strlen(s));
                        if (!num) {
                                rep->r = -ENOMEM;
                                return;
                        }
                        tmp = (YamlNode) { .type = YAML_NODE_SCALAR, .value = num, .plain = true };
                        if (yaml_node_get_integer(&tmp, 1, 100000, &pc) < 0)
                                ERR(rep, v, kp, "expected a percentage of one CPU in 1%%..100000%% such as \"200%%\", got '%s'", s);
                        else
                                p->resources.cpu_quota_percent = (uint64_t) pc;
                } else if (streq(k, "cpu_weight"))
                        parse_uint_key(rep, v, kp, 1, 10000, false, &p->resources.cpu_weight);
                else if (streq(k, "tasks_max"))
                        parse_uint_key(rep, v, kp, 1, 4194304, true, &p->resources.tasks_max);
                else if (streq(k, "open_files"))
                        parse_uint_key(rep, v, kp, 16, 1048576, false, &p->resources.open_files);
        }
}

static void parse_gpu(DiagReporter *rep, const YamlNode *n, const char *path, Policy *p) {
        static const KeyDef keys[] = { { "devices" } };
        _cleanup_free_ char *dp = NULL;
        const YamlNode *d;

        if (!check_mapping(rep, n, path, keys, ELEMENTSOF(keys), "devices"))
                return;
        d = yaml_mapping_get(n, "devices");
        if (!d)
                return;
        dp = diag_path_key(rep, path, "devices");
        if (!dp)
                return;
        if (d->type == YAML_NODE_SCALAR && yaml_node_get_string(d)) {
                if (streq(d->value, "all"))
                        p->gpu_all = true;
                else if (!streq(d->value, "none"))
                        ERR(rep, d, dp, "expected all, none, or a list of GPU indices such as [0, 1], got '%s'", d->value);
                return;
        }
        if (!is_list(rep, d, dp, "of GPU indices such as [0, 1], or all, or none"))
                return;
        if (list_length(d) > POLICY_GPU_DEVICES_MAX) {
                ERR(rep, d, dp, "too many GPU devices (%zu > %u)", list_length(d), POLICY_GPU_DEVICES_MAX);
                return;
        }
        p->gpu_devices = calloc(list_length(d) + 1, sizeof(unsigned));
        if (!p->gpu_devices) {
                rep->r = -ENOMEM;
                return;
        }
        for (size_t i = 0; i < list_length(d); i++) {
                _cleanup_free_ char *ip = diag_path_index(rep, dp, i);
                uint64_t idx = UINT64_MAX;

                if (!ip)
                        return;
                parse_uint_key(rep, d->items[i], ip, 0, 255, false, &idx);
                if (idx == UINT64_MAX)
                        continue;
                for (size_t j = 0; j < p->n_gpu_devices; j++)
                        if (p->gpu_devices[j] == idx) {
                                ERR(rep, d->items[i], ip, "GPU %" PRIu64 " is listed twice", idx);
                                idx = UINT64_MAX;
                        }
                if (idx != UINT64_MAX)
                        p->gpu_devices[p->n_gpu_devices++] = (unsigned) idx;
        }
}

static void parse_port_list(DiagReporter *rep, const YamlNode *n, const char *path, uint16_t **ret, size_t *ret_n) {
        if (!is_list(rep, n, path, "of port numbers"))
                return;
        if (list_length(n) > POLICY_PORTS_MAX) {
                ERR(rep, n, path, "too many ports (%zu > %u)", list_length(n), POLICY_PORTS_MAX);
                return;
        }
        *ret = calloc(list_length(n) + 1, sizeof(uint16_t));
        if (!*ret) {
                rep->r = -ENOMEM;
                return;
        }
        for (size_t i = 0; i < list_length(n); i++) {
                _cleanup_free_ char *ip = diag_path_index(rep, path, i);
                int r;

                if (!ip)
                        return;
                r = parse_port_value(rep, n->items[i], ip, &(*ret)[*ret_n]);
                if (r == -ERANGE)
                        ERR(rep, n->items[i], ip, "invalid port %s; expected 1..=65535", n->items[i]->value);
                else if (r >= 0)
                        (*ret_n)++;
        }
}

static void parse_extensions(DiagReporter *rep, const YamlNode *n, Policy *p) {
        static const KeyDef keys[] = { { "resources" }, { "gpu" }, { "syscalls" }, { "filesystem" }, { "process" },
                                       { "network" } };
        static const char *const X = "x-openshell";

        if (yaml_node_is_null(n))
                return;
        if (!check_mapping(rep, n, X, keys, ELEMENTSOF(keys), "resources, gpu, syscalls, filesystem, process, network"))
                return;

        for (size_t i = 0; i + 1 < n->n_items && rep->r >= 0; i += 2) {
                const char *k = n->items[i]->value;
                const YamlNode *v = n->items[i + 1], *w;
                _cleanup_free_ char *kp = diag_path_key(rep, X, k);

                if (!kp)
                        return;
                if (yaml_node_is_null(v))
                        continue;
                if (streq(k, "resources"))
                        parse_resources(rep, v, kp, p);
                else if (streq(k, "gpu"))
                        parse_gpu(rep, v, kp, p);
                else if (streq(k, "syscalls")) {
                        static const KeyDef sk[] = { { "allow" }, { "deny" } };
                        _cleanup_free_ char *ap = diag_path_key(rep, kp, "allow"), *dp = diag_path_key(rep, kp, "deny");
                        if (!ap || !dp || !check_mapping(rep, v, kp, sk, ELEMENTSOF(sk), "allow, deny"))
                                continue;
                        if ((w = yaml_mapping_get(v, "allow")))
                                parse_paths(rep, w, ap, &p->syscalls_allow, &p->n_syscalls_allow);
                        if ((w = yaml_mapping_get(v, "deny")))
                                parse_paths(rep, w, dp, &p->syscalls_deny, &p->n_syscalls_deny);
                } else if (streq(k, "filesystem")) {
                        static const KeyDef fk[] = { { "inaccessible" } };
                        _cleanup_free_ char *ip = diag_path_key(rep, kp, "inaccessible");
                        if (!ip || !check_mapping(rep, v, kp, fk, ELEMENTSOF(fk), "inaccessible"))
                                continue;
                        if ((w = yaml_mapping_get(v, "inaccessible")))
                                parse_paths(rep, w, ip, &p->inaccessible, &p->n_inaccessible);
                } else if (streq(k, "process")) {
                        static const KeyDef pk[] = { { "memory_deny_write_execute" } };
                        _cleanup_free_ char *mp = diag_path_key(rep, kp, "memory_deny_write_execute");
                        if (!mp || !check_mapping(rep, v, kp, pk, ELEMENTSOF(pk), "memory_deny_write_execute"))
                                continue;
                        if ((w = yaml_mapping_get(v, "memory_deny_write_execute")))
                                (void) get_bool(rep, w, mp, &p->memory_deny_write_execute);
                } else if (streq(k, "network")) {
                        static const KeyDef nk[] = { { "tcp_connect_ports" }, { "tcp_bind_ports" } };
                        _cleanup_free_ char *cp = diag_path_key(rep, kp, "tcp_connect_ports"),
                                            *bp = diag_path_key(rep, kp, "tcp_bind_ports");
                        if (!cp || !bp || !check_mapping(rep, v, kp, nk, ELEMENTSOF(nk), "tcp_connect_ports, tcp_bind_ports"))
                                continue;
                        if ((w = yaml_mapping_get(v, "tcp_connect_ports")))
                                parse_port_list(rep, w, cp, &p->tcp_connect_ports, &p->n_tcp_connect_ports);
                        if ((w = yaml_mapping_get(v, "tcp_bind_ports"))) {
                                p->tcp_bind_restricted = true;
                                parse_port_list(rep, w, bp, &p->tcp_bind_ports, &p->n_tcp_bind_ports);
                        }
                }
        }
}

/* ---- top level -------------------------------------------------------------------------------- */

static const KeyDef top_keys[] = {
        { "version" },
        { "filesystem_policy" },
        { "landlock" },
        { "process" },
        { "network_policies" },
        { "network_middlewares", "supervisor middleware (network_middlewares)" },
        { "x-openshell" },
};

/* Parses what it can: on validation errors *ret is still set (to a partial policy), so that the
 * validator can report the problems of the rest of the file too. NULL if the root is unusable. */
static int parse_partial(const char *file, const YamlNode *root, Policy **ret, DiagList *diags) {
        _cleanup_(policy_freep) Policy *p = NULL;
        DiagReporter rep = { .file = file, .diags = diags };
        size_t errors_before = diags->n_errors;
        const YamlNode *v;

        *ret = NULL;

        if (!root || yaml_node_is_null(root)) {
                diag_report(&rep, DIAG_ERROR, 0, 0, NULL, "file is empty (a policy needs at least 'version: 1')");
                return rep.r < 0 ? rep.r : -EBADMSG;
        }
        if (!check_mapping(&rep, root, NULL, top_keys, ELEMENTSOF(top_keys),
                           "a policy with version, filesystem_policy, landlock, process, network_policies"))
                return rep.r < 0 ? rep.r : -EBADMSG;

        p = calloc(1, sizeof(Policy));
        if (!p)
                return -ENOMEM;
        p->file = file ? strdup(file) : NULL;
        if (file && !p->file)
                return -ENOMEM;

        v = yaml_mapping_get(root, "version");
        if (!v)
                ERR(&rep, root, NULL, "missing required key 'version' (write 'version: 1')");
        else {
                int64_t ver;
                int r = yaml_node_get_integer(v, 0, UINT32_MAX, &ver);
                if (r == -EINVAL)
                        ERR(&rep, v, "version", "expected a number, got %s (write 'version: 1')", yaml_node_describe(v));
                else if (r < 0 || ver != 1)
                        ERR(&rep, v, "version", "unsupported policy version %s (expected 1)", v->value);
                else
                        p->version = 1;
        }

        if ((v = yaml_mapping_get(root, "filesystem_policy")))
                parse_filesystem(&rep, v, p);
        if ((v = yaml_mapping_get(root, "landlock")))
                parse_landlock(&rep, v, p);
        if ((v = yaml_mapping_get(root, "process")))
                parse_process(&rep, v, p);
        if ((v = yaml_mapping_get(root, "network_policies")))
                parse_network_policies(&rep, v, p);
        if ((v = yaml_mapping_get(root, "x-openshell")))
                parse_extensions(&rep, v, p);

        if (rep.r < 0)
                return rep.r;
        *ret = TAKE_PTR(p);
        return diags->n_errors > errors_before ? -EBADMSG : 0;
}

int policy_parse(const char *file, const YamlNode *root, Policy **ret, DiagList *diags) {
        _cleanup_(policy_freep) Policy *p = NULL;
        int r;

        r = parse_partial(file, root, &p, diags);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

static int parse_and_validate(const char *name, const YamlNode *root, Policy **ret, DiagList *diags) {
        _cleanup_(policy_freep) Policy *p = NULL;
        int r, k;

        r = parse_partial(name, root, &p, diags);
        if (r < 0 && r != -EBADMSG)
                return r;
        if (!p)
                return r;
        /* Validate also a policy that did not parse cleanly: every problem of the file is reported
         * at once, not one round per fix. */
        k = policy_validate(p, diags);
        if (k < 0 && k != -EBADMSG)
                return k;
        if (r < 0 || k < 0)
                return -EBADMSG;
        *ret = TAKE_PTR(p);
        return 0;
}

int policy_load_buffer(const char *name, const void *data, size_t size, Policy **ret, DiagList *diags) {
        _cleanup_(yaml_node_freep) YamlNode *root = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        int r;

        r = yaml_load_buffer(name, data, size, &root, diags);
        if (r < 0)
                return r;
        r = parse_and_validate(name, root, &p, diags);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

int policy_load_file(const char *path, Policy **ret, DiagList *diags) {
        _cleanup_(yaml_node_freep) YamlNode *root = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        int r;

        r = yaml_load_file(path, &root, diags);
        if (r < 0)
                return r;
        r = parse_and_validate(path, root, &p, diags);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}
