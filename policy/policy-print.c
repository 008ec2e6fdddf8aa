/* SPDX-License-Identifier: Apache-2.0 */
/* Printed forms of a compiled policy: a systemd drop-in a person can review (and paste), and JSON for
 * programs. Both are stable: golden files in tests/data/policies/golden/ pin them. */

#include <inttypes.h>
#include <string.h>

#include "policy-compile.h"
#include "string-util.h"

static const char *errno_name(int e) {
        switch (e) {
        case EPERM:
                return "EPERM";
        case ENOSYS:
                return "ENOSYS";
        case EACCES:
                return "EACCES";
        default:
                return "E?";
        }
}

static void print_rights(FILE *f, uint64_t access, const char *sep) {
        bool first = true;

        for (unsigned b = 0; b < 64; b++)
                if (access & (UINT64_C(1) << b)) {
                        const char *n = landlock_fs_right_to_string(b);
                        fprintf(f, "%s%s", first ? "" : sep, n ?: "?");
                        first = false;
                }
}

static const char *access_label(uint64_t access) {
        if (access == landlock_fs_rights_for_abi(LL_ABI_MAX))
                return "read-write";
        if (access == LL_FS_READ_ONLY)
                return "read-only";
        return NULL;
}

static void print_seccomp_rule(FILE *f, const SeccompRule *r) {
        fprintf(f, "%s(", r->syscall);
        for (unsigned k = 0; k < r->n_args; k++) {
                const SeccompArg *a = &r->args[k];
                if (k > 0)
                        fputs(" && ", f);
                switch (a->op) {
                case SECCOMP_OP_EQ:
                        fprintf(f, "arg%u == %s", a->index, a->value_name);
                        break;
                case SECCOMP_OP_NE:
                        fprintf(f, "arg%u != %s", a->index, a->value_name);
                        break;
                default:
                        if (a->mask == UINT32_MAX)
                                fprintf(f, "arg%u == %s", a->index, a->value_name);
                        else
                                fprintf(f, "arg%u & %s", a->index, a->value_name);
                }
        }
        fprintf(f, ") -> %s", errno_name(r->error));
}

static void print_ports(FILE *f, const uint16_t *ports, size_t n) {
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s%u", i ? "," : "", ports[i]);
}

int policy_print_unit(const PolicyCompiled *c, FILE *f) {
        const PolicyLandlock *l = &c->landlock;

        fprintf(f, "# Compiled by openshell policy compile%s%s.\n", c->policy->file ? " from " : "",
                c->policy->file ?: "");
        fputs("# A drop-in for the agent unit openshell-agent-NAME.service: the supervisor applies the same\n"
              "# settings when it starts the sandbox, in an empty RootDirectory= of its own into which the\n"
              "# Bind*Paths= below put what the policy grants. The Landlock ruleset, the extra seccomp filter\n"
              "# and the egress table below are applied by openshell-exec and the egress proxy, not by systemd.\n",
              f);
        fputs("[Service]\n", f);
        STRV_FOREACH(s, c->unit)
                fprintf(f, "%s\n", *s);

        fputs("\n# Landlock ruleset (openshell-exec, before execve)\n", f);
        fprintf(f, "#   compatibility: %s\n", policy_landlock_compat_to_string(l->compatibility));
        fputs("#   handled filesystem rights: ", f);
        print_rights(f, l->handled_fs, " ");
        fputs("\n#   rights the running kernel does not know (by Landlock ABI) are dropped and reported\n", f);
        fprintf(f, "#   scoped: %s%s\n", l->scoped & LL_SCOPE_ABSTRACT_UNIX_SOCKET ? "abstract-unix-socket " : "",
                l->scoped & LL_SCOPE_SIGNAL ? "signal" : "");
        for (size_t i = 0; i < l->n_paths; i++) {
                const char *label = access_label(l->paths[i].access);
                fprintf(f, "#   %-10s %s", label ?: "custom", l->paths[i].path);
                if (!label) {
                        fputs(" (", f);
                        print_rights(f, l->paths[i].access, ",");
                        fputs(")", f);
                }
                fprintf(f, " [%s]\n", landlock_origin_to_string(l->paths[i].origin));
        }
        for (size_t i = 0; i < l->n_ports; i++)
                fprintf(f, "#   tcp %s%s%s port %u\n", l->ports[i].access & LL_NET_CONNECT_TCP ? "connect" : "",
                        (l->ports[i].access & LL_NET_CONNECT_TCP) && (l->ports[i].access & LL_NET_BIND_TCP) ? "," : "",
                        l->ports[i].access & LL_NET_BIND_TCP ? "bind" : "", l->ports[i].port);
        if (!(l->handled_net & LL_NET_BIND_TCP))
                fputs("#   tcp bind: not restricted\n", f);

        fputs("\n# Extra seccomp filter (openshell-exec; everything else is SystemCallFilter= above)\n", f);
        for (size_t i = 0; i < c->seccomp.n_rules; i++) {
                fputs("#   ", f);
                print_seccomp_rule(f, &c->seccomp.rules[i]);
                fputc('\n', f);
        }

        fputs("\n# Egress table (the proxy; first match by policy name; anything else is denied;\n"
              "# inference.local is answered by the proxy before this table)\n",
              f);
        if (c->egress.n_entries == 0)
                fputs("#   (empty: every connection is denied)\n", f);
        for (size_t i = 0; i < c->egress.n_entries; i++) {
                const EgressEntry *e = &c->egress.entries[i];
                const PolicyEndpoint *ep = e->endpoint;

                fprintf(f, "#   %s: %s:", e->rule->key, isempty(ep->host) ? "(any host)" : ep->host);
                print_ports(f, ep->ports, ep->n_ports);
                if (ep->path)
                        fprintf(f, " path %s", ep->path);
                for (size_t k = 0; k < ep->n_allowed_ips; k++)
                        fprintf(f, "%s%s", k ? "," : " allowed_ips ", ep->allowed_ips[k].path);
                if (ep->protocol != POLICY_PROTOCOL_NONE)
                        fprintf(f, " %s %s", policy_protocol_to_string(ep->protocol),
                                policy_enforcement_to_string(ep->enforcement));
                else
                        fputs(" l4", f);
                if (ep->tls == POLICY_TLS_SKIP)
                        fputs(" tls:skip", f);
                fputs(" binaries ", f);
                if (e->rule->n_binaries == 0)
                        fputs("(none: denies all)", f);
                for (size_t k = 0; k < e->rule->n_binaries; k++)
                        fprintf(f, "%s%s", k ? "," : "", e->rule->binaries[k].path);
                fprintf(f, " -> %s\n", e->rule->n_binaries ? "allow" : "deny");
                for (size_t k = 0; k < ep->n_rules; k++)
                        fprintf(f, "#       allow %s %s%s\n", ep->rules[k].method, ep->rules[k].path,
                                ep->rules[k].n_query ? " (query conditions)" : "");
                for (size_t k = 0; k < ep->n_deny_rules; k++)
                        fprintf(f, "#       deny %s %s%s\n", ep->deny_rules[k].method, ep->deny_rules[k].path,
                                ep->deny_rules[k].n_query ? " (query conditions)" : "");
        }
        return ferror(f) ? -EIO : 0;
}

/* ---- JSON ---- */

static void json_string(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; p && *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p < 0x20)
                        fprintf(f, "\\u%04x", *p);
                else
                        fputc(*p, f);
        }
        fputc('"', f);
}

static void json_rights(FILE *f, uint64_t access) {
        bool first = true;

        fputc('[', f);
        for (unsigned b = 0; b < 64; b++)
                if (access & (UINT64_C(1) << b)) {
                        if (!first)
                                fputs(", ", f);
                        json_string(f, landlock_fs_right_to_string(b) ?: "?");
                        first = false;
                }
        fputc(']', f);
}

static void json_l7_rules(FILE *f, const PolicyL7Rule *r, size_t n) {
        fputc('[', f);
        for (size_t i = 0; i < n; i++) {
                fprintf(f, "%s{\"method\": ", i ? ", " : "");
                json_string(f, r[i].method);
                fputs(", \"path\": ", f);
                json_string(f, r[i].path);
                fputs(", \"query\": {", f);
                for (size_t q = 0; q < r[i].n_query; q++) {
                        fputs(q ? ", " : "", f);
                        json_string(f, r[i].query[q].param);
                        fputs(": [", f);
                        STRV_FOREACH(g, r[i].query[q].globs) {
                                fputs(g != r[i].query[q].globs ? ", " : "", f);
                                json_string(f, *g);
                        }
                        fputc(']', f);
                }
                fputs("}}", f);
        }
        fputc(']', f);
}

int policy_print_json(const PolicyCompiled *c, FILE *f) {
        const PolicyLandlock *l = &c->landlock;

        fputs("{\n  \"format\": 1,\n  \"source\": ", f);
        if (c->policy->file)
                json_string(f, c->policy->file);
        else
                fputs("null", f);

        fputs(",\n  \"unit\": [", f);
        STRV_FOREACH(s, c->unit) {
                fputs(s == c->unit ? "\n    " : ",\n    ", f);
                json_string(f, *s);
        }
        fputs("\n  ],\n", f);

        fputs("  \"landlock\": {\n    \"compatibility\": ", f);
        json_string(f, policy_landlock_compat_to_string(l->compatibility));
        fputs(",\n    \"handled_access_fs\": ", f);
        json_rights(f, l->handled_fs);
        fprintf(f, ",\n    \"handled_access_fs_mask\": %" PRIu64 ",\n    \"handled_access_net\": [%s%s%s],\n",
                l->handled_fs, l->handled_net & LL_NET_BIND_TCP ? "\"bind_tcp\"" : "",
                (l->handled_net & LL_NET_BIND_TCP) && (l->handled_net & LL_NET_CONNECT_TCP) ? ", " : "",
                l->handled_net & LL_NET_CONNECT_TCP ? "\"connect_tcp\"" : "");
        fprintf(f, "    \"scoped\": [%s%s%s],\n    \"paths\": [",
                l->scoped & LL_SCOPE_ABSTRACT_UNIX_SOCKET ? "\"abstract_unix_socket\"" : "",
                (l->scoped & LL_SCOPE_ABSTRACT_UNIX_SOCKET) && (l->scoped & LL_SCOPE_SIGNAL) ? ", " : "",
                l->scoped & LL_SCOPE_SIGNAL ? "\"signal\"" : "");
        for (size_t i = 0; i < l->n_paths; i++) {
                fputs(i ? ",\n      {\"path\": " : "\n      {\"path\": ", f);
                json_string(f, l->paths[i].path);
                fputs(", \"access\": ", f);
                json_rights(f, l->paths[i].access);
                fprintf(f, ", \"access_mask\": %" PRIu64 ", \"origin\": \"%s\"}", l->paths[i].access,
                        landlock_origin_to_string(l->paths[i].origin));
        }
        fputs(l->n_paths ? "\n    ],\n    \"ports\": [" : "],\n    \"ports\": [", f);
        for (size_t i = 0; i < l->n_ports; i++)
                fprintf(f, "%s{\"port\": %u, \"access\": [%s%s%s]}", i ? ", " : "", l->ports[i].port,
                        l->ports[i].access & LL_NET_BIND_TCP ? "\"bind_tcp\"" : "",
                        (l->ports[i].access & LL_NET_BIND_TCP) && (l->ports[i].access & LL_NET_CONNECT_TCP) ? ", " : "",
                        l->ports[i].access & LL_NET_CONNECT_TCP ? "\"connect_tcp\"" : "");
        fputs("]\n  },\n", f);

        fputs("  \"seccomp\": {\n    \"default_action\": \"allow\",\n    \"rules\": [", f);
        for (size_t i = 0; i < c->seccomp.n_rules; i++) {
                const SeccompRule *r = &c->seccomp.rules[i];
                fputs(i ? ",\n      {\"syscall\": " : "\n      {\"syscall\": ", f);
                json_string(f, r->syscall);
                fprintf(f, ", \"errno\": \"%s\", \"args\": [", errno_name(r->error));
                for (unsigned k = 0; k < r->n_args; k++)
                        fprintf(f, "%s{\"index\": %u, \"op\": \"%s\", \"mask\": %" PRIu64 ", \"value\": %" PRIu64 ", \"name\": \"%s\"}",
                                k ? ", " : "", r->args[k].index, seccomp_op_to_string(r->args[k].op), r->args[k].mask,
                                r->args[k].value, r->args[k].value_name);
                fputs("]}", f);
        }
        fputs(c->seccomp.n_rules ? "\n    ]\n  },\n" : "]\n  },\n", f);

        fputs("  \"egress\": {\n    \"default\": \"deny\",\n    \"entries\": [", f);
        for (size_t i = 0; i < c->egress.n_entries; i++) {
                const EgressEntry *e = &c->egress.entries[i];
                const PolicyEndpoint *ep = e->endpoint;

                fputs(i ? ",\n      {\"policy\": " : "\n      {\"policy\": ", f);
                json_string(f, e->rule->key);
                fputs(", \"name\": ", f);
                json_string(f, e->rule->name);
                fprintf(f, ", \"endpoint\": %zu, \"host\": ", e->endpoint_index);
                json_string(f, ep->host);
                fputs(", \"ports\": [", f);
                print_ports(f, ep->ports, ep->n_ports);
                fputs("], \"path\": ", f);
                if (ep->path)
                        json_string(f, ep->path);
                else
                        fputs("null", f);
                fputs(", \"protocol\": ", f);
                json_string(f, policy_protocol_to_string(ep->protocol));
                fputs(", \"tls\": ", f);
                json_string(f, ep->tls == POLICY_TLS_SKIP ? "skip" : "auto");
                fputs(", \"enforcement\": ", f);
                json_string(f, policy_enforcement_to_string(ep->enforcement));
                fputs(", \"access\": ", f);
                json_string(f, policy_access_to_string(ep->access));
                fputs(", \"allow\": ", f);
                json_l7_rules(f, ep->rules, ep->n_rules);
                fputs(", \"deny\": ", f);
                json_l7_rules(f, ep->deny_rules, ep->n_deny_rules);
                fputs(", \"allowed_ips\": [", f);
                for (size_t k = 0; k < ep->n_allowed_ips; k++) {
                        fputs(k ? ", " : "", f);
                        json_string(f, ep->allowed_ips[k].path);
                }
                fprintf(f, "], \"allow_encoded_slash\": %s, \"binaries\": [", ep->allow_encoded_slash ? "true" : "false");
                for (size_t k = 0; k < e->rule->n_binaries; k++) {
                        fputs(k ? ", " : "", f);
                        json_string(f, e->rule->binaries[k].path);
                }
                fprintf(f, "], \"decision\": \"%s\"}", e->rule->n_binaries ? "allow" : "deny");
        }
        fputs(c->egress.n_entries ? "\n    ]\n  }\n}\n" : "]\n  }\n}\n", f);
        return ferror(f) ? -EIO : 0;
}

int policy_landlock_serialize(const PolicyLandlock *l, FILE *f) {
        fprintf(f, "openshell-landlock 1\ncompatibility %s\nhandled_fs %" PRIu64 "\nhandled_net %" PRIu64 "\nscoped %" PRIu64 "\n",
                policy_landlock_compat_to_string(l->compatibility), l->handled_fs, l->handled_net, l->scoped);
        for (size_t i = 0; i < l->n_paths; i++)
                fprintf(f, "path %" PRIu64 " %s\n", l->paths[i].access, l->paths[i].path);
        for (size_t i = 0; i < l->n_ports; i++)
                fprintf(f, "port %" PRIu64 " %u\n", l->ports[i].access, l->ports[i].port);
        fputs("end\n", f);
        return ferror(f) ? -EIO : 0;
}
