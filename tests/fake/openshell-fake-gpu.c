/* SPDX-License-Identifier: Apache-2.0 */
/* openshell-fake-gpu: a mock GPU inference server for tests, benchmarks and the quickstart.
 *
 * It speaks the OpenAI-compatible HTTP API that vLLM, Ollama and NIM serve (chat/completions,
 * completions, responses, embeddings, models) and Anthropic's /v1/messages, streams Server-Sent
 * Events at a configurable rate, and can be told to misbehave: latency, HTTP 500/503, connection
 * resets, stalls, malformed JSON, truncated streams, oversized bodies. It answers deterministically
 * (the same request gives the same text), so tests can compare what a client saw through the broker
 * with what the server sent.
 *
 * One thread, one sd-event loop, nonblocking sockets: thousands of concurrent streams cost a few KiB
 * each. Every buffer is bounded; bad input gets a 4xx answer or a closed connection, never a crash.
 *
 * Run-time control (sent directly to the server, never through the broker, which refuses these
 * paths): POST /fake/config with a JSON object of the same settings as the options
 * ({"fail":"503","fail_count":2,"latency_ms":5,"tokens":8,"tokens_per_second":50}), GET /fake/stats,
 * POST /fake/reset (statistics and failure counters). Per-request overrides: headers X-Fake-Fail,
 * X-Fake-Latency-Ms, X-Fake-Tokens, X-Fake-Tokens-Per-Second. See --help. */

#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "string-util.h"

#define HEAD_MAX (64U * 1024U)
#define HEADERS_MAX 100U
#define OUT_HIGH_WATER (256U * 1024U) /* stop generating while this much is queued for a slow client */
#define LISTENERS_MAX 16U
#define TOKENS_MAX 1000000U
#define EMBEDDING_DIM_MAX 65536U
#define USEC_PER_SEC 1000000ULL

static inline void json_object_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

static bool str_in(const char *s, const char *const *l) {
        for (; *l; l++)
                if (streq(s, *l))
                        return true;
        return false;
}

typedef enum FailMode {
        FAIL_NONE,
        FAIL_500,
        FAIL_503,
        FAIL_RESET, /* RST before any response byte */
        FAIL_RESET_MID, /* half the answer, then RST */
        FAIL_STALL, /* never answer */
        FAIL_STALL_MID, /* half the answer, then nothing */
        FAIL_BAD_JSON, /* 200 with a body (or SSE events) that is not JSON */
        FAIL_TRUNCATED, /* half the answer, then a clean close without the end of the body/stream */
        FAIL_OVERSIZED, /* a 200 answer of --oversized-bytes */
        _FAIL_MAX,
        _FAIL_INVALID = -EINVAL,
} FailMode;

static const char *const fail_names[_FAIL_MAX] = {
        [FAIL_NONE] = "none",
        [FAIL_500] = "500",
        [FAIL_503] = "503",
        [FAIL_RESET] = "reset",
        [FAIL_RESET_MID] = "reset-mid",
        [FAIL_STALL] = "stall",
        [FAIL_STALL_MID] = "stall-mid",
        [FAIL_BAD_JSON] = "bad-json",
        [FAIL_TRUNCATED] = "truncated-sse",
        [FAIL_OVERSIZED] = "oversized",
};

static FailMode fail_from_string(const char *s) {
        for (int i = 0; i < _FAIL_MAX; i++)
                if (streq(fail_names[i], s))
                        return i;
        if (streq(s, "truncated"))
                return FAIL_TRUNCATED;
        return _FAIL_INVALID;
}

typedef struct Settings {
        FailMode fail;
        uint64_t fail_count; /* fail this many requests, then answer normally; 0 = every request */
        uint64_t fail_every; /* fail every Nth request instead; 0 = off */
        uint64_t latency_usec;
        unsigned tokens;
        double tokens_per_second; /* 0 = as fast as the socket takes them */
        char *require_api_key;
        bool always_usage;
} Settings;

typedef enum Kind {
        KIND_CHAT,
        KIND_COMPLETION,
        KIND_RESPONSES,
        KIND_MESSAGES,
        KIND_EMBEDDINGS,
} Kind;

typedef enum ConnState {
        STATE_READ, /* reading a request head or body */
        STATE_WAIT, /* latency before the answer */
        STATE_STREAM, /* generating a streamed or oversized answer */
        STATE_FLUSH, /* the answer is complete, writing out the rest */
        STATE_STALL, /* answering nothing, waiting for the client to give up */
} ConnState;

typedef struct Server Server;

typedef struct Conn {
        Server *server;
        int fd;
        bool tcp;
        sd_event_source *io, *timer;
        ConnState state;

        char *in;
        size_t in_len, in_alloc;

        /* The request being read. */
        size_t head_len; /* 0 until the head is complete */
        char method[16];
        char path[2048];
        int minor;
        bool keep_alive, chunked, expect_continue, sent_continue;
        size_t content_length;
        size_t chunk_pos; /* next unparsed byte of a chunked body (offset in in) */
        bool chunked_done;
        char *body;
        size_t body_len, body_alloc;
        char *hdr_fail, *hdr_latency, *hdr_tokens, *hdr_tps, *hdr_auth, *hdr_api_key;

        /* The answer. */
        char *out;
        size_t out_len, out_off, out_alloc;
        bool close_after, sse_chunked;
        Kind kind;
        FailMode fail;
        bool stream, usage_chunk, length_limited;
        unsigned n_tokens, next_token, prompt_tokens;
        double tps;
        uint64_t id;
        char *model_json; /* the model as a JSON string literal, quotes included */
        size_t oversized_left;
        int seq; /* responses API sequence_number */
        /* Embeddings */
        unsigned n_inputs;
        bool base64;
        bool counted_stream; /* counted in Server.n_streams */
        bool pending_process; /* a pipelined request waits for the next loop iteration */
} Conn;

struct Server {
        sd_event *event;
        Settings settings;
        char **models;
        bool models_strict;
        size_t max_body;
        size_t oversized_bytes;
        unsigned embedding_dim;
        unsigned max_connections;
        uint64_t idle_usec;
        char *record_path;
        bool verbose;

        unsigned n_conns, n_streams, max_streams; /* max_streams: the most at once since the last reset */
        uint64_t n_requests, n_failed, n_disconnects, n_rejected, fail_seen, next_id;
        uint64_t by_kind[6];
};

static void conn_free(Conn *c);
static void conn_process(Conn *c);
static int conn_flush(Conn *c);
static void stream_continue(Conn *c);
static void start_answer(Conn *c);

/* ---- output buffer ---- */

static int out_reserve(Conn *c, size_t extra) {
        size_t need = c->out_len + extra;
        char *p;

        if (c->out_off > 0 && c->out_off == c->out_len) {
                c->out_off = c->out_len = 0;
                need = extra;
        }
        if (need <= c->out_alloc)
                return 0;
        if (c->out_off > 0) { /* compact before growing */
                memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
                c->out_len -= c->out_off;
                c->out_off = 0;
                need = c->out_len + extra;
                if (need <= c->out_alloc)
                        return 0;
        }
        need = MAX(need, MAX(c->out_alloc * 2, (size_t) 4096));
        p = realloc(c->out, need);
        if (!p)
                return -ENOMEM;
        c->out = p;
        c->out_alloc = need;
        return 0;
}

static int out_append(Conn *c, const void *data, size_t n) {
        if (out_reserve(c, n) < 0)
                return -ENOMEM;
        memcpy(c->out + c->out_len, data, n);
        c->out_len += n;
        return 0;
}

static int out_vprintf(Conn *c, const char *fmt, va_list ap) _printf_(2, 0);
static int out_vprintf(Conn *c, const char *fmt, va_list ap) {
        va_list aq;
        int n;

        va_copy(aq, ap);
        n = vsnprintf(NULL, 0, fmt, aq);
        va_end(aq);
        if (n < 0 || out_reserve(c, (size_t) n + 1) < 0)
                return -ENOMEM;
        vsnprintf(c->out + c->out_len, (size_t) n + 1, fmt, ap);
        c->out_len += (size_t) n;
        return 0;
}

static int out_printf(Conn *c, const char *fmt, ...) _printf_(2, 3);
static int out_printf(Conn *c, const char *fmt, ...) {
        va_list ap;
        int r;
        va_start(ap, fmt);
        r = out_vprintf(c, fmt, ap);
        va_end(ap);
        return r;
}

/* One SSE event (already formatted as "event: ...\ndata: ...\n\n"), framed as an HTTP chunk when the
 * answer is chunked. */
static int out_event(Conn *c, const char *fmt, ...) _printf_(2, 3);
static int out_event(Conn *c, const char *fmt, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        if (c->sse_chunked)
                return out_printf(c, "%x\r\n%s\r\n", n, s);
        return out_append(c, s, (size_t) n);
}

static size_t out_pending(const Conn *c) {
        return c->out_len - c->out_off;
}

/* ---- answers ---- */

static const char *status_text(int status) {
        switch (status) {
        case 100:
                return "Continue";
        case 200:
                return "OK";
        case 400:
                return "Bad Request";
        case 401:
                return "Unauthorized";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        case 408:
                return "Request Timeout";
        case 411:
                return "Length Required";
        case 413:
                return "Payload Too Large";
        case 431:
                return "Request Header Fields Too Large";
        case 500:
                return "Internal Server Error";
        case 501:
                return "Not Implemented";
        case 503:
                return "Service Unavailable";
        case 505:
                return "HTTP Version Not Supported";
        default:
                return "Unknown";
        }
}

static int respond(Conn *c, int status, const char *content_type, const char *body, size_t len) {
        int r;

        r = out_printf(c,
                       "HTTP/1.%d %d %s\r\n"
                       "Server: openshell-fake-gpu\r\n"
                       "Content-Type: %s\r\n"
                       "Content-Length: %zu\r\n"
                       "%s"
                       "%s"
                       "\r\n",
                       c->minor, status, status_text(status), content_type, len,
                       status == 503 ? "Retry-After: 1\r\n" : "",
                       c->close_after ? "Connection: close\r\n"
                                      : (c->minor == 0 ? "Connection: keep-alive\r\n" : ""));
        if (r >= 0)
                r = out_append(c, body, len);
        return r;
}

static int respond_json(Conn *c, int status, const char *body) {
        return respond(c, status, "application/json", body, strlen(body));
}

/* An error in the dialect of the endpoint: OpenAI's {"error":{...}} or Anthropic's. */
static int respond_error(Conn *c, int status, const char *type, const char *code, const char *fmt, ...)
        _printf_(5, 6);
static int respond_error(Conn *c, int status, const char *type, const char *code, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL, *body = NULL;
        json_object *o, *e;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        o = json_object_new_object();
        e = json_object_new_object();
        if (c->kind == KIND_MESSAGES && startswith(c->path, "/v1/messages")) {
                json_object_object_add(o, "type", json_object_new_string("error"));
                json_object_object_add(e, "type", json_object_new_string(type));
                json_object_object_add(e, "message", json_object_new_string(msg));
        } else {
                json_object_object_add(e, "message", json_object_new_string(msg));
                json_object_object_add(e, "type", json_object_new_string(type));
                json_object_object_add(e, "param", NULL);
                json_object_object_add(e, "code", code ? json_object_new_string(code) : NULL);
        }
        json_object_object_add(o, "error", e);
        body = strdup(
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        if (!body)
                return -ENOMEM;
        return respond_json(c, status, body);
}

static const char *const words[] = {
        "Hello",  "from", "the", "openshell",     "fake",   "GPU",
        "server", "and",  "its", "deterministic", "tokens",
};

/* Token i of every answer: plain ASCII, never in need of JSON escaping. */
static void token_text(unsigned i, char *buf, size_t size) {
        snprintf(buf, size, "%s%s", i == 0 ? "" : " ", words[i % ELEMENTSOF(words)]);
}

static char *answer_text(unsigned n) {
        char *s = NULL, tok[32];
        size_t len = 0;
        FILE *f = open_memstream(&s, &len);

        if (!f)
                return NULL;
        for (unsigned i = 0; i < n; i++) {
                token_text(i, tok, sizeof tok);
                fputs(tok, f);
        }
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}

static const char *finish_reason(const Conn *c) {
        if (c->kind == KIND_MESSAGES)
                return c->length_limited ? "max_tokens" : "end_turn";
        return c->length_limited ? "length" : "stop";
}

static int respond_models(Conn *c, const char *id) {
        Server *s = c->server;
        json_object *o, *data;
        _cleanup_free_ char *body = NULL;

        if (id) {
                if (!strv_contains(s->models, id))
                        return respond_error(c, 404, "NotFoundError", "model_not_found",
                                             "The model `%s` does not exist.", id);
                o = json_object_new_object();
                json_object_object_add(o, "id", json_object_new_string(id));
                json_object_object_add(o, "object", json_object_new_string("model"));
                json_object_object_add(o, "created", json_object_new_int64(1700000000));
                json_object_object_add(o, "owned_by", json_object_new_string("openshell-fake-gpu"));
        } else {
                o = json_object_new_object();
                data = json_object_new_array();
                json_object_object_add(o, "object", json_object_new_string("list"));
                STRV_FOREACH(m, s->models) {
                        json_object *e = json_object_new_object();
                        json_object_object_add(e, "id", json_object_new_string(*m));
                        json_object_object_add(e, "object", json_object_new_string("model"));
                        json_object_object_add(e, "created", json_object_new_int64(1700000000));
                        json_object_object_add(e, "owned_by", json_object_new_string("openshell-fake-gpu"));
                        json_object_array_add(data, e);
                }
                json_object_object_add(o, "data", data);
        }
        body = strdup(
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        if (!body)
                return -ENOMEM;
        return respond_json(c, 200, body);
}

static int respond_embeddings(Conn *c) {
        Server *s = c->server;
        _cleanup_free_ char *body = NULL;
        json_object *o = json_object_new_object(), *data = json_object_new_array(),
                    *u = json_object_new_object();

        json_object_object_add(o, "object", json_object_new_string("list"));
        for (unsigned i = 0; i < c->n_inputs; i++) {
                json_object *e = json_object_new_object();
                unsigned dim = s->embedding_dim;

                json_object_object_add(e, "object", json_object_new_string("embedding"));
                json_object_object_add(e, "index", json_object_new_int((int) i));
                if (c->base64) {
                        /* little-endian float32, base64: what the openai clients ask for by default */
                        _cleanup_free_ char *b64 = NULL;
                        size_t nbytes = (size_t) dim * 4, olen = 4 * ((nbytes + 2) / 3);
                        static const char tbl[] =
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                        _cleanup_free_ uint8_t *raw = calloc(1, nbytes);
                        b64 = malloc(olen + 1);
                        if (!raw || !b64) {
                                json_object_put(o);
                                json_object_put(data);
                                json_object_put(u);
                                return -ENOMEM;
                        }
                        for (unsigned d = 0; d < dim; d++) {
                                float f = (float) ((i + 1) * 0.001 + d * 0.01);
                                memcpy(raw + 4 * d, &f, 4); /* x86-64 and aarch64 are little-endian */
                        }
                        size_t k = 0;
                        for (size_t j = 0; j < nbytes; j += 3) {
                                uint32_t w = (uint32_t) raw[j] << 16 |
                                             (uint32_t) (j + 1 < nbytes ? raw[j + 1] : 0) << 8 |
                                             (j + 2 < nbytes ? raw[j + 2] : 0);
                                b64[k++] = tbl[(w >> 18) & 63];
                                b64[k++] = tbl[(w >> 12) & 63];
                                b64[k++] = j + 1 < nbytes ? tbl[(w >> 6) & 63] : '=';
                                b64[k++] = j + 2 < nbytes ? tbl[w & 63] : '=';
                        }
                        b64[k] = 0;
                        json_object_object_add(e, "embedding", json_object_new_string(b64));
                } else {
                        json_object *a = json_object_new_array_ext((int) dim);
                        for (unsigned d = 0; d < dim; d++)
                                json_object_array_add(a, json_object_new_double((i + 1) * 0.001 + d * 0.01));
                        json_object_object_add(e, "embedding", a);
                }
                json_object_array_add(data, e);
        }
        json_object_object_add(o, "data", data);
        json_object_object_add(o, "model", json_tokener_parse(c->model_json));
        json_object_object_add(u, "prompt_tokens", json_object_new_int((int) c->prompt_tokens));
        json_object_object_add(u, "total_tokens", json_object_new_int((int) c->prompt_tokens));
        json_object_object_add(o, "usage", u);
        body = strdup(
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        if (!body)
                return -ENOMEM;
        return respond_json(c, 200, body);
}

/* The complete (non-streamed) answer of an inference endpoint. */
static int respond_complete(Conn *c) {
        _cleanup_free_ char *text = answer_text(c->n_tokens), *body = NULL;
        unsigned p = c->prompt_tokens, n = c->n_tokens;
        uint64_t id = c->id;
        int r;

        if (!text)
                return -ENOMEM;
        switch (c->kind) {
        case KIND_CHAT:
                r = asprintf(
                        &body,
                        "{\"id\":\"chatcmpl-fake-%" PRIu64
                        "\",\"object\":\"chat.completion\",\"created\":%lld,"
                        "\"model\":%s,\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                        "\"content\":\"%s\"},\"logprobs\":null,\"finish_reason\":\"%s\"}],"
                        "\"usage\":{\"prompt_tokens\":%u,\"completion_tokens\":%u,\"total_tokens\":%u}}",
                        id, (long long) time(NULL), c->model_json, text, finish_reason(c), p, n, p + n);
                break;
        case KIND_COMPLETION:
                r = asprintf(
                        &body,
                        "{\"id\":\"cmpl-fake-%" PRIu64 "\",\"object\":\"text_completion\",\"created\":%lld,"
                        "\"model\":%s,\"choices\":[{\"index\":0,\"text\":\"%s\",\"logprobs\":null,"
                        "\"finish_reason\":\"%s\"}],"
                        "\"usage\":{\"prompt_tokens\":%u,\"completion_tokens\":%u,\"total_tokens\":%u}}",
                        id, (long long) time(NULL), c->model_json, text, finish_reason(c), p, n, p + n);
                break;
        case KIND_RESPONSES:
                r = asprintf(&body,
                             "{\"id\":\"resp_fake%" PRIu64 "\",\"object\":\"response\",\"created_at\":%lld,"
                             "\"status\":\"completed\",\"model\":%s,\"output\":[{\"type\":\"message\","
                             "\"id\":\"msg_fake%" PRIu64
                             "\",\"status\":\"completed\",\"role\":\"assistant\","
                             "\"content\":[{\"type\":\"output_text\",\"text\":\"%s\",\"annotations\":[]}]}],"
                             "\"usage\":{\"input_tokens\":%u,\"output_tokens\":%u,\"total_tokens\":%u}}",
                             id, (long long) time(NULL), c->model_json, id, text, p, n, p + n);
                break;
        case KIND_MESSAGES:
                r = asprintf(&body,
                             "{\"id\":\"msg_fake%" PRIu64 "\",\"type\":\"message\",\"role\":\"assistant\","
                             "\"model\":%s,\"content\":[{\"type\":\"text\",\"text\":\"%s\"}],"
                             "\"stop_reason\":\"%s\",\"stop_sequence\":null,"
                             "\"usage\":{\"input_tokens\":%u,\"output_tokens\":%u}}",
                             id, c->model_json, text, finish_reason(c), p, n);
                break;
        case KIND_EMBEDDINGS:
                return respond_embeddings(c);
        default:
                return -EINVAL;
        }
        if (r < 0)
                return -ENOMEM;
        return respond_json(c, 200, body);
}

/* ---- streaming ---- */

static int stream_pre(Conn *c) {
        uint64_t id = c->id;
        long long t = (long long) time(NULL);

        switch (c->kind) {
        case KIND_CHAT:
                return out_event(
                        c,
                        "data: {\"id\":\"chatcmpl-fake-%" PRIu64 "\",\"object\":\"chat.completion.chunk\","
                        "\"created\":%lld,\"model\":%s,\"choices\":[{\"index\":0,\"delta\":{\"role\":"
                        "\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
                        id, t, c->model_json);
        case KIND_COMPLETION:
                return 0;
        case KIND_RESPONSES:
                if (out_event(
                            c,
                            "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":%d,"
                            "\"response\":{\"id\":\"resp_fake%" PRIu64 "\",\"object\":\"response\","
                            "\"created_at\":%lld,\"status\":\"in_progress\",\"model\":%s,\"output\":[],"
                            "\"usage\":null}}\n\n",
                            c->seq++, id, t, c->model_json) < 0)
                        return -ENOMEM;
                if (out_event(
                            c,
                            "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\","
                            "\"sequence_number\":%d,\"output_index\":0,\"item\":{\"id\":\"msg_fake%" PRIu64
                            "\","
                            "\"type\":\"message\",\"status\":\"in_progress\",\"role\":\"assistant\","
                            "\"content\":[]}}\n\n",
                            c->seq++, id) < 0)
                        return -ENOMEM;
                return out_event(
                        c,
                        "event: response.content_part.added\ndata: {\"type\":\"response.content_part.added\","
                        "\"sequence_number\":%d,\"item_id\":\"msg_fake%" PRIu64 "\",\"output_index\":0,"
                        "\"content_index\":0,\"part\":{\"type\":\"output_text\",\"text\":\"\","
                        "\"annotations\":[]}}\n\n",
                        c->seq++, id);
        case KIND_MESSAGES:
                if (out_event(c,
                              "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"
                              "\"msg_fake%" PRIu64
                              "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":%s,"
                              "\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":"
                              "{\"input_tokens\":%u,\"output_tokens\":1}}}\n\n",
                              id, c->model_json, c->prompt_tokens) < 0)
                        return -ENOMEM;
                if (out_event(
                            c,
                            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
                            "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n") < 0)
                        return -ENOMEM;
                return out_event(c, "event: ping\ndata: {\"type\": \"ping\"}\n\n");
        default:
                return -EINVAL;
        }
}

static int stream_token(Conn *c, unsigned i) {
        char tok[32];
        uint64_t id = c->id;
        long long t = (long long) time(NULL);

        token_text(i, tok, sizeof tok);
        if (c->fail == FAIL_BAD_JSON)
                return out_event(
                        c, "data: {\"id\":\"broken\",\"choices\":[{\"delta\":{\"content\":\"%s\"}\n\n", tok);
        switch (c->kind) {
        case KIND_CHAT:
                return out_event(
                        c,
                        "data: {\"id\":\"chatcmpl-fake-%" PRIu64 "\",\"object\":\"chat.completion.chunk\","
                        "\"created\":%lld,\"model\":%s,\"choices\":[{\"index\":0,\"delta\":{\"content\":"
                        "\"%s\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
                        id, t, c->model_json, tok);
        case KIND_COMPLETION:
                return out_event(c,
                                 "data: {\"id\":\"cmpl-fake-%" PRIu64 "\",\"object\":\"text_completion\","
                                 "\"created\":%lld,\"model\":%s,\"choices\":[{\"index\":0,\"text\":\"%s\","
                                 "\"logprobs\":null,\"finish_reason\":null}]}\n\n",
                                 id, t, c->model_json, tok);
        case KIND_RESPONSES:
                return out_event(
                        c,
                        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
                        "\"sequence_number\":%d,\"item_id\":\"msg_fake%" PRIu64 "\",\"output_index\":0,"
                        "\"content_index\":0,\"delta\":\"%s\"}\n\n",
                        c->seq++, id, tok);
        case KIND_MESSAGES:
                return out_event(
                        c,
                        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                        "\"delta\":{\"type\":\"text_delta\",\"text\":\"%s\"}}\n\n",
                        tok);
        default:
                return -EINVAL;
        }
}

static int stream_post(Conn *c) {
        uint64_t id = c->id;
        long long t = (long long) time(NULL);
        unsigned p = c->prompt_tokens, n = c->n_tokens;
        _cleanup_free_ char *text = NULL;

        switch (c->kind) {
        case KIND_CHAT:
        case KIND_COMPLETION: {
                const char *obj = c->kind == KIND_CHAT ? "chat.completion.chunk" : "text_completion";
                const char *pfx = c->kind == KIND_CHAT ? "chatcmpl-fake-" : "cmpl-fake-";

                if (c->kind == KIND_CHAT) {
                        if (out_event(c,
                                      "data: {\"id\":\"%s%" PRIu64
                                      "\",\"object\":\"%s\",\"created\":%lld,\"model\":%s,"
                                      "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
                                      "\"finish_reason\":\"%s\"}]}\n\n",
                                      pfx, id, obj, t, c->model_json, finish_reason(c)) < 0)
                                return -ENOMEM;
                } else if (out_event(c,
                                     "data: {\"id\":\"%s%" PRIu64
                                     "\",\"object\":\"%s\",\"created\":%lld,\"model\":%s,"
                                     "\"choices\":[{\"index\":0,\"text\":\"\",\"logprobs\":null,"
                                     "\"finish_reason\":\"%s\"}]}\n\n",
                                     pfx, id, obj, t, c->model_json, finish_reason(c)) < 0)
                        return -ENOMEM;
                if (c->usage_chunk &&
                    out_event(c,
                              "data: {\"id\":\"%s%" PRIu64
                              "\",\"object\":\"%s\",\"created\":%lld,\"model\":%s,"
                              "\"choices\":[],\"usage\":{\"prompt_tokens\":%u,\"completion_tokens\":%u,"
                              "\"total_tokens\":%u}}\n\n",
                              pfx, id, obj, t, c->model_json, p, n, p + n) < 0)
                        return -ENOMEM;
                return out_event(c, "data: [DONE]\n\n");
        }
        case KIND_RESPONSES:
                text = answer_text(n);
                if (!text)
                        return -ENOMEM;
                if (out_event(
                            c,
                            "event: response.output_text.done\ndata: {\"type\":\"response.output_text.done\","
                            "\"sequence_number\":%d,\"item_id\":\"msg_fake%" PRIu64 "\",\"output_index\":0,"
                            "\"content_index\":0,\"text\":\"%s\"}\n\n",
                            c->seq++, id, text) < 0)
                        return -ENOMEM;
                if (out_event(
                            c,
                            "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\","
                            "\"sequence_number\":%d,\"output_index\":0,\"item\":{\"id\":\"msg_fake%" PRIu64
                            "\","
                            "\"type\":\"message\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":"
                            "[{\"type\":\"output_text\",\"text\":\"%s\",\"annotations\":[]}]}}\n\n",
                            c->seq++, id, text) < 0)
                        return -ENOMEM;
                return out_event(
                        c,
                        "event: response.completed\ndata: {\"type\":\"response.completed\","
                        "\"sequence_number\":%d,\"response\":{\"id\":\"resp_fake%" PRIu64 "\","
                        "\"object\":\"response\",\"created_at\":%lld,\"status\":\"completed\",\"model\":%s,"
                        "\"output\":[{\"type\":\"message\",\"id\":\"msg_fake%" PRIu64 "\",\"status\":"
                        "\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
                        "\"text\":\"%s\",\"annotations\":[]}]}],\"usage\":{\"input_tokens\":%u,"
                        "\"output_tokens\":%u,\"total_tokens\":%u}}}\n\n",
                        c->seq++, id, t, c->model_json, id, text, p, n, p + n);
        case KIND_MESSAGES:
                if (out_event(
                            c,
                            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n") <
                    0)
                        return -ENOMEM;
                if (out_event(
                            c,
                            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
                            "\"%s\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":%u}}\n\n",
                            finish_reason(c), n) < 0)
                        return -ENOMEM;
                return out_event(c, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
        default:
                return -EINVAL;
        }
}

static void conn_reset(Conn *c) {
        struct linger l = { .l_onoff = 1, .l_linger = 0 };
        (void) setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        conn_free(c);
}

static void conn_stall(Conn *c) {
        c->state = STATE_STALL;
        c->out_len = c->out_off = 0;
        if (c->timer)
                sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
        sd_event_source_set_io_events(c->io, EPOLLIN);
}

static int timer_arm(Conn *c, uint64_t usec);

static void count_stream(Conn *c) {
        if (!c->counted_stream && ++c->server->n_streams > c->server->max_streams)
                c->server->max_streams = c->server->n_streams;
        c->counted_stream = true;
}

/* Emits the next token (or the end) of a stream; called on the token timer and when a slow client's
 * queue drains. */
static void stream_continue(Conn *c) {
        unsigned half = c->n_tokens / 2;
        int r = 0;

        if (c->state != STATE_STREAM)
                return;
        if (out_pending(c) >= OUT_HIGH_WATER)
                return; /* resumed from the io handler once the client reads */

        if (c->fail == FAIL_OVERSIZED) {
                char pad[16384];
                size_t n = MIN(sizeof pad, c->oversized_left);
                memset(pad, 'x', sizeof pad);
                while (c->oversized_left > 0 && out_pending(c) < OUT_HIGH_WATER) {
                        n = MIN(sizeof pad, c->oversized_left);
                        if (c->stream) {
                                /* one SSE event per 16 KiB of content, each a valid chunk */
                                r = out_event(
                                        c,
                                        "data: {\"id\":\"chatcmpl-big\",\"object\":\"chat.completion.chunk\","
                                        "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%.*s\"},"
                                        "\"finish_reason\":null}]}\n\n",
                                        (int) n, pad);
                        } else
                                r = out_append(c, pad, n);
                        if (r < 0)
                                break;
                        c->oversized_left -= n;
                }
                if (r >= 0 && c->oversized_left == 0) {
                        if (c->stream)
                                r = out_event(c, "data: [DONE]\n\n");
                        else
                                r = out_append(c, "\"}", 2);
                        if (r >= 0 && c->sse_chunked)
                                r = out_append(c, "0\r\n\r\n", 5);
                        c->state = STATE_FLUSH;
                }
                if (r < 0) {
                        conn_free(c);
                        return;
                }
                if (conn_flush(c) < 0)
                        return;
                if (c->state == STATE_STREAM && out_pending(c) < OUT_HIGH_WATER)
                        (void) timer_arm(c, 0); /* the socket took it all: go on from the loop */
                return;
        }

        if (c->next_token < c->n_tokens) {
                if ((c->fail == FAIL_RESET_MID || c->fail == FAIL_STALL_MID || c->fail == FAIL_TRUNCATED) &&
                    c->next_token >= MAX(half, 1U)) {
                        /* push out what was promised so far, then misbehave */
                        if (conn_flush(c) < 0)
                                return;
                        if (c->fail == FAIL_RESET_MID)
                                conn_reset(c);
                        else if (c->fail == FAIL_STALL_MID)
                                conn_stall(c);
                        else {
                                c->close_after = true;
                                c->state = STATE_FLUSH;
                                (void) conn_flush(c);
                        }
                        return;
                }
                r = stream_token(c, c->next_token++);
                if (r < 0) {
                        conn_free(c);
                        return;
                }
                if (c->tps > 0) {
                        if (conn_flush(c) < 0)
                                return;
                        (void) timer_arm(c, (uint64_t) (USEC_PER_SEC / c->tps));
                        return;
                }
                /* as fast as possible: loop via the queue limit */
                while (c->next_token < c->n_tokens && out_pending(c) < OUT_HIGH_WATER &&
                       !((c->fail == FAIL_RESET_MID || c->fail == FAIL_STALL_MID ||
                          c->fail == FAIL_TRUNCATED) &&
                         c->next_token >= MAX(half, 1U)))
                        if (stream_token(c, c->next_token++) < 0) {
                                conn_free(c);
                                return;
                        }
                if (conn_flush(c) < 0)
                        return;
                if (c->next_token < c->n_tokens || c->fail == FAIL_RESET_MID || c->fail == FAIL_STALL_MID ||
                    c->fail == FAIL_TRUNCATED) {
                        if (out_pending(c) < OUT_HIGH_WATER)
                                (void) timer_arm(c, 0);
                        return;
                }
        }

        r = stream_post(c);
        if (r >= 0 && c->sse_chunked)
                r = out_append(c, "0\r\n\r\n", 5);
        if (r < 0) {
                conn_free(c);
                return;
        }
        c->state = STATE_FLUSH;
        (void) conn_flush(c);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Conn *c = userdata;

        switch (c->state) {
        case STATE_WAIT:
                conn_process(c);
                break;
        case STATE_STREAM:
                stream_continue(c);
                break;
        case STATE_FLUSH:
        case STATE_STALL:
                break;
        default: /* idle or header timeout */
                if (c->pending_process) {
                        c->pending_process = false;
                        (void) timer_arm(c, c->server->idle_usec);
                        conn_process(c);
                        break;
                }
                if (c->server->verbose)
                        log_info("closing idle connection fd=%d", c->fd);
                conn_free(c);
        }
        return 0;
}

static int timer_arm(Conn *c, uint64_t usec) {
        int r;

        if (!c->timer)
                return sd_event_add_time_relative(c->server->event, &c->timer, CLOCK_MONOTONIC, usec, 1,
                                                  on_timer, c);
        r = sd_event_source_set_time_relative(c->timer, usec);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
}

/* ---- connection I/O ---- */

static void conn_free(Conn *c) {
        if (!c)
                return;
        if (c->counted_stream)
                c->server->n_streams--;
        c->server->n_conns--;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timer);
        safe_close(c->fd);
        free(c->in);
        free(c->body);
        free(c->out);
        free(c->model_json);
        free(c->hdr_fail);
        free(c->hdr_latency);
        free(c->hdr_tokens);
        free(c->hdr_tps);
        free(c->hdr_auth);
        free(c->hdr_api_key);
        free(c);
}

static void request_reset(Conn *c) {
        if (c->counted_stream)
                c->server->n_streams--;
        c->counted_stream = false;
        c->state = STATE_READ;
        c->head_len = 0;
        c->chunked = c->expect_continue = c->sent_continue = c->chunked_done = false;
        c->content_length = 0;
        c->chunk_pos = 0;
        c->body_len = 0;
        c->out_len = c->out_off = 0;
        c->fail = FAIL_NONE;
        c->seq = 0;
        c->stream = c->usage_chunk = c->length_limited = false;
        c->next_token = c->n_tokens = c->prompt_tokens = 0;
        free(c->model_json);
        c->model_json = NULL;
        free(c->hdr_fail);
        free(c->hdr_latency);
        free(c->hdr_tokens);
        free(c->hdr_tps);
        free(c->hdr_auth);
        free(c->hdr_api_key);
        c->hdr_fail = c->hdr_latency = c->hdr_tokens = c->hdr_tps = c->hdr_auth = c->hdr_api_key = NULL;
}

/* Writes what is queued. Returns <0 if the connection was freed. */
static int conn_flush(Conn *c) {
        while (out_pending(c) > 0) {
                ssize_t n = send(c->fd, c->out + c->out_off, out_pending(c), MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR) {
                                sd_event_source_set_io_events(c->io, EPOLLIN | EPOLLOUT);
                                return 0;
                        }
                        if (c->state == STATE_STREAM)
                                c->server->n_disconnects++;
                        conn_free(c);
                        return -EPIPE;
                }
                c->out_off += (size_t) n;
        }
        c->out_off = c->out_len = 0;
        sd_event_source_set_io_events(c->io, EPOLLIN);

        if (c->state == STATE_FLUSH) {
                if (c->close_after) {
                        (void) shutdown(c->fd, SHUT_WR);
                        conn_free(c);
                        return -ECONNRESET;
                }
                /* keep-alive: drop the request just answered, go on with any pipelined one */
                size_t used = c->head_len + (c->chunked ? c->chunk_pos - c->head_len : c->content_length);
                used = MIN(used, c->in_len);
                memmove(c->in, c->in + used, c->in_len - used);
                c->in_len -= used;
                request_reset(c);
                /* a pipelined request is served from the loop, never by recursion */
                c->pending_process = c->in_len > 0;
                (void) timer_arm(c, c->pending_process ? 0 : c->server->idle_usec);
        }
        return 0;
}

/* Appends a complete answer and ends the request. */
static void conn_finish(Conn *c, int r) {
        if (r < 0) {
                conn_free(c);
                return;
        }
        c->state = STATE_FLUSH;
        (void) conn_flush(c);
}

static void conn_fail_fast(Conn *c, int status, const char *msg) {
        c->close_after = true;
        c->minor = c->minor == 0 ? 0 : 1;
        conn_finish(c, respond_error(c, status, "invalid_request_error", NULL, "%s", msg));
}

static char *header_dup(const char *v, size_t n) {
        while (n > 0 && (*v == ' ' || *v == '\t'))
                v++, n--;
        while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
                n--;
        return strndup(v, n);
}

/* Parses the request head in c->in[0..head_len). Returns 0, or an HTTP status to fail with. */
static int parse_head(Conn *c) {
        char *p = c->in, *end = c->in + c->head_len - 2, *eol, *sp1, *sp2;
        unsigned n_headers = 0;
        bool have_length = false, conn_close = false, conn_keep = false;

        eol = memmem(p, (size_t) (end - p), "\r\n", 2);
        if (!eol)
                return 400;
        sp1 = memchr(p, ' ', (size_t) (eol - p));
        if (!sp1 || (size_t) (sp1 - p) >= sizeof c->method || sp1 == p)
                return 400;
        sp2 = memchr(sp1 + 1, ' ', (size_t) (eol - sp1 - 1));
        if (!sp2 || (size_t) (sp2 - sp1 - 1) >= sizeof c->path || sp2 == sp1 + 1)
                return 400;
        memcpy(c->method, p, (size_t) (sp1 - p));
        c->method[sp1 - p] = 0;
        memcpy(c->path, sp1 + 1, (size_t) (sp2 - sp1 - 1));
        c->path[sp2 - sp1 - 1] = 0;
        if (eol - sp2 - 1 != 8 || !strneq(sp2 + 1, "HTTP/1.", 7) || (sp2[8] != '0' && sp2[8] != '1'))
                return 505;
        c->minor = sp2[8] - '0';
        for (char *q = c->method; *q; q++)
                if (!isupper((unsigned char) *q))
                        return 400;
        for (char *q = c->path; *q; q++)
                if ((unsigned char) *q <= ' ' || *q == 0x7f)
                        return 400;
        { /* drop a query string */
                char *q = strchr(c->path, '?');
                if (q)
                        *q = 0;
        }

        for (p = eol + 2; p < end; p = eol + 2) {
                char *colon;
                size_t nlen;
                const char *v;
                size_t vlen;

                eol = memmem(p, (size_t) (end + 2 - p), "\r\n", 2);
                if (!eol)
                        return 400;
                if (++n_headers > HEADERS_MAX)
                        return 431;
                colon = memchr(p, ':', (size_t) (eol - p));
                if (!colon || colon == p)
                        return 400;
                nlen = (size_t) (colon - p);
                for (char *q = p; q < colon; q++)
                        if ((unsigned char) *q <= ' ' || *q == 0x7f)
                                return 400; /* no whitespace before the colon, no obs-fold */
                for (char *q = colon + 1; q < eol; q++)
                        if (((unsigned char) *q < ' ' && *q != '\t') || *q == 0x7f)
                                return 400;
                v = colon + 1;
                vlen = (size_t) (eol - v);

#define IS(name) (nlen == strlen(name) && strncasecmp(p, name, nlen) == 0)
                if (IS("content-length")) {
                        _cleanup_free_ char *s = header_dup(v, vlen);
                        uint64_t l;
                        if (!s || have_length || safe_atou64(s, &l) < 0)
                                return 400;
                        if (l > c->server->max_body)
                                return 413;
                        c->content_length = (size_t) l;
                        have_length = true;
                } else if (IS("transfer-encoding")) {
                        _cleanup_free_ char *s = header_dup(v, vlen);
                        if (!s || strcasecmp(s, "chunked") != 0)
                                return 501;
                        c->chunked = true;
                } else if (IS("connection")) {
                        _cleanup_free_ char *s = header_dup(v, vlen);
                        if (s && strcasestr(s, "close"))
                                conn_close = true;
                        if (s && strcasestr(s, "keep-alive"))
                                conn_keep = true;
                } else if (IS("expect")) {
                        _cleanup_free_ char *s = header_dup(v, vlen);
                        if (s && strcasecmp(s, "100-continue") == 0)
                                c->expect_continue = true;
                } else if (IS("x-fake-fail"))
                        c->hdr_fail = header_dup(v, vlen);
                else if (IS("x-fake-latency-ms"))
                        c->hdr_latency = header_dup(v, vlen);
                else if (IS("x-fake-tokens"))
                        c->hdr_tokens = header_dup(v, vlen);
                else if (IS("x-fake-tokens-per-second"))
                        c->hdr_tps = header_dup(v, vlen);
                else if (IS("authorization"))
                        c->hdr_auth = header_dup(v, vlen);
                else if (IS("x-api-key"))
                        c->hdr_api_key = header_dup(v, vlen);
#undef IS
        }
        if (c->chunked && have_length)
                return 400; /* request smuggling shape: refuse */
        c->keep_alive = c->minor == 1 ? !conn_close : conn_keep && !conn_close;
        return 0;
}

static int body_append(Conn *c, const char *data, size_t n) {
        if (c->body_len + n + 1 > c->body_alloc) {
                size_t a = MAX(c->body_alloc * 2, c->body_len + n + 1);
                char *p = realloc(c->body, MAX(a, (size_t) 1024));
                if (!p)
                        return -ENOMEM;
                c->body = p;
                c->body_alloc = MAX(a, (size_t) 1024);
        }
        memcpy(c->body + c->body_len, data, n);
        c->body_len += n;
        c->body[c->body_len] = 0;
        return 0;
}

/* Decodes as much of a chunked body as has arrived. Returns 1 when complete, 0 for more, or an HTTP
 * status on error. */
static int parse_chunked(Conn *c) {
        for (;;) {
                char *p = c->in + c->chunk_pos, *end = c->in + c->in_len, *eol, *e;
                unsigned long long size;

                eol = memmem(p, (size_t) (end - p), "\r\n", 2);
                if (!eol)
                        return end - p > 1024 ? 400 : 0;
                if (!isxdigit((unsigned char) *p))
                        return 400;
                errno = 0;
                size = strtoull(p, &e, 16);
                if (errno || (e != eol && *e != ';') || size > c->server->max_body)
                        return size > c->server->max_body ? 413 : 400;
                if (size == 0) {
                        /* trailers: none expected; require the final CRLF */
                        if ((size_t) (end - eol) < 4)
                                return 0;
                        if (!strneq(eol + 2, "\r\n", 2))
                                return 400;
                        c->chunk_pos = (size_t) (eol + 4 - c->in);
                        return 1;
                }
                if ((size_t) (end - (eol + 2)) < size + 2)
                        return 0;
                if (c->body_len + size > c->server->max_body)
                        return 413;
                if (!strneq(eol + 2 + size, "\r\n", 2))
                        return 400;
                if (body_append(c, eol + 2, size) < 0)
                        return 500;
                c->chunk_pos = (size_t) (eol + 2 + size + 2 - c->in);
        }
}

static void record_request(Conn *c) {
        Server *s = c->server;
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;

        if (!s->record_path || !startswith(c->path, "/v1/"))
                return; /* the API requests only: control and health requests do not replace them */
        if (asprintf(&tmp, "%s.tmp", s->record_path) < 0)
                return;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
                log_warning_errno(errno, "Failed to write %s: %m", tmp);
                return;
        }
        if (write(fd, c->in, c->head_len) != (ssize_t) c->head_len ||
            (c->body_len > 0 && write(fd, c->body, c->body_len) != (ssize_t) c->body_len)) {
                log_warning_errno(errno, "Failed to write %s: %m", tmp);
                (void) unlink(tmp);
                return;
        }
        if (rename(tmp, s->record_path) < 0)
                log_warning_errno(errno, "Failed to rename %s: %m", tmp);
}

static unsigned count_words(const char *s) {
        unsigned n = 0;
        bool in = false;
        for (; *s; s++) {
                bool sp = isspace((unsigned char) *s);
                if (!sp && !in)
                        n++;
                in = !sp;
        }
        return n;
}

/* Prompt "tokens": words in every string of the request except model, role and the like. Deterministic,
 * not a tokenizer. */
static unsigned count_prompt(json_object *o, int depth) {
        unsigned n = 0;

        if (depth > 32)
                return 0;
        switch (json_object_get_type(o)) {
        case json_type_string:
                return count_words(json_object_get_string(o));
        case json_type_array:
                for (size_t i = 0; i < json_object_array_length(o); i++)
                        n += count_prompt(json_object_array_get_idx(o, i), depth + 1);
                return n;
        case json_type_object: {
                /* Braces: the macro declares variables, which C11 does not allow right after a label. */
                json_object_object_foreach(o, k, v) {
                        if (streq(k, "model") || streq(k, "role") || streq(k, "type") ||
                            streq(k, "encoding_format"))
                                continue;
                        n += count_prompt(v, depth + 1);
                }
                return n;
        }
        default:
                return 0;
        }
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *ret) {
        uint64_t v;
        if (safe_atou64(s, &v) < 0 || v > max)
                return false;
        *ret = v;
        return true;
}

/* Whether this request is one that fails, by the global settings (counted per inference request). */
static FailMode pick_failure(Conn *c) {
        Server *s = c->server;
        FailMode f;

        if (c->hdr_fail) {
                f = fail_from_string(c->hdr_fail);
                return f < 0 ? FAIL_NONE : f;
        }
        if (s->settings.fail == FAIL_NONE)
                return FAIL_NONE;
        s->fail_seen++;
        if (s->settings.fail_every > 0)
                return s->fail_seen % s->settings.fail_every == 0 ? s->settings.fail : FAIL_NONE;
        if (s->settings.fail_count > 0) {
                if (s->fail_seen > s->settings.fail_count)
                        return FAIL_NONE;
        }
        return s->settings.fail;
}

static bool api_key_ok(Conn *c) {
        const char *k = c->server->settings.require_api_key;

        if (!k)
                return true;
        if (c->hdr_auth && startswith(c->hdr_auth, "Bearer ") && streq(c->hdr_auth + 7, k))
                return true;
        return c->hdr_api_key && streq(c->hdr_api_key, k);
}

static int respond_stats(Conn *c) {
        Server *s = c->server;
        _cleanup_free_ char *body = NULL;

        if (asprintf(&body,
                     "{\"requests\":%" PRIu64
                     ",\"connections\":%u,\"streams\":%u,\"max_streams\":%u,\"failed\":%" PRIu64
                     ",\"client_disconnects\":%" PRIu64 ",\"rejected\":%" PRIu64 ",\"chat\":%" PRIu64
                     ",\"completions\":%" PRIu64 ",\"responses\":%" PRIu64 ",\"messages\":%" PRIu64
                     ",\"embeddings\":%" PRIu64 ",\"models\":%" PRIu64 ",\"fail\":\"%s\"}",
                     s->n_requests, s->n_conns, s->n_streams, s->max_streams, s->n_failed, s->n_disconnects,
                     s->n_rejected, s->by_kind[KIND_CHAT], s->by_kind[KIND_COMPLETION],
                     s->by_kind[KIND_RESPONSES], s->by_kind[KIND_MESSAGES], s->by_kind[KIND_EMBEDDINGS],
                     s->by_kind[5], fail_names[s->settings.fail]) < 0)
                return -ENOMEM;
        return respond_json(c, 200, body);
}

static int config_error(char **ret, const char *fmt, ...) _printf_(2, 3);
static int config_error(char **ret, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(ret, fmt, ap) < 0)
                *ret = NULL;
        va_end(ap);
        return -EINVAL;
}

/* Applies a JSON object of settings (POST /fake/config, also used for nothing else). */
static int apply_config(Server *s, json_object *o, char **ret_error) {
        Settings n = s->settings;
        json_object *v;

        static const char *const keys[] = { "fail",   "fail_count",        "fail_every",      "latency_ms",
                                            "tokens", "tokens_per_second", "require_api_key", "always_usage",
                                            NULL };

        if (!json_object_is_type(o, json_type_object))
                return config_error(ret_error, "expected a JSON object");
        json_object_object_foreach(o, k, val) {
                (void) val;
                if (!str_in(k, keys))
                        return config_error(ret_error, "unknown setting '%s'", k);
        }
        if (json_object_object_get_ex(o, "fail", &v)) {
                FailMode f = fail_from_string(json_object_get_string(v) ?: "");
                if (f < 0)
                        return config_error(ret_error, "unknown failure mode '%s'",
                                            json_object_get_string(v));
                n.fail = f;
        }
        if (json_object_object_get_ex(o, "fail_count", &v))
                n.fail_count = (uint64_t) MAX(json_object_get_int64(v), 0);
        if (json_object_object_get_ex(o, "fail_every", &v))
                n.fail_every = (uint64_t) MAX(json_object_get_int64(v), 0);
        if (json_object_object_get_ex(o, "latency_ms", &v))
                n.latency_usec = (uint64_t) MIN(MAX(json_object_get_int64(v), 0), 3600000) * 1000;
        if (json_object_object_get_ex(o, "tokens", &v))
                n.tokens = (unsigned) MIN(MAX(json_object_get_int64(v), 0), TOKENS_MAX);
        if (json_object_object_get_ex(o, "tokens_per_second", &v))
                n.tokens_per_second = MIN(MAX(json_object_get_double(v), 0.0), 1e6);
        if (json_object_object_get_ex(o, "always_usage", &v))
                n.always_usage = json_object_get_boolean(v);
        if (json_object_object_get_ex(o, "require_api_key", &v)) {
                const char *key = json_object_get_string(v);
                char *d = key ? strdup(key) : NULL;
                if (key && !d)
                        return -ENOMEM;
                if (n.require_api_key != s->settings.require_api_key)
                        free(n.require_api_key);
                n.require_api_key = d;
        }
        if (n.require_api_key != s->settings.require_api_key)
                free(s->settings.require_api_key);
        s->settings = n;
        s->fail_seen = 0;
        return 0;
}

/* A complete request is in: decide the answer. */
static void handle_request(Conn *c) {
        Server *s = c->server;
        _cleanup_(json_object_putp) json_object *req = NULL;
        json_object *v;
        uint64_t u;
        const char *model;
        int r;

        s->n_requests++;
        if (c->timer) /* from here on the timer paces the answer */
                sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
        record_request(c);
        if (s->verbose)
                log_info("%s %s (%zu bytes)", c->method, c->path, c->body_len);
        if (!c->keep_alive)
                c->close_after = true;

        if (streq(c->path, "/health") || streq(c->path, "/healthz") || streq(c->path, "/fake/stats")) {
                if (!streq(c->method, "GET"))
                        return conn_finish(c,
                                           respond_error(c, 405, "invalid_request_error", NULL, "use GET"));
                return conn_finish(c, streq(c->path, "/fake/stats") ? respond_stats(c)
                                                                    : respond_json(c, 200, "{}"));
        }
        if (streq(c->path, "/fake/config") || streq(c->path, "/fake/reset")) {
                _cleanup_free_ char *err = NULL;
                if (!streq(c->method, "POST"))
                        return conn_finish(c,
                                           respond_error(c, 405, "invalid_request_error", NULL, "use POST"));
                if (streq(c->path, "/fake/reset")) {
                        s->n_requests = s->n_failed = s->n_disconnects = s->n_rejected = s->fail_seen = 0;
                        s->max_streams = s->n_streams;
                        memset(s->by_kind, 0, sizeof s->by_kind);
                        return conn_finish(c, respond_json(c, 200, "{}"));
                }
                req = json_tokener_parse(c->body ?: "");
                r = apply_config(s, req, &err);
                if (r < 0)
                        return conn_finish(c, respond_error(c, 400, "invalid_request_error", NULL, "%s",
                                                            err ?: "invalid settings"));
                return conn_finish(c, respond_stats(c));
        }

        if (startswith(c->path, "/v1/models")) {
                const char *id =
                        c->path[strlen("/v1/models")] == '/' ? c->path + strlen("/v1/models/") : NULL;
                if (!streq(c->method, "GET"))
                        return conn_finish(c, respond_error(c, 405, "invalid_request_error", NULL,
                                                            "Method Not Allowed"));
                if (c->path[strlen("/v1/models")] != 0 && !id)
                        goto not_found;
                s->by_kind[5]++;
                if (!api_key_ok(c))
                        return conn_finish(c,
                                           respond_error(c, 401, "invalid_request_error", "invalid_api_key",
                                                         "Incorrect API key provided."));
                c->fail = pick_failure(c);
                if (c->fail != FAIL_NONE)
                        s->n_failed++;
                if (c->fail == FAIL_500 || c->fail == FAIL_503)
                        return conn_finish(c,
                                           respond_error(c, c->fail == FAIL_500 ? 500 : 503, "server_error",
                                                         NULL, "fake failure (openshell-fake-gpu --fail %s)",
                                                         fail_names[c->fail]));
                if (c->fail == FAIL_RESET || c->fail == FAIL_RESET_MID)
                        return conn_reset(c);
                if (c->fail == FAIL_STALL || c->fail == FAIL_STALL_MID) {
                        count_stream(c);
                        return conn_stall(c);
                }
                if (c->fail == FAIL_BAD_JSON)
                        return conn_finish(c,
                                           respond_json(c, 200, "{\"object\":\"list\",\"data\":[{\"id\":"));
                return conn_finish(c, respond_models(c, isempty(id) ? NULL : id));
        }

        if (streq(c->path, "/v1/chat/completions"))
                c->kind = KIND_CHAT;
        else if (streq(c->path, "/v1/completions"))
                c->kind = KIND_COMPLETION;
        else if (streq(c->path, "/v1/responses"))
                c->kind = KIND_RESPONSES;
        else if (streq(c->path, "/v1/messages"))
                c->kind = KIND_MESSAGES;
        else if (streq(c->path, "/v1/embeddings"))
                c->kind = KIND_EMBEDDINGS;
        else
                goto not_found;
        if (!streq(c->method, "POST"))
                return conn_finish(
                        c, respond_error(c, 405, "invalid_request_error", NULL, "Method Not Allowed"));
        s->by_kind[c->kind]++;

        if (!api_key_ok(c)) {
                if (c->kind == KIND_MESSAGES)
                        return conn_finish(
                                c, respond_error(c, 401, "authentication_error", NULL, "invalid x-api-key"));
                return conn_finish(c, respond_error(c, 401, "invalid_request_error", "invalid_api_key",
                                                    "Incorrect API key provided."));
        }

        {
                struct json_tokener *tok = json_tokener_new_ex(64);
                if (!tok)
                        return conn_free(c);
                req = json_tokener_parse_ex(tok, c->body ?: "", (int) MIN(c->body_len, (size_t) INT32_MAX));
                if (json_tokener_get_error(tok) != json_tokener_success ||
                    tok->char_offset != (int) c->body_len) {
                        json_tokener_free(tok);
                        return conn_finish(c, respond_error(c, 400, "invalid_request_error", NULL,
                                                            "request body is not valid JSON"));
                }
                json_tokener_free(tok);
        }
        if (!json_object_is_type(req, json_type_object))
                return conn_finish(c, respond_error(c, 400, "invalid_request_error", NULL,
                                                    "request body must be a JSON object"));
        if (!json_object_object_get_ex(req, "model", &v) || !json_object_is_type(v, json_type_string))
                return conn_finish(c, respond_error(c, 400, "invalid_request_error", NULL,
                                                    "you must provide a model parameter"));
        model = json_object_get_string(v);
        if (s->models_strict && !strv_contains(s->models, model))
                return conn_finish(
                        c,
                        respond_error(c, 404, c->kind == KIND_MESSAGES ? "not_found_error" : "NotFoundError",
                                      "model_not_found", "The model `%s` does not exist.", model));
        c->model_json = strdup(
                json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        if (!c->model_json)
                return conn_free(c);

        switch (c->kind) {
        case KIND_CHAT:
        case KIND_MESSAGES:
                if (!json_object_object_get_ex(req, "messages", &v) ||
                    !json_object_is_type(v, json_type_array))
                        return conn_finish(c, respond_error(c, 400, "invalid_request_error", NULL,
                                                            "'messages' must be a list"));
                break;
        case KIND_COMPLETION:
                if (!json_object_object_get_ex(req, "prompt", &v))
                        return conn_finish(c, respond_error(c, 400, "invalid_request_error", NULL,
                                                            "'prompt' is required"));
                break;
        case KIND_RESPONSES:
                if (!json_object_object_get_ex(req, "input", &v))
                        return conn_finish(c, respond_error(c, 400, "invalid_request_error", NULL,
                                                            "'input' is required"));
                break;
        case KIND_EMBEDDINGS:
                if (!json_object_object_get_ex(req, "input", &v))
                        return conn_finish(c, respond_error(c, 400, "invalid_request_error", NULL,
                                                            "'input' is required"));
                c->n_inputs =
                        json_object_is_type(v, json_type_array) ? (unsigned) json_object_array_length(v) : 1;
                if (json_object_is_type(v, json_type_array) && c->n_inputs > 0 &&
                    !json_object_is_type(json_object_array_get_idx(v, 0), json_type_string))
                        c->n_inputs = 1; /* an array of token ids is one input */
                if (c->n_inputs == 0 || c->n_inputs > 2048)
                        return conn_finish(c, respond_error(c, 400, "invalid_request_error", NULL,
                                                            "'input' must have 1 to 2048 items"));
                c->base64 = json_object_object_get_ex(req, "encoding_format", &v) &&
                            streq(json_object_get_string(v) ?: "", "base64");
                break;
        }

        c->prompt_tokens = count_prompt(req, 0);
        c->stream = c->kind != KIND_EMBEDDINGS && json_object_object_get_ex(req, "stream", &v) &&
                    json_object_get_boolean(v);
        c->usage_chunk = s->settings.always_usage;
        if (json_object_object_get_ex(req, "stream_options", &v) &&
            json_object_is_type(v, json_type_object) && json_object_object_get_ex(v, "include_usage", &v) &&
            json_object_get_boolean(v))
                c->usage_chunk = true;

        c->n_tokens = s->settings.tokens;
        if (c->hdr_tokens && parse_u64(c->hdr_tokens, TOKENS_MAX, &u))
                c->n_tokens = (unsigned) u;
        {
                static const char *const max_keys[] = { "max_completion_tokens", "max_tokens",
                                                        "max_output_tokens" };
                for (size_t i = 0; i < ELEMENTSOF(max_keys); i++)
                        if (json_object_object_get_ex(req, max_keys[i], &v) &&
                            json_object_is_type(v, json_type_int)) {
                                int64_t m = json_object_get_int64(v);
                                if (m > 0 && (uint64_t) m < c->n_tokens) {
                                        c->n_tokens = (unsigned) m;
                                        c->length_limited = true;
                                }
                                break;
                        }
        }
        c->tps = s->settings.tokens_per_second;
        if (c->hdr_tps && parse_u64(c->hdr_tps, 1000000, &u))
                c->tps = (double) u;
        c->id = ++s->next_id;
        c->fail = pick_failure(c);
        if (c->fail != FAIL_NONE)
                s->n_failed++;

        {
                uint64_t lat = s->settings.latency_usec;
                if (c->hdr_latency && parse_u64(c->hdr_latency, 3600000, &u))
                        lat = u * 1000;
                if (lat > 0) {
                        c->state = STATE_WAIT;
                        if (timer_arm(c, lat) < 0)
                                return conn_free(c);
                        return;
                }
        }
        start_answer(c);
        return;

not_found:
        conn_finish(c, respond_error(c, 404, "invalid_request_error", NULL, "Unknown request URL: %s %s",
                                     c->method, c->path));
}

/* After the latency: the answer of an inference request. */
static void start_answer(Conn *c) {
        Server *s = c->server;
        int r;

        switch (c->fail) {
        case FAIL_500:
        case FAIL_503:
                return conn_finish(c, respond_error(c, c->fail == FAIL_500 ? 500 : 503, "server_error", NULL,
                                                    "fake failure (openshell-fake-gpu --fail %s)",
                                                    fail_names[c->fail]));
        case FAIL_RESET:
                return conn_reset(c);
        case FAIL_STALL:
                count_stream(c);
                return conn_stall(c);
        case FAIL_BAD_JSON:
                if (!c->stream)
                        return conn_finish(
                                c,
                                respond_json(
                                        c, 200,
                                        "{\"id\":\"chatcmpl-broken\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"content\":\"unterminated"));
                break;
        case FAIL_OVERSIZED:
                c->oversized_left = s->oversized_bytes;
                break;
        default:
                break;
        }

        if (!c->stream && c->fail == FAIL_NONE)
                return conn_finish(c, respond_complete(c));

        if (!c->stream) {
                /* non-streamed answers that break half-way or are too big */
                _cleanup_free_ char *full = NULL;
                const char *pfx = "{\"id\":\"chatcmpl-big\",\"object\":\"chat.completion\",\"pad\":\"";

                if (c->fail == FAIL_OVERSIZED) {
                        r = out_printf(
                                c,
                                "HTTP/1.%d 200 OK\r\nServer: openshell-fake-gpu\r\nContent-Type: application/json\r\n"
                                "Content-Length: %zu\r\n%s\r\n%s",
                                c->minor, strlen(pfx) + c->oversized_left + 2,
                                c->close_after ? "Connection: close\r\n" : "", pfx);
                        if (r < 0)
                                return conn_free(c);
                        c->state = STATE_STREAM;
                        count_stream(c);
                        return stream_continue(c);
                }
                /* reset-mid, stall-mid, truncated: promise the whole body, send half */
                r = respond_complete(c);
                if (r < 0)
                        return conn_free(c);
                c->out_len -= (c->out_len - c->out_off) / 4; /* headers and most of the body */
                if (conn_flush(c) < 0)
                        return;
                if (c->fail == FAIL_RESET_MID)
                        return conn_reset(c);
                if (c->fail == FAIL_STALL_MID) {
                        count_stream(c);
                        return conn_stall(c);
                }
                c->close_after = true;
                c->state = STATE_FLUSH;
                (void) conn_flush(c);
                return;
        }

        c->sse_chunked = c->minor == 1;
        if (!c->sse_chunked)
                c->close_after = true;
        r = out_printf(
                c,
                "HTTP/1.%d 200 OK\r\nServer: openshell-fake-gpu\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                "Cache-Control: no-cache\r\n%s%s\r\n",
                c->minor, c->sse_chunked ? "Transfer-Encoding: chunked\r\n" : "",
                c->close_after ? "Connection: close\r\n" : "");
        if (r >= 0 && c->fail != FAIL_OVERSIZED)
                r = stream_pre(c);
        if (r < 0)
                return conn_free(c);
        c->state = STATE_STREAM;
        count_stream(c);
        stream_continue(c);
}

/* Drives the state machine as far as the buffered input allows. */
static void conn_process(Conn *c) {
        int r;

        if (c->state == STATE_WAIT) {
                start_answer(c);
                return;
        }
        if (c->state != STATE_READ)
                return;

        if (c->head_len == 0) {
                char *e = c->in_len >= 4 ? memmem(c->in, c->in_len, "\r\n\r\n", 4) : NULL;
                /* tolerate empty lines between keep-alive requests */
                while (c->in_len >= 2 && c->in[0] == '\r' && c->in[1] == '\n') {
                        memmove(c->in, c->in + 2, c->in_len - 2);
                        c->in_len -= 2;
                        e = c->in_len >= 4 ? memmem(c->in, c->in_len, "\r\n\r\n", 4) : NULL;
                }
                if (!e) {
                        if (c->in_len >= HEAD_MAX)
                                return conn_fail_fast(c, 431, "request head too large");
                        return;
                }
                c->head_len = (size_t) (e + 4 - c->in);
                if (c->head_len > HEAD_MAX)
                        return conn_fail_fast(c, 431, "request head too large");
                r = parse_head(c);
                if (r > 0) {
                        c->minor = 1;
                        return conn_fail_fast(c, r,
                                              r == 413 ? "request body too large" : "malformed request");
                }
                c->chunk_pos = c->head_len;
                if (c->expect_continue && !c->sent_continue && (c->chunked || c->content_length > 0)) {
                        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                        c->sent_continue = true;
                        (void) send(c->fd, cont, sizeof cont - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                }
        }

        if (c->chunked) {
                r = parse_chunked(c);
                if (r > 1)
                        return conn_fail_fast(
                                c, r, r == 413 ? "request body too large" : "malformed chunked body");
                if (r == 0)
                        return;
        } else {
                if (c->in_len - c->head_len < c->content_length)
                        return;
                c->body_len = 0;
                if (body_append(c, c->in + c->head_len, c->content_length) < 0)
                        return conn_free(c);
        }
        handle_request(c);
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Conn *c = userdata;
        Server *s = c->server;

        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                for (int i = 0; i < 8; i++) {
                        size_t cap = HEAD_MAX + s->max_body + 64 * 1024;
                        ssize_t n;

                        if (c->state == STATE_STALL) {
                                char junk[4096];
                                n = recv(fd, junk, sizeof junk, MSG_DONTWAIT);
                        } else {
                                if (c->in_len >= cap) {
                                        /* a client sending more than any request may hold: drop it */
                                        conn_free(c);
                                        return 0;
                                }
                                if (c->in_alloc - c->in_len < 16384) {
                                        size_t a = MIN(MAX(c->in_alloc * 2, (size_t) 16384 + c->in_len),
                                                       cap + 16384);
                                        char *p = realloc(c->in, a);
                                        if (!p) {
                                                conn_free(c);
                                                return 0;
                                        }
                                        c->in = p;
                                        c->in_alloc = a;
                                }
                                n = recv(fd, c->in + c->in_len, c->in_alloc - c->in_len, MSG_DONTWAIT);
                        }
                        if (n < 0) {
                                if (errno == EAGAIN || errno == EINTR)
                                        break;
                                if (c->state == STATE_STREAM || c->state == STATE_WAIT ||
                                    c->state == STATE_STALL)
                                        s->n_disconnects++;
                                conn_free(c);
                                return 0;
                        }
                        if (n == 0) {
                                /* the client went away (or half-closed; treat both as the end) */
                                if (c->state == STATE_STREAM || c->state == STATE_WAIT ||
                                    c->state == STATE_STALL)
                                        s->n_disconnects++;
                                conn_free(c);
                                return 0;
                        }
                        if (c->state != STATE_STALL)
                                c->in_len += (size_t) n;
                        if ((size_t) n < 16384)
                                break;
                }
                if (c->state == STATE_READ)
                        conn_process(c);
                return 0; /* conn may be gone; the next event handles EPOLLOUT */
        }
        if (revents & EPOLLOUT) {
                if (conn_flush(c) < 0)
                        return 0;
                if (c->state == STATE_STREAM)
                        stream_continue(c);
        }
        return 0;
}

static int on_accept(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Server *s = userdata;

        for (int i = 0; i < 64; i++) {
                struct sockaddr_storage sa = {};
                socklen_t salen = sizeof sa;
                int cfd = accept4(fd, (struct sockaddr *) &sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
                Conn *c;

                if (cfd < 0) {
                        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                                log_warning_errno(errno, "accept() failed: %m");
                        return 0;
                }
                if (s->n_conns >= s->max_connections) {
                        s->n_rejected++;
                        safe_close(cfd);
                        continue;
                }
                c = calloc(1, sizeof *c);
                if (!c) {
                        safe_close(cfd);
                        return 0;
                }
                c->server = s;
                c->fd = cfd;
                c->minor = 1;
                c->tcp = sa.ss_family == AF_INET || sa.ss_family == AF_INET6;
                if (c->tcp) {
                        int one = 1;
                        (void) setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                }
                s->n_conns++;
                if (sd_event_add_io(s->event, &c->io, cfd, EPOLLIN, on_io, c) < 0 ||
                    timer_arm(c, s->idle_usec) < 0) {
                        conn_free(c);
                        continue;
                }
        }
        return 0;
}

/* ---- setup ---- */

static int listen_on(const char *spec, int *ret_fd, unsigned *ret_port) {
        _cleanup_close_ int fd = -EBADF;
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
                struct sockaddr_un un;
        } a = {};
        socklen_t len;
        int one = 1;

        if (startswith(spec, "unix:") || spec[0] == '/') {
                const char *path = spec[0] == '/' ? spec : spec + 5;
                struct stat st;
                if (strlen(path) >= sizeof a.un.sun_path)
                        return log_error_errno(ENAMETOOLONG, "Socket path too long: %s", path);
                a.un.sun_family = AF_UNIX;
                strcpy(a.un.sun_path, path);
                len = sizeof a.un;
                if (lstat(path, &st) >= 0 && S_ISSOCK(st.st_mode))
                        (void) unlink(path);
                fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        } else {
                _cleanup_free_ char *host = NULL;
                const char *colon = strrchr(spec, ':'), *port_s;
                uint64_t port;

                if (!colon) {
                        host = strdup("127.0.0.1");
                        port_s = spec;
                } else {
                        host = strndup(spec, (size_t) (colon - spec));
                        port_s = colon + 1;
                }
                if (!host)
                        return log_oom();
                if (!parse_u64(port_s, 65535, &port))
                        return log_error_errno(
                                EINVAL,
                                "Invalid port in '%s' (use HOST:PORT, [::1]:PORT, PORT or unix:PATH)", spec);
                if (host[0] == '[' && endswith(host, "]")) {
                        host[strlen(host) - 1] = 0;
                        a.in6.sin6_family = AF_INET6;
                        a.in6.sin6_port = htons((uint16_t) port);
                        if (inet_pton(AF_INET6, host + 1, &a.in6.sin6_addr) != 1)
                                return log_error_errno(EINVAL, "Invalid IPv6 address in '%s'", spec);
                        if (!IN6_IS_ADDR_LOOPBACK(&a.in6.sin6_addr))
                                return log_error_errno(
                                        EADDRNOTAVAIL,
                                        "'%s' is not a loopback address: this test server listens on "
                                        "::1, 127.0.0.0/8 or a unix socket only",
                                        spec);
                        len = sizeof a.in6;
                } else {
                        if (isempty(host) || streq(host, "localhost")) {
                                free(host);
                                host = strdup("127.0.0.1");
                                if (!host)
                                        return log_oom();
                        }
                        a.in.sin_family = AF_INET;
                        a.in.sin_port = htons((uint16_t) port);
                        if (inet_pton(AF_INET, host, &a.in.sin_addr) != 1)
                                return log_error_errno(EINVAL, "Invalid IPv4 address in '%s'", spec);
                        if ((ntohl(a.in.sin_addr.s_addr) >> 24) != 127)
                                return log_error_errno(
                                        EADDRNOTAVAIL,
                                        "'%s' is not a loopback address: this test server listens on "
                                        "127.0.0.0/8, ::1 or a unix socket only",
                                        spec);
                        len = sizeof a.in;
                }
                fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (fd >= 0)
                        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        }
        if (fd < 0)
                return log_error_errno(errno, "socket() failed: %m");
        if (bind(fd, &a.sa, len) < 0)
                return log_error_errno(errno, "Failed to bind %s: %m", spec);
        if (listen(fd, 4096) < 0)
                return log_error_errno(errno, "Failed to listen on %s: %m", spec);
        if (ret_port && a.sa.sa_family != AF_UNIX) {
                len = sizeof a;
                if (getsockname(fd, &a.sa, &len) >= 0)
                        *ret_port = ntohs(a.sa.sa_family == AF_INET ? a.in.sin_port : a.in6.sin6_port);
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static void help(void) {
        printf("Usage: openshell-fake-gpu [OPTIONS]\n"
               "\n"
               "A mock OpenAI-compatible (and Anthropic /v1/messages) inference server for tests and benchmarks.\n"
               "Answers are deterministic: token i of every answer is the same word.\n"
               "\n"
               "Listening:\n"
               "  -l --listen ADDR          127.0.0.1:8000, [::1]:8000, 8000, unix:/path or /path (repeatable;\n"
               "                            loopback only; port 0 picks a free port). Without it: sockets\n"
               "                            passed by systemd (LISTEN_FDS), else 127.0.0.1:8000\n"
               "     --port-file FILE       write the first TCP port bound (atomically) once listening\n"
               "     --max-connections N    accept at most N connections at once (default 20000)\n"
               "     --idle-timeout SEC     close idle keep-alive connections after SEC (default 60)\n"
               "     --max-body BYTES       largest request body (default 16777216; 413 beyond)\n"
               "\n"
               "Answers:\n"
               "  -m --model NAME           serve NAME (repeatable); requests for other models get 404.\n"
               "                            Without it the server lists 'fake-model' and accepts any model\n"
               "  -t --tokens N             completion tokens per answer (default 16; max_tokens lowers it)\n"
               "  -r --tokens-per-second R  streaming rate (default 0: as fast as the client reads)\n"
               "  -L --latency MS           delay before the first response byte (default 0)\n"
               "     --always-usage         send the usage chunk in every stream (as if\n"
               "                            stream_options.include_usage were set)\n"
               "     --require-api-key KEY  401 unless 'Authorization: Bearer KEY' or 'x-api-key: KEY'\n"
               "     --embedding-dim N      length of embedding vectors (default 8)\n"
               "\n"
               "Failures (inference endpoints and /v1/models):\n"
               "  -f --fail MODE            none, 500, 503, reset, reset-mid, stall, stall-mid, bad-json,\n"
               "                            truncated-sse, oversized\n"
               "     --fail-count N         only the next N requests fail (default 0: all)\n"
               "     --fail-every N         every Nth request fails\n"
               "     --oversized-bytes N    size of an 'oversized' answer (default 41943040)\n"
               "\n"
               "Testing:\n"
               "     --record FILE          write each /v1/ request (head as received + decoded body) to\n"
               "                            FILE, replaced atomically: FILE always holds the last one\n"
               "  -v --verbose              log every request to stderr\n"
               "\n"
               "Run-time control, sent directly (not through the broker): POST /fake/config {\"fail\":\"503\",\n"
               "\"fail_count\":1,\"latency_ms\":0,\"tokens\":16,\"tokens_per_second\":0,...}, GET /fake/stats,\n"
               "POST /fake/reset. Per-request headers: X-Fake-Fail, X-Fake-Latency-Ms, X-Fake-Tokens,\n"
               "X-Fake-Tokens-Per-Second. Also GET /health.\n");
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int write_port_file(const char *path, unsigned port) {
        _cleanup_free_ char *tmp = NULL;
        FILE *f;

        if (asprintf(&tmp, "%s.tmp", path) < 0)
                return log_oom();
        f = fopen(tmp, "we");
        if (!f)
                return log_error_errno(errno, "Failed to write %s: %m", tmp);
        fprintf(f, "%u\n", port);
        if (fclose(f) != 0 || rename(tmp, path) < 0)
                return log_error_errno(errno, "Failed to write %s: %m", path);
        return 0;
}

static int run(int argc, char *argv[]) {
        enum {
                ARG_PORT_FILE = 0x100,
                ARG_MAX_CONN,
                ARG_IDLE,
                ARG_MAX_BODY,
                ARG_ALWAYS_USAGE,
                ARG_REQUIRE_KEY,
                ARG_EMB_DIM,
                ARG_FAIL_COUNT,
                ARG_FAIL_EVERY,
                ARG_OVERSIZED,
                ARG_RECORD,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "listen", required_argument, NULL, 'l' },
                { "port-file", required_argument, NULL, ARG_PORT_FILE },
                { "max-connections", required_argument, NULL, ARG_MAX_CONN },
                { "idle-timeout", required_argument, NULL, ARG_IDLE },
                { "max-body", required_argument, NULL, ARG_MAX_BODY },
                { "model", required_argument, NULL, 'm' },
                { "tokens", required_argument, NULL, 't' },
                { "tokens-per-second", required_argument, NULL, 'r' },
                { "latency", required_argument, NULL, 'L' },
                { "always-usage", no_argument, NULL, ARG_ALWAYS_USAGE },
                { "require-api-key", required_argument, NULL, ARG_REQUIRE_KEY },
                { "embedding-dim", required_argument, NULL, ARG_EMB_DIM },
                { "fail", required_argument, NULL, 'f' },
                { "fail-count", required_argument, NULL, ARG_FAIL_COUNT },
                { "fail-every", required_argument, NULL, ARG_FAIL_EVERY },
                { "oversized-bytes", required_argument, NULL, ARG_OVERSIZED },
                { "record", required_argument, NULL, ARG_RECORD },
                { "verbose", no_argument, NULL, 'v' },
                {},
        };
        _cleanup_strv_free_ char **listen_specs = NULL;
        const char *port_file = NULL;
        Server s = {
                .settings = { .tokens = 16 },
                .max_body = 16U * 1024U * 1024U,
                .oversized_bytes = 40U * 1024U * 1024U,
                .embedding_dim = 8,
                .max_connections = 20000,
                .idle_usec = 60 * USEC_PER_SEC,
        };
        int listen_fds[LISTENERS_MAX];
        unsigned n_listen = 0, first_port = 0;
        uint64_t u;
        int c, r;

        while ((c = getopt_long(argc, argv, "hl:m:t:r:L:f:v", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case 'l':
                        if (strv_extend(&listen_specs, optarg) < 0)
                                return log_oom();
                        break;
                case ARG_PORT_FILE:
                        port_file = optarg;
                        break;
                case ARG_MAX_CONN:
                        if (!parse_u64(optarg, 1000000, &u) || u == 0)
                                return log_error("Invalid --max-connections '%s'", optarg), 2;
                        s.max_connections = (unsigned) u;
                        break;
                case ARG_IDLE:
                        if (!parse_u64(optarg, 86400, &u) || u == 0)
                                return log_error("Invalid --idle-timeout '%s'", optarg), 2;
                        s.idle_usec = u * USEC_PER_SEC;
                        break;
                case ARG_MAX_BODY:
                        if (!parse_u64(optarg, 1ULL << 30, &u))
                                return log_error("Invalid --max-body '%s'", optarg), 2;
                        s.max_body = (size_t) u;
                        break;
                case 'm':
                        if (strv_extend(&s.models, optarg) < 0)
                                return log_oom();
                        s.models_strict = true;
                        break;
                case 't':
                        if (!parse_u64(optarg, TOKENS_MAX, &u))
                                return log_error("Invalid --tokens '%s' (0..%u)", optarg, TOKENS_MAX), 2;
                        s.settings.tokens = (unsigned) u;
                        break;
                case 'r': {
                        char *e;
                        double d;
                        errno = 0;
                        d = strtod(optarg, &e);
                        if (errno || *e || !(d >= 0) || d > 1e6)
                                return log_error("Invalid --tokens-per-second '%s'", optarg), 2;
                        s.settings.tokens_per_second = d;
                        break;
                }
                case 'L':
                        if (!parse_u64(optarg, 3600000, &u))
                                return log_error("Invalid --latency '%s' (milliseconds)", optarg), 2;
                        s.settings.latency_usec = u * 1000;
                        break;
                case ARG_ALWAYS_USAGE:
                        s.settings.always_usage = true;
                        break;
                case ARG_REQUIRE_KEY:
                        s.settings.require_api_key = strdup(optarg);
                        if (!s.settings.require_api_key)
                                return log_oom();
                        break;
                case ARG_EMB_DIM:
                        if (!parse_u64(optarg, EMBEDDING_DIM_MAX, &u) || u == 0)
                                return log_error("Invalid --embedding-dim '%s'", optarg), 2;
                        s.embedding_dim = (unsigned) u;
                        break;
                case 'f': {
                        FailMode f = fail_from_string(optarg);
                        if (f < 0) {
                                log_error(
                                        "Unknown failure mode '%s' (none, 500, 503, reset, reset-mid, stall, stall-mid, "
                                        "bad-json, truncated-sse, oversized)",
                                        optarg);
                                return 2;
                        }
                        s.settings.fail = f;
                        break;
                }
                case ARG_FAIL_COUNT:
                        if (!parse_u64(optarg, UINT64_MAX, &s.settings.fail_count))
                                return log_error("Invalid --fail-count '%s'", optarg), 2;
                        break;
                case ARG_FAIL_EVERY:
                        if (!parse_u64(optarg, UINT64_MAX, &s.settings.fail_every))
                                return log_error("Invalid --fail-every '%s'", optarg), 2;
                        break;
                case ARG_OVERSIZED:
                        if (!parse_u64(optarg, 1ULL << 34, &u))
                                return log_error("Invalid --oversized-bytes '%s'", optarg), 2;
                        s.oversized_bytes = (size_t) u;
                        break;
                case ARG_RECORD:
                        s.record_path = optarg;
                        break;
                case 'v':
                        s.verbose = true;
                        break;
                default:
                        return 2;
                }
        }
        if (optind < argc) {
                log_error("Unexpected argument '%s'", argv[optind]);
                return 2;
        }
        if (!s.models && strv_extend(&s.models, "fake-model") < 0)
                return log_oom();

        /* 1,000 streams and more: raise the descriptor limit as far as we may. */
        {
                struct rlimit rl;
                if (getrlimit(RLIMIT_NOFILE, &rl) >= 0 && rl.rlim_cur < rl.rlim_max) {
                        rl.rlim_cur = rl.rlim_max;
                        (void) setrlimit(RLIMIT_NOFILE, &rl);
                }
        }
        (void) signal(SIGPIPE, SIG_IGN);

        if (!listen_specs) {
                int n = sd_listen_fds(true);
                if (n < 0)
                        return log_error_errno(n, "Failed to get sockets from systemd: %m");
                for (int i = 0; i < n && n_listen < LISTENERS_MAX; i++) {
                        listen_fds[n_listen++] = SD_LISTEN_FDS_START + i;
                        (void) fcntl(SD_LISTEN_FDS_START + i, F_SETFL,
                                     fcntl(SD_LISTEN_FDS_START + i, F_GETFL) | O_NONBLOCK);
                }
                if (n_listen == 0 && strv_extend(&listen_specs, "127.0.0.1:8000") < 0)
                        return log_oom();
        }
        STRV_FOREACH(spec, listen_specs) {
                unsigned port = 0;
                if (n_listen >= LISTENERS_MAX)
                        return log_error_errno(E2BIG, "Too many --listen options (at most %u)",
                                               LISTENERS_MAX);
                r = listen_on(*spec, &listen_fds[n_listen], &port);
                if (r < 0)
                        return r;
                n_listen++;
                if (port && !first_port)
                        first_port = port;
                if (s.verbose || port)
                        log_info("listening on %s%s%u", *spec, port ? " port " : "", port);
        }

        r = sd_event_default(&s.event);
        if (r < 0)
                return log_error_errno(r, "Failed to create event loop: %m");
        {
                sigset_t ss;
                sigemptyset(&ss);
                sigaddset(&ss, SIGTERM);
                sigaddset(&ss, SIGINT);
                sigprocmask(SIG_BLOCK, &ss, NULL);
                (void) sd_event_add_signal(s.event, NULL, SIGTERM, on_signal, NULL);
                (void) sd_event_add_signal(s.event, NULL, SIGINT, on_signal, NULL);
        }
        for (unsigned i = 0; i < n_listen; i++) {
                r = sd_event_add_io(s.event, NULL, listen_fds[i], EPOLLIN, on_accept, &s);
                if (r < 0)
                        return log_error_errno(r, "Failed to watch listening socket: %m");
        }
        if (port_file && first_port) {
                r = write_port_file(port_file, first_port);
                if (r < 0)
                        return r;
        }
        (void) sd_notify(false, "READY=1");
        r = sd_event_loop(s.event);
        /* connections are freed with the process; this is a test tool */
        free(s.settings.require_api_key);
        strv_free(s.models);
        return r < 0 ? log_error_errno(r, "Event loop failed: %m") : 0;
}

int main(int argc, char *argv[]) {
        int r;
        log_setup();
        log_set_prefix("openshell-fake-gpu");
        r = run(argc, argv);
        return r < 0 ? EXIT_FAILURE : r;
}
