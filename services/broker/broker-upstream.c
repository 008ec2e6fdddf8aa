/* SPDX-License-Identifier: Apache-2.0 */
#include <strings.h>

#include "broker-upstream.h"
#include "string-util.h"

int upstream_url(const char *base, const char *path, char **ret) {
        if (!startswith(path, "/v1/"))
                return -EINVAL;
        return asprintf_safe(ret, "%s%s", base, path + 3);
}

static const char *const passthrough_openai[] = { "openai-organization", "openai-project", "x-model-id", NULL };
static const char *const passthrough_nvidia[] = { "x-model-id", NULL };
static const char *const passthrough_anthropic[] = { "anthropic-version", "anthropic-beta", NULL };
/* Negotiation headers a streaming client needs to keep; none carries a credential. */
static const char *const passthrough_all[] = { "accept", NULL };

static bool in_list_ci(const char *const *l, const char *s) {
        for (; *l; l++)
                if (strcasecmp(*l, s) == 0)
                        return true;
        return false;
}

int upstream_headers(const Provider *prov, const HttpRequest *req, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        const char *const *pass;
        bool have_version = false;

        switch (prov->type) {
        case PROVIDER_OPENAI:
                pass = passthrough_openai;
                break;
        case PROVIDER_NVIDIA:
                pass = passthrough_nvidia;
                break;
        case PROVIDER_ANTHROPIC:
                pass = passthrough_anthropic;
                break;
        default:
                return -EINVAL;
        }

        for (size_t i = 0; i < req->n_headers; i++) {
                const HttpHeader *h = &req->headers[i];
                _cleanup_free_ char *line = NULL;

                if (!in_list_ci(pass, h->name) && !in_list_ci(passthrough_all, h->name))
                        continue;
                if (strcasecmp(h->name, "anthropic-version") == 0)
                        have_version = true;
                if (asprintf_safe(&line, "%s: %s", h->name, h->value) < 0 || strv_consume(&l, TAKE_PTR(line)) < 0)
                        return -ENOMEM;
        }

        if (req->body.size > 0 && strv_extend(&l, "Content-Type: application/json") < 0)
                return -ENOMEM;
        /* curl would otherwise add "Expect: 100-continue" to large bodies and wait for the backend. */
        if (strv_extend(&l, "Expect:") < 0)
                return -ENOMEM;

        if (prov->type == PROVIDER_ANTHROPIC && !have_version &&
            strv_extend(&l, "anthropic-version: 2023-06-01") < 0)
                return -ENOMEM;

        if (prov->api_key) {
                _cleanup_free_ char *line = NULL;
                int r;

                if (prov->type == PROVIDER_ANTHROPIC)
                        r = asprintf_safe(&line, "x-api-key: %s", prov->api_key);
                else
                        r = asprintf_safe(&line, "Authorization: Bearer %s", prov->api_key);
                if (r < 0 || strv_consume(&l, TAKE_PTR(line)) < 0)
                        return -ENOMEM;
        }

        *ret = TAKE_PTR(l);
        return 0;
}
