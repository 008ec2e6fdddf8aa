/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "broker-endpoint.h"
#include "string-util.h"

static const char *const protocol_names[_PROTOCOL_MAX] = {
        [PROTOCOL_CHAT_COMPLETIONS] = "openai_chat_completions",
        [PROTOCOL_COMPLETIONS] = "openai_completions",
        [PROTOCOL_RESPONSES] = "openai_responses",
        [PROTOCOL_EMBEDDINGS] = "openai_embeddings",
        [PROTOCOL_MESSAGES] = "anthropic_messages",
        [PROTOCOL_MODELS] = "model_discovery",
};

const char *inference_protocol_to_string(InferenceProtocol p) {
        return p >= 0 && p < _PROTOCOL_MAX ? protocol_names[p] : NULL;
}

/* Compares the path part (up to '?') of path with p. */
static bool path_is(const char *path, const char *p) {
        size_t l = strlen(p);
        return strneq(path, p, l) && (path[l] == 0 || path[l] == '?');
}

int inference_classify(const char *method, const char *path, InferenceProtocol *ret) {
        static const struct {
                const char *path;
                InferenceProtocol protocol;
        } post[] = {
                { "/v1/chat/completions", PROTOCOL_CHAT_COMPLETIONS },
                { "/v1/completions", PROTOCOL_COMPLETIONS },
                { "/v1/responses", PROTOCOL_RESPONSES },
                { "/v1/embeddings", PROTOCOL_EMBEDDINGS },
                { "/v1/messages", PROTOCOL_MESSAGES },
        };

        if (streq(method, "POST"))
                for (size_t i = 0; i < ELEMENTSOF(post); i++)
                        if (path_is(path, post[i].path)) {
                                *ret = post[i].protocol;
                                return 0;
                        }
        if (streq(method, "GET")) {
                size_t l = strcspn(path, "?");
                /* /v1/models and /v1/models/ONE-SEGMENT (names may not contain '/' or "..") */
                if (path_is(path, "/v1/models") ||
                    (startswith(path, "/v1/models/") && l > 11 && !memchr(path + 11, '/', l - 11) &&
                     !(l == 13 && strneq(path + 11, "..", 2)))) {
                        *ret = PROTOCOL_MODELS;
                        return 0;
                }
        }
        return -ENOENT;
}

bool provider_supports(ProviderType t, InferenceProtocol p) {
        switch (t) {
        case PROVIDER_OPENAI:
                /* OpenAI-compatible servers (vLLM, Ollama) may also serve Anthropic's /v1/messages: passed
                 * through, the backend answers 404 if it does not. */
                return p >= 0 && p < _PROTOCOL_MAX;
        case PROVIDER_NVIDIA:
                return p >= 0 && p < _PROTOCOL_MAX && p != PROTOCOL_MESSAGES;
        case PROVIDER_ANTHROPIC:
                return p == PROTOCOL_MESSAGES || p == PROTOCOL_MODELS;
        default:
                return false;
        }
}
