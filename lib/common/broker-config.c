/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "broker-config.h"
#include "string-util.h"

static const struct {
        const char *name, *base_url_key, *api_key, *default_base_url;
} provider_types[_PROVIDER_TYPE_MAX] = {
        [PROVIDER_OPENAI] = { "openai", "OPENAI_BASE_URL", "OPENAI_API_KEY", "https://api.openai.com/v1" },
        [PROVIDER_NVIDIA] = { "nvidia", "NVIDIA_BASE_URL", "NVIDIA_API_KEY", "https://integrate.api.nvidia.com/v1" },
        [PROVIDER_ANTHROPIC] = { "anthropic", "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY",
                                 "https://api.anthropic.com/v1" },
};

const char *provider_type_to_string(ProviderType t) {
        return t >= 0 && t < _PROVIDER_TYPE_MAX ? provider_types[t].name : NULL;
}

ProviderType provider_type_from_string(const char *s) {
        for (int i = 0; s && i < _PROVIDER_TYPE_MAX; i++)
                if (streq(provider_types[i].name, s))
                        return (ProviderType) i;
        return _PROVIDER_TYPE_INVALID;
}

const char *provider_type_base_url_key(ProviderType t) {
        return t >= 0 && t < _PROVIDER_TYPE_MAX ? provider_types[t].base_url_key : NULL;
}

const char *provider_type_api_key(ProviderType t) {
        return t >= 0 && t < _PROVIDER_TYPE_MAX ? provider_types[t].api_key : NULL;
}

const char *provider_type_default_base_url(ProviderType t) {
        return t >= 0 && t < _PROVIDER_TYPE_MAX ? provider_types[t].default_base_url : NULL;
}

static void erase_free(char *s) {
        if (!s)
                return;
        explicit_bzero(s, strlen(s));
        free(s);
}

Provider *provider_free(Provider *p) {
        if (!p)
                return NULL;
        free(p->name);
        free(p->base_url);
        strv_free(p->config);
        strv_free(p->credential_keys);
        erase_free(p->api_key);
        free(p);
        return NULL;
}

static void route_done(Route *r) {
        free(r->name);
        free(r->model);
        for (size_t i = 0; i < r->n_backends; i++)
                free(r->backends[i].url);
        free(r->backends);
}

BrokerConfig *broker_config_ref(BrokerConfig *c) {
        if (c)
                c->n_ref++;
        return c;
}

BrokerConfig *broker_config_unref(BrokerConfig *c) {
        if (!c || --c->n_ref > 0)
                return NULL;
        for (size_t i = 0; i < c->n_routes; i++)
                route_done(&c->routes[i]);
        free(c->routes);
        for (size_t i = 0; i < c->n_providers; i++)
                provider_free(c->providers[i]);
        free(c->providers);
        free(c);
        return NULL;
}

bool provider_name_is_valid(const char *name) {
        if (isempty(name) || strlen(name) > 63 || name[0] == '.' || name[0] == '-')
                return false;
        for (const char *p = name; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      strchr("-_.", *p)))
                        return false;
        return true;
}

static void unknown_key(DiagReporter *p, const YamlNode *k, const char *path, const char *const *keys) {
        const char *hint = string_suggest(k->value, keys);
        _cleanup_free_ char *list = NULL;

        if (hint) {
                yaml_error(p, k, path, "unknown key (did you mean '%s'?)", hint);
                return;
        }
        for (size_t i = 0; keys[i]; i++) {
                char *n = NULL;
                if (asprintf_safe(&n, "%s%s%s", list ?: "", list ? ", " : "", keys[i]) < 0) {
                        p->r = -ENOMEM;
                        return;
                }
                free(list);
                list = n;
        }
        yaml_error(p, k, path, "unknown key (expected one of: %s)", list);
}

static const char *scalar(DiagReporter *p, const YamlNode *n, const char *path) {
        const char *s = n && n->type == YAML_NODE_SCALAR ? yaml_node_get_string(n) : NULL;

        if (!s || isempty(s)) {
                yaml_error(p, n, path, "expected a non-empty string, got %s", yaml_node_describe(n));
                return NULL;
        }
        if (string_has_cc(s)) {
                yaml_error(p, n, path, "contains control characters");
                return NULL;
        }
        return s;
}

static bool url_is_valid(const char *u) {
        return (startswith(u, "http://") && strlen(u) > 7) || (startswith(u, "https://") && strlen(u) > 8);
}

static int url_normalize(const char *u, char **ret) {
        char *s = strdup(u);
        size_t l;

        if (!s)
                return -ENOMEM;
        l = strlen(s);
        while (l > 0 && s[l - 1] == '/')
                s[--l] = 0;
        *ret = s;
        return 0;
}

static const char *const provider_keys[] = { "type", "config", "credential_keys", "name", NULL };

int provider_parse(const char *file, const char *name, const YamlNode *root, Provider **ret, DiagList *diags) {
        _cleanup_(provider_freep) Provider *prov = NULL;
        DiagReporter p = { .file = file, .diags = diags };
        size_t errors_before = diags->n_errors;
        const YamlNode *type = NULL;
        const char *base_url = NULL;

        if (!root || root->type != YAML_NODE_MAPPING) {
                yaml_error(&p, root, NULL, "expected a mapping with 'type:', got %s",
                     root ? yaml_node_describe(root) : "an empty file");
                return p.r < 0 ? p.r : -EBADMSG;
        }

        prov = calloc(1, sizeof(Provider));
        if (!prov)
                return -ENOMEM;
        prov->type = _PROVIDER_TYPE_INVALID;
        prov->name = strdup(name);
        if (!prov->name)
                return -ENOMEM;

        for (size_t i = 0; i + 1 < root->n_items; i += 2) {
                const YamlNode *k = root->items[i], *v = root->items[i + 1];

                if (streq(k->value, "type")) {
                        const char *s = scalar(&p, v, "type");
                        type = v;
                        if (s) {
                                prov->type = provider_type_from_string(s);
                                if (prov->type < 0)
                                        yaml_error(&p, v, "type",
                                             "unknown provider type '%s' "
                                             "(inference routing supports: openai, nvidia, anthropic)",
                                             s);
                        }
                } else if (streq(k->value, "name")) {
                        const char *s = scalar(&p, v, "name");
                        if (s && !streq(s, name))
                                yaml_error(&p, v, "name", "'%s' does not match the file name '%s'", s, name);
                } else if (streq(k->value, "config")) {
                        if (yaml_node_is_null(v))
                                continue;
                        if (v->type != YAML_NODE_MAPPING) {
                                yaml_error(&p, v, "config", "expected a mapping of KEY: value, got %s",
                                     yaml_node_describe(v));
                                continue;
                        }
                        for (size_t j = 0; j + 1 < v->n_items; j += 2) {
                                const YamlNode *ck = v->items[j], *cv = v->items[j + 1];
                                _cleanup_free_ char *path = NULL, *entry = NULL;
                                const char *s;

                                if (asprintf_safe(&path, "config.%s", ck->value) < 0)
                                        return -ENOMEM;
                                s = scalar(&p, cv, path);
                                if (!s)
                                        continue;
                                if (asprintf_safe(&entry, "%s=%s", ck->value, s) < 0 ||
                                    strv_consume(&prov->config, TAKE_PTR(entry)) < 0)
                                        return -ENOMEM;
                                if (endswith(ck->value, "_BASE_URL") && !url_is_valid(s))
                                        yaml_error(&p, cv, path, "'%s' is not an http:// or https:// URL", s);
                        }
                } else if (streq(k->value, "credential_keys")) {
                        if (yaml_node_is_null(v))
                                continue;
                        if (v->type != YAML_NODE_SEQUENCE) {
                                yaml_error(&p, v, "credential_keys", "expected a list of key names, got %s",
                                     yaml_node_describe(v));
                                continue;
                        }
                        for (size_t j = 0; j < v->n_items; j++) {
                                _cleanup_free_ char *path = NULL;
                                const char *s;

                                if (asprintf_safe(&path, "credential_keys[%zu]", j) < 0)
                                        return -ENOMEM;
                                s = scalar(&p, v->items[j], path);
                                if (s && strv_extend(&prov->credential_keys, s) < 0)
                                        return -ENOMEM;
                        }
                } else
                        unknown_key(&p, k, k->value, provider_keys);
                if (p.r < 0)
                        return p.r;
        }

        if (!type)
                yaml_error(&p, root, NULL, "missing required key 'type' (openai, nvidia or anthropic)");
        if (p.r < 0)
                return p.r;
        if (diags->n_errors > errors_before)
                return -EBADMSG;

        STRV_FOREACH(e, prov->config) {
                const char *key = provider_type_base_url_key(prov->type);
                size_t l = strlen(key);
                if (strneq(*e, key, l) && (*e)[l] == '=')
                        base_url = *e + l + 1;
        }
        if (url_normalize(base_url ?: provider_type_default_base_url(prov->type), &prov->base_url) < 0)
                return -ENOMEM;

        *ret = TAKE_PTR(prov);
        return 0;
}

int credentials_parse(const char *data, size_t size, const char *key, char **ret) {
        _cleanup_free_ char *value = NULL;
        size_t kl = strlen(key);

        for (const char *s = data, *end = data + size; s < end;) {
                const char *eol = memchr(s, '\n', (size_t) (end - s)) ?: end;
                size_t l = (size_t) (eol - s);
                const char *eq;

                if (l > 0 && s[l - 1] == '\r')
                        l--;
                if (l == 0 || s[0] == '#') {
                        s = eol + 1;
                        continue;
                }
                eq = memchr(s, '=', l);
                if (!eq || eq == s || memchr(s, 0, l))
                        return -EBADMSG;
                if ((size_t) (eq - s) == kl && strneq(s, key, kl)) {
                        free(value);
                        value = strndup(eq + 1, l - kl - 1);
                        if (!value)
                                return -ENOMEM;
                }
                s = eol + 1;
        }
        *ret = TAKE_PTR(value);
        return 0;
}

static int read_small_file(const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        struct stat st;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if ((uint64_t) st.st_size > max)
                return -EFBIG;
        data = malloc((size_t) st.st_size + 1);
        if (!data)
                return -ENOMEM;
        while (size < (size_t) st.st_size) {
                ssize_t n = read(fd, data + size, (size_t) st.st_size - size);
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        data[size] = 0;
        *ret = TAKE_PTR(data);
        *ret_size = size;
        return 0;
}

static int provider_load_secret(DiagReporter *p, Provider *prov, const char *credentials_dir, const char *prefix) {
        _cleanup_free_ char *path = NULL, *data = NULL, *value = NULL;
        const char *key = provider_type_api_key(prov->type);
        size_t size = 0;
        int r;

        if (!credentials_dir)
                return 0;
        if (asprintf_safe(&path, "%s/%s%s", credentials_dir, prefix ?: "", prov->name) < 0)
                return -ENOMEM;
        r = read_small_file(path, BROKER_CREDENTIAL_FILE_MAX, &data, &size);
        if (r == -ENOENT) {
                if (strv_length(prov->credential_keys) > 0)
                        yaml_warning(p, NULL, NULL, "provider '%s' lists credential keys but %s does not exist; "
                              "requests are sent without credentials", prov->name, path);
                return 0;
        }
        if (r < 0) {
                yaml_warning(p, NULL, NULL, "cannot read credentials of provider '%s' from %s: %s", prov->name, path,
                      strerror(-r));
                return 0;
        }

        r = credentials_parse(data, size, key, &value);
        /* The canonical key of the type first; else the first listed key the file holds. */
        STRV_FOREACH(k, prov->credential_keys) {
                if (r < 0 || value)
                        break;
                r = credentials_parse(data, size, *k, &value);
        }
        /* data is set here; the test is for clang's analyzer, which cannot tell. */
        if (data)
                explicit_bzero(data, size);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                yaml_error(p, NULL, NULL, "credentials of provider '%s' in %s are not KEY=VALUE lines", prov->name, path);
                return 0;
        }
        prov->api_key = TAKE_PTR(value);
        return 0;
}

static int load_provider(DiagReporter *p, BrokerConfig *c, const char *name, const char *providers_dir,
                         const char *credentials_dir, const char *prefix, Provider **ret) {
        _cleanup_(yaml_node_freep) YamlNode *root = NULL;
        _cleanup_(provider_freep) Provider *prov = NULL;
        _cleanup_free_ char *path = NULL;
        Provider **a;
        int r;

        for (size_t i = 0; i < c->n_providers; i++)
                if (streq(c->providers[i]->name, name)) {
                        *ret = c->providers[i];
                        return 0;
                }

        if (asprintf_safe(&path, "%s/%s.yaml", providers_dir, name) < 0)
                return -ENOMEM;
        r = yaml_load_file(path, &root, p->diags);
        if (r < 0)
                return r;
        r = provider_parse(path, name, root, &prov, p->diags);
        if (r < 0)
                return r;
        r = provider_load_secret(p, prov, credentials_dir, prefix);
        if (r < 0)
                return r;

        a = reallocarray(c->providers, c->n_providers + 1, sizeof(Provider *));
        if (!a)
                return -ENOMEM;
        c->providers = a;
        *ret = c->providers[c->n_providers++] = TAKE_PTR(prov);
        return 0;
}

static const char *const route_keys[] = {
        "name", "provider", "model", "backends", "timeout_seconds", "max_concurrency_per_sandbox", NULL,
};
static const char *const backend_keys[] = { "url", "weight", NULL };

static void parse_backends(DiagReporter *p, const YamlNode *n, const char *rpath, Route *route) {
        _cleanup_free_ char *path = NULL;

        if (asprintf_safe(&path, "%s.backends", rpath) < 0) {
                p->r = -ENOMEM;
                return;
        }
        if (n->type != YAML_NODE_SEQUENCE || n->n_items == 0) {
                yaml_error(p, n, path, "expected a non-empty list of {url: ..., weight: N}, got %s", yaml_node_describe(n));
                return;
        }
        if (n->n_items > BROKER_BACKENDS_MAX) {
                yaml_error(p, n, path, "has %zu backends (at most %u)", n->n_items, BROKER_BACKENDS_MAX);
                return;
        }
        route->backends = calloc(n->n_items, sizeof(RouteBackend));
        if (!route->backends) {
                p->r = -ENOMEM;
                return;
        }
        for (size_t i = 0; i < n->n_items; i++) {
                const YamlNode *b = n->items[i];
                _cleanup_free_ char *bpath = NULL;
                RouteBackend *rb = &route->backends[route->n_backends];
                const YamlNode *url = NULL;

                if (asprintf_safe(&bpath, "%s[%zu]", path, i) < 0) {
                        p->r = -ENOMEM;
                        return;
                }
                *rb = (RouteBackend) { .weight = 1 };
                if (b->type == YAML_NODE_SCALAR)
                        url = b; /* shorthand: a plain URL */
                else if (b->type == YAML_NODE_MAPPING) {
                        for (size_t j = 0; j + 1 < b->n_items; j += 2) {
                                const YamlNode *k = b->items[j], *v = b->items[j + 1];
                                _cleanup_free_ char *kpath = NULL;

                                if (asprintf_safe(&kpath, "%s.%s", bpath, k->value) < 0) {
                                        p->r = -ENOMEM;
                                        return;
                                }
                                if (streq(k->value, "url"))
                                        url = v;
                                else if (streq(k->value, "weight")) {
                                        int64_t w;
                                        if (yaml_node_get_integer(v, 1, 1000, &w) < 0)
                                                yaml_error(p, v, kpath, "expected an integer from 1 to 1000, got %s",
                                                     yaml_node_describe(v));
                                        else
                                                rb->weight = (unsigned) w;
                                } else
                                        unknown_key(p, k, kpath, backend_keys);
                        }
                } else {
                        yaml_error(p, b, bpath, "expected {url: ..., weight: N}, got %s", yaml_node_describe(b));
                        continue;
                }
                if (!url) {
                        yaml_error(p, b, bpath, "missing required key 'url'");
                        continue;
                }
                {
                        _cleanup_free_ char *upath = NULL;
                        const char *s;

                        if (asprintf_safe(&upath, "%s.url", bpath) < 0) {
                                p->r = -ENOMEM;
                                return;
                        }
                        s = scalar(p, url, upath);
                        if (!s)
                                continue;
                        if (!url_is_valid(s)) {
                                yaml_error(p, url, upath, "'%s' is not an http:// or https:// URL", s);
                                continue;
                        }
                        if (url_normalize(s, &rb->url) < 0) {
                                p->r = -ENOMEM;
                                return;
                        }
                }
                route->n_backends++;
        }
}

static void parse_route(DiagReporter *p, BrokerConfig *c, const YamlNode *n, size_t idx, const char *providers_dir,
                        const char *credentials_dir, const char *prefix) {
        _cleanup_free_ char *rpath = NULL;
        Route *route = &c->routes[c->n_routes];
        const YamlNode *provider = NULL, *model = NULL, *backends = NULL;
        const char *name = BROKER_DEFAULT_ROUTE;
        int r;

        if (asprintf_safe(&rpath, "routes[%zu]", idx) < 0) {
                p->r = -ENOMEM;
                return;
        }
        if (n->type != YAML_NODE_MAPPING) {
                yaml_error(p, n, rpath, "expected a mapping with provider: and model:, got %s", yaml_node_describe(n));
                return;
        }

        *route = (Route) { .timeout_sec = BROKER_TIMEOUT_DEFAULT_SEC };
        c->n_routes++; /* from here on route_done() cleans up */

        for (size_t i = 0; i + 1 < n->n_items; i += 2) {
                const YamlNode *k = n->items[i], *v = n->items[i + 1];
                _cleanup_free_ char *kpath = NULL;
                int64_t x;

                if (asprintf_safe(&kpath, "%s.%s", rpath, k->value) < 0) {
                        p->r = -ENOMEM;
                        return;
                }
                if (streq(k->value, "name")) {
                        const char *s = scalar(p, v, kpath);
                        if (s)
                                name = s;
                } else if (streq(k->value, "provider"))
                        provider = v;
                else if (streq(k->value, "model"))
                        model = v;
                else if (streq(k->value, "backends"))
                        backends = v;
                else if (streq(k->value, "timeout_seconds")) {
                        if (yaml_node_get_integer(v, 1, 3600, &x) < 0)
                                yaml_error(p, v, kpath, "expected a number of seconds from 1 to 3600, got %s",
                                     yaml_node_describe(v));
                        else
                                route->timeout_sec = (unsigned) x;
                } else if (streq(k->value, "max_concurrency_per_sandbox")) {
                        if (yaml_node_get_integer(v, 0, 100000, &x) < 0)
                                yaml_error(p, v, kpath, "expected an integer from 0 (unlimited) to 100000, got %s",
                                     yaml_node_describe(v));
                        else
                                route->max_concurrency_per_sandbox = (unsigned) x;
                } else
                        unknown_key(p, k, kpath, route_keys);
                if (p->r < 0)
                        return;
        }

        for (size_t i = 0; i + 1 < c->n_routes; i++)
                if (streq(c->routes[i].name, name)) {
                        yaml_error(p, n, rpath, "duplicate route name '%s'", name);
                        break;
                }
        route->name = strdup(name);
        if (!route->name) {
                p->r = -ENOMEM;
                return;
        }

        if (!model)
                yaml_error(p, n, rpath, "missing required key 'model'");
        else {
                _cleanup_free_ char *kpath = NULL;
                const char *s;

                if (asprintf_safe(&kpath, "%s.model", rpath) < 0) {
                        p->r = -ENOMEM;
                        return;
                }
                s = scalar(p, model, kpath);
                if (s && !(route->model = strdup(s))) {
                        p->r = -ENOMEM;
                        return;
                }
        }

        if (!provider)
                yaml_error(p, n, rpath, "missing required key 'provider'");
        else {
                _cleanup_free_ char *kpath = NULL;
                const char *s;

                if (asprintf_safe(&kpath, "%s.provider", rpath) < 0) {
                        p->r = -ENOMEM;
                        return;
                }
                s = scalar(p, provider, kpath);
                if (s && !provider_name_is_valid(s))
                        yaml_error(p, provider, kpath, "invalid provider name '%s'", s);
                else if (s) {
                        size_t before = p->diags->n_errors;

                        r = load_provider(p, c, s, providers_dir, credentials_dir, prefix, &route->provider);
                        if (r == -ENOMEM) {
                                p->r = r;
                                return;
                        }
                        if (r == -ENOENT)
                                yaml_error(p, provider, kpath,
                                     "unknown provider '%s' (no %s/%s.yaml; see 'openshell provider create')", s,
                                     providers_dir, s);
                        else if (r < 0 && p->diags->n_errors == before)
                                yaml_error(p, provider, kpath, "cannot load provider '%s' from %s/%s.yaml: %s", s,
                                     providers_dir, s, strerror(-r));
                        else if (r < 0)
                                yaml_error(p, provider, kpath, "provider '%s' is invalid (see above)", s);
                }
        }

        if (backends)
                parse_backends(p, backends, rpath, route);
        else if (route->provider) {
                /* No backends: the provider's base URL is the only one. */
                route->backends = calloc(1, sizeof(RouteBackend));
                if (!route->backends || !(route->backends[0].url = strdup(route->provider->base_url))) {
                        p->r = -ENOMEM;
                        return;
                }
                route->backends[0].weight = 1;
                route->n_backends = 1;
        }
}

static const char *const top_keys[] = { "routes", NULL };

int broker_config_parse(const char *file, const YamlNode *root, const char *providers_dir,
                        const char *credentials_dir, const char *prefix, BrokerConfig **ret, DiagList *diags) {
        _cleanup_(broker_config_unrefp) BrokerConfig *c = NULL;
        DiagReporter p = { .file = file, .diags = diags };
        size_t errors_before = diags->n_errors;

        c = calloc(1, sizeof(BrokerConfig));
        if (!c)
                return -ENOMEM;
        c->n_ref = 1;

        if (root && root->type != YAML_NODE_MAPPING) {
                yaml_error(&p, root, NULL, "expected a mapping with 'routes:', got %s", yaml_node_describe(root));
                return p.r < 0 ? p.r : -EBADMSG;
        }
        for (size_t i = 0; root && i + 1 < root->n_items; i += 2) {
                const YamlNode *k = root->items[i], *v = root->items[i + 1];

                if (!streq(k->value, "routes")) {
                        unknown_key(&p, k, k->value, top_keys);
                        continue;
                }
                if (yaml_node_is_null(v))
                        continue;
                if (v->type != YAML_NODE_SEQUENCE) {
                        yaml_error(&p, v, "routes", "expected a list of routes, got %s", yaml_node_describe(v));
                        continue;
                }
                if (v->n_items > BROKER_ROUTES_MAX) {
                        yaml_error(&p, v, "routes", "has %zu routes (at most %u)", v->n_items, BROKER_ROUTES_MAX);
                        continue;
                }
                c->routes = calloc(v->n_items, sizeof(Route));
                if (!c->routes)
                        return -ENOMEM;
                for (size_t j = 0; j < v->n_items; j++) {
                        parse_route(&p, c, v->items[j], j, providers_dir, credentials_dir, prefix);
                        if (p.r < 0)
                                return p.r;
                }
        }
        if (p.r < 0)
                return p.r;
        if (diags->n_errors > errors_before)
                return -EBADMSG;
        *ret = TAKE_PTR(c);
        return 0;
}

int broker_config_load(const char *config_dir, const char *credentials_dir, const char *prefix, BrokerConfig **ret,
                       DiagList *diags) {
        _cleanup_(yaml_node_freep) YamlNode *root = NULL;
        _cleanup_free_ char *path = NULL, *providers_dir = NULL;
        int r;

        if (asprintf_safe(&path, "%s/inference.yaml", config_dir) < 0 ||
            asprintf_safe(&providers_dir, "%s/providers", config_dir) < 0)
                return -ENOMEM;
        if (access(path, F_OK) < 0 && errno == ENOENT)
                return broker_config_parse(path, NULL, providers_dir, credentials_dir, prefix, ret, diags);
        r = yaml_load_file(path, &root, diags);
        if (r < 0)
                return r;
        return broker_config_parse(path, root, providers_dir, credentials_dir, prefix, ret, diags);
}

const Route *broker_config_find_route(const BrokerConfig *c, const char *name) {
        if (!c || !name)
                return NULL;
        for (size_t i = 0; i < c->n_routes; i++)
                if (streq(c->routes[i].name, name))
                        return &c->routes[i];
        return NULL;
}
