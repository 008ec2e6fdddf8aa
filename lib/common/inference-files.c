/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "inference-files.h"
#include "sandbox-name.h"
#include "string-util.h"
#include "yaml-node.h"

#define ETC_OPENSHELL "/etc/openshell"
#define FILE_MAX (4U * 1024U * 1024U)

int openshell_etc_path(const char *rel, char **ret) {
        const char *root = secure_getenv("OPENSHELL_ROOT_DIR");

        if (isempty(root))
                root = "";
        if (rel)
                return asprintf_safe(ret, "%s" ETC_OPENSHELL "/%s", root, rel);
        return asprintf_safe(ret, "%s" ETC_OPENSHELL, root);
}

static bool utf8_is_valid(const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        while (*p) {
                unsigned n, c = *p;
                uint32_t cp;
                if (c < 0x80) {
                        p++;
                        continue;
                }
                if ((c & 0xe0) == 0xc0)
                        n = 1, cp = c & 0x1f;
                else if ((c & 0xf0) == 0xe0)
                        n = 2, cp = c & 0x0f;
                else if ((c & 0xf8) == 0xf0)
                        n = 3, cp = c & 0x07;
                else
                        return false;
                for (unsigned i = 1; i <= n; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (p[i] & 0x3f);
                }
                if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
                    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                p += n + 1;
        }
        return true;
}

void yaml_print_string(FILE *f, const char *s) {
        static const char *const special[] = { "true", "false", "yes", "no", "on",
                                               "off",  "null",  "y",   "n",  NULL };
        bool plain = !isempty(s) && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'));

        for (const char *p = s; plain && *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      strchr("_.-/", *p)))
                        plain = false;
        for (size_t i = 0; plain && special[i]; i++)
                if (strcasecmp(s, special[i]) == 0)
                        plain = false;
        if (plain) {
                fputs(s, f);
                return;
        }
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p == '\n')
                        fputs("\\n", f);
                else if (*p == '\t')
                        fputs("\\t", f);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(f, "\\x%02x", *p);
                else
                        fputc(*p, f);
        }
        fputc('"', f);
}

bool env_key_is_valid(const char *key) {
        if (isempty(key) || (key[0] >= '0' && key[0] <= '9') || strlen(key) > 255)
                return false;
        for (const char *p = key; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '_'))
                        return false;
        return true;
}

int parse_key_value(const char *arg, bool allow_bare, char **ret_key, char **ret_value, char **ret_error) {
        _cleanup_free_ char *key = NULL, *value = NULL;
        const char *eq = strchr(arg, '=');

        *ret_error = NULL;
        if (!eq && !allow_bare) {
                (void) asprintf_safe(ret_error, "'%s' is not KEY=VALUE", arg);
                return -EINVAL;
        }
        key = eq ? strndup(arg, (size_t) (eq - arg)) : strdup(arg);
        if (!key)
                return -ENOMEM;
        if (!env_key_is_valid(key)) {
                (void) asprintf_safe(
                        ret_error,
                        "'%s' is not a valid key (letters, digits and '_', not starting with a digit, "
                        "e.g. OPENAI_API_KEY)",
                        key);
                return -EINVAL;
        }
        if (eq) {
                value = strdup(eq + 1);
                if (!value)
                        return -ENOMEM;
                if (strpbrk(value, "\n\r")) {
                        (void) asprintf_safe(ret_error, "the value of %s must be a single line", key);
                        return -EINVAL;
                }
                if (strlen(value) > CREDENTIAL_VALUE_MAX) {
                        (void) asprintf_safe(ret_error, "the value of %s is too long (at most %u bytes)",
                                             key, CREDENTIAL_VALUE_MAX);
                        return -EINVAL;
                }
        }
        *ret_key = TAKE_PTR(key);
        *ret_value = TAKE_PTR(value);
        return 0;
}

int base_url_normalize(const char *url, char **ret, char **ret_error) {
        const char *host;
        _cleanup_free_ char *s = NULL;
        size_t l;

        *ret_error = NULL;
        if (startswith(url, "http://"))
                host = url + 7;
        else if (startswith(url, "https://"))
                host = url + 8;
        else {
                (void) asprintf_safe(
                        ret_error, "'%s' is not an http:// or https:// URL (e.g. http://127.0.0.1:8000/v1)",
                        url);
                return -EINVAL;
        }
        if (isempty(host) || host[0] == '/' || host[0] == ':' || host[0] == '?' || host[0] == '#') {
                (void) asprintf_safe(ret_error, "'%s' has no host", url);
                return -EINVAL;
        }
        for (const char *p = url; *p; p++)
                if ((unsigned char) *p <= ' ' || *p == 0x7f || *p == '"' || *p == '\\') {
                        (void) asprintf_safe(ret_error, "'%s' contains a space, quote or control character",
                                             url);
                        return -EINVAL;
                }
        if (strpbrk(url, "?#")) {
                (void) asprintf_safe(ret_error, "'%s': a base URL has no query or fragment", url);
                return -EINVAL;
        }
        if (memchr(host, '@', strcspn(host, "/"))) {
                (void) asprintf_safe(
                        ret_error,
                        "'%s' holds a user name or password: put secrets in --credential, not in the URL",
                        url);
                return -EINVAL;
        }
        s = strdup(url);
        if (!s)
                return -ENOMEM;
        l = strlen(s);
        while (l > 0 && s[l - 1] == '/')
                s[--l] = 0;
        *ret = TAKE_PTR(s);
        return 0;
}

/* ---- KEY=VALUE vectors ---- */

const char *kv_get(char *const *l, const char *key) {
        size_t kl = strlen(key);
        STRV_FOREACH(e, l)
                if (strneq(*e, key, kl) && (*e)[kl] == '=')
                        return *e + kl + 1;
        return NULL;
}

int kv_unset(char **l, const char *key) {
        size_t kl = strlen(key), j = 0;
        int found = 0;

        if (!l)
                return 0;
        for (size_t i = 0; l[i]; i++) {
                if (strneq(l[i], key, kl) && l[i][kl] == '=') {
                        explicit_bzero(l[i], strlen(l[i]));
                        free(l[i]);
                        found = 1;
                        continue;
                }
                l[j++] = l[i];
        }
        l[j] = NULL;
        return found;
}

int kv_set(char ***l, const char *key, const char *value) {
        char *e;

        if (asprintf_safe(&e, "%s=%s", key, value) < 0)
                return -ENOMEM;
        (void) kv_unset(*l, key);
        return strv_consume(l, e);
}

static void strv_erase_free(char **l) {
        STRV_FOREACH(e, l)
                explicit_bzero(*e, strlen(*e));
        strv_free(l);
}

/* ---- providers ---- */

void provider_file_done(ProviderFile *p) {
        free(p->name);
        strv_free(p->config);
        strv_free(p->credential_keys);
        *p = (ProviderFile) { .type = _PROVIDER_TYPE_INVALID };
}

int provider_file_load(const char *name, ProviderFile *ret, DiagList *diags) {
        _cleanup_free_ char *rel = NULL, *path = NULL, *text = NULL;
        _cleanup_(yaml_node_freep) YamlNode *root = NULL;
        _cleanup_(provider_freep) Provider *p = NULL;
        size_t size;
        int r;

        if (!sandbox_name_is_valid(name))
                return -EINVAL;
        if (asprintf_safe(&rel, "providers/%s.yaml", name) < 0 || openshell_etc_path(rel, &path) < 0)
                return -ENOMEM;
        r = read_full_file(path, FILE_MAX, &text, &size);
        if (r < 0)
                return r;
        r = yaml_load_buffer(path, text, size, &root, diags);
        if (r < 0)
                return r;
        r = provider_parse(path, name, root, &p, diags);
        if (r < 0)
                return r;
        *ret = (ProviderFile) {
                .name = strdup(name),
                .type = p->type,
                .config = TAKE_PTR(p->config),
                .credential_keys = TAKE_PTR(p->credential_keys),
        };
        if (!ret->name)
                return -ENOMEM;
        return 0;
}

int provider_file_format(const ProviderFile *p, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return -ENOMEM;
        fprintf(f,
                "# openshell provider '%s', written by 'openshell provider'. No secrets here: they are in\n"
                "# /etc/openshell/credentials/%s (root only). See 'openshell provider get %s'.\n",
                p->name, p->name, p->name);
        fprintf(f, "type: %s\n", provider_type_to_string(p->type));
        if (strv_length(p->config) == 0)
                fputs("config: {}\n", f);
        else {
                fputs("config:\n", f);
                STRV_FOREACH(e, p->config) {
                        const char *eq = strchr(*e, '=');
                        _cleanup_free_ char *k = eq ? strndup(*e, (size_t) (eq - *e)) : NULL;
                        if (!k) {
                                fclose(f);
                                return -ENOMEM;
                        }
                        fputs("  ", f);
                        yaml_print_string(f, k);
                        fputs(": ", f);
                        yaml_print_string(f, eq + 1);
                        fputc('\n', f);
                }
        }
        if (strv_length(p->credential_keys) == 0)
                fputs("credential_keys: []\n", f);
        else {
                fputs("credential_keys:\n", f);
                STRV_FOREACH(k, p->credential_keys) {
                        fputs("  - ", f);
                        yaml_print_string(f, *k);
                        fputc('\n', f);
                }
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

int provider_file_save(const ProviderFile *p) {
        _cleanup_free_ char *text = NULL, *rel = NULL, *path = NULL;
        int r;

        STRV_FOREACH(e, p->config)
                if (!utf8_is_valid(*e))
                        return -EILSEQ;
        if (!sandbox_name_is_valid(p->name))
                return -EINVAL;
        r = provider_file_format(p, &text);
        if (r < 0)
                return r;
        if (asprintf_safe(&rel, "providers/%s.yaml", p->name) < 0 || openshell_etc_path(rel, &path) < 0)
                return -ENOMEM;
        return write_file_atomic(path, text, strlen(text), 0644, WRITE_FILE_MKDIR);
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int provider_list_names(char ***ret) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_(closedirp) DIR *d = NULL;

        if (openshell_etc_path("providers", &dir) < 0)
                return -ENOMEM;
        d = opendir(dir);
        if (!d) {
                if (errno != ENOENT)
                        return -errno;
        } else
                for (struct dirent *de; (de = readdir(d));) {
                        _cleanup_free_ char *name = NULL;
                        if (de->d_name[0] == '.' || !endswith(de->d_name, ".yaml"))
                                continue;
                        name = strndup(de->d_name, strlen(de->d_name) - strlen(".yaml"));
                        if (!name)
                                return -ENOMEM;
                        if (!sandbox_name_is_valid(name))
                                continue;
                        if (strv_consume(&names, TAKE_PTR(name)) < 0)
                                return -ENOMEM;
                }
        if (names)
                qsort(names, strv_length(names), sizeof(char *), cmp_str);
        *ret = TAKE_PTR(names);
        return 0;
}

/* ---- credentials ---- */

int credentials_load(const char *name, char ***ret) {
        _cleanup_free_ char *rel = NULL, *path = NULL, *text = NULL;
        char **kv = NULL;
        size_t size;
        int r;

        if (!sandbox_name_is_valid(name))
                return -EINVAL;
        if (asprintf_safe(&rel, "credentials/%s", name) < 0 || openshell_etc_path(rel, &path) < 0)
                return -ENOMEM;
        r = read_full_file(path, 1024 * 1024, &text, &size);
        if (r < 0)
                return r;
        for (char *s = text, *end = text + size; s < end;) {
                char *eol = memchr(s, '\n', (size_t) (end - s)) ?: end;
                *eol = 0;
                if (eol > s && eol[-1] == '\r')
                        eol[-1] = 0;
                if (*s && *s != '#') {
                        char *eq = strchr(s, '=');
                        if (!eq || eq == s) {
                                explicit_bzero(text, size);
                                strv_erase_free(kv);
                                return -EBADMSG;
                        }
                        if (strv_extend(&kv, s) < 0) {
                                explicit_bzero(text, size);
                                strv_erase_free(kv);
                                return -ENOMEM;
                        }
                }
                s = eol + 1;
        }
        explicit_bzero(text, size);
        *ret = kv;
        return 0;
}

int credentials_format(char *const *kv, char **ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return -ENOMEM;
        STRV_FOREACH(e, kv)
                fprintf(f, "%s\n", *e);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

int credentials_save(const char *name, char *const *kv) {
        _cleanup_free_ char *rel = NULL, *path = NULL, *dir = NULL, *text = NULL;
        struct stat st;
        int r;

        if (!sandbox_name_is_valid(name))
                return -EINVAL;
        if (openshell_etc_path("credentials", &dir) < 0)
                return -ENOMEM;
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        /* an existing directory is tightened, not trusted */
        if (stat(dir, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        if ((st.st_mode & 07777) != 0700 && chmod(dir, 0700) < 0)
                return -errno;
        if (geteuid() == 0 && (st.st_uid != 0 || st.st_gid != 0) && chown(dir, 0, 0) < 0)
                return -errno;

        if (asprintf_safe(&rel, "credentials/%s", name) < 0 || openshell_etc_path(rel, &path) < 0)
                return -ENOMEM;
        r = credentials_format(kv, &text);
        if (r < 0)
                return r;
        r = write_file_atomic(path, text, strlen(text), 0600, WRITE_FILE_MKDIR);
        explicit_bzero(text, strlen(text));
        return r;
}

/* ---- inference.yaml ---- */

void inference_route_done(InferenceRoute *r) {
        free(r->name);
        free(r->provider);
        free(r->model);
        for (size_t i = 0; i < r->n_backends; i++)
                free(r->backends[i].url);
        free(r->backends);
        *r = (InferenceRoute) {};
}

void inference_file_done(InferenceFile *f) {
        for (size_t i = 0; i < f->n_routes; i++)
                inference_route_done(&f->routes[i]);
        free(f->routes);
        *f = (InferenceFile) {};
}

static const char *scalar_or_error(const char *file, const YamlNode *n, const char *path, DiagList *diags) {
        const char *s = n && n->type == YAML_NODE_SCALAR ? yaml_node_get_string(n) : NULL;
        if (!s)
                (void) diag_add(diags, DIAG_ERROR, file, n ? n->line : 0, n ? n->column : 0, path,
                                "expected a string, got %s", n ? yaml_node_describe(n) : "nothing");
        return s;
}

static void unknown_key(const char *file, const YamlNode *k, const char *path, const char *const *known,
                        DiagList *diags) {
        const char *hint = string_suggest(k->value, known);
        if (hint)
                (void) diag_add(diags, DIAG_ERROR, file, k->line, k->column, path,
                                "unknown key '%s' (did you mean '%s'?)", k->value, hint);
        else
                (void) diag_add(diags, DIAG_ERROR, file, k->line, k->column, path, "unknown key '%s'",
                                k->value);
}

static int parse_route(const char *file, const YamlNode *n, size_t idx, InferenceRoute *route,
                       DiagList *diags) {
        static const char *const route_keys[] = {
                "name", "provider", "model", "backends", "timeout_seconds", "max_concurrency_per_sandbox",
                NULL,
        };
        static const char *const backend_keys[] = { "url", "weight", NULL };
        _cleanup_free_ char *rpath = NULL;
        int64_t x;

        if (asprintf_safe(&rpath, "routes[%zu]", idx) < 0)
                return -ENOMEM;
        if (n->type != YAML_NODE_MAPPING)
                return diag_add(diags, DIAG_ERROR, file, n->line, n->column, rpath,
                                "expected a mapping, got %s", yaml_node_describe(n));
        for (size_t i = 0; i + 1 < n->n_items; i += 2) {
                const YamlNode *k = n->items[i], *v = n->items[i + 1];
                _cleanup_free_ char *kpath = NULL;
                const char *s;

                if (asprintf_safe(&kpath, "%s.%s", rpath, k->value) < 0)
                        return -ENOMEM;
                if (streq(k->value, "name") || streq(k->value, "provider") || streq(k->value, "model")) {
                        char **dst = streq(k->value, "name")       ? &route->name
                                     : streq(k->value, "provider") ? &route->provider
                                                                   : &route->model;
                        s = scalar_or_error(file, v, kpath, diags);
                        if (s && !(*dst = strdup(s)))
                                return -ENOMEM;
                } else if (streq(k->value, "timeout_seconds")) {
                        if (yaml_node_get_integer(v, 1, INFERENCE_TIMEOUT_MAX, &x) < 0)
                                (void) diag_add(diags, DIAG_ERROR, file, v->line, v->column, kpath,
                                                "expected a number of seconds from 1 to %u, got %s",
                                                INFERENCE_TIMEOUT_MAX, yaml_node_describe(v));
                        else
                                route->timeout_seconds = (unsigned) x;
                } else if (streq(k->value, "max_concurrency_per_sandbox")) {
                        if (yaml_node_get_integer(v, 0, 100000, &x) < 0)
                                (void) diag_add(diags, DIAG_ERROR, file, v->line, v->column, kpath,
                                                "expected an integer from 0 to 100000, got %s",
                                                yaml_node_describe(v));
                        else
                                route->max_concurrency_per_sandbox = (unsigned) x;
                } else if (streq(k->value, "backends")) {
                        if (v->type != YAML_NODE_SEQUENCE) {
                                (void) diag_add(diags, DIAG_ERROR, file, v->line, v->column, kpath,
                                                "expected a list of {url: ..., weight: ...}, got %s",
                                                yaml_node_describe(v));
                                continue;
                        }
                        route->backends = calloc(MAX(v->n_items, (size_t) 1), sizeof(InferenceBackend));
                        if (!route->backends)
                                return -ENOMEM;
                        for (size_t j = 0; j < v->n_items; j++) {
                                const YamlNode *b = v->items[j];
                                InferenceBackend *be = &route->backends[route->n_backends++];
                                _cleanup_free_ char *bpath = NULL;

                                be->weight = 1;
                                if (asprintf_safe(&bpath, "%s[%zu]", kpath, j) < 0)
                                        return -ENOMEM;
                                if (b->type != YAML_NODE_MAPPING) {
                                        (void) diag_add(diags, DIAG_ERROR, file, b->line, b->column, bpath,
                                                        "expected a mapping {url: ..., weight: ...}, got %s",
                                                        yaml_node_describe(b));
                                        continue;
                                }
                                for (size_t m = 0; m + 1 < b->n_items; m += 2) {
                                        const YamlNode *bk = b->items[m], *bv = b->items[m + 1];
                                        _cleanup_free_ char *p2 = NULL;
                                        if (asprintf_safe(&p2, "%s.%s", bpath, bk->value) < 0)
                                                return -ENOMEM;
                                        if (streq(bk->value, "url")) {
                                                s = scalar_or_error(file, bv, p2, diags);
                                                if (s && !(be->url = strdup(s)))
                                                        return -ENOMEM;
                                        } else if (streq(bk->value, "weight")) {
                                                if (yaml_node_get_integer(bv, 1, 1000, &x) < 0)
                                                        (void) diag_add(
                                                                diags, DIAG_ERROR, file, bv->line,
                                                                bv->column, p2,
                                                                "expected an integer from 1 to 1000, got %s",
                                                                yaml_node_describe(bv));
                                                else
                                                        be->weight = (unsigned) x;
                                        } else
                                                unknown_key(file, bk, p2, backend_keys, diags);
                                }
                                if (!be->url)
                                        (void) diag_add(diags, DIAG_ERROR, file, b->line, b->column, bpath,
                                                        "missing required key 'url'");
                        }
                } else
                        unknown_key(file, k, kpath, route_keys, diags);
        }
        if (!route->name && !(route->name = strdup(INFERENCE_ROUTE_DEFAULT)))
                return -ENOMEM;
        if (!route->provider)
                (void) diag_add(diags, DIAG_ERROR, file, n->line, n->column, rpath,
                                "missing required key 'provider'");
        if (!route->model)
                (void) diag_add(diags, DIAG_ERROR, file, n->line, n->column, rpath,
                                "missing required key 'model'");
        return 0;
}

int inference_file_parse(const char *file, const char *text, size_t size, InferenceFile *ret,
                         DiagList *diags) {
        _cleanup_(yaml_node_freep) YamlNode *root = NULL;
        _cleanup_(inference_file_done) InferenceFile f = {};
        size_t errors = diags->n_errors;
        const YamlNode *routes = NULL;
        int r;

        r = yaml_load_buffer(file, text, size, &root, diags);
        if (r < 0)
                return r;
        if (root) {
                if (root->type != YAML_NODE_MAPPING) {
                        (void) diag_add(diags, DIAG_ERROR, file, root->line, root->column, NULL,
                                        "expected a mapping with 'routes:', got %s",
                                        yaml_node_describe(root));
                        return -EBADMSG;
                }
                for (size_t i = 0; i + 1 < root->n_items; i += 2) {
                        static const char *const top_keys[] = { "routes", NULL };
                        if (streq(root->items[i]->value, "routes"))
                                routes = root->items[i + 1];
                        else
                                unknown_key(file, root->items[i], root->items[i]->value, top_keys, diags);
                }
        }
        if (routes && !yaml_node_is_null(routes)) {
                if (routes->type != YAML_NODE_SEQUENCE) {
                        (void) diag_add(diags, DIAG_ERROR, file, routes->line, routes->column, "routes",
                                        "expected a list of routes, got %s", yaml_node_describe(routes));
                        return -EBADMSG;
                }
                if (routes->n_items > BROKER_ROUTES_MAX) {
                        (void) diag_add(diags, DIAG_ERROR, file, routes->line, routes->column, "routes",
                                        "has %zu routes (at most %u)", routes->n_items, BROKER_ROUTES_MAX);
                        return -EBADMSG;
                }
                f.routes = calloc(MAX(routes->n_items, (size_t) 1), sizeof(InferenceRoute));
                if (!f.routes)
                        return -ENOMEM;
                for (size_t i = 0; i < routes->n_items; i++) {
                        r = parse_route(file, routes->items[i], i, &f.routes[f.n_routes++], diags);
                        if (r < 0)
                                return r;
                }
        }
        if (diags->n_errors > errors)
                return -EBADMSG;
        *ret = f;
        f = (InferenceFile) {};
        return 0;
}

int inference_file_load(InferenceFile *ret, DiagList *diags) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t size;
        int r;

        if (openshell_etc_path("inference.yaml", &path) < 0)
                return -ENOMEM;
        r = read_full_file(path, FILE_MAX, &text, &size);
        if (r == -ENOENT) {
                *ret = (InferenceFile) {};
                return 0;
        }
        if (r < 0)
                return r;
        return inference_file_parse(path, text, size, ret, diags);
}

int inference_file_format(const InferenceFile *f, char **ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *o = open_memstream(&buf, &size);

        if (!o)
                return -ENOMEM;
        fputs("# The inference routes of openshell-broker, written by 'openshell inference set'.\n"
              "# See 'openshell inference get'.\n",
              o);
        if (f->n_routes == 0)
                fputs("routes: []\n", o);
        else
                fputs("routes:\n", o);
        for (size_t i = 0; i < f->n_routes; i++) {
                const InferenceRoute *r = &f->routes[i];

                fputs("  - name: ", o);
                yaml_print_string(o, r->name);
                fputs("\n    provider: ", o);
                yaml_print_string(o, r->provider);
                fputs("\n    model: ", o);
                yaml_print_string(o, r->model);
                fputc('\n', o);
                if (r->n_backends > 0) {
                        fputs("    backends:\n", o);
                        for (size_t j = 0; j < r->n_backends; j++) {
                                fputs("      - url: ", o);
                                yaml_print_string(o, r->backends[j].url);
                                fprintf(o, "\n        weight: %u\n", r->backends[j].weight ?: 1);
                        }
                }
                if (r->timeout_seconds > 0)
                        fprintf(o, "    timeout_seconds: %u\n", r->timeout_seconds);
                if (r->max_concurrency_per_sandbox > 0)
                        fprintf(o, "    max_concurrency_per_sandbox: %u\n", r->max_concurrency_per_sandbox);
        }
        if (fclose(o) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

int inference_file_save(const InferenceFile *f) {
        _cleanup_free_ char *text = NULL, *path = NULL;
        int r;

        for (size_t i = 0; i < f->n_routes; i++)
                if (!utf8_is_valid(f->routes[i].model) || !utf8_is_valid(f->routes[i].name))
                        return -EILSEQ;
        r = inference_file_format(f, &text);
        if (r < 0)
                return r;
        if (openshell_etc_path("inference.yaml", &path) < 0)
                return -ENOMEM;
        return write_file_atomic(path, text, strlen(text), 0644, WRITE_FILE_MKDIR);
}

InferenceRoute *inference_file_find(const InferenceFile *f, const char *name) {
        for (size_t i = 0; i < f->n_routes; i++)
                if (streq(f->routes[i].name, name))
                        return &f->routes[i];
        return NULL;
}

int inference_file_put(InferenceFile *f, InferenceRoute *r) {
        InferenceRoute *existing = inference_file_find(f, r->name), *routes;

        if (existing) {
                inference_route_done(existing);
                *existing = *r;
                *r = (InferenceRoute) {};
                return 0;
        }
        routes = reallocarray(f->routes, f->n_routes + 1, sizeof(InferenceRoute));
        if (!routes)
                return -ENOMEM;
        f->routes = routes;
        /* the default route first, as people expect to read it */
        if (streq(r->name, INFERENCE_ROUTE_DEFAULT)) {
                memmove(f->routes + 1, f->routes, f->n_routes * sizeof(InferenceRoute));
                f->routes[0] = *r;
        } else
                f->routes[f->n_routes] = *r;
        f->n_routes++;
        *r = (InferenceRoute) {};
        return 0;
}

int inference_file_remove(InferenceFile *f, const char *name) {
        InferenceRoute *r = inference_file_find(f, name);
        size_t i;

        if (!r)
                return 0;
        i = (size_t) (r - f->routes);
        inference_route_done(r);
        memmove(f->routes + i, f->routes + i + 1, (f->n_routes - i - 1) * sizeof(InferenceRoute));
        f->n_routes--;
        return 1;
}
