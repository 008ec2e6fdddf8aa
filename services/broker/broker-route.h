/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the broker does with a request, as pure functions the unit tests reach: which inference
 * protocol a method + path is (openshell/SPEC.md §2.9), whether the route's provider speaks it, who
 * the caller is (the supervisor contract, README.md), which headers go upstream (client credentials
 * stripped, the provider's injected), the body with `model` overwritten, the token counts of an
 * answer (JSON or SSE), the choice of a backend (health, circuit breaker, least outstanding
 * requests) and the per-caller concurrency count. */

#include <json-c/json.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "buf.h"
#include "broker-config.h"
#include "http-parser.h"

typedef uint64_t usec_t;
#define USEC_PER_SEC ((usec_t) 1000000ULL)
#define USEC_PER_MSEC ((usec_t) 1000ULL)

typedef enum InferenceProtocol {
        PROTOCOL_CHAT_COMPLETIONS,
        PROTOCOL_COMPLETIONS,
        PROTOCOL_RESPONSES,
        PROTOCOL_EMBEDDINGS,
        PROTOCOL_MESSAGES,
        PROTOCOL_MODELS,
        _PROTOCOL_MAX,
        _PROTOCOL_INVALID = -EINVAL,
} InferenceProtocol;

const char *inference_protocol_to_string(InferenceProtocol p) _pure_;
/* -ENOENT when no pattern matches (the caller answers 403 "connection not allowed by policy"). */
int inference_classify(const char *method, const char *path, InferenceProtocol *ret);
bool provider_supports(ProviderType t, InferenceProtocol p) _pure_;
/* base "http://h:8000/v1" + path "/v1/chat/completions?x" -> "http://h:8000/v1/chat/completions?x". */
int upstream_url(const char *base, const char *path, char **ret);

/* The supervisor contract. Only a peer on the unix socket whose SO_PEERCRED uid is 0 (a supervisor)
 * may name the calling sandbox with X-OpenShell-Sandbox; from anyone else the header is ignored and
 * the caller is "host:UID" (or "host:tcp" on the TCP listener, where no credentials exist). Returns
 * -EBADMSG if a trusted peer sends the header more than once or with an invalid sandbox name. */
#define BROKER_SANDBOX_HEADER "X-OpenShell-Sandbox"
int broker_caller_identity(bool have_peer_uid, uid_t peer_uid, const HttpRequest *req, char **ret_identity,
                           bool *ret_is_sandbox);

/* Header lines ("Name: value") for the upstream request: only the provider type's pass-through
 * allowlist from the client, never its Authorization/X-Api-Key/Cookie/Host/hop-by-hop headers, plus
 * Content-Type, the provider's credential and its default headers. */
int upstream_headers(const Provider *prov, const HttpRequest *req, char ***ret);

/* The request body: a JSON object (-EBADMSG for anything else, trailing bytes, or nesting deeper than
 * BROKER_JSON_DEPTH_MAX), its "model" as the client wrote it (NULL if absent or not a string), and the
 * body serialized again with "model" set to the route's. rewrite_model() is parse + rewrite. */
#define BROKER_JSON_DEPTH_MAX 64
static inline void json_object_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}
int request_body_parse(const char *body, size_t size, json_object **ret);
const char *request_body_model(json_object *o);
int request_body_rewrite(json_object *o, const char *model, char **ret, size_t *ret_size);
int rewrite_model(const char *body, size_t size, const char *model, char **ret, size_t *ret_size);
/* Whether the client's body can go upstream byte for byte, without being serialized again: its
 * "model" (o is body parsed) is the route's already, and no top-level key is written twice (parsers
 * disagree on which of two "model"s counts: what a backend reads must be what the broker checked). */
bool request_body_unchanged(json_object *o, const char *body, size_t size, const char *model);

/* The route of a request: the one named like the client's model (so one broker can offer several
 * models, e.g. a route "claude" next to inference.local), else the one named like the Host header
 * (without port), else inference.local; NULL if none exists. */
const Route *route_choose(const BrokerConfig *c, const char *host, const char *model) _pure_;

typedef struct TokenUsage {
        int64_t in, out; /* -1: not reported */
} TokenUsage;
#define TOKEN_USAGE_UNKNOWN ((TokenUsage) { -1, -1 })

/* Token counts from a complete JSON answer: usage.{prompt,completion,input,output}_tokens, also nested
 * in "response" (Responses API events) or "message" (Anthropic message_start). The text is scanned,
 * not parsed into objects; -EBADMSG if it is not a JSON object. */
int usage_parse_json(const char *data, size_t size, TokenUsage *u);

/* Finds usage in an SSE stream as it passes: each "data:" line is examined, nothing else kept. */
#define SSE_LINE_MAX (256U * 1024U)
typedef struct SseScanner {
        Buf line;
        bool skipping; /* the current line was too long: ignored up to its end */
        TokenUsage usage;
} SseScanner;
void sse_scanner_init(SseScanner *s);
void sse_scanner_done(SseScanner *s);
void sse_scanner_feed(SseScanner *s, const char *data, size_t size);

/* Runtime health of one backend URL, shared by every route and configuration generation naming it.
 * Circuit breaker: BREAKER_FAILURES consecutive failures open the circuit for BREAKER_OPEN_MIN,
 * doubling on each failed trial up to BREAKER_OPEN_MAX; once it expires one trial request is let
 * through (half-open) and its success closes the circuit. */
#define BREAKER_FAILURES 3U
#define BREAKER_OPEN_MIN (5 * USEC_PER_SEC)
#define BREAKER_OPEN_MAX (60 * USEC_PER_SEC)

struct BackendState {
        char *url;
        unsigned outstanding;
        unsigned consecutive_failures;
        usec_t open_until; /* 0: closed */
        usec_t open_for;
        bool trial_in_flight;
        bool probing;      /* a health probe is in flight */
        uint64_t n_requests, n_failures, n_probes;
        BackendState *next;
};

typedef struct Router {
        BackendState *backends;
        size_t n_backends;
        uint64_t rr; /* tie breaker */
} Router;

void router_done(Router *r);
/* Attaches the state for each backend URL of c (creating it on first sight). */
int router_attach(Router *r, BrokerConfig *c);

/* Picks the backend with the fewest outstanding requests per weight among those whose circuit is
 * closed (or half-open without a trial in flight), skipping those marked in tried[] (n_backends
 * entries, may be NULL). -EHOSTUNREACH if none is available. */
int route_pick_backend(Router *router, const Route *route, usec_t now, const bool *tried, size_t *ret);
void backend_begin(BackendState *b, usec_t now);
void backend_end(BackendState *b, bool ok, usec_t now);
bool backend_circuit_open(const BackendState *b, usec_t now) _pure_;
/* Active health checks: while a circuit is open the broker probes the backend (GET BASE/models; any
 * answer below 500 counts as alive, 401 included: the probe carries no credential). A live backend's
 * circuit closes at once; a dead one's stays open for another period. */
#define PROBE_INTERVAL (5 * USEC_PER_SEC)
#define PROBE_TIMEOUT_MS 2000L
bool backend_wants_probe(const BackendState *b) _pure_;
void backend_probe_result(BackendState *b, bool alive, usec_t now);

/* In-flight requests per caller, for max_concurrency_per_sandbox. */
#define CALLERS_MAX 4096U
typedef struct CallerCount {
        char *identity;
        unsigned n;
} CallerCount;
typedef struct CallerTable {
        CallerCount *items;
        size_t n_items;
} CallerTable;
void caller_table_done(CallerTable *t);
/* Counts one more request of identity unless that would exceed max (0: unlimited): -EBUSY then. */
int caller_acquire(CallerTable *t, const char *identity, unsigned max);
void caller_release(CallerTable *t, const char *identity);
unsigned caller_count(const CallerTable *t, const char *identity) _pure_;

/* The journal fields of the audit event of one request: MESSAGE_ID, MESSAGE (upstream's one-line
 * shorthand) and OPENSHELL_* fields. No prompt or completion text is ever part of it. */
#define BROKER_AUDIT_MESSAGE_ID "45bed7cf28f74e09bb2dedc1232e9aab"
typedef struct AuditRecord {
        const char *caller;   /* sandbox name or host:UID */
        bool is_sandbox;
        const char *method, *path; /* the path's query, if any, is left out of the event */
        const char *route, *provider, *model, *backend;
        int status;
        TokenUsage usage;
        usec_t latency;       /* request received to answer complete */
        usec_t ttfb;          /* request received to the answer's head (0: none) */
        const char *reason;   /* for errors answered by the broker itself, else NULL */
} AuditRecord;
/* The fields are formatted into one buffer, kept from one event to the next, and sent as they lie
 * (sd_journal_sendv(e->iov, e->n_fields)): no allocation per field and request. */
#define AUDIT_FIELDS_MAX 20U
#define AUDIT_ENTRY_SIZE_MAX (64U * 1024U)
typedef struct AuditEntry {
        Buf text;
        size_t end[AUDIT_FIELDS_MAX]; /* where each field ends in text */
        struct iovec iov[AUDIT_FIELDS_MAX];
        size_t n_fields;
} AuditEntry;
#define AUDIT_ENTRY_INIT ((AuditEntry) { .text = BUF_INIT(AUDIT_ENTRY_SIZE_MAX) })
void audit_entry_done(AuditEntry *e);
/* On failure (-ENOBUFS beyond AUDIT_ENTRY_SIZE_MAX, -ENOMEM) e holds no field. */
int audit_format(const AuditRecord *a, AuditEntry *e);
