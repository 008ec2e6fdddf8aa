/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "macro.h"
#include "proxy-inference.h"

/* Upstream's default_patterns (l7/inference.rs): exact paths, compared case-sensitively as URLs are. */
static const struct {
        const char *method, *path, *protocol;
} exact[] = {
        { "POST", "/v1/chat/completions", "openai_chat_completions" },
        { "POST", "/v1/completions", "openai_completions" },
        { "POST", "/v1/responses", "openai_responses" },
        { "POST", "/v1/embeddings", "openai_embeddings" },
        { "POST", "/v1/messages", "anthropic_messages" },
        { "GET", "/v1/models", "model_discovery" },
};

const char *proxy_inference_match(const char *method, const char *path) {
        const char *rest;

        if (!method || !path)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(exact); i++)
                if (streq(method, exact[i].method) && streq(path, exact[i].path))
                        return exact[i].protocol;
        /* GET /v1/models/<id>: a model id may itself contain '/' ("meta/llama-3"). */
        if (streq(method, "GET") && strneq(path, "/v1/models/", 11) && path[11])
                return "model_discovery";
        /* POST /model/<id>/invoke, <id> one non-empty segment. */
        if (streq(method, "POST") && strneq(path, "/model/", 7)) {
                rest = path + 7;
                size_t n = strcspn(rest, "/");
                if (n > 0 && streq(rest + n, "/invoke"))
                        return "aws_bedrock_invoke";
        }
        return NULL;
}
