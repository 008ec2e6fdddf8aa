/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "provider-edit.h"
#include "sandbox-name.h"
#include "string-util.h"

static const char *const supported_types[] = { "openai", "nvidia", "anthropic", NULL };
/* Upstream types (SPEC.md §5.1) that this implementation does not route yet. */
static const char *const upstream_types[] = {
        "claude",      "claude-code", "codex",         "copilot",    "deepinfra",
        "generic",     "github",      "gitlab",        "opencode",   "google-vertex-ai",
        "vertex",      "vertex-ai",   "google-vertex", "gcp-vertex", "google-cloud",
        "aws-bedrock", "aws",         "aws-s3",        "outlook",    "cursor",
        "pypi",        NULL,
};

/* Sets *ret_error to the formatted message and returns error, or -ENOMEM if the message cannot be made. */
_printf_(3, 4) static int refuse(char **ret_error, int error, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf_safe(ret_error, fmt, ap);
        va_end(ap);
        return r < 0 ? -ENOMEM : error;
}

int provider_name_check(const char *name, char **ret_error) {
        if (sandbox_name_is_valid(name))
                return 0;
        if (isempty(name))
                return refuse(ret_error, -EINVAL, "provider name must not be empty");
        if (strlen(name) > SANDBOX_NAME_MAX)
                return refuse(ret_error, -EINVAL, "provider name '%.*s...' is too long (at most %d characters)",
                              20, name, SANDBOX_NAME_MAX);
        return refuse(ret_error, -EINVAL,
                      "invalid provider name '%s': use letters, digits, '-' and '_', starting with a letter or "
                      "digit (e.g. local-vllm)",
                      name);
}

int provider_type_parse(const char *s, ProviderType *ret, char **ret_error) {
        ProviderType t;
        const char *hint;

        t = provider_type_from_string(s);
        if (t >= 0) {
                *ret = t;
                return 0;
        }
        if (strv_contains((char *const *) upstream_types, s))
                return refuse(ret_error, -EOPNOTSUPP,
                              "provider type '%s' is not supported yet: inference routing supports openai, nvidia "
                              "and anthropic (any OpenAI-compatible server, e.g. vLLM or Ollama, is 'openai')",
                              s);
        hint = string_suggest(s, supported_types);
        if (hint)
                return refuse(ret_error, -EINVAL, "unknown provider type '%s' (did you mean '%s'?)", s, hint);
        return refuse(ret_error, -EINVAL, "unknown provider type '%s' (supported: openai, nvidia, anthropic)", s);
}

const char *const *provider_type_config_keys(ProviderType t) {
        static const char *const openai[] = { "OPENAI_BASE_URL", NULL };
        static const char *const nvidia[] = { "NVIDIA_BASE_URL", NULL };
        static const char *const anthropic[] = { "ANTHROPIC_BASE_URL", NULL };

        switch (t) {
        case PROVIDER_OPENAI:
                return openai;
        case PROVIDER_NVIDIA:
                return nvidia;
        case PROVIDER_ANTHROPIC:
                return anthropic;
        default:
                return NULL;
        }
}

void credentials_erase(char **kv) {
        STRV_FOREACH(s, kv)
                explicit_bzero(*s, strlen(*s));
}

void provider_edit_done(ProviderEdit *e) {
        credentials_erase(e->credentials);
        e->credentials = strv_free(e->credentials);
        e->config = strv_free(e->config);
}

/* A value from the environment must fit on the one line the credentials file gives it. */
static int value_from_environment(const char *what, const char *key, char **ret, char **ret_error) {
        const char *v = secure_getenv(key);
        char *copy;

        if (!v)
                return refuse(ret_error, -EINVAL,
                              "%s %s: %s is not set in the environment (write %s %s=VALUE)", what, key, key, what,
                              key);
        if (strpbrk(v, "\r\n"))
                return refuse(ret_error, -EINVAL, "%s %s: the value in the environment must be a single line",
                              what, key);
        copy = strdup(v);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

int provider_edit_add_credential(ProviderEdit *e, const char *arg, bool update, char **ret_error) {
        _cleanup_free_ char *key = NULL, *value = NULL, *err = NULL;
        int r;

        r = parse_key_value(arg, true, &key, &value, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return refuse(ret_error, -EINVAL, "--credential: %s", err);
        if (!value) {
                r = value_from_environment("--credential", key, &value, ret_error);
                if (r < 0)
                        return r;
        }
        if (isempty(value) && !update)
                r = refuse(ret_error, -EINVAL,
                           "--credential %s: empty value (a server that needs no key needs no --credential)", key);
        else if (kv_get(e->credentials, key))
                r = refuse(ret_error, -EINVAL, "--credential %s given twice", key);
        else
                r = kv_set(&e->credentials, key, value) < 0 ? -ENOMEM : 0;
        /* value is set here; the test is for clang's analyzer, which cannot tell. */
        if (value)
                explicit_bzero(value, strlen(value));
        return r;
}

int provider_edit_add_config(ProviderEdit *e, const char *arg, bool update, char **ret_error) {
        _cleanup_free_ char *key = NULL, *value = NULL, *err = NULL;
        int r;

        r = parse_key_value(arg, false, &key, &value, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return refuse(ret_error, -EINVAL, "--config: %s", err);
        if (isempty(value) && !update)
                return refuse(ret_error, -EINVAL, "--config %s: empty value", key);
        if (!isempty(value) && endswith(key, "_BASE_URL")) {
                _cleanup_free_ char *norm = NULL;

                r = base_url_normalize(value, &norm, &err);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return refuse(ret_error, -EINVAL, "--config %s: %s", key, err);
                free(value);
                value = TAKE_PTR(norm);
        }
        if (kv_get(e->config, key))
                return refuse(ret_error, -EINVAL, "--config %s given twice", key);
        return kv_set(&e->config, key, value) < 0 ? -ENOMEM : 0;
}

/* KEY of a "KEY=VALUE" string. */
static char *kv_key(const char *kv) {
        return strndup(kv, strcspn(kv, "="));
}

static int apply_config(const ProviderEdit *e, ProviderFile *p, char ***warnings, char **ret_error) {
        const char *const *known = provider_type_config_keys(p->type);
        const char *type = provider_type_to_string(p->type);

        STRV_FOREACH(s, e->config) {
                _cleanup_free_ char *key = kv_key(*s);
                const char *value;

                if (!key)
                        return -ENOMEM;
                value = *s + strlen(key) + 1;
                if (!known || !strv_contains((char *const *) known, key)) {
                        const char *hint = string_suggest(key, known);

                        if (hint)
                                return refuse(ret_error, -EINVAL,
                                              "--config %s: %s providers do not use %s (did you mean '%s'?)", key,
                                              type, key, hint);
                        if (strv_extendf(warnings, "--config %s: not used by %s providers (they use %s); stored anyway",
                                         key, type, known ? known[0] : "-") < 0)
                                return -ENOMEM;
                }
                if (isempty(value))
                        (void) kv_unset(p->config, key);
                else if (kv_set(&p->config, key, value) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int apply_credentials(const ProviderEdit *e, ProviderFile *p, char ***creds, char ***warnings) {
        const char *api_key = provider_type_api_key(p->type);

        STRV_FOREACH(s, e->credentials) {
                _cleanup_free_ char *key = kv_key(*s);
                const char *value;

                if (!key)
                        return -ENOMEM;
                value = *s + strlen(key) + 1;
                if (!streq(key, api_key) &&
                    strv_extendf(warnings,
                                 "--credential %s: the broker injects %s for %s providers; %s is used only when %s "
                                 "is absent",
                                 key, api_key, provider_type_to_string(p->type), key, api_key) < 0)
                        return -ENOMEM;
                if (isempty(value))
                        (void) kv_unset(*creds, key);
                else if (kv_set(creds, key, value) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int provider_edit_apply(const ProviderEdit *e, ProviderFile *p, char ***creds, char ***warnings,
                        char **ret_error) {
        const char *api_key = provider_type_api_key(p->type);
        _cleanup_strv_free_ char **keys = NULL;
        int r;

        if (e->from_existing) {
                const char *v = secure_getenv(api_key);

                if (isempty(v))
                        return refuse(ret_error, -EINVAL, "--from-existing: %s is not set in the environment",
                                      api_key);
                if (strpbrk(v, "\r\n"))
                        return refuse(ret_error, -EINVAL, "--from-existing: %s must be a single line", api_key);
                /* an explicit --credential of the same key wins */
                if (!kv_get(e->credentials, api_key) && kv_set(creds, api_key, v) < 0)
                        return -ENOMEM;
        }

        r = apply_config(e, p, warnings, ret_error);
        if (r < 0)
                return r;
        r = apply_credentials(e, p, creds, warnings);
        if (r < 0)
                return r;

        /* credential_keys: the names the credentials file holds */
        STRV_FOREACH(s, *creds) {
                char *key = kv_key(*s);
                if (!key || strv_consume(&keys, key) < 0)
                        return -ENOMEM;
        }
        strv_free(p->credential_keys);
        p->credential_keys = TAKE_PTR(keys);
        return 0;
}

int provider_routes_using(const char *name, char ***ret) {
        _cleanup_(inference_file_done) InferenceFile f = {};
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = inference_file_load(&f, &d);
        if (r < 0)
                return r;
        for (size_t i = 0; i < f.n_routes; i++)
                if (streq(f.routes[i].provider, name) && strv_extend(&l, f.routes[i].name) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}
