/* SPDX-License-Identifier: Apache-2.0 */
#include <curl/curl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "inference-probe.h"
#include "string-util.h"

#define SERVER_MESSAGE_MAX 300U

static inline void json_object_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

static inline void curl_easy_cleanupp(CURL **c) {
        if (*c)
                curl_easy_cleanup(*c);
}

static inline void curl_slist_free_allp(struct curl_slist **l) {
        curl_slist_free_all(*l);
}

void inference_probe_result_done(InferenceProbeResult *res) {
        res->url = mfree(res->url);
        res->transport_error = mfree(res->transport_error);
        res->server_message = mfree(res->server_message);
}

typedef struct Body {
        char *data;
        size_t size;
} Body;

/* Keeps the first INFERENCE_PROBE_BODY_MAX bytes and reads the rest away. */
static size_t body_write(char *data, size_t size, size_t n, void *userdata) {
        Body *b = userdata;
        size_t len = size * n, take = MIN(len, INFERENCE_PROBE_BODY_MAX - b->size);

        if (take > 0) {
                char *p = realloc(b->data, b->size + take + 1);
                if (!p)
                        return 0;
                b->data = p;
                memcpy(b->data + b->size, data, take);
                b->size += take;
                b->data[b->size] = 0;
        }
        return len;
}

char *inference_probe_server_message(const char *body) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *e, *m;
        const char *s = NULL;
        char *out;

        if (!body)
                return NULL;
        o = json_tokener_parse(body);
        if (o && json_object_object_get_ex(o, "error", &e)) {
                if (json_object_is_type(e, json_type_string))
                        s = json_object_get_string(e);
                else if (json_object_object_get_ex(e, "message", &m))
                        s = json_object_get_string(m);
        }
        if (!s && o && json_object_object_get_ex(o, "detail", &m))
                s = json_object_get_string(m);
        if (!s && o && json_object_object_get_ex(o, "message", &m))
                s = json_object_get_string(m);
        if (!s)
                s = o ? NULL : body;
        if (isempty(s))
                return NULL;
        out = strndup(s, SERVER_MESSAGE_MAX);
        if (!out)
                return NULL;
        for (char *p = out; *p; p++)
                if ((unsigned char) *p < ' ' || *p == 0x7f)
                        *p = ' ';
        return out;
}

/* {"model": MODEL, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1, "stream": false} */
static json_object *request_body(const char *model) {
        _cleanup_(json_object_putp) json_object *req = json_object_new_object(), *msgs = json_object_new_array(),
                                                *m = json_object_new_object();

        if (!req || !msgs || !m)
                return NULL;
        if (json_object_object_add(m, "role", json_object_new_string("user")) < 0 ||
            json_object_object_add(m, "content", json_object_new_string("ping")) < 0 ||
            json_object_array_add(msgs, json_object_get(m)) < 0 ||
            json_object_object_add(req, "model", json_object_new_string(model)) < 0 ||
            json_object_object_add(req, "messages", json_object_get(msgs)) < 0 ||
            json_object_object_add(req, "max_tokens", json_object_new_int(1)) < 0 ||
            json_object_object_add(req, "stream", json_object_new_boolean(false)) < 0)
                return NULL;
        return TAKE_PTR(req);
}

static int request_headers(const InferenceProbeRequest *req, struct curl_slist **ret) {
        _cleanup_(curl_slist_free_allp) struct curl_slist *headers = NULL;
        const char *fixed[] = {
                "Content-Type: application/json",
                "Accept: application/json",
                req->type == PROVIDER_ANTHROPIC ? "anthropic-version: 2023-06-01" : NULL,
        };

        for (size_t i = 0; i < ELEMENTSOF(fixed); i++) {
                struct curl_slist *l;

                if (!fixed[i])
                        continue;
                l = curl_slist_append(headers, fixed[i]);
                if (!l)
                        return -ENOMEM;
                headers = l;
        }
        if (req->api_key) {
                _cleanup_free_ char *auth = NULL;
                struct curl_slist *l;

                if (asprintf_safe(&auth, req->type == PROVIDER_ANTHROPIC ? "x-api-key: %s" : "Authorization: Bearer %s",
                                  req->api_key) < 0)
                        return -ENOMEM;
                l = curl_slist_append(headers, auth); /* copies it */
                explicit_bzero(auth, strlen(auth));
                if (!l)
                        return -ENOMEM;
                headers = l;
        }
        *ret = TAKE_PTR(headers);
        return 0;
}

static InferenceProbeOutcome outcome_of(CURLcode cc, long status) {
        switch (cc) {
        case CURLE_OK:
                return status >= 200 && status < 300 ? INFERENCE_PROBE_OK : INFERENCE_PROBE_HTTP_ERROR;
        case CURLE_COULDNT_CONNECT:
                return INFERENCE_PROBE_REFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
                return INFERENCE_PROBE_UNRESOLVED;
        case CURLE_OPERATION_TIMEDOUT:
                return INFERENCE_PROBE_TIMEOUT;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
                return INFERENCE_PROBE_TLS;
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_PARTIAL_FILE:
                return INFERENCE_PROBE_CLOSED;
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
                return INFERENCE_PROBE_BAD_URL;
        default:
                return INFERENCE_PROBE_FAILED;
        }
}

int inference_probe(const InferenceProbeRequest *req, InferenceProbeResult *ret) {
        _cleanup_(inference_probe_result_done) InferenceProbeResult res = {};
        _cleanup_(curl_slist_free_allp) struct curl_slist *headers = NULL;
        _cleanup_(curl_easy_cleanupp) CURL *curl = NULL;
        _cleanup_(json_object_putp) json_object *body = NULL;
        char errbuf[CURL_ERROR_SIZE] = "";
        long timeout_ms;
        Body answer = {};
        CURLcode cc;
        int r;

        if (isempty(req->base_url) || isempty(req->model) || req->timeout_sec == 0)
                return -EINVAL;
        timeout_ms = (long) req->timeout_sec * 1000L;

        if (asprintf_safe(&res.url, "%s%s", req->base_url,
                          req->type == PROVIDER_ANTHROPIC ? "/messages" : "/chat/completions") < 0)
                return -ENOMEM;
        body = request_body(req->model);
        if (!body)
                return -ENOMEM;
        r = request_headers(req, &headers);
        if (r < 0)
                return r;
        curl = curl_easy_init();
        if (!curl)
                return -ENOMEM;

        (void) curl_easy_setopt(curl, CURLOPT_URL, res.url);
        (void) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
        (void) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        (void) curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
        (void) curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, MIN(INFERENCE_PROBE_CONNECT_TIMEOUT_MS, timeout_ms));
        (void) curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(curl, CURLOPT_PROXY, ""); /* the broker ignores proxy variables too */
        (void) curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
        (void) curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
        (void) curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, body_write);
        (void) curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
        (void) curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
        (void) curl_easy_setopt(curl, CURLOPT_USERAGENT, "openshell/" PROJECT_VERSION " (inference verify)");

        cc = curl_easy_perform(curl);
        (void) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res.http_status);
        (void) curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME, &res.seconds);
        /* the header list holds the credential */
        for (struct curl_slist *l = headers; l; l = l->next)
                explicit_bzero(l->data, strlen(l->data));

        res.outcome = outcome_of(cc, res.http_status);
        res.server_message = inference_probe_server_message(answer.data);
        free(answer.data);
        if (cc != CURLE_OK) {
                res.transport_error = strdup(errbuf[0] ? errbuf : curl_easy_strerror(cc));
                if (!res.transport_error)
                        return -ENOMEM;
        }
        *ret = res;
        res = (InferenceProbeResult) {};
        return 0;
}

static bool mentions_model(const char *msg) {
        return msg && strcasestr(msg, "model");
}

static int explain_http(const InferenceProbeRequest *req, const InferenceProbeResult *res, char **ret) {
        const char *base = req->base_url, *msg = res->server_message, *sep = msg ? ": " : "";
        const char *key = req->api_key_name ?: provider_type_api_key(req->type);
        long status = res->http_status;

        switch (status) {
        case 401:
        case 403:
                if (req->api_key)
                        return asprintf_safe(ret,
                                             "%s refused the credential (HTTP %ld%s%s). Check %s: 'openshell "
                                             "provider update %s --credential %s=...'",
                                             base, status, sep, strempty(msg), key, req->provider, key);
                return asprintf_safe(ret,
                                     "%s needs a credential (HTTP %ld%s%s) and provider '%s' has none: 'openshell "
                                     "provider update %s --credential %s=...'",
                                     base, status, sep, strempty(msg), req->provider, req->provider, key);
        case 404:
                if (mentions_model(msg))
                        return asprintf_safe(ret,
                                             "Model '%s' not found at %s (HTTP 404: %s).\n  Check the name the "
                                             "server serves: curl %s/models",
                                             req->model, base, msg, base);
                return asprintf_safe(ret,
                                     "%s not found (HTTP 404%s%s): is the base URL right? It usually ends in /v1 "
                                     "(e.g. http://127.0.0.1:8000/v1)",
                                     res->url, sep, strempty(msg));
        case 400:
        case 422:
                return asprintf_safe(ret, "%s rejected the test request (HTTP %ld%s%s)%s", base, status, sep,
                                     strempty(msg), mentions_model(msg) ? "; check the model name" : "");
        case 429:
                return asprintf_safe(ret,
                                     "%s is rate limiting (HTTP 429%s%s): the credential was accepted; retry later "
                                     "or use --no-verify",
                                     base, sep, strempty(msg));
        default:
                return asprintf_safe(ret, "%s answered HTTP %ld%s%s%s", base, status, sep, strempty(msg),
                                     status >= 500 ? " (a server error: is the model loaded? see the server's log)"
                                                   : "");
        }
}

int inference_probe_explain(const InferenceProbeRequest *req, const InferenceProbeResult *res, char **ret) {
        const char *base = req->base_url, *url = res->url, *why = strempty(res->transport_error);

        switch (res->outcome) {
        case INFERENCE_PROBE_OK:
                return asprintf_safe(ret, "Verified %s: HTTP %ld in %.0f ms", base, res->http_status,
                                     res->seconds * 1000);
        case INFERENCE_PROBE_REFUSED:
                return asprintf_safe(ret,
                                     "Cannot connect to %s: connection refused. Is the server running at %s?\n"
                                     "  (start vLLM or Ollama, or fix the URL: 'openshell provider update %s "
                                     "--config %s=URL')",
                                     url, base, req->provider, provider_type_base_url_key(req->type));
        case INFERENCE_PROBE_UNRESOLVED:
                return asprintf_safe(ret,
                                     "Cannot resolve the host of %s: check the base URL ('openshell provider get %s')",
                                     base, req->provider);
        case INFERENCE_PROBE_TIMEOUT:
                return asprintf_safe(ret,
                                     "No answer from %s within %us: the server may still be loading the model or "
                                     "be overloaded.\n  Retry, raise --timeout, or save the route anyway with "
                                     "--no-verify.",
                                     url, req->timeout_sec);
        case INFERENCE_PROBE_TLS:
                return asprintf_safe(ret, "TLS error talking to %s: %s", base, why);
        case INFERENCE_PROBE_CLOSED:
                return asprintf_safe(ret,
                                     "%s closed the connection without a complete answer (%s): is it an HTTP "
                                     "inference server, and is the port right?",
                                     url, why);
        case INFERENCE_PROBE_BAD_URL:
                return asprintf_safe(ret, "Invalid base URL %s: %s", base, why);
        case INFERENCE_PROBE_FAILED:
                return asprintf_safe(ret, "Request to %s failed: %s", url, why);
        case INFERENCE_PROBE_HTTP_ERROR:
                return explain_http(req, res, ret);
        default:
                return -EINVAL;
        }
}
