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

/* Token counts are looked up in every answer, whose text json-c would turn into a tree of objects
 * first (a fifth of the broker's instructions per request, bench/README.md). These cursors only skip
 * over JSON text: strings and nesting are followed, scalars are checked for the bytes they may hold,
 * not for their form. They never read past end. */
static const char *json_skip_space(const char *p, const char *end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
                p++;
        return p;
}

/* p at the opening quote; returns the byte after the closing one, NULL if the text ends first. A
 * quote ends the string unless an odd number of backslashes comes before it. */
static const char *json_skip_string(const char *p, const char *end) {
        for (p++; p < end;) {
                const char *q = memchr(p, '"', (size_t) (end - p)), *b;

                if (!q)
                        return NULL;
                for (b = q; b > p && b[-1] == '\\'; b--)
                        ;
                if ((q - b) % 2 == 0)
                        return q + 1;
                p = q + 1;
        }
        return NULL;
}

/* Bytes of numbers and of true, false and null. */
static bool json_scalar_char(char c) {
        return c != 0 && strchr("0123456789+-.eEtrufalsn", c);
}

/* p at the first byte of a value; returns the byte after it, NULL if the text ends first or has a byte
 * outside strings that standard JSON does not (single quotes, comments: json-c's leniencies, which
 * other parsers may read otherwise). */
static const char *json_skip_value(const char *p, const char *end) {
        unsigned depth = 0;

        if (p >= end)
                return NULL;
        if (*p != '{' && *p != '[' && *p != '"') {
                /* a number or a literal */
                while (p < end && json_scalar_char(*p))
                        p++;
                return p;
        }
        do {
                switch (*p) {
                case '"':
                        p = json_skip_string(p, end);
                        if (!p)
                                return NULL;
                        continue;
                case '{':
                case '[':
                        depth++;
                        break;
                case '}':
                case ']':
                        depth--;
                        break;
                case ',':
                case ':':
                case ' ':
                case '\t':
                case '\r':
                case '\n':
                        break;
                default:
                        if (!json_scalar_char(*p))
                                return NULL;
                }
                p++;
        } while (depth > 0 && p < end);
        return depth == 0 ? p : NULL;
}

/* A key, as the bytes between its quotes (keys are compared as written, escapes not decoded). */
typedef struct JsonMember {
        const char *key;
        size_t key_size;
        const char *value, *value_end;
} JsonMember;

static bool json_key_is(const JsonMember *m, const char *key) {
        return m->key_size == strlen(key) && memcmp(m->key, key, m->key_size) == 0;
}

/* Walks the members of the object at *p: 1 with *ret filled for each member, 0 after the last one
 * (*p then past the closing brace), -EBADMSG on malformed text. *p starts at the opening brace. */
static int json_next_member(const char **p, const char *end, bool first, JsonMember *ret) {
        const char *q = json_skip_space(*p, end);

        if (first) {
                if (q >= end || *q != '{')
                        return -EBADMSG;
                q = json_skip_space(q + 1, end);
                if (q < end && *q == '}') {
                        *p = q + 1;
                        return 0;
                }
        } else {
                if (q < end && *q == '}') {
                        *p = q + 1;
                        return 0;
                }
                if (q >= end || *q != ',')
                        return -EBADMSG;
                q = json_skip_space(q + 1, end);
        }
        if (q >= end || *q != '"')
                return -EBADMSG;
        ret->key = q + 1;
        q = json_skip_string(q, end);
        if (!q)
                return -EBADMSG;
        ret->key_size = (size_t) (q - 1 - ret->key);
        q = json_skip_space(q, end);
        if (q >= end || *q != ':')
                return -EBADMSG;
        ret->value = json_skip_space(q + 1, end);
        ret->value_end = json_skip_value(ret->value, end);
        if (!ret->value_end || ret->value_end == ret->value)
                return -EBADMSG;
        *p = ret->value_end;
        return 1;
}

/* An integer as json-c types it (json_type_int): digits with an optional minus, nothing else. */
static bool json_integer(const char *p, const char *end, int64_t *ret) {
        bool negative = p < end && *p == '-';
        uint64_t v = 0;

        if (negative)
                p++;
        if (p >= end)
                return false;
        for (; p < end; p++) {
                if (*p < '0' || *p > '9')
                        return false;
                if (v > ((uint64_t) INT64_MAX - (uint64_t) (*p - '0')) / 10)
                        return false;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        *ret = negative ? -(int64_t) v : (int64_t) v;
        return true;
}

/* Of a key written twice the last one counts, as in json-c (which the broker used to parse answers
 * with): a backend's answer means the same to the broker as to any client using json-c. */
static int usage_take(const char *p, const char *end, TokenUsage *u) {
        static const char *const keys[] = { "prompt_tokens", "input_tokens", "completion_tokens", "output_tokens" };
        JsonMember m, last[ELEMENTSOF(keys)] = {};
        int r;

        for (bool first = true; (r = json_next_member(&p, end, first, &m)) > 0; first = false)
                for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                        if (json_key_is(&m, keys[i]))
                                last[i] = m;
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                int64_t v;

                if (!last[i].value || !json_integer(last[i].value, last[i].value_end, &v))
                        continue;
                if (i < 2)
                        u->in = MAX(u->in, v);
                else
                        u->out = MAX(u->out, v);
        }
        return 0;
}

/* "usage" of the object at p, also nested in "response" (Responses API events) or "message"
 * (Anthropic message_start) when nested is true. */
static int usage_scan(const char *p, const char *end, bool nested, TokenUsage *u) {
        static const char *const holders[] = { "response", "message" };
        JsonMember m, usage = {}, held[ELEMENTSOF(holders)] = {};
        int r;

        for (bool first = true; (r = json_next_member(&p, end, first, &m)) > 0; first = false) {
                if (json_key_is(&m, "usage"))
                        usage = m;
                for (size_t i = 0; nested && i < ELEMENTSOF(holders); i++)
                        if (json_key_is(&m, holders[i]))
                                held[i] = m;
        }
        if (r < 0)
                return r;
        if (json_skip_space(p, end) != end)
                return -EBADMSG;
        if (usage.value && *usage.value == '{')
                (void) usage_take(usage.value, usage.value_end, u);
        for (size_t i = 0; i < ELEMENTSOF(holders); i++)
                if (held[i].value && *held[i].value == '{')
                        (void) usage_scan(held[i].value, held[i].value_end, false, u);
        return 0;
}

int usage_parse_json(const char *data, size_t size, TokenUsage *u) {
        return usage_scan(data, data + size, true, u);
}

bool request_body_unchanged(json_object *o, const char *body, size_t size, const char *model) {
        json_object *m;
        const char *p = body, *end = body + size;
        JsonMember member;
        size_t n = 0;
        int r;

        if (!json_object_object_get_ex(o, "model", &m) || !json_object_is_type(m, json_type_string) ||
            (size_t) json_object_get_string_len(m) != strlen(model) || !streq(json_object_get_string(m), model))
                return false;
        /* json-c keeps one member per key: fewer members than written means a key appears twice. */
        for (bool first = true; (r = json_next_member(&p, end, first, &member)) > 0; first = false)
                n++;
        return r == 0 && n == (size_t) json_object_object_length(o);
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

void audit_entry_done(AuditEntry *e) {
        buf_done(&e->text);
        e->n_fields = 0;
}

static int audit_field_end(AuditEntry *e) {
        if (e->n_fields >= AUDIT_FIELDS_MAX)
                return -ENOBUFS;
        e->end[e->n_fields++] = e->text.size;
        return 0;
}

static int audit_field(AuditEntry *e, const char *name, const char *value, size_t size) {
        int r = buf_append(&e->text, name, strlen(name));
        if (r >= 0)
                r = buf_append(&e->text, value, size);
        return r < 0 ? r : audit_field_end(e);
}

static int audit_field_str(AuditEntry *e, const char *name, const char *value) {
        return value ? audit_field(e, name, value, strlen(value)) : 0;
}

static int audit_field_int(AuditEntry *e, const char *name, int64_t value) {
        char s[sizeof("-9223372036854775808")];
        int n = snprintf(s, sizeof(s), "%" PRIi64, value);

        return audit_field(e, name, s, (size_t) n);
}

int audit_format(const AuditRecord *a, AuditEntry *e) {
        bool ok = a->status >= 200 && a->status < 400;
        const char *decision = ok ? "allow" : a->reason ? "deny" : "error";
        int path_size = (int) strcspn(a->path, "?");
        size_t start = 0;
        int r;

        buf_clear(&e->text);
        e->n_fields = 0;
        r = audit_field_str(e, "MESSAGE_ID=", BROKER_AUDIT_MESSAGE_ID);
        if (r >= 0)
                r = audit_field_int(e, "PRIORITY=", a->status >= 500 ? 4 : 6);
        /* Upstream's shorthand: API:INFERENCE [SEV] <status> <model> via <provider> <ms>ms [<METHOD path>] */
        if (r >= 0)
                r = buf_printf(&e->text,
                               "MESSAGE=API:INFERENCE [%s] %s %s via %s %" PRIu64 "ms [%s %.*s] "
                               "[caller:%s status:%d%s%s]",
                               ok ? "INFO" : "MED", ok ? "Success" : "Failure", strna(a->model),
                               a->backend ?: strna(a->provider), a->latency / USEC_PER_MSEC, a->method, path_size,
                               a->path, a->caller, a->status, a->reason ? " reason:" : "", a->reason ?: "");
        if (r >= 0)
                r = audit_field_end(e);
        if (r >= 0)
                r = audit_field_str(e, "OPENSHELL_EVENT=", "inference");
        if (r >= 0)
                r = audit_field_str(e, "OPENSHELL_DECISION=", decision);
        if (r >= 0)
                r = audit_field_str(e, "OPENSHELL_SANDBOX=", a->caller);
        if (r >= 0)
                r = audit_field_str(e, "OPENSHELL_ROUTE=", a->route);
        if (r >= 0)
                r = audit_field_str(e, "OPENSHELL_PROVIDER=", a->provider);
        if (r >= 0)
                r = audit_field_str(e, "OPENSHELL_MODEL=", a->model);
        if (r >= 0)
                r = audit_field_str(e, "OPENSHELL_BACKEND=", a->backend);
        if (r >= 0)
                r = audit_field_int(e, "OPENSHELL_STATUS=", a->status);
        if (r >= 0)
                r = audit_field_str(e, "OPENSHELL_METHOD=", a->method);
        if (r >= 0)
                r = audit_field(e, "OPENSHELL_PATH=", a->path, (size_t) path_size);
        if (r >= 0 && a->usage.in >= 0)
                r = audit_field_int(e, "OPENSHELL_TOKENS_IN=", a->usage.in);
        if (r >= 0 && a->usage.out >= 0)
                r = audit_field_int(e, "OPENSHELL_TOKENS_OUT=", a->usage.out);
        if (r >= 0)
                r = audit_field_int(e, "OPENSHELL_LATENCY_US=", (int64_t) a->latency);
        if (r >= 0 && a->ttfb > 0)
                r = audit_field_int(e, "OPENSHELL_TTFB_US=", (int64_t) a->ttfb);
        if (r >= 0)
                r = audit_field_str(e, "OPENSHELL_REASON=", a->reason);
        if (r < 0) {
                e->n_fields = 0;
                return r;
        }
        /* The buffer has found its size: only now can the fields point into it. */
        for (size_t i = 0; i < e->n_fields; i++) {
                e->iov[i] = (struct iovec) { .iov_base = e->text.data + start, .iov_len = e->end[i] - start };
                start = e->end[i];
        }
        return 0;
}
