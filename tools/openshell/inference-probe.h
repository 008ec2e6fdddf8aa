/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Trying an inference backend before a route is saved (`openshell inference set|update`): one minimal
 * request, a one-token chat completion (POST BASE/chat/completions, or BASE/messages for Anthropic),
 * and what its outcome means for the person who configured it. Uses libcurl synchronously, which is why
 * it lives beside the CLI and not in lib/: the daemons drive libcurl from sd-event. It does not log. */

#include "broker-config.h"
#include "macro.h"

#define INFERENCE_PROBE_TIMEOUT_MAX_SEC 30U
#define INFERENCE_PROBE_CONNECT_TIMEOUT_MS 5000L
/* The most of an answer's body kept (enough for an error message). */
#define INFERENCE_PROBE_BODY_MAX (64U * 1024U)

typedef struct InferenceProbeRequest {
        const char *provider;     /* its name, for the hints */
        ProviderType type;
        const char *base_url;     /* normalized: no trailing '/' */
        const char *model;
        const char *api_key;      /* NULL: sent without a credential */
        const char *api_key_name; /* the credential's key, for the hints; NULL: the type's */
        unsigned timeout_sec;     /* 1 ..: the whole request */
} InferenceProbeRequest;

typedef enum InferenceProbeOutcome {
        INFERENCE_PROBE_OK,         /* a 2xx answer */
        INFERENCE_PROBE_REFUSED,    /* connection refused */
        INFERENCE_PROBE_UNRESOLVED, /* the host name does not resolve */
        INFERENCE_PROBE_TIMEOUT,
        INFERENCE_PROBE_TLS,
        INFERENCE_PROBE_CLOSED,     /* the connection ended without a complete answer */
        INFERENCE_PROBE_BAD_URL,
        INFERENCE_PROBE_FAILED,     /* another transport error */
        INFERENCE_PROBE_HTTP_ERROR, /* an answer, not 2xx */
        _INFERENCE_PROBE_OUTCOME_MAX,
        _INFERENCE_PROBE_OUTCOME_INVALID = -EINVAL,
} InferenceProbeOutcome;

typedef struct InferenceProbeResult {
        InferenceProbeOutcome outcome;
        long http_status;     /* 0 without an answer */
        double seconds;       /* the whole request */
        char *url;            /* the URL requested */
        char *transport_error; /* libcurl's words, or NULL */
        char *server_message; /* the server's words from an error body, sanitized, or NULL */
} InferenceProbeResult;

void inference_probe_result_done(InferenceProbeResult *res);

/* Sends the request. A failure of the backend is an outcome, not an error: this returns 0 whenever a
 * request was made, -EINVAL for a request without base URL or model or with a zero timeout, -ENOMEM. */
int inference_probe(const InferenceProbeRequest *req, InferenceProbeResult *ret);

/* One message for a person: "Verified BASE: HTTP 200 in N ms" for OK, else what went wrong and the
 * command or setting that fixes it. */
int inference_probe_explain(const InferenceProbeRequest *req, const InferenceProbeResult *res, char **ret);

/* The server's own words in an error body: OpenAI/Anthropic error.message, FastAPI (vLLM) detail,
 * Ollama error, or a body that is not JSON; control characters blanked, at most 300 characters. NULL
 * if there are none (or no memory). */
char *inference_probe_server_message(const char *body);
