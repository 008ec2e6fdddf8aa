/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <string.h>

#include "sandbox-name.h"
#include "sandbox-spec.h"
#include "string-util.h"

/* An argv or an environment larger than this is a mistake, not a configuration. */
#define SPEC_COMMAND_ARGS_MAX 4096U
#define SPEC_ENVIRONMENT_MAX 1024U

static const char *const spec_keys[] = {
        "command", "environment", "policy", "profile", "providers", "forward", "keep", NULL,
};


SandboxSpec *sandbox_spec_free(SandboxSpec *s) {
        if (!s)
                return NULL;
        strv_free(s->command);
        strv_free(s->environment);
        free(s->policy);
        free(s->profile);
        strv_free(s->providers);
        free(s->forward);
        free(s);
        return NULL;
}

bool spec_object_name_is_valid(const char *name) {
        return sandbox_name_is_valid(name);
}

bool environment_name_is_valid(const char *name) {
        if (isempty(name) || (name[0] >= '0' && name[0] <= '9'))
                return false;
        for (const char *p = name; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '_'))
                        return false;
        return strlen(name) <= 255;
}

static void parse_command(DiagReporter *p, const YamlNode *n, char ***ret) {
        _cleanup_strv_free_ char **argv = NULL;

        if (n->type != YAML_NODE_SEQUENCE) {
                yaml_error(p, n, "command", "expected a list of strings, got %s (write e.g. [\"/usr/bin/agent\", \"--flag\"])",
                           yaml_node_describe(n));
                return;
        }
        if (n->n_items == 0) {
                yaml_error(p, n, "command", "must not be empty (name the program to run)");
                return;
        }
        if (n->n_items > SPEC_COMMAND_ARGS_MAX) {
                yaml_error(p, n, "command", "has %zu arguments (at most %u)", n->n_items, SPEC_COMMAND_ARGS_MAX);
                return;
        }

        for (size_t i = 0; i < n->n_items; i++) {
                const YamlNode *a = n->items[i];
                _cleanup_free_ char *path = NULL;
                const char *s = yaml_node_get_string(a);

                if (asprintf_safe(&path, "command[%zu]", i) < 0) {
                        p->r = -ENOMEM;
                        return;
                }
                if (a->type != YAML_NODE_SCALAR || !s) {
                        yaml_error(p, a, path, "expected a string, got %s", yaml_node_describe(a));
                        continue;
                }
                if (i == 0 && isempty(s))
                        yaml_error(p, a, path, "program must not be empty");
                else if (i == 0 && s[0] != '/' && strchr(s, '/'))
                        yaml_error(p, a, path,
                                   "program '%s' must be an absolute path or a bare name looked up in the system PATH",
                                   s);
                if (strv_extend(&argv, s) < 0) {
                        p->r = -ENOMEM;
                        return;
                }
        }
        *ret = TAKE_PTR(argv);
}

static void parse_environment(DiagReporter *p, const YamlNode *n, char ***ret) {
        _cleanup_strv_free_ char **env = NULL;

        if (yaml_node_is_null(n))
                return;
        if (n->type != YAML_NODE_MAPPING) {
                yaml_error(p, n, "environment", "expected a mapping of NAME: value, got %s", yaml_node_describe(n));
                return;
        }
        if (n->n_items / 2 > SPEC_ENVIRONMENT_MAX) {
                yaml_error(p, n, "environment", "has %zu variables (at most %u)", n->n_items / 2,
                           SPEC_ENVIRONMENT_MAX);
                return;
        }

        for (size_t i = 0; i + 1 < n->n_items; i += 2) {
                const YamlNode *k = n->items[i], *v = n->items[i + 1];
                _cleanup_free_ char *path = NULL, *entry = NULL;

                if (asprintf_safe(&path, "environment.%s", k->value) < 0) {
                        p->r = -ENOMEM;
                        return;
                }
                if (!environment_name_is_valid(k->value)) {
                        yaml_error(p, k, path,
                                   "invalid variable name (letters, digits and '_', not starting with a digit)");
                        continue;
                }
                if (v->type != YAML_NODE_SCALAR) {
                        yaml_error(p, v, path, "expected a string value, got %s", yaml_node_describe(v));
                        continue;
                }
                if (string_has_cc(v->value)) {
                        yaml_error(p, v, path, "value contains control characters");
                        continue;
                }
                if (asprintf_safe(&entry, "%s=%s", k->value, yaml_node_is_null(v) ? "" : v->value) < 0 ||
                    strv_consume(&env, TAKE_PTR(entry)) < 0) {
                        p->r = -ENOMEM;
                        return;
                }
        }
        *ret = TAKE_PTR(env);
}

static void set_string(DiagReporter *p, char **dst, const char *v) {
        char *c = strdup(v);

        if (!c) {
                p->r = -ENOMEM;
                return;
        }
        free(*dst);
        *dst = c;
}

static void parse_policy(DiagReporter *p, const YamlNode *n, char **ret) {
        const char *s = yaml_node_get_string(n);

        if (n->type != YAML_NODE_SCALAR || !s) {
                yaml_error(p, n, "policy", "expected the path of a policy file, got %s", yaml_node_describe(n));
                return;
        }
        if (s[0] != '/') {
                yaml_error(p, n, "policy", "path must be absolute (start with '/'): %s", s);
                return;
        }
        if (strlen(s) > 4096 || string_has_cc(s)) {
                yaml_error(p, n, "policy", "not a usable path");
                return;
        }
        set_string(p, ret, s);
}

static void parse_profile(DiagReporter *p, const YamlNode *n, char **ret) {
        const char *s = yaml_node_get_string(n);

        if (n->type != YAML_NODE_SCALAR || !s) {
                yaml_error(p, n, "profile", "expected a profile name, got %s", yaml_node_describe(n));
                return;
        }
        if (!spec_object_name_is_valid(s)) {
                yaml_error(p, n, "profile", "invalid profile name '%s' (letters, digits, '-' and '_')", s);
                return;
        }
        set_string(p, ret, s);
}

static void parse_providers(DiagReporter *p, const YamlNode *n, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;

        if (n->type != YAML_NODE_SEQUENCE) {
                yaml_error(p, n, "providers", "expected a list of provider names, got %s", yaml_node_describe(n));
                return;
        }
        if (n->n_items > SANDBOX_PROVIDERS_MAX) {
                yaml_error(p, n, "providers", "has %zu entries (at most %u)", n->n_items, SANDBOX_PROVIDERS_MAX);
                return;
        }
        for (size_t i = 0; i < n->n_items; i++) {
                const char *s = yaml_node_get_string(n->items[i]);
                _cleanup_free_ char *path = NULL;

                if (asprintf_safe(&path, "providers[%zu]", i) < 0) {
                        p->r = -ENOMEM;
                        return;
                }
                if (n->items[i]->type != YAML_NODE_SCALAR || !s)
                        yaml_error(p, n->items[i], path, "expected a provider name, got %s",
                                   yaml_node_describe(n->items[i]));
                else if (!spec_object_name_is_valid(s))
                        yaml_error(p, n->items[i], path, "invalid provider name '%s' (letters, digits, '-' and '_')", s);
                else if (strv_contains(l, s))
                        yaml_error(p, n->items[i], path, "provider '%s' is listed twice", s);
                else if (strv_extend(&l, s) < 0) {
                        p->r = -ENOMEM;
                        return;
                }
        }
        *ret = TAKE_PTR(l);
}

static void parse_forward(DiagReporter *p, const YamlNode *n, SandboxSpec *s) {
        _cleanup_free_ uint16_t *ports = NULL;
        size_t k = 0;

        if (n->type != YAML_NODE_SEQUENCE) {
                yaml_error(p, n, "forward", "expected a list of port numbers, got %s", yaml_node_describe(n));
                return;
        }
        if (n->n_items > SANDBOX_FORWARDS_MAX) {
                yaml_error(p, n, "forward", "has %zu entries (at most %u)", n->n_items, SANDBOX_FORWARDS_MAX);
                return;
        }
        ports = calloc(n->n_items + 1, sizeof(uint16_t));
        if (!ports) {
                p->r = -ENOMEM;
                return;
        }
        for (size_t i = 0; i < n->n_items; i++) {
                _cleanup_free_ char *path = NULL;
                int64_t v;
                int r;

                if (asprintf_safe(&path, "forward[%zu]", i) < 0) {
                        p->r = -ENOMEM;
                        return;
                }
                r = yaml_node_get_integer(n->items[i], 1, 65535, &v);
                if (r == -ERANGE) {
                        yaml_error(p, n->items[i], path, "invalid port %s; expected 1..=65535", n->items[i]->value);
                        continue;
                }
                if (r < 0) {
                        yaml_error(p, n->items[i], path, "expected a port number, got %s",
                                   yaml_node_describe(n->items[i]));
                        continue;
                }
                for (size_t j = 0; j < k; j++)
                        if (ports[j] == v) {
                                yaml_error(p, n->items[i], path, "port %" PRIi64 " is listed twice", v);
                                goto next;
                        }
                ports[k++] = (uint16_t) v;
        next:;
        }
        free(s->forward);
        s->forward = TAKE_PTR(ports);
        s->n_forward = k;
}

static void parse_keep(DiagReporter *p, const YamlNode *n, bool *ret) {
        if (yaml_node_get_bool(n, ret) < 0)
                yaml_error(p, n, "keep", "expected true or false, got %s", yaml_node_describe(n));
}

int sandbox_spec_parse(const char *file, const YamlNode *root, SandboxSpec **ret, DiagList *diags) {
        _cleanup_(sandbox_spec_freep) SandboxSpec *s = NULL;
        DiagReporter p = { .file = file, .diags = diags };
        size_t errors_before = diags->n_errors;
        const YamlNode *command = NULL;

        if (!root) {
                yaml_error(&p, NULL, NULL, "file is empty (a sandbox spec needs at least 'command:')");
                return p.r < 0 ? p.r : -EBADMSG;
        }
        if (root->type != YAML_NODE_MAPPING) {
                yaml_error(&p, root, NULL, "expected a mapping of keys such as 'command:', got %s",
                           yaml_node_describe(root));
                return p.r < 0 ? p.r : -EBADMSG;
        }

        s = calloc(1, sizeof(SandboxSpec));
        if (!s)
                return -ENOMEM;
        s->keep = true;

        for (size_t i = 0; i + 1 < root->n_items; i += 2) {
                const YamlNode *k = root->items[i], *v = root->items[i + 1];

                if (streq(k->value, "command"))
                        command = v, parse_command(&p, v, &s->command);
                else if (streq(k->value, "environment"))
                        parse_environment(&p, v, &s->environment);
                else if (streq(k->value, "policy"))
                        parse_policy(&p, v, &s->policy);
                else if (streq(k->value, "profile"))
                        parse_profile(&p, v, &s->profile);
                else if (streq(k->value, "providers"))
                        parse_providers(&p, v, &s->providers);
                else if (streq(k->value, "forward"))
                        parse_forward(&p, v, s);
                else if (streq(k->value, "keep"))
                        parse_keep(&p, v, &s->keep);
                else {
                        const char *hint = string_suggest(k->value, spec_keys);
                        if (hint)
                                yaml_error(&p, k, k->value, "unknown key (did you mean '%s'?)", hint);
                        else
                                yaml_error(&p, k, k->value,
                                           "unknown key (expected one of: command, environment, policy, profile, "
                                           "providers, forward, keep)");
                }
                if (p.r < 0)
                        return p.r;
        }

        if (!command && !s->profile)
                yaml_error(&p, root, NULL, "missing required key 'command' (the program to run and its arguments)");
        if (p.r < 0)
                return p.r;
        if (diags->n_errors > errors_before)
                return -EBADMSG;

        *ret = TAKE_PTR(s);
        return 0;
}

int sandbox_spec_load(const char *path, SandboxSpec **ret, DiagList *diags) {
        _cleanup_(yaml_node_freep) YamlNode *root = NULL;
        int r;

        r = yaml_load_file(path, &root, diags);
        if (r < 0)
                return r;
        return sandbox_spec_parse(path, root, ret, diags);
}

/* YAML double-quoted scalar: safe for any text we accept (no control characters reach here, but
 * escape them anyway rather than write a file we could not read back). */
static void write_quoted(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *c = (const unsigned char *) s; *c; c++) {
                if (*c == '"' || *c == '\\')
                        fprintf(f, "\\%c", *c);
                else if (*c < ' ' || *c == 127)
                        fprintf(f, "\\x%02x", *c);
                else
                        fputc(*c, f);
        }
        fputc('"', f);
}

static void write_list(FILE *f, const char *key, char *const *l) {
        fprintf(f, "%s: [", key);
        STRV_FOREACH(i, l) {
                if (i != l)
                        fputs(", ", f);
                write_quoted(f, *i);
        }
        fputs("]\n", f);
}

int sandbox_spec_write(const SandboxSpec *s, FILE *f) {
        if (s->command)
                write_list(f, "command", s->command);
        if (s->policy) {
                fputs("policy: ", f);
                write_quoted(f, s->policy);
                fputc('\n', f);
        }
        if (s->profile) {
                fputs("profile: ", f);
                write_quoted(f, s->profile);
                fputc('\n', f);
        }
        if (s->environment) {
                fputs("environment:\n", f);
                STRV_FOREACH(e, s->environment) {
                        const char *eq = strchr(*e, '=');
                        if (!eq)
                                return -EINVAL;
                        fprintf(f, "  %.*s: ", (int) (eq - *e), *e);
                        write_quoted(f, eq + 1);
                        fputc('\n', f);
                }
        }
        if (s->providers)
                write_list(f, "providers", s->providers);
        if (s->n_forward > 0) {
                fputs("forward: [", f);
                for (size_t i = 0; i < s->n_forward; i++)
                        fprintf(f, "%s%u", i > 0 ? ", " : "", s->forward[i]);
                fputs("]\n", f);
        }
        if (!s->keep)
                fputs("keep: false\n", f);
        return ferror(f) ? -EIO : 0;
}
