/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <json-c/json.h>
#include <string.h>
#include <strings.h>

#include "broker-route.h"
#include "sandbox-name.h"
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

int upstream_url(const char *base, const char *path, char **ret) {
        if (!startswith(path, "/v1/"))
                return -EINVAL;
        return asprintf_safe(ret, "%s%s", base, path + 3);
}

int broker_caller_identity(bool have_peer_uid, uid_t peer_uid, const HttpRequest *req, char **ret_identity,
                           bool *ret_is_sandbox) {
        const char *sandbox = http_request_header(req, BROKER_SANDBOX_HEADER);
        char *s;
        int r;

        if (have_peer_uid && peer_uid == 0 && sandbox) {
                if (http_request_header_count(req, BROKER_SANDBOX_HEADER) != 1 || !sandbox_name_is_valid(sandbox))
                        return -EBADMSG;
                s = strdup(sandbox);
                if (!s)
                        return -ENOMEM;
                *ret_identity = s;
                *ret_is_sandbox = true;
                return 0;
        }

        /* Anyone else's header is ignored: a sandbox could otherwise claim another's quota and name. */
        if (have_peer_uid)
                r = asprintf_safe(&s, "host:%u", (unsigned) peer_uid);
        else
                r = asprintf_safe(&s, "host:tcp");
        if (r < 0)
                return r;
        *ret_identity = s;
        *ret_is_sandbox = false;
        return 0;
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

static json_object *json_parse_bounded(const char *data, size_t size) {
        json_tokener *tok;
        json_object *o;

        if (size > INT32_MAX)
                return NULL;
        tok = json_tokener_new_ex(BROKER_JSON_DEPTH_MAX);
        if (!tok)
                return NULL;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, data, (int) size);
        /* Trailing bytes after the value are an error, as is a truncated value. */
        if (o && (json_tokener_get_error(tok) != json_tokener_success ||
                  json_tokener_get_parse_end(tok) != size)) {
                size_t end = json_tokener_get_parse_end(tok);
                bool only_space = true;

                for (size_t i = end; i < size; i++)
                        if (!strchr(" \t\r\n", data[i]))
                                only_space = false;
                if (!only_space || json_tokener_get_error(tok) != json_tokener_success) {
                        json_object_put(o);
                        o = NULL;
                }
        }
        json_tokener_free(tok);
        return o;
}

int request_body_parse(const char *body, size_t size, json_object **ret) {
        json_object *o = json_parse_bounded(body, size);

        if (!o)
                return -EBADMSG;
        if (!json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}

const char *request_body_model(json_object *o) {
        json_object *m;

        if (!json_object_object_get_ex(o, "model", &m) || !json_object_is_type(m, json_type_string))
                return NULL;
        return json_object_get_string(m);
}

int request_body_rewrite(json_object *o, const char *model, char **ret, size_t *ret_size) {
        json_object *m = json_object_new_string(model);
        const char *s;
        size_t l;
        char *copy;

        if (!m)
                return -ENOMEM;
        if (json_object_object_add(o, "model", m) < 0) {
                json_object_put(m);
                return -ENOMEM;
        }
        s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &l);
        copy = s ? strndup(s, l) : NULL;
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        *ret_size = l;
        return 0;
}

int rewrite_model(const char *body, size_t size, const char *model, char **ret, size_t *ret_size) {
        json_object *o = NULL;
        int r;

        r = request_body_parse(body, size, &o);
        if (r < 0)
                return r;
        r = request_body_rewrite(o, model, ret, ret_size);
        json_object_put(o);
        return r;
}

const Route *route_choose(const BrokerConfig *c, const char *host, const char *model) {
        const Route *route = NULL;

        if (model)
                route = broker_config_find_route(c, model);
        if (!route && host) {
                size_t l = strcspn(host, ":");
                for (size_t i = 0; c && i < c->n_routes; i++)
                        if (strlen(c->routes[i].name) == l && strneq(c->routes[i].name, host, l)) {
                                route = &c->routes[i];
                                break;
                        }
        }
        return route ?: broker_config_find_route(c, BROKER_DEFAULT_ROUTE);
}

static void usage_take(json_object *usage, TokenUsage *u) {
        static const char *const in_keys[] = { "prompt_tokens", "input_tokens" };
        static const char *const out_keys[] = { "completion_tokens", "output_tokens" };
        json_object *v;

        if (!usage || !json_object_is_type(usage, json_type_object))
                return;
        for (size_t i = 0; i < ELEMENTSOF(in_keys); i++)
                if (json_object_object_get_ex(usage, in_keys[i], &v) && json_object_is_type(v, json_type_int))
                        u->in = MAX(u->in, json_object_get_int64(v));
        for (size_t i = 0; i < ELEMENTSOF(out_keys); i++)
                if (json_object_object_get_ex(usage, out_keys[i], &v) && json_object_is_type(v, json_type_int))
                        u->out = MAX(u->out, json_object_get_int64(v));
}

static void usage_from_object(json_object *o, TokenUsage *u) {
        static const char *const holders[] = { "response", "message" };
        json_object *v, *h;

        if (!json_object_is_type(o, json_type_object))
                return;
        if (json_object_object_get_ex(o, "usage", &v))
                usage_take(v, u);
        for (size_t i = 0; i < ELEMENTSOF(holders); i++)
                if (json_object_object_get_ex(o, holders[i], &h) && json_object_is_type(h, json_type_object) &&
                    json_object_object_get_ex(h, "usage", &v))
                        usage_take(v, u);
}

int usage_parse_json(const char *data, size_t size, TokenUsage *u) {
        json_object *o = json_parse_bounded(data, size);

        if (!o)
                return -EBADMSG;
        usage_from_object(o, u);
        json_object_put(o);
        return 0;
}

void sse_scanner_init(SseScanner *s) {
        *s = (SseScanner) { .line = BUF_INIT(SSE_LINE_MAX), .usage = TOKEN_USAGE_UNKNOWN };
}

void sse_scanner_done(SseScanner *s) {
        buf_done(&s->line);
}

static void sse_line(SseScanner *s) {
        const char *l = s->line.data;
        size_t n = s->line.size;

        if (n > 0 && l[n - 1] == '\r')
                n--;
        if (n < 5 || !strneq(l, "data:", 5))
                return;
        l += 5, n -= 5;
        if (n > 0 && l[0] == ' ')
                l++, n--;
        /* Only chunks that can carry a count are parsed. */
        if (!memmem(l, n, "\"usage\"", 7))
                return;
        (void) usage_parse_json(l, n, &s->usage);
}

void sse_scanner_feed(SseScanner *s, const char *data, size_t size) {
        while (size > 0) {
                const char *nl = memchr(data, '\n', size);
                size_t n = nl ? (size_t) (nl - data) : size;

                if (!s->skipping && buf_append(&s->line, data, n) < 0) {
                        s->skipping = true;
                        buf_clear(&s->line);
                }
                if (!nl)
                        return;
                if (!s->skipping)
                        sse_line(s);
                s->skipping = false;
                buf_clear(&s->line);
                data += n + 1;
                size -= n + 1;
        }
}

void router_done(Router *r) {
        while (r->backends) {
                BackendState *b = r->backends;
                r->backends = b->next;
                free(b->url);
                free(b);
        }
        r->n_backends = 0;
}

static BackendState *router_get(Router *r, const char *url) {
        BackendState *b;

        for (b = r->backends; b; b = b->next)
                if (streq(b->url, url))
                        return b;
        b = calloc(1, sizeof(BackendState));
        if (!b)
                return NULL;
        b->url = strdup(url);
        if (!b->url) {
                free(b);
                return NULL;
        }
        b->next = r->backends;
        r->backends = b;
        r->n_backends++;
        return b;
}

int router_attach(Router *r, BrokerConfig *c) {
        for (size_t i = 0; i < c->n_routes; i++)
                for (size_t j = 0; j < c->routes[i].n_backends; j++) {
                        RouteBackend *rb = &c->routes[i].backends[j];
                        rb->state = router_get(r, rb->url);
                        if (!rb->state)
                                return -ENOMEM;
                }
        return 0;
}

bool backend_circuit_open(const BackendState *b, usec_t now) {
        return b->open_until != 0 && (now < b->open_until || b->trial_in_flight);
}

int route_pick_backend(Router *router, const Route *route, usec_t now, const bool *tried, size_t *ret) {
        size_t best = SIZE_MAX, n_best = 0;
        uint64_t best_load = UINT64_MAX;

        for (size_t i = 0; i < route->n_backends; i++) {
                const RouteBackend *rb = &route->backends[i];
                uint64_t load;

                if ((tried && tried[i]) || !rb->state || backend_circuit_open(rb->state, now))
                        continue;
                /* outstanding / weight, compared without division */
                load = (uint64_t) rb->state->outstanding * 1000000U / rb->weight;
                if (load < best_load) {
                        best_load = load;
                        best = i;
                        n_best = 1;
                } else if (load == best_load) {
                        /* Ties rotate, so idle backends share the work. */
                        n_best++;
                        if ((router->rr % n_best) == 0)
                                best = i;
                }
        }
        if (best == SIZE_MAX)
                return -EHOSTUNREACH;
        router->rr++;
        *ret = best;
        return 0;
}

void backend_begin(BackendState *b, usec_t now) {
        b->outstanding++;
        b->n_requests++;
        if (b->open_until != 0 && now >= b->open_until)
                b->trial_in_flight = true; /* half-open: this request is the trial */
}

void backend_end(BackendState *b, bool ok, usec_t now) {
        bool was_trial = b->trial_in_flight;

        if (b->outstanding > 0)
                b->outstanding--;
        b->trial_in_flight = false;
        if (ok) {
                b->consecutive_failures = 0;
                b->open_until = 0;
                b->open_for = 0;
                return;
        }
        b->n_failures++;
        b->consecutive_failures++;
        if (was_trial || b->consecutive_failures >= BREAKER_FAILURES) {
                b->open_for = b->open_for == 0 ? BREAKER_OPEN_MIN : MIN(b->open_for * 2, BREAKER_OPEN_MAX);
                b->open_until = now + b->open_for;
        }
}

bool backend_wants_probe(const BackendState *b) {
        return b->open_until != 0 && !b->probing;
}

void backend_probe_result(BackendState *b, bool alive, usec_t now) {
        b->probing = false;
        b->n_probes++;
        if (alive) {
                b->consecutive_failures = 0;
                b->open_until = 0;
                b->open_for = 0;
                return;
        }
        if (b->open_until != 0)
                b->open_until = MAX(b->open_until, now + b->open_for);
}

void caller_table_done(CallerTable *t) {
        for (size_t i = 0; i < t->n_items; i++)
                free(t->items[i].identity);
        free(t->items);
        *t = (CallerTable) {};
}

static CallerCount *caller_find(const CallerTable *t, const char *identity) {
        for (size_t i = 0; i < t->n_items; i++)
                if (streq(t->items[i].identity, identity))
                        return &t->items[i];
        return NULL;
}

unsigned caller_count(const CallerTable *t, const char *identity) {
        CallerCount *c = caller_find(t, identity);
        return c ? c->n : 0;
}

int caller_acquire(CallerTable *t, const char *identity, unsigned max) {
        CallerCount *c = caller_find(t, identity), *a;

        if (c) {
                if (max > 0 && c->n >= max)
                        return -EBUSY;
                c->n++;
                return 0;
        }
        if (t->n_items >= CALLERS_MAX)
                return -EBUSY;
        a = reallocarray(t->items, t->n_items + 1, sizeof(CallerCount));
        if (!a)
                return -ENOMEM;
        t->items = a;
        t->items[t->n_items] = (CallerCount) { .identity = strdup(identity), .n = 1 };
        if (!t->items[t->n_items].identity)
                return -ENOMEM;
        t->n_items++;
        return 0;
}

void caller_release(CallerTable *t, const char *identity) {
        CallerCount *c = caller_find(t, identity);

        if (!c || c->n == 0)
                return;
        if (--c->n == 0) {
                free(c->identity);
                *c = t->items[--t->n_items];
        }
}

int audit_fields(const AuditRecord *a, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        const char *outcome = a->status >= 200 && a->status < 400 ? "Success" : "Failure";
        char *f;
        int r;

#define ADD(...)                                                                                        \
        do {                                                                                            \
                r = asprintf_safe(&f, __VA_ARGS__);                                                     \
                if (r < 0 || strv_consume(&l, f) < 0)                                                   \
                        return -ENOMEM;                                                                 \
        } while (0)

        ADD("MESSAGE_ID=%s", BROKER_AUDIT_MESSAGE_ID);
        ADD("PRIORITY=%d", a->status >= 500 ? 4 : 6);
        /* Upstream's shorthand: API:INFERENCE [SEV] <status> <model> via <provider> <ms>ms [<METHOD path>] */
        ADD("MESSAGE=API:INFERENCE [%s] %s %s via %s %" PRIu64 "ms [%s %s] [caller:%s status:%d%s%s]",
            a->status >= 200 && a->status < 400 ? "INFO" : "MED", outcome, strna(a->model),
            a->backend ?: strna(a->provider), a->latency / USEC_PER_MSEC, a->method, a->path, a->caller, a->status,
            a->reason ? " reason:" : "", a->reason ?: "");
        ADD("OPENSHELL_EVENT=inference");
        ADD("OPENSHELL_DECISION=%s", a->status >= 200 && a->status < 400 ? "allow" : a->reason ? "deny" : "error");
        ADD("OPENSHELL_SANDBOX=%s", a->caller);
        if (a->route)
                ADD("OPENSHELL_ROUTE=%s", a->route);
        if (a->provider)
                ADD("OPENSHELL_PROVIDER=%s", a->provider);
        if (a->model)
                ADD("OPENSHELL_MODEL=%s", a->model);
        if (a->backend)
                ADD("OPENSHELL_BACKEND=%s", a->backend);
        ADD("OPENSHELL_STATUS=%d", a->status);
        ADD("OPENSHELL_METHOD=%s", a->method);
        ADD("OPENSHELL_PATH=%s", a->path);
        if (a->usage.in >= 0)
                ADD("OPENSHELL_TOKENS_IN=%" PRId64, a->usage.in);
        if (a->usage.out >= 0)
                ADD("OPENSHELL_TOKENS_OUT=%" PRId64, a->usage.out);
        ADD("OPENSHELL_LATENCY_US=%" PRIu64, a->latency);
        if (a->ttfb > 0)
                ADD("OPENSHELL_TTFB_US=%" PRIu64, a->ttfb);
        if (a->reason)
                ADD("OPENSHELL_REASON=%s", a->reason);
#undef ADD
        *ret = TAKE_PTR(l);
        return 0;
}
