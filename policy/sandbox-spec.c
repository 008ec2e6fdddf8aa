/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "sandbox-spec.h"
#include "string-util.h"

/* An argv or an environment larger than this is a mistake, not a configuration. */
#define SPEC_COMMAND_ARGS_MAX 4096U
#define SPEC_ENVIRONMENT_MAX 1024U

static const char *const spec_keys[] = {
        "command", "environment", "policy", "profile", "providers", "forward", "keep", NULL,
};

/* Keys of the documented spec that later work implements; until then they are refused by name, never
 * accepted and ignored. */
static const char *const spec_keys_not_yet[] = { "policy", "profile", "providers", "forward", "keep", NULL };

SandboxSpec *sandbox_spec_free(SandboxSpec *s) {
        if (!s)
                return NULL;
        strv_free(s->command);
        strv_free(s->environment);
        free(s);
        return NULL;
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

typedef struct SpecParser {
        const char *file;
        DiagList *diags;
        int r; /* first fatal (non-validation) error, e.g. -ENOMEM */
} SpecParser;

static void spec_error(SpecParser *p, const YamlNode *at, const char *path, const char *fmt, ...) _printf_(4, 5);
static void spec_error(SpecParser *p, const YamlNode *at, const char *path, const char *fmt, ...) {
        _cleanup_free_ char *m = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf_safe(&m, fmt, ap);
        va_end(ap);
        if (r >= 0)
                r = diag_add(p->diags, DIAG_ERROR, p->file, at ? at->line : 0, at ? at->column : 0, path, "%s", m);
        if (r < 0 && p->r >= 0)
                p->r = r;
}

static void parse_command(SpecParser *p, const YamlNode *n, char ***ret) {
        _cleanup_strv_free_ char **argv = NULL;

        if (n->type != YAML_NODE_SEQUENCE) {
                spec_error(p, n, "command", "expected a list of strings, got %s (write e.g. [\"/usr/bin/agent\", \"--flag\"])",
                           yaml_node_describe(n));
                return;
        }
        if (n->n_items == 0) {
                spec_error(p, n, "command", "must not be empty (name the program to run)");
                return;
        }
        if (n->n_items > SPEC_COMMAND_ARGS_MAX) {
                spec_error(p, n, "command", "has %zu arguments (at most %u)", n->n_items, SPEC_COMMAND_ARGS_MAX);
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
                        spec_error(p, a, path, "expected a string, got %s", yaml_node_describe(a));
                        continue;
                }
                if (i == 0 && isempty(s))
                        spec_error(p, a, path, "program must not be empty");
                else if (i == 0 && s[0] != '/' && strchr(s, '/'))
                        spec_error(p, a, path,
                                   "program '%s' must be an absolute path or a bare name looked up in the system PATH",
                                   s);
                if (strv_extend(&argv, s) < 0) {
                        p->r = -ENOMEM;
                        return;
                }
        }
        *ret = TAKE_PTR(argv);
}

static void parse_environment(SpecParser *p, const YamlNode *n, char ***ret) {
        _cleanup_strv_free_ char **env = NULL;

        if (yaml_node_is_null(n))
                return;
        if (n->type != YAML_NODE_MAPPING) {
                spec_error(p, n, "environment", "expected a mapping of NAME: value, got %s", yaml_node_describe(n));
                return;
        }
        if (n->n_items / 2 > SPEC_ENVIRONMENT_MAX) {
                spec_error(p, n, "environment", "has %zu variables (at most %u)", n->n_items / 2,
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
                        spec_error(p, k, path,
                                   "invalid variable name (letters, digits and '_', not starting with a digit)");
                        continue;
                }
                if (v->type != YAML_NODE_SCALAR) {
                        spec_error(p, v, path, "expected a string value, got %s", yaml_node_describe(v));
                        continue;
                }
                if (string_has_cc(v->value)) {
                        spec_error(p, v, path, "value contains control characters");
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

int sandbox_spec_parse(const char *file, const YamlNode *root, SandboxSpec **ret, DiagList *diags) {
        _cleanup_(sandbox_spec_freep) SandboxSpec *s = NULL;
        SpecParser p = { .file = file, .diags = diags };
        size_t errors_before = diags->n_errors;
        const YamlNode *command = NULL;

        if (!root) {
                spec_error(&p, NULL, NULL, "file is empty (a sandbox spec needs at least 'command:')");
                return p.r < 0 ? p.r : -EBADMSG;
        }
        if (root->type != YAML_NODE_MAPPING) {
                spec_error(&p, root, NULL, "expected a mapping of keys such as 'command:', got %s",
                           yaml_node_describe(root));
                return p.r < 0 ? p.r : -EBADMSG;
        }

        s = calloc(1, sizeof(SandboxSpec));
        if (!s)
                return -ENOMEM;

        for (size_t i = 0; i + 1 < root->n_items; i += 2) {
                const YamlNode *k = root->items[i], *v = root->items[i + 1];

                if (streq(k->value, "command"))
                        command = v, parse_command(&p, v, &s->command);
                else if (streq(k->value, "environment"))
                        parse_environment(&p, v, &s->environment);
                else if (strv_contains((char **) spec_keys_not_yet, k->value))
                        spec_error(&p, k, k->value, "not supported yet by this version of openshell-systemd");
                else {
                        const char *hint = string_suggest(k->value, spec_keys);
                        if (hint)
                                spec_error(&p, k, k->value, "unknown key (did you mean '%s'?)", hint);
                        else
                                spec_error(&p, k, k->value, "unknown key (expected one of: command, environment)");
                }
                if (p.r < 0)
                        return p.r;
        }

        if (!command)
                spec_error(&p, root, NULL, "missing required key 'command' (the program to run and its arguments)");
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
