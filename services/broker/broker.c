/* SPDX-License-Identifier: Apache-2.0 */
/* openshell-broker: the socket-activated inference broker behind openshell-broker.socket.
 *
 * One process, one sd-event loop, no threads. Clients (host users, and sandboxes through their
 * supervisor) speak OpenAI-compatible HTTP/1.1 on /run/openshell/broker.sock (and optionally a loopback
 * TCP port). Each request is matched to a route (/etc/openshell/inference.yaml), its `model` is
 * overwritten, client credentials are stripped and the provider's injected, and it is sent to one of
 * the route's backends with libcurl's multi socket API driven by the same loop. Answers, SSE streams
 * included, are forwarded chunk by chunk as they arrive. Every request ends in one journal entry. */

#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <curl/curl.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <systemd/sd-journal.h>

#include "buf.h"
#include "broker-config.h"
#include "fs-util.h"
#include "http-parser.h"
#include "broker-route.h"
#include "log.h"
#include "main-func.h"
#include "string-util.h"

/* Limits; the HTTP ones are in http-parser.h. */
#define CONNECTIONS_MAX_DEFAULT 4096U
#define IN_BUFFER_MAX (64U * 1024U)
#define OUT_BUFFER_MAX (8U * 1024U * 1024U)
/* Above this much unsent data for a client the upstream transfer is paused (slow clients). */
#define OUT_HIGH_WATERMARK (256U * 1024U)
#define OUT_LOW_WATERMARK (64U * 1024U)
#define RESPONSE_SIZE_MAX (32U * 1024U * 1024U)
#define USAGE_JSON_MAX (4U * 1024U * 1024U)
#define STREAM_IDLE_USEC (120 * USEC_PER_SEC)
#define KEEPALIVE_USEC (60 * USEC_PER_SEC)
#define WRITE_STALL_USEC (60 * USEC_PER_SEC)
#define CONNECT_TIMEOUT_MS 5000L
#define CONFIG_CHECK_USEC (1 * USEC_PER_SEC)
/* Finished transfer handles kept for reuse (curl_easy_init() is a dozen allocations). */
#define EASY_POOL_MAX 64U
/* On SIGTERM requests in flight may finish for this long; new connections wait in systemd's socket
 * for the next instance. */
#define DRAIN_USEC (15 * USEC_PER_SEC)

typedef struct Broker Broker;
typedef struct Connection Connection;
typedef struct Request Request;

typedef enum ConnState {
        CONN_IDLE,     /* keep-alive, no byte of a request yet */
        CONN_READING,  /* a request is arriving */
        CONN_BUSY,     /* a request is being answered */
        CONN_CLOSING,  /* flush what is queued, then close */
} ConnState;

struct Connection {
        Broker *broker;
        Connection *prev, *next;
        int fd;
        sd_event_source *timer, *defer;
        usec_t deadline;   /* when the connection times out (0: never) */
        usec_t timer_at;   /* when the timer is set to fire (0: off) */
        bool is_unix, have_uid;
        uid_t uid;
        ConnState state;
        HttpParser parser;
        Buf in, out;
        bool sent_continue;
        bool keep_alive;   /* of the current request */
        bool chunked_out;  /* the current response uses chunked encoding */
        bool write_stalled; /* the timer watches a blocked write */
        /* The socket is watched edge-triggered, for input and output at once, so its epoll entry never
         * changes while it lives (see on_connections_io()): what an edge said is kept here until recv()
         * has taken it. */
        bool readable;     /* bytes (or the end) may wait in the socket */
        bool hup;          /* the client closed or half-closed its side */
        bool eof;          /* recv() saw the end */
        /* Answer bytes queued from libcurl's callbacks are sent once libcurl returns, so that a head and
         * the body that came with it leave in one send(). */
        bool flush_queued;
        Connection *flush_next;
        Request *request;
};

struct Request {
        Connection *conn;
        Broker *broker;
        BrokerConfig *config;
        const Route *route;
        InferenceProtocol protocol;
        char *identity;
        bool is_sandbox, caller_counted;
        char *method, *path;
        char *body;         /* the body rewritten, if it had to be */
        const char *upload; /* the body sent upstream: body, or the client's own in the parser */
        size_t upload_size;
        struct curl_slist *headers;
        CURL *easy;
        size_t backend;     /* index in route->backends of the current attempt */
        bool *tried;
        unsigned attempts;
        bool in_multi, backend_counted;
        int status;         /* upstream status of the current attempt (0: none yet) */
        bool head_sent;     /* response head written to the client: no retry any more */
        bool retry;         /* the current attempt is abandoned for another backend */
        bool paused, client_gone, truncated, timed_out;
        int last_result;    /* curl result of the last failed attempt */
        char *content_type;
        Buf extra;          /* response headers passed on, as "Name: value\r\n" lines */
        bool sse;
        SseScanner scanner;
        Buf json;           /* a copy of a JSON answer, for its usage; dropped beyond USAGE_JSON_MAX */
        uint64_t bytes;
        usec_t start, first_byte;
        sd_event_source *timer;
        usec_t deadline, timer_at; /* as a connection's (connection_arm()) */
        char error[CURL_ERROR_SIZE];
};

/* A backend connection's socket, by descriptor (Broker.curl_sockets): whether it is in the epoll set
 * of libcurl's sockets. An idle connection in libcurl's cache stays in the set ("parked"), so that a
 * request reusing it costs no epoll_ctl() (libcurl stops watching a socket after each transfer and
 * starts again with the next). Only sockets seen opened (curl_sockopt_cb()) are parked: their close
 * is seen too (curl_closesocket_cb()), so a descriptor number used again cannot be taken for one
 * still in the set. */
typedef enum CurlSocketState {
        CURL_SOCKET_UNKNOWN,  /* not seen opened, or closed */
        CURL_SOCKET_OPEN,     /* a backend connection, not in the set */
        CURL_SOCKET_WATCHED,  /* in the set, watched by libcurl */
        CURL_SOCKET_PARKED,   /* in the set, not watched by libcurl: an idle connection */
} CurlSocketState;

typedef struct CurlSocket {
        uint8_t state;  /* CurlSocketState */
        uint32_t events; /* in the set with these */
} CurlSocket;

typedef struct Probe Probe;
struct Probe {
        Broker *broker;
        BackendState *backend;
        CURL *easy;
        char *url;
        Probe *next;
};

struct Broker {
        sd_event *event;
        CURLM *multi;
        sd_event_source *curl_timer, *curl_now, *curl_io, *idle_timer, *accept_retry, *probe_timer;
        int curl_epoll_fd;  /* libcurl's sockets (see curl_socket_cb()) */
        CurlSocket *curl_sockets; /* by descriptor */
        size_t n_curl_sockets;
        bool curl_due;      /* libcurl asked to be run at once */
        sd_event_source *connections_io;
        int connections_epoll_fd; /* the client sockets (see on_connections_io()) */
        struct epoll_event *batch; /* the client events being handled, and how many */
        int n_batch;
        Probe *probes;
        CURL *easy_pool[EASY_POOL_MAX];
        size_t n_easy_pool;
        sd_event_source **listeners;
        size_t n_listeners;
        Connection *connections;
        Connection *flush_queue;
        unsigned n_connections, n_active, max_connections;
        unsigned n_requests;
        usec_t idle_timeout, request_timeout, stream_idle_timeout;
        usec_t idle_since;   /* when the last request ended (0: one is in progress) */
        usec_t idle_timer_at; /* when the idle timer fires (0: off) */
        char *config_dir, *credentials_dir;
        const char *credential_prefix;
        BrokerConfig *config;
        bool config_invalid;
        bool draining;
        uint64_t config_stamp;
        usec_t config_checked;
        Router router;
        CallerTable callers;
        /* metrics */
        uint64_t status_counts[600];
        uint64_t tokens_in, tokens_out, failovers, upstream_errors, connections_total, connections_refused;
        uint64_t config_reloads, config_errors, pauses;
        AuditEntry audit;   /* reused by every event */
};

static usec_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / 1000U;
}

/* When the loop woke up: precise enough for timeouts of seconds, and no clock read. What is
 * measured (latency, time to first byte) uses now_usec(). */
static usec_t loop_now(Broker *b) {
        uint64_t n;

        if (sd_event_now(b->event, CLOCK_MONOTONIC, &n) < 0)
                return now_usec();
        return n;
}

static void broker_update_idle(Broker *b);
static void connection_free(Connection *c);
static int connection_flush(Connection *c);
static void connection_request_done(Connection *c);
static void request_free(Request *r);
static void request_finish(Request *r, int result);
static int request_attempt(Request *r);
static int curl_sockopt_cb(void *userp, curl_socket_t fd, curlsocktype purpose);
static int curl_closesocket_cb(void *userp, curl_socket_t fd);

/* ---- configuration ---- */

static uint64_t stamp_mix(uint64_t h, const char *path) {
        struct stat st;

        if (stat(path, &st) < 0)
                return h * 1099511628211ULL ^ 0xdeadU;
        h = (h ^ (uint64_t) st.st_ino) * 1099511628211ULL;
        h = (h ^ (uint64_t) st.st_size) * 1099511628211ULL;
        h = (h ^ (uint64_t) st.st_mtim.tv_sec) * 1099511628211ULL;
        h = (h ^ (uint64_t) st.st_mtim.tv_nsec) * 1099511628211ULL;
        return h;
}

/* A fingerprint of every file the configuration was read from: a change of any reloads it. */
static uint64_t config_stamp(Broker *b) {
        _cleanup_free_ char *path = NULL;
        uint64_t h = 14695981039346656037ULL;

        if (asprintf_safe(&path, "%s/inference.yaml", b->config_dir) < 0)
                return 0;
        h = stamp_mix(h, path);
        free(path);
        path = NULL;
        if (asprintf_safe(&path, "%s/providers", b->config_dir) < 0)
                return 0;
        h = stamp_mix(h, path);
        for (size_t i = 0; b->config && i < b->config->n_providers; i++) {
                _cleanup_free_ char *p = NULL;
                if (asprintf_safe(&p, "%s/providers/%s.yaml", b->config_dir, b->config->providers[i]->name) < 0)
                        return 0;
                h = stamp_mix(h, p);
        }
        return h;
}

static int broker_load_config(Broker *b) {
        _cleanup_(diag_list_done) DiagList diags = {};
        _cleanup_(broker_config_unrefp) BrokerConfig *c = NULL;
        int r;

        b->config_stamp = config_stamp(b);
        r = broker_config_load(b->config_dir, b->credentials_dir, b->credential_prefix, &c, &diags);
        for (size_t i = 0; i < diags.n_items; i++) {
                _cleanup_free_ char *line = NULL;

                if (diag_format(&diags.items[i], &line) < 0)
                        return log_oom();
                if (diags.items[i].level == DIAG_ERROR)
                        log_error("%s", line);
                else
                        log_warning("%s", line);
        }
        if (r < 0) {
                b->config_errors++;
                /* Requests are refused with 503 until the file is fixed, unless an earlier valid
                 * configuration exists: that one stays in force. */
                if (!b->config)
                        b->config_invalid = true;
                return log_error_errno(r, "Failed to load inference configuration from %s%s: %m", b->config_dir,
                                       b->config ? ", keeping the previous one" : "");
        }
        r = router_attach(&b->router, c);
        if (r < 0)
                return log_oom();
        /* Picked up after loading the providers, whose files are part of the fingerprint. */
        broker_config_unref(b->config);
        b->config = TAKE_PTR(c);
        b->config_invalid = false;
        b->config_stamp = config_stamp(b);
        b->config_reloads++;
        log_info("Inference configuration loaded: %zu route(s).", b->config->n_routes);
        return 0;
}

static void broker_maybe_reload(Broker *b) {
        usec_t n = loop_now(b);

        if (n - b->config_checked < CONFIG_CHECK_USEC)
                return;
        b->config_checked = n;
        if (config_stamp(b) != b->config_stamp)
                (void) broker_load_config(b);
}

/* ---- audit ---- */

static void audit_send(Broker *b, const Request *r, const char *method, const char *path, int status,
                       const char *reason, const char *caller) {
        AuditRecord a = {
                .caller = caller ?: "-",
                .method = method ?: "-",
                .path = path ?: "-",
                .status = status,
                .usage = TOKEN_USAGE_UNKNOWN,
                .reason = reason,
        };
        int k;

        if (r) {
                a.is_sandbox = r->is_sandbox;
                if (r->route) {
                        a.route = r->route->name;
                        a.provider = r->route->provider ? r->route->provider->name : NULL;
                        a.model = r->route->model;
                        if (r->attempts > 0)
                                a.backend = r->route->backends[r->backend].url;
                }
                a.usage = r->sse ? r->scanner.usage : a.usage;
                if (!r->sse && r->json.size > 0)
                        (void) usage_parse_json(r->json.data, r->json.size, &a.usage);
                a.latency = now_usec() - r->start;
                a.ttfb = r->first_byte > r->start ? r->first_byte - r->start : 0;
        }
        if (status > 0 && status < (int) ELEMENTSOF(b->status_counts))
                b->status_counts[status]++;
        if (a.usage.in > 0)
                b->tokens_in += (uint64_t) a.usage.in;
        if (a.usage.out > 0)
                b->tokens_out += (uint64_t) a.usage.out;

        k = audit_format(&a, &b->audit);
        if (k < 0)
                return (void) log_error_errno(k, "Failed to format audit event: %m");
        k = sd_journal_sendv(b->audit.iov, (int) b->audit.n_fields);
        if (k < 0)
                log_debug_errno(k, "Failed to send audit event to the journal, ignoring: %m");
        /* MESSAGE is the third field. */
        log_debug("%.*s", (int) b->audit.iov[2].iov_len - 8, (const char *) b->audit.iov[2].iov_base + 8);
}

/* ---- writing responses ---- */

static int connection_queue(Connection *c, const void *data, size_t size) {
        int r = buf_append(&c->out, data, size);
        if (r == -ENOBUFS)
                log_debug("Output buffer of connection %d full, closing.", c->fd);
        return r;
}

static int response_head(Connection *c, int status, const char *content_type, int64_t content_length,
                         const char *extra) {
        Buf *o = &c->out;
        int r;

        if (c->broker->draining)
                c->keep_alive = false; /* stopping: this is the connection's last answer */
        c->chunked_out = content_length < 0 && c->parser.req.version_minor >= 1;
        if (content_length < 0 && !c->chunked_out)
                c->keep_alive = false; /* HTTP/1.0: the end of the body is the end of the connection */

        r = buf_printf(o, "HTTP/1.%u %d %s\r\nServer: openshell-broker\r\n", c->parser.req.version_minor ? 1U : 0U,
                       status, http_status_reason(status));
        if (r >= 0 && content_type)
                r = buf_printf(o, "Content-Type: %s\r\n", content_type);
        if (r >= 0 && content_length >= 0)
                r = buf_printf(o, "Content-Length: %" PRIi64 "\r\n", content_length);
        if (r >= 0 && c->chunked_out)
                r = buf_printf(o, "Transfer-Encoding: chunked\r\n");
        if (r >= 0 && extra)
                r = buf_printf(o, "%s", extra);
        if (r >= 0)
                r = buf_printf(o, "Connection: %s\r\n\r\n", c->keep_alive ? "keep-alive" : "close");
        return r;
}

static int response_body(Connection *c, const void *data, size_t size) {
        int r;

        if (size == 0)
                return 0;
        if (!c->chunked_out)
                return connection_queue(c, data, size);
        r = buf_printf(&c->out, "%zx\r\n", size);
        if (r >= 0)
                r = connection_queue(c, data, size);
        if (r >= 0)
                r = connection_queue(c, "\r\n", 2);
        return r;
}

static int response_end(Connection *c) {
        return c->chunked_out ? connection_queue(c, "0\r\n\r\n", 5) : 0;
}

/* A complete answer made by the broker itself (errors, /healthz, /metrics). */
static void respond(Connection *c, int status, const char *content_type, const char *body, size_t size) {
        if (response_head(c, status, content_type, (int64_t) size, NULL) < 0 ||
            connection_queue(c, body, size) < 0) {
                connection_free(c);
                return;
        }
        connection_request_done(c);
}

static void respond_error(Connection *c, int status, const char *message) {
        _cleanup_free_ char *body = NULL;
        if (asprintf_safe(&body, "{\"error\":\"%s\"}\n", message) < 0) {
                connection_free(c);
                return;
        }
        respond(c, status, "application/json", body, strlen(body));
}

/* ---- connections ---- */

static void connection_set_state(Connection *c, ConnState s) {
        bool was = c->state != CONN_IDLE, is = s != CONN_IDLE;

        c->state = s;
        if (was != is) {
                if (is)
                        c->broker->n_active++;
                else
                        c->broker->n_active--;
                broker_update_idle(c->broker);
        }
}

/* Sets the connection's timeout (0: none). The timer itself is moved only to an earlier time: a later
 * deadline is taken up when it fires (on_connection_timer()). So a request on a keep-alive connection,
 * which goes from a keep-alive timeout to none and back to a later one, leaves it alone. */
static void connection_arm(Connection *c, usec_t usec) {
        if (usec == 0) {
                c->deadline = 0;
                return;
        }
        c->deadline = loop_now(c->broker) + usec;
        if (c->timer_at != 0 && c->timer_at <= c->deadline)
                return;
        c->timer_at = c->deadline;
        (void) sd_event_source_set_time(c->timer, c->timer_at);
        (void) sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
}

static void connection_free(Connection *c) {
        Broker *b;

        if (!c)
                return;
        b = c->broker;
        if (c->request) {
                Request *r = c->request;
                r->client_gone = true;
                r->conn = NULL;
                c->request = NULL;
                request_finish(r, CURLE_ABORTED_BY_CALLBACK);
        }
        if (c->state != CONN_IDLE)
                b->n_active--;
        /* Events of the batch being handled that are still to come must not reach the freed memory. */
        for (int i = 0; i < b->n_batch; i++)
                if (b->batch[i].data.ptr == c)
                        b->batch[i].data.ptr = NULL;
        if (c->flush_queued)
                for (Connection **q = &b->flush_queue; *q; q = &(*q)->flush_next)
                        if (*q == c) {
                                *q = c->flush_next;
                                break;
                        }
        sd_event_source_disable_unref(c->timer);
        sd_event_source_disable_unref(c->defer);
        safe_close(c->fd);
        http_parser_done(&c->parser);
        buf_done(&c->in);
        buf_done(&c->out);
        if (c->prev)
                c->prev->next = c->next;
        else
                b->connections = c->next;
        if (c->next)
                c->next->prev = c->prev;
        if (b->n_connections-- == b->max_connections && !b->draining)
                for (size_t i = 0; i < b->n_listeners; i++)
                        (void) sd_event_source_set_enabled(b->listeners[i], SD_EVENT_ON);
        free(c);
        broker_update_idle(b);
}

static int connection_flush(Connection *c) {
        while (c->out.size > 0) {
                ssize_t n = send(c->fd, c->out.data, c->out.size, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        return -errno;
                }
                buf_consume(&c->out, (size_t) n);
                if (c->write_stalled)
                        connection_arm(c, WRITE_STALL_USEC); /* progress */
        }
        if (c->out.size > 0 && !c->write_stalled) {
                c->write_stalled = true;
                connection_arm(c, WRITE_STALL_USEC);
        } else if (c->out.size == 0 && c->write_stalled) {
                c->write_stalled = false;
                /* Back to the timeout of the state the connection is in. */
                connection_arm(c, c->state == CONN_IDLE    ? KEEPALIVE_USEC
                                  : c->state == CONN_READING ? c->broker->request_timeout
                                                             : 0);
        }

        /* A paused upstream transfer resumes once the client has taken most of what is queued. */
        if (c->request && c->request->paused && c->out.size <= OUT_LOW_WATERMARK) {
                c->request->paused = false;
                (void) curl_easy_pause(c->request->easy, CURLPAUSE_CONT);
                /* What libcurl held back may have been handed over (and queued) just now. */
                if (c->out.size > 0)
                        return connection_flush(c);
        }
        return 0;
}

/* Sends what libcurl's callbacks queued for c once libcurl has returned (broker_flush_queued()). */
static void connection_queue_flush(Connection *c) {
        if (c->flush_queued)
                return;
        c->flush_queued = true;
        c->flush_next = c->broker->flush_queue;
        c->broker->flush_queue = c;
}

static void broker_flush_queued(Broker *b) {
        while (b->flush_queue) {
                Connection *c = b->flush_queue;

                b->flush_queue = c->flush_next;
                c->flush_queued = false;
                c->flush_next = NULL;
                /* A client that cannot take its answer any more is gone: its transfer is cancelled. */
                if (connection_flush(c) < 0)
                        connection_free(c);
        }
}

/* The answer to the current request is queued: go on with the next one, or close. */
static void connection_request_done(Connection *c) {
        c->request = NULL;
        if (!c->keep_alive || c->broker->draining) {
                connection_set_state(c, CONN_CLOSING);
                if (connection_flush(c) < 0 || c->out.size == 0)
                        connection_free(c);
                return;
        }
        http_parser_reset(&c->parser);
        c->sent_continue = false;
        connection_set_state(c, CONN_IDLE);
        if (connection_flush(c) < 0) {
                connection_free(c);
                return;
        }
        if (!c->write_stalled)
                connection_arm(c, KEEPALIVE_USEC);
        /* Pipelined bytes, already read or still in the socket (whose edge has passed), and a close seen
         * meanwhile are taken up from a deferred event, not recursively. */
        if (c->in.size > 0 || c->readable || c->hup)
                (void) sd_event_source_set_enabled(c->defer, SD_EVENT_ONESHOT);
}

static void handle_request(Connection *c);

static void connection_process(Connection *c) {
        size_t consumed = 0;
        int r;

        if (c->state != CONN_IDLE && c->state != CONN_READING)
                return;
        if (c->in.size == 0)
                return;
        if (c->state == CONN_IDLE) {
                connection_set_state(c, CONN_READING);
                c->deadline = 0;
        }

        r = http_parser_feed(&c->parser, c->in.data, c->in.size, &consumed);
        buf_consume(&c->in, consumed);
        if (r < 0) {
                log_debug("Refusing malformed request on connection %d: %d %s", c->fd, c->parser.status,
                          c->parser.error);
                audit_send(c->broker, NULL, c->parser.req.method, c->parser.req.path, c->parser.status,
                           c->parser.error, NULL);
                c->keep_alive = false;
                respond_error(c, c->parser.status, c->parser.error);
                return;
        }
        if (r == 0) {
                /* The whole head within the timeout, from its first byte (read in this iteration of the
                 * loop); a request that came in one piece needs no timer at all. */
                if (c->deadline == 0)
                        connection_arm(c, c->broker->request_timeout);
                if (http_parser_head_done(&c->parser) && !c->sent_continue) {
                        /* The head is in: the body gets its own time from now on. */
                        c->sent_continue = true;
                        connection_arm(c, c->broker->request_timeout);
                        if (c->parser.req.expect_continue && c->parser.req.version_minor >= 1) {
                                if (connection_queue(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0 ||
                                    connection_flush(c) < 0)
                                        connection_free(c);
                        }
                }
                return;
        }

        connection_set_state(c, CONN_BUSY);
        connection_arm(c, 0);
        c->keep_alive = c->parser.req.keep_alive;
        handle_request(c);
}

/* Reads what the socket holds, as far as the input buffer takes it. Returns < 0 on a receive error. */
static int connection_receive(Connection *c) {
        /* The input buffer is small: allocate it to its ceiling once. */
        if (c->in.allocated < c->in.max) {
                char *p = realloc(c->in.data, c->in.max);
                if (!p)
                        return -ENOMEM;
                c->in.data = p;
                c->in.allocated = c->in.max;
        }
        while (c->readable && c->in.size < c->in.max) {
                size_t room = c->in.max - c->in.size;
                ssize_t n = recv(c->fd, c->in.data + c->in.size, room, MSG_DONTWAIT);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                return -errno;
                        c->readable = false;
                        break;
                }
                if (n == 0) {
                        c->readable = false;
                        c->eof = c->hup = true;
                        break;
                }
                c->in.size += (size_t) n;
                /* Less than asked for: the socket is empty for now, and new bytes bring a new edge. After
                 * a close, read on up to the end. */
                if ((size_t) n < room && !c->hup)
                        c->readable = false;
        }
        return 0;
}

/* Takes up whatever the connection can do next: cancel on a client gone, read and parse a request. */
static void connection_run(Connection *c) {
        if (c->state == CONN_BUSY || c->state == CONN_CLOSING || c->out.size > 0) {
                /* A client that closes (or half-closes) its side while an answer is due counts as gone:
                 * its upstream transfer is cancelled (connection_free). Otherwise new input waits until
                 * the answer is out. */
                if (c->hup)
                        connection_free(c);
                return;
        }
        if (connection_receive(c) < 0) {
                connection_free(c);
                return;
        }
        if (c->in.size == 0) {
                /* EOF: a partial request is dropped; a complete one would have been parsed already. */
                if (c->eof)
                        connection_free(c);
                return;
        }
        /* After this request there is more to read, or the close to act on; c may be gone once it is
         * processed, so the deferred event (freed with c) is armed first. */
        if (c->readable || c->hup)
                (void) sd_event_source_set_enabled(c->defer, SD_EVENT_ONESHOT);
        connection_process(c);
}

static int on_connection_defer(sd_event_source *s, void *userdata) {
        connection_run(userdata);
        return 0;
}

static void connection_event(Connection *c, uint32_t revents) {
        if (revents & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                c->readable = true;
        if (revents & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                c->hup = true;
        if ((revents & EPOLLOUT) && c->out.size > 0) {
                if (connection_flush(c) < 0) {
                        connection_free(c);
                        return;
                }
                if (c->state == CONN_CLOSING && c->out.size == 0) {
                        connection_free(c);
                        return;
                }
        }
        connection_run(c);
}

static void broker_run_curl(Broker *b);

/* Client sockets that are ready, taken in one go (as with libcurl's, on_curl_io()): sd-event would
 * dispatch one per iteration, with an epoll_wait() before each. The requests that arrive together
 * are then handed to libcurl together, in the same iteration. */
#define CONNECTION_EVENTS_BATCH 64

static int on_connections_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct epoll_event events[CONNECTION_EVENTS_BATCH];
        Broker *b = userdata;
        int n;

        n = epoll_wait(b->connections_epoll_fd, events, ELEMENTSOF(events), 0);
        if (n < 0) {
                if (errno == EINTR || errno == EAGAIN)
                        return 0;
                return log_error_errno(errno, "Failed to wait for client sockets: %m");
        }
        b->batch = events;
        b->n_batch = n;
        for (int i = 0; i < n; i++)
                if (events[i].data.ptr)
                        connection_event(events[i].data.ptr, events[i].events);
        b->batch = NULL;
        b->n_batch = 0;
        if (b->curl_due)
                broker_run_curl(b);
        return 0;
}

static int on_connection_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Connection *c = userdata;

        c->timer_at = 0;
        if (c->deadline == 0)
                return 0;
        if (usec < c->deadline) {
                /* The deadline moved on since the timer was set. */
                c->timer_at = c->deadline;
                (void) sd_event_source_set_time(c->timer, c->timer_at);
                (void) sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
                return 0;
        }
        if (c->write_stalled || c->state == CONN_IDLE || c->state == CONN_CLOSING) {
                log_debug("Closing connection %d: %s.", c->fd, c->write_stalled ? "client does not read" : "idle");
                connection_free(c);
                return 0;
        }
        if (c->state == CONN_READING) {
                audit_send(c->broker, NULL, c->parser.req.method, c->parser.req.path, 408,
                           "request not received in time", NULL);
                c->keep_alive = false;
                respond_error(c, 408, "request not received in time");
        }
        return 0;
}

static int on_listener(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Broker *b = userdata;

        while (b->n_connections < b->max_connections) {
                _cleanup_close_ int cfd = -EBADF;
                Connection *c;
                struct ucred cred;
                socklen_t l = sizeof(cred);
                int r, domain = 0;
                socklen_t dl = sizeof(domain);

                cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                                return 0;
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                                /* Out of descriptors or memory: stop accepting for a moment instead
                                 * of spinning on a listener that stays readable. */
                                log_warning_errno(errno, "Failed to accept connection, pausing accepts: %m");
                                for (size_t i = 0; i < b->n_listeners; i++)
                                        (void) sd_event_source_set_enabled(b->listeners[i], SD_EVENT_OFF);
                                (void) sd_event_source_set_time(b->accept_retry, now_usec() + 250 * USEC_PER_MSEC);
                                (void) sd_event_source_set_enabled(b->accept_retry, SD_EVENT_ONESHOT);
                                return 0;
                        }
                        return log_error_errno(errno, "Failed to accept connection: %m");
                }

                c = calloc(1, sizeof(Connection));
                if (!c)
                        return log_oom();
                *c = (Connection) {
                        .broker = b,
                        .fd = -EBADF,
                        .in = BUF_INIT(IN_BUFFER_MAX),
                        .out = BUF_INIT(OUT_BUFFER_MAX),
                };
                http_parser_init(&c->parser);
                if (getsockopt(cfd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) >= 0 && domain != AF_UNIX) {
                        /* Answers go out in several small writes (head, chunks): without this, Nagle
                         * and the client's delayed ACK add 40 ms to each. */
                        int one = 1;
                        (void) setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                } else if (domain == AF_UNIX) {
                        c->is_unix = true;
                        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &l) >= 0) {
                                c->have_uid = true;
                                c->uid = cred.uid;
                        }
                }
                c->fd = TAKE_FD(cfd);
                c->next = b->connections;
                if (c->next)
                        c->next->prev = c;
                b->connections = c;
                b->connections_total++;
                if (++b->n_connections == b->max_connections) {
                        log_warning("Connection limit (%u) reached, not accepting more until one closes.",
                                    b->max_connections);
                        b->connections_refused++;
                        for (size_t i = 0; i < b->n_listeners; i++)
                                (void) sd_event_source_set_enabled(b->listeners[i], SD_EVENT_OFF);
                }

                /* Edge-triggered and for good: no epoll_ctl() per request, and an epoll_wait() with many
                 * clients waiting to be served does not report (and poll) each of them again. */
                r = RET_NERRNO(epoll_ctl(b->connections_epoll_fd, EPOLL_CTL_ADD, c->fd,
                                         &(struct epoll_event) {
                                                 .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                                 .data.ptr = c,
                                         }));
                if (r >= 0) {
                        c->deadline = c->timer_at = loop_now(b) + KEEPALIVE_USEC;
                        r = sd_event_add_time(b->event, &c->timer, CLOCK_MONOTONIC, c->timer_at, 0,
                                              on_connection_timer, c);
                }
                if (r >= 0)
                        r = sd_event_add_defer(b->event, &c->defer, on_connection_defer, c);
                if (r >= 0)
                        r = sd_event_source_set_enabled(c->defer, SD_EVENT_OFF);
                if (r < 0) {
                        connection_free(c);
                        log_warning_errno(r, "Failed to set up connection, closing it: %m");
                        continue;
                }
                broker_update_idle(b);
        }
        return 0;
}

static int on_accept_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Broker *b = userdata;

        if (b->n_connections < b->max_connections && !b->draining)
                for (size_t i = 0; i < b->n_listeners; i++)
                        (void) sd_event_source_set_enabled(b->listeners[i], SD_EVENT_ON);
        return 0;
}

/* ---- idle exit ---- */

static int on_idle(sd_event_source *s, uint64_t usec, void *userdata) {
        Broker *b = userdata;

        b->idle_timer_at = 0;
        if (b->n_active > 0 || b->n_requests > 0)
                return 0; /* set again once the broker is idle (broker_update_idle()) */
        if (usec < b->idle_since + b->idle_timeout) {
                b->idle_timer_at = b->idle_since + b->idle_timeout;
                (void) sd_event_source_set_time(b->idle_timer, b->idle_timer_at);
                (void) sd_event_source_set_enabled(b->idle_timer, SD_EVENT_ONESHOT);
                return 0;
        }
        log_info("No request for %" PRIu64 " s, exiting (the socket stays open; systemd starts the broker again).",
                 b->idle_timeout / USEC_PER_SEC);
        return sd_event_exit(b->event, 0);
}

/* Called as requests come and go. The idle timer is not moved for each: it is set when the broker
 * becomes idle and nothing is set yet; when it fires on_idle() checks what happened meanwhile. */
static void broker_update_idle(Broker *b) {
        if (b->draining && b->n_requests == 0 && b->n_active == 0) {
                (void) sd_event_exit(b->event, 0);
                return;
        }
        if (!b->idle_timer)
                return;
        if (b->n_active > 0 || b->n_requests > 0) {
                b->idle_since = 0;
                return;
        }
        b->idle_since = loop_now(b);
        if (b->idle_timer_at != 0)
                return;
        b->idle_timer_at = b->idle_since + b->idle_timeout;
        (void) sd_event_source_set_time(b->idle_timer, b->idle_timer_at);
        (void) sd_event_source_set_enabled(b->idle_timer, SD_EVENT_ONESHOT);
}

/* ---- requests ---- */

static void request_free(Request *r) {
        if (!r)
                return;
        if (r->easy) {
                Broker *b = r->broker;

                if (r->in_multi)
                        curl_multi_remove_handle(b->multi, r->easy);
                if (b->n_easy_pool < EASY_POOL_MAX) {
                        curl_easy_reset(r->easy);
                        b->easy_pool[b->n_easy_pool++] = r->easy;
                } else
                        curl_easy_cleanup(r->easy);
        }
        if (r->caller_counted)
                caller_release(&r->broker->callers, r->identity);
        for (struct curl_slist *l = r->headers; l; l = l->next)
                explicit_bzero(l->data, strlen(l->data)); /* one of them is the credential */
        curl_slist_free_all(r->headers);
        sd_event_source_disable_unref(r->timer);
        sse_scanner_done(&r->scanner);
        buf_done(&r->json);
        broker_config_unref(r->config);
        free(r->identity);
        free(r->method);
        free(r->path);
        free(r->body);
        free(r->tried);
        free(r->content_type);
        buf_done(&r->extra);
        r->broker->n_requests--;
        broker_update_idle(r->broker);
        free(r);
}

/* A Prometheus label value: backslash, double quote and newline escaped. */
static char *label_escape(const char *s) {
        char *e = malloc(strlen(s) * 2 + 1), *p = e;

        if (!e)
                return NULL;
        for (; *s; s++) {
                if (*s == '\\' || *s == '"')
                        *p++ = '\\';
                if (*s == '\n') {
                        *p++ = '\\';
                        *p++ = 'n';
                        continue;
                }
                *p++ = *s;
        }
        *p = 0;
        return e;
}

static int metrics_backend(Buf *o, const char *name, const BackendState *s, uint64_t v) {
        _cleanup_free_ char *l = label_escape(s->url);

        if (!l)
                return -ENOMEM;
        return buf_printf(o, "%s{backend=\"%s\"} %" PRIu64 "\n", name, l, v) < 0 ? -ENOBUFS : 0;
}

static int metrics_format(Broker *b, Buf *o) {
        usec_t n = now_usec();
        int r = 0;

#define P(...) do { if (r >= 0) r = buf_printf(o, __VA_ARGS__); } while (0)
        P("# HELP openshell_broker_requests_total Inference requests answered (each one audited), by HTTP status.\n");
        P("# TYPE openshell_broker_requests_total counter\n");
        for (size_t i = 0; i < ELEMENTSOF(b->status_counts); i++)
                if (b->status_counts[i] > 0)
                        P("openshell_broker_requests_total{code=\"%zu\"} %" PRIu64 "\n", i, b->status_counts[i]);
        P("# HELP openshell_broker_requests_in_flight Requests being answered.\n");
        P("# TYPE openshell_broker_requests_in_flight gauge\nopenshell_broker_requests_in_flight %u\n", b->n_requests);
        P("# HELP openshell_broker_connections Open client connections.\n");
        P("# TYPE openshell_broker_connections gauge\nopenshell_broker_connections %u\n", b->n_connections);
        P("# HELP openshell_broker_connections_total Client connections accepted.\n");
        P("# TYPE openshell_broker_connections_total counter\nopenshell_broker_connections_total %" PRIu64 "\n",
          b->connections_total);
        P("# HELP openshell_broker_tokens_total Tokens reported by backends, by direction.\n");
        P("# TYPE openshell_broker_tokens_total counter\n");
        P("openshell_broker_tokens_total{direction=\"in\"} %" PRIu64 "\n", b->tokens_in);
        P("openshell_broker_tokens_total{direction=\"out\"} %" PRIu64 "\n", b->tokens_out);
        P("# HELP openshell_broker_failovers_total Requests retried on another backend before any answer byte.\n");
        P("# TYPE openshell_broker_failovers_total counter\nopenshell_broker_failovers_total %" PRIu64 "\n",
          b->failovers);
        P("# HELP openshell_broker_paused_total Answers paused for a client reading slower than the backend.\n");
        P("# TYPE openshell_broker_paused_total counter\nopenshell_broker_paused_total %" PRIu64 "\n", b->pauses);
        P("# HELP openshell_broker_config_reloads_total Configurations loaded.\n");
        P("# TYPE openshell_broker_config_reloads_total counter\nopenshell_broker_config_reloads_total %" PRIu64 "\n",
          b->config_reloads);
        P("# HELP openshell_broker_config_errors_total Configurations refused as invalid.\n");
        P("# TYPE openshell_broker_config_errors_total counter\nopenshell_broker_config_errors_total %" PRIu64 "\n",
          b->config_errors);
        P("# HELP openshell_broker_backend_outstanding Requests in flight per backend.\n");
        P("# TYPE openshell_broker_backend_outstanding gauge\n");
        for (BackendState *s = b->router.backends; s && r >= 0; s = s->next)
                r = metrics_backend(o, "openshell_broker_backend_outstanding", s, s->outstanding);
        P("# HELP openshell_broker_backend_requests_total Attempts per backend.\n");
        P("# TYPE openshell_broker_backend_requests_total counter\n");
        for (BackendState *s = b->router.backends; s && r >= 0; s = s->next)
                r = metrics_backend(o, "openshell_broker_backend_requests_total", s, s->n_requests);
        P("# HELP openshell_broker_backend_failures_total Failed attempts per backend.\n");
        P("# TYPE openshell_broker_backend_failures_total counter\n");
        for (BackendState *s = b->router.backends; s && r >= 0; s = s->next)
                r = metrics_backend(o, "openshell_broker_backend_failures_total", s, s->n_failures);
        P("# HELP openshell_broker_backend_probes_total Health probes per backend (while its circuit is open).\n");
        P("# TYPE openshell_broker_backend_probes_total counter\n");
        for (BackendState *s = b->router.backends; s && r >= 0; s = s->next)
                r = metrics_backend(o, "openshell_broker_backend_probes_total", s, s->n_probes);
        P("# HELP openshell_broker_backend_circuit_open Whether the backend's circuit breaker is open.\n");
        P("# TYPE openshell_broker_backend_circuit_open gauge\n");
        for (BackendState *s = b->router.backends; s && r >= 0; s = s->next)
                r = metrics_backend(o, "openshell_broker_backend_circuit_open", s, backend_circuit_open(s, n) ? 1 : 0);
#undef P
        return r;
}

static void handle_metrics(Connection *c) {
        _cleanup_(buf_done) Buf o = BUF_INIT(1024U * 1024U);

        if (metrics_format(c->broker, &o) < 0) {
                respond_error(c, 500, "metrics too large");
                return;
        }
        respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", o.data, o.size);
}

/* Answers a request that never reached a backend, with its audit event. */
static void request_refuse(Request *r, int status, const char *message) {
        Connection *c = r->conn;

        audit_send(r->broker, r, r->method, r->path, status, message, r->identity);
        c->request = NULL;
        r->conn = NULL;
        request_free(r);
        respond_error(c, status, message);
}

static void handle_request(Connection *c) {
        _cleanup_(json_object_putp) json_object *body = NULL;
        Broker *b = c->broker;
        HttpRequest *req = &c->parser.req;
        Request *r;
        int k;

        if (streq(req->method, "GET") && (streq(req->path, "/healthz") || startswith(req->path, "/healthz?"))) {
                respond(c, 200, "application/json", "{\"status\":\"ok\"}\n", 16);
                return;
        }
        if (streq(req->method, "GET") && (streq(req->path, "/metrics") || startswith(req->path, "/metrics?"))) {
                handle_metrics(c);
                return;
        }

        r = calloc(1, sizeof(Request));
        if (!r) {
                connection_free(c);
                return;
        }
        *r = (Request) {
                .conn = c,
                .broker = b,
                .start = now_usec(),
                .json = BUF_INIT(USAGE_JSON_MAX),
                .extra = BUF_INIT(4096),
        };
        sse_scanner_init(&r->scanner);
        b->n_requests++;
        c->request = r;
        r->method = strdup(req->method);
        r->path = strdup(req->path);
        if (!r->method || !r->path) {
                connection_free(c);
                return;
        }

        k = broker_caller_identity(c->have_uid, c->uid, req, &r->identity, &r->is_sandbox);
        if (k == -EBADMSG) {
                request_refuse(r, 400, "invalid X-OpenShell-Sandbox header");
                return;
        }
        if (k < 0) {
                connection_free(c);
                return;
        }

        if (inference_classify(req->method, req->path, &r->protocol) < 0) {
                request_refuse(r, 403, "connection not allowed by policy");
                return;
        }

        broker_maybe_reload(b);
        if (b->config_invalid) {
                request_refuse(r, 503, "inference configuration is invalid");
                return;
        }
        r->config = broker_config_ref(b->config);
        if (streq(req->method, "POST")) {
                k = request_body_parse(req->body.data ?: "", req->body.size, &body);
                if (k < 0) {
                        request_refuse(r, 400, "request body is not a JSON object");
                        return;
                }
        }
        r->route = route_choose(r->config, http_request_header(req, "Host"), body ? request_body_model(body) : NULL);
        if (!r->route) {
                request_refuse(r, 400, "no inference route configured");
                return;
        }
        if (!provider_supports(r->route->provider->type, r->protocol)) {
                request_refuse(r, 400, "no compatible inference route available");
                return;
        }

        if (body && request_body_unchanged(body, req->body.data, req->body.size, r->route->model)) {
                /* The parser keeps the body until the connection's next request, after this one. */
                r->upload = req->body.data;
                r->upload_size = req->body.size;
        } else if (body) {
                k = request_body_rewrite(body, r->route->model, &r->body, &r->upload_size);
                if (k < 0) {
                        connection_free(c);
                        return;
                }
                r->upload = r->body;
        }

        k = caller_acquire(&b->callers, r->identity, r->route->max_concurrency_per_sandbox);
        if (k == -EBUSY) {
                request_refuse(r, 429, "too many concurrent inference requests");
                return;
        }
        if (k < 0) {
                connection_free(c);
                return;
        }
        r->caller_counted = true;

        {
                _cleanup_strv_free_ char **lines = NULL;

                k = upstream_headers(r->route->provider, req, &lines);
                if (k < 0) {
                        connection_free(c);
                        return;
                }
                STRV_FOREACH(l, lines) {
                        struct curl_slist *n = curl_slist_append(r->headers, *l);
                        if (!n) {
                                connection_free(c);
                                return;
                        }
                        r->headers = n;
                }
                /* The header lines held the credential: erase them. */
                STRV_FOREACH(l, lines)
                        explicit_bzero(*l, strlen(*l));
        }

        r->tried = calloc(r->route->n_backends, sizeof(bool));
        if (!r->tried) {
                connection_free(c);
                return;
        }
        (void) request_attempt(r);
}

/* Moves the request's timeout: the timer itself only to an earlier time (a stream pushes its idle
 * timeout on with every piece; the timer catches up when it fires). */
static void request_arm(Request *r, usec_t usec) {
        r->deadline = loop_now(r->broker) + usec;
        if (r->timer_at != 0 && r->timer_at <= r->deadline)
                return;
        r->timer_at = r->deadline;
        (void) sd_event_source_set_time(r->timer, r->timer_at);
        (void) sd_event_source_set_enabled(r->timer, SD_EVENT_ONESHOT);
}

static int on_request_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Request *r = userdata;

        r->timer_at = 0;
        if (usec < r->deadline) {
                r->timer_at = r->deadline;
                (void) sd_event_source_set_time(r->timer, r->timer_at);
                (void) sd_event_source_set_enabled(r->timer, SD_EVENT_ONESHOT);
                return 0;
        }

        /* Before the answer's head: the route's timeout; after: the stream went quiet for too long. */
        r->timed_out = true;
        request_finish(r, CURLE_OPERATION_TIMEDOUT);
        return 0;
}

/* Headers of the backend's answer passed on to the client (besides Content-Type): none of them can
 * carry a credential, and each says something a client needs. */
static const char *const response_passthrough[] = {
        "Content-Encoding", "Retry-After", "X-Request-Id", "Request-Id", NULL,
};

static size_t on_upstream_header(char *data, size_t size, size_t n, void *userdata) {
        Request *r = userdata;
        size_t len = size * n, l;
        Connection *c = r->conn;
        const char *colon, *v;
        long status = 0;

        if (!c || r->client_gone)
                return 0;
        if (len >= 5 && strneq(data, "HTTP/", 5)) {
                /* A new head (curl also shows 1xx interim answers): start over. */
                free(r->content_type);
                r->content_type = NULL;
                buf_clear(&r->extra);
                return len;
        }
        if (len <= 2 && (data[0] == '\r' || data[0] == '\n'))
                goto end_of_head;

        colon = memchr(data, ':', len);
        if (!colon)
                return len;
        v = colon + 1;
        l = len - (size_t) (v - data);
        while (l > 0 && (*v == ' ' || *v == '\t'))
                v++, l--;
        while (l > 0 && (v[l - 1] == '\r' || v[l - 1] == '\n' || v[l - 1] == ' ' || v[l - 1] == '\t'))
                l--;
        if (memchr(v, 0, l))
                return len;
        if ((size_t) (colon - data) == 12 && strncasecmp(data, "Content-Type", 12) == 0) {
                free(r->content_type);
                r->content_type = strndup(v, l);
                if (r->content_type && string_has_cc(r->content_type)) {
                        free(r->content_type);
                        r->content_type = NULL;
                }
                return len;
        }
        for (const char *const *h = response_passthrough; *h; h++) {
                _cleanup_free_ char *value = NULL;

                if ((size_t) (colon - data) != strlen(*h) || strncasecmp(data, *h, strlen(*h)) != 0)
                        continue;
                value = strndup(v, l);
                /* Bounded: a backend sending thousands of these loses the surplus, not memory. */
                if (value && !string_has_cc(value))
                        (void) buf_printf(&r->extra, "%s: %s\r\n", *h, value);
                break;
        }
        return len;

end_of_head:
        (void) curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status < 200)
                return len; /* interim */
        r->status = (int) status;

        /* An overloaded or failing backend is replaced by another while the client has seen nothing. */
        if (status == 502 || status == 503 || status == 504)
                for (size_t i = 0; i < r->route->n_backends; i++)
                        if (!r->tried[i] && i != r->backend &&
                            !backend_circuit_open(r->route->backends[i].state, loop_now(r->broker))) {
                                r->retry = true;
                                return 0;
                        }

        r->first_byte = now_usec();
        r->sse = r->content_type && strncasecmp(r->content_type, "text/event-stream", 17) == 0;
        if (r->sse)
                (void) buf_printf(&r->extra, "Cache-Control: no-cache\r\n");
        if (buf_terminate(&r->extra) < 0)
                return 0;
        if (response_head(c, (int) status, r->content_type ?: "application/octet-stream", -1,
                          r->extra.size > 0 ? r->extra.data : NULL) < 0)
                return 0;
        r->head_sent = true;
        request_arm(r, r->broker->stream_idle_timeout);
        connection_queue_flush(c);
        return len;
}

static size_t on_upstream_data(char *data, size_t size, size_t n, void *userdata) {
        Request *r = userdata;
        size_t len = size * n;
        Connection *c = r->conn;

        if (!c || r->client_gone || !r->head_sent)
                return 0;
        if (c->out.size >= OUT_HIGH_WATERMARK) {
                /* The client reads slower than the backend writes: let curl hold the data. */
                r->paused = true;
                r->broker->pauses++;
                return CURL_WRITEFUNC_PAUSE;
        }
        if (r->bytes + len > RESPONSE_SIZE_MAX) {
                r->truncated = true;
                return 0;
        }
        r->bytes += len;
        if (r->sse)
                sse_scanner_feed(&r->scanner, data, len);
        else if (r->json.size + len <= r->json.max)
                (void) buf_append(&r->json, data, len);
        else
                buf_done(&r->json), r->json.max = 0; /* too big to look for usage: give up on it */
        if (response_body(c, data, len) < 0)
                return 0;
        request_arm(r, r->broker->stream_idle_timeout);
        /* Small pieces wait for the end of libcurl's run (broker_flush_queued()); a lot of data goes at
         * once, so that a fast client is not paused for what libcurl hands over in one run. */
        if (c->out.size < OUT_LOW_WATERMARK) {
                connection_queue_flush(c);
                return len;
        }
        if (connection_flush(c) < 0) {
                r->client_gone = true;
                return 0;
        }
        return len;
}

static int request_attempt(Request *r) {
        Broker *b = r->broker;
        const RouteBackend *rb;
        _cleanup_free_ char *url = NULL;
        size_t i;
        int k;

        k = route_pick_backend(&b->router, r->route, loop_now(b), r->tried, &i);
        if (k < 0) {
                if (r->attempts == 0)
                        log_warning("No backend of route '%s' is available (all circuits open).", r->route->name);
                request_finish(r, -EHOSTUNREACH);
                return k;
        }
        rb = &r->route->backends[i];
        r->backend = i;
        r->tried[i] = true;
        if (r->attempts++ > 0)
                b->failovers++;
        r->status = 0;
        r->retry = false;

        if (upstream_url(rb->url, r->path, &url) < 0) {
                request_finish(r, -ENOMEM);
                return -ENOMEM;
        }
        if (r->easy) {
                if (r->in_multi)
                        curl_multi_remove_handle(b->multi, r->easy);
                r->in_multi = false;
                curl_easy_reset(r->easy);
        } else
                r->easy = b->n_easy_pool > 0 ? b->easy_pool[--b->n_easy_pool] : curl_easy_init();
        if (!r->easy) {
                request_finish(r, -ENOMEM);
                return -ENOMEM;
        }

        (void) curl_easy_setopt(r->easy, CURLOPT_URL, url);
        (void) curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
        (void) curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(r->easy, CURLOPT_SOCKOPTFUNCTION, curl_sockopt_cb);
        (void) curl_easy_setopt(r->easy, CURLOPT_SOCKOPTDATA, b);
        (void) curl_easy_setopt(r->easy, CURLOPT_CLOSESOCKETFUNCTION, curl_closesocket_cb);
        (void) curl_easy_setopt(r->easy, CURLOPT_CLOSESOCKETDATA, b);
        (void) curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
        (void) curl_easy_setopt(r->easy, CURLOPT_FOLLOWLOCATION, 0L);
        /* No proxy from the environment: the broker talks to its backends directly. */
        (void) curl_easy_setopt(r->easy, CURLOPT_PROXY, "");
        (void) curl_easy_setopt(r->easy, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
        (void) curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
        (void) curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
        (void) curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_upstream_header);
        (void) curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
        (void) curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_upstream_data);
        (void) curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
        (void) curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->error);
        (void) curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "openshell-broker/" PROJECT_VERSION);
        if (r->upload) {
                (void) curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->upload);
                (void) curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) r->upload_size);
        } else
                (void) curl_easy_setopt(r->easy, CURLOPT_HTTPGET, 1L);
        r->error[0] = 0;

        if (!r->timer) {
                r->deadline = r->timer_at = loop_now(b) + (usec_t) r->route->timeout_sec * USEC_PER_SEC;
                k = sd_event_add_time(b->event, &r->timer, CLOCK_MONOTONIC, r->timer_at, 0, on_request_timer, r);
                if (k < 0) {
                        request_finish(r, -ENOMEM);
                        return k;
                }
        }

        backend_begin(rb->state, loop_now(b));
        r->backend_counted = true;
        if (curl_multi_add_handle(b->multi, r->easy) != CURLM_OK) {
                request_finish(r, -ENOMEM);
                return -ENOMEM;
        }
        r->in_multi = true;
        return 0;
}

static bool curl_error_is_retryable(int result) {
        switch (result) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_WRITE_ERROR: /* our own abort for a 502/503/504 head (r->retry) */
        case CURLE_PARTIAL_FILE:
        case CURLE_WEIRD_SERVER_REPLY:
                return true;
        default:
                return false;
        }
}

/* Ends the current attempt with a curl result (or a negative errno of ours); retries on another backend
 * while the client has not seen a byte, else completes the answer and the audit event. */
static void request_finish(Request *r, int result) {
        Connection *c = r->conn;
        Broker *b = r->broker;
        bool ok = result == CURLE_OK && r->status > 0 && r->status < 500;
        bool attempt_failed = !ok && !r->client_gone;

        if (r->easy && r->in_multi) {
                curl_multi_remove_handle(b->multi, r->easy);
                r->in_multi = false;
        }
        if (r->backend_counted) {
                BackendState *s = r->route->backends[r->backend].state;
                r->backend_counted = false;
                /* A cancelled client says nothing about the backend's health. */
                if (r->client_gone && !r->retry)
                        s->outstanding = s->outstanding > 0 ? s->outstanding - 1 : 0;
                else
                        backend_end(s, !attempt_failed, loop_now(b));
                if (attempt_failed)
                        b->upstream_errors++;
        }

        if (r->client_gone || !c) {
                audit_send(b, r, r->method, r->path, r->head_sent ? r->status : 499, "client closed the connection",
                           r->identity);
                if (c)
                        c->request = NULL;
                request_free(r);
                if (c)
                        connection_free(c);
                return;
        }

        if (!r->head_sent) {
                if (result > 0)
                        r->last_result = result;
                if (result >= 0 && !r->timed_out && (r->retry || curl_error_is_retryable(result))) {
                        log_info("Backend %s of route '%s' failed (%s), trying another one.",
                                 r->route->backends[r->backend].url, r->route->name,
                                 r->retry ? "answered with a server error"
                                          : (r->error[0] ? r->error : curl_easy_strerror(result)));
                        if (request_attempt(r) >= 0)
                                return;
                        /* request_attempt() finished the request already (no backend left). */
                        return;
                }
                if (result == -EHOSTUNREACH && r->attempts == 0) {
                        request_refuse(r, 503, "inference service unavailable");
                        return;
                }
                if (r->timed_out) {
                        request_refuse(r, 504, "inference service timed out");
                        return;
                }
                /* Nobody reachable is "unavailable"; a backend that answered garbage or hung up is an
                 * "error" (the two router errors of openshell/SPEC.md §2.9). */
                switch (r->last_result) {
                case 0:
                case CURLE_COULDNT_CONNECT:
                case CURLE_COULDNT_RESOLVE_HOST:
                case CURLE_SSL_CONNECT_ERROR:
                        request_refuse(r, 503, "inference service unavailable");
                        return;
                default:
                        request_refuse(r, 502, "inference service error");
                        return;
                }
        }

        /* The client has the head: end the body, marking a broken stream where the format allows. */
        if (result != CURLE_OK) {
                static const char sse_error[] =
                        "event: error\ndata: {\"error\":\"inference stream interrupted\"}\n\n";

                log_info("Answer from %s for %s ended early: %s.", r->route->backends[r->backend].url, r->identity,
                         r->truncated   ? "too large"
                         : r->timed_out ? "stream idle timeout"
                         : r->error[0]  ? r->error
                                        : curl_easy_strerror(result));
                if (!r->sse) {
                        /* Without SSE only an incomplete body tells the client: close without the end. */
                        audit_send(b, r, r->method, r->path, r->status, "upstream answer interrupted", r->identity);
                        c->request = NULL;
                        request_free(r);
                        c->keep_alive = false;
                        connection_set_state(c, CONN_CLOSING);
                        if (connection_flush(c) < 0 || c->out.size == 0)
                                connection_free(c);
                        return;
                }
                (void) response_body(c, sse_error, sizeof(sse_error) - 1);
        }
        if (response_end(c) < 0) {
                connection_free(c);
                return;
        }
        /* The client first, the journal after: the audit event is not on the answer's path. A client
         * gone meanwhile is noticed by connection_request_done(). */
        (void) connection_flush(c);
        audit_send(b, r, r->method, r->path, r->status, result != CURLE_OK ? "upstream stream interrupted" : NULL,
                   r->identity);
        c->request = NULL;
        r->conn = NULL;
        request_free(r);
        connection_request_done(c);
}

/* ---- active health checks ---- */

static size_t discard(char *data, size_t size, size_t n, void *userdata) {
        return size * n;
}

static void probe_free(Broker *b, Probe *p) {
        for (Probe **pp = &b->probes; *pp; pp = &(*pp)->next)
                if (*pp == p) {
                        *pp = p->next;
                        break;
                }
        if (p->easy) {
                curl_multi_remove_handle(b->multi, p->easy);
                curl_easy_cleanup(p->easy);
        }
        free(p->url);
        free(p);
}

static void probe_finish(Broker *b, CURL *easy, int result) {
        Probe *p;
        long status = 0;
        bool alive;

        for (p = b->probes; p && p->easy != easy; p = p->next)
                ;
        if (!p)
                return;
        (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        alive = result == CURLE_OK && status > 0 && status < 500;
        if (alive)
                log_info("Backend %s answers again (health probe: HTTP %ld), closing its circuit.", p->backend->url,
                         status);
        else
                log_debug("Health probe of %s failed: %s.", p->backend->url,
                          result != CURLE_OK ? curl_easy_strerror(result) : "server error");
        backend_probe_result(p->backend, alive, now_usec());
        probe_free(b, p);
}

static void probe_start(Broker *b, BackendState *s) {
        Probe *p = calloc(1, sizeof(Probe));

        if (!p)
                return (void) log_oom();
        *p = (Probe) { .broker = b, .backend = s, .next = b->probes };
        b->probes = p;
        if (asprintf_safe(&p->url, "%s/models", s->url) < 0 || !(p->easy = curl_easy_init())) {
                probe_free(b, p);
                return (void) log_oom();
        }
        (void) curl_easy_setopt(p->easy, CURLOPT_URL, p->url);
        (void) curl_easy_setopt(p->easy, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(p->easy, CURLOPT_SOCKOPTFUNCTION, curl_sockopt_cb);
        (void) curl_easy_setopt(p->easy, CURLOPT_SOCKOPTDATA, b);
        (void) curl_easy_setopt(p->easy, CURLOPT_CLOSESOCKETFUNCTION, curl_closesocket_cb);
        (void) curl_easy_setopt(p->easy, CURLOPT_CLOSESOCKETDATA, b);
        (void) curl_easy_setopt(p->easy, CURLOPT_PROTOCOLS_STR, "http,https");
        (void) curl_easy_setopt(p->easy, CURLOPT_PROXY, "");
        (void) curl_easy_setopt(p->easy, CURLOPT_TIMEOUT_MS, PROBE_TIMEOUT_MS);
        (void) curl_easy_setopt(p->easy, CURLOPT_WRITEFUNCTION, discard);
        (void) curl_easy_setopt(p->easy, CURLOPT_USERAGENT, "openshell-broker/" PROJECT_VERSION " (health probe)");
        if (curl_multi_add_handle(b->multi, p->easy) != CURLM_OK) {
                curl_easy_cleanup(p->easy);
                p->easy = NULL;
                probe_free(b, p);
                return;
        }
        s->probing = true;
}

static int on_probe_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        Broker *b = userdata;

        for (BackendState *s = b->router.backends; s; s = s->next)
                if (backend_wants_probe(s))
                        probe_start(b, s);
        (void) sd_event_source_set_time(source, now_usec() + PROBE_INTERVAL);
        (void) sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
        return 0;
}

/* ---- libcurl on sd-event (curl's ephiperfifo.c, with sd-event) ---- */

static void curl_check_done(Broker *b) {
        CURLMsg *m;
        int left;

        while ((m = curl_multi_info_read(b->multi, &left))) {
                Request *r = NULL;

                if (m->msg != CURLMSG_DONE)
                        continue;
                (void) curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **) &r);
                if (r)
                        request_finish(r, m->data.result);
                else
                        probe_finish(b, m->easy_handle, m->data.result);
        }
}

/* The entry of a backend connection's socket, NULL for other sockets (a resolver's). */
static CurlSocket *curl_socket_find(Broker *b, curl_socket_t fd) {
        if (fd < 0 || (size_t) fd >= b->n_curl_sockets || b->curl_sockets[fd].state == CURL_SOCKET_UNKNOWN)
                return NULL;
        return &b->curl_sockets[fd];
}

/* libcurl opened a socket for a backend connection. */
static int curl_sockopt_cb(void *userp, curl_socket_t fd, curlsocktype purpose) {
        Broker *b = userp;

        if (purpose != CURLSOCKTYPE_IPCXN || fd < 0)
                return CURL_SOCKOPT_OK;
        if ((size_t) fd >= b->n_curl_sockets) {
                size_t n = MAX((size_t) fd + 1, b->n_curl_sockets * 2);
                CurlSocket *a = reallocarray(b->curl_sockets, n, sizeof(CurlSocket));

                if (!a)
                        return CURL_SOCKOPT_OK; /* left unknown: watched without parking */
                memset(a + b->n_curl_sockets, 0, (n - b->n_curl_sockets) * sizeof(CurlSocket));
                b->curl_sockets = a;
                b->n_curl_sockets = n;
        }
        /* Whatever the number meant before: that socket is closed, and out of the set with it. */
        b->curl_sockets[fd] = (CurlSocket) { .state = CURL_SOCKET_OPEN };
        return CURL_SOCKOPT_OK;
}

static int curl_closesocket_cb(void *userp, curl_socket_t fd) {
        Broker *b = userp;
        CurlSocket *s = curl_socket_find(b, fd);

        /* Closing it takes it out of the epoll set. */
        if (s)
                *s = (CurlSocket) {};
        return close(fd);
}

/* Backend sockets that are ready, taken in one go: sd-event dispatches one source per iteration and
 * calls epoll_wait() before each, which reports every level-triggered socket still waiting its turn
 * again. So libcurl's sockets live in an epoll set of their own, which is one source of the loop. */
#define CURL_EVENTS_BATCH 64

static int on_curl_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct epoll_event events[CURL_EVENTS_BATCH];
        Broker *b = userdata;
        int n, running;

        n = epoll_wait(b->curl_epoll_fd, events, ELEMENTSOF(events), 0);
        if (n < 0) {
                if (errno == EINTR || errno == EAGAIN)
                        return 0;
                return log_error_errno(errno, "Failed to wait for backend sockets: %m");
        }
        for (int i = 0; i < n; i++) {
                CurlSocket *cs = curl_socket_find(b, events[i].data.fd);
                int action = 0;

                if (cs && cs->state == CURL_SOCKET_PARKED) {
                        /* An idle connection has news, mostly that the backend closed it. libcurl finds
                         * out itself before it uses the connection again; here the socket must only
                         * stop being reported. */
                        (void) epoll_ctl(b->curl_epoll_fd, EPOLL_CTL_DEL, events[i].data.fd, NULL);
                        cs->state = CURL_SOCKET_OPEN;
                        continue;
                }
                if (events[i].events & EPOLLIN)
                        action |= CURL_CSELECT_IN;
                if (events[i].events & EPOLLOUT)
                        action |= CURL_CSELECT_OUT;
                if (events[i].events & (EPOLLERR | EPOLLHUP))
                        action |= CURL_CSELECT_ERR;
                (void) curl_multi_socket_action(b->multi, events[i].data.fd, action, &running);
        }
        curl_check_done(b);
        broker_flush_queued(b);
        return 0;
}

/* Runs libcurl's due work: new transfers, its timeouts. */
static void broker_run_curl(Broker *b) {
        int running;

        b->curl_due = false;
        (void) sd_event_source_set_enabled(b->curl_now, SD_EVENT_OFF);
        (void) curl_multi_socket_action(b->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        curl_check_done(b);
        broker_flush_queued(b);
}

static int on_curl_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        broker_run_curl(userdata);
        return 0;
}

static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        Broker *b = userp;
        CurlSocket *s = curl_socket_find(b, fd);
        struct epoll_event ev = { .data.fd = fd };

        if (what == CURL_POLL_REMOVE) {
                if (s && s->state == CURL_SOCKET_WATCHED) {
                        s->state = CURL_SOCKET_PARKED; /* stays in the set: see CurlSocket */
                        return 0;
                }
                if (socketp) {
                        /* Fails harmlessly if libcurl closed the socket already (which removed it). */
                        (void) epoll_ctl(b->curl_epoll_fd, EPOLL_CTL_DEL, fd, NULL);
                        (void) curl_multi_assign(b->multi, fd, NULL);
                }
                return 0;
        }
        if (what & CURL_POLL_IN)
                ev.events |= EPOLLIN;
        if (what & CURL_POLL_OUT)
                ev.events |= EPOLLOUT;
        if (s) {
                int op = s->state == CURL_SOCKET_OPEN ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;

                if ((op == EPOLL_CTL_ADD || s->events != ev.events) && epoll_ctl(b->curl_epoll_fd, op, fd, &ev) < 0) {
                        log_error_errno(errno, "Failed to watch backend socket: %m");
                        return -1;
                }
                s->state = CURL_SOCKET_WATCHED;
                s->events = ev.events;
                return 0;
        }
        if (epoll_ctl(b->curl_epoll_fd, socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0) {
                log_error_errno(errno, "Failed to watch backend socket: %m");
                return -1;
        }
        /* Only a mark that the socket is in the set. */
        if (!socketp)
                (void) curl_multi_assign(b->multi, fd, b);
        return 0;
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
        Broker *b = userp;

        (void) sd_event_source_set_enabled(b->curl_now, SD_EVENT_OFF);
        b->curl_due = false;
        if (timeout_ms < 0) {
                (void) sd_event_source_set_enabled(b->curl_timer, SD_EVENT_OFF);
                return 0;
        }
        /* "At once" (every new transfer) runs from a deferred source on the next loop iteration (curl
         * must not be re-entered from its own callback), without reprogramming the timerfd. */
        if (timeout_ms == 0) {
                (void) sd_event_source_set_enabled(b->curl_timer, SD_EVENT_OFF);
                (void) sd_event_source_set_enabled(b->curl_now, SD_EVENT_ONESHOT);
                b->curl_due = true;
                return 0;
        }
        (void) sd_event_source_set_time(b->curl_timer, now_usec() + (usec_t) timeout_ms * USEC_PER_MSEC);
        (void) sd_event_source_set_enabled(b->curl_timer, SD_EVENT_ONESHOT);
        return 0;
}

static int on_curl_now(sd_event_source *s, void *userdata) {
        return on_curl_timer(NULL, 0, userdata);
}

/* ---- setup ---- */

static int on_drain_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Broker *b = userdata;

        log_warning("%u request(s) still in flight after %" PRIu64 " s, exiting anyway.", b->n_requests,
                    DRAIN_USEC / USEC_PER_SEC);
        return sd_event_exit(b->event, 0);
}

static int on_terminate(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Broker *b = userdata;
        Connection *c, *next;
        int r;

        if (b->draining || b->n_requests == 0)
                return sd_event_exit(b->event, 0); /* a second signal, or nothing to wait for */

        log_info("Stopping: letting %u request(s) in flight finish (at most %" PRIu64 " s).", b->n_requests,
                 DRAIN_USEC / USEC_PER_SEC);
        (void) sd_notify(false, "STOPPING=1");
        b->draining = true;
        for (size_t i = 0; i < b->n_listeners; i++)
                (void) sd_event_source_set_enabled(b->listeners[i], SD_EVENT_OFF);
        for (c = b->connections; c; c = next) {
                next = c->next;
                if (c->state == CONN_IDLE)
                        connection_free(c);
        }
        r = sd_event_add_time(b->event, NULL, CLOCK_MONOTONIC, now_usec() + DRAIN_USEC, 0, on_drain_timeout, b);
        if (r < 0)
                return sd_event_exit(b->event, 0);
        broker_update_idle(b);
        return 0;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Broker *b = userdata;

        log_info("Reloading the inference configuration (SIGHUP).");
        (void) sd_notify(false, "RELOADING=1");
        (void) broker_load_config(b);
        b->config_checked = now_usec();
        (void) sd_notify(false, "READY=1");
        return 0;
}

static void broker_done(Broker *b) {
        while (b->connections)
                connection_free(b->connections);
        sd_event_source_disable_unref(b->connections_io);
        safe_close(b->connections_epoll_fd);
        for (size_t i = 0; i < b->n_listeners; i++)
                sd_event_source_disable_unref(b->listeners[i]);
        free(b->listeners);
        sd_event_source_disable_unref(b->idle_timer);
        sd_event_source_disable_unref(b->accept_retry);
        sd_event_source_disable_unref(b->probe_timer);
        while (b->probes)
                probe_free(b, b->probes);
        while (b->n_easy_pool > 0)
                curl_easy_cleanup(b->easy_pool[--b->n_easy_pool]);
        if (b->multi)
                curl_multi_cleanup(b->multi);
        sd_event_source_disable_unref(b->curl_io);
        safe_close(b->curl_epoll_fd);
        free(b->curl_sockets);
        sd_event_source_disable_unref(b->curl_timer);
        sd_event_source_disable_unref(b->curl_now);
        broker_config_unref(b->config);
        router_done(&b->router);
        caller_table_done(&b->callers);
        audit_entry_done(&b->audit);
        free(b->config_dir);
        free(b->credentials_dir);
        sd_event_unref(b->event);
}

static int broker_listen(Broker *b) {
        _cleanup_strv_free_ char **names = NULL;
        int n, r;

        n = sd_listen_fds_with_names(true, &names);
        if (n < 0)
                return log_error_errno(n, "Failed to get listening sockets from systemd: %m");
        if (n == 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "No listening socket passed: openshell-broker is started by "
                                       "openshell-broker.socket "
                                       "(or for testing: systemd-socket-activate -l PATH openshell-broker).");

        b->listeners = calloc((size_t) n, sizeof(sd_event_source *));
        if (!b->listeners)
                return log_oom();
        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i, flags;

                if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "Passed file descriptor %d ('%s') is not a listening stream socket.",
                                               fd,
                                               names && names[i] ? names[i] : "?");
                if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0 &&
                    sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0) <= 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "Passed socket %d ('%s') is neither AF_UNIX nor AF_INET/AF_INET6.", fd,
                                               names && names[i] ? names[i] : "?");
                flags = fcntl(fd, F_GETFL);
                if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                        return log_error_errno(errno, "Failed to make socket %d non-blocking: %m", fd);

                r = sd_event_add_io(b->event, &b->listeners[i], fd, EPOLLIN, on_listener, b);
                if (r < 0)
                        return log_error_errno(r, "Failed to watch listening socket: %m");
                /* A failing listener ends the loop: better restarted by systemd than half-deaf. */
                r = sd_event_source_set_exit_on_failure(b->listeners[i], true);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up listening socket: %m");
                b->n_listeners++;
        }
        return 0;
}

static int parse_seconds(const char *s, usec_t *ret) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || end == s || *end || v > 86400ULL * 365)
                return -EINVAL;
        *ret = (usec_t) v * USEC_PER_SEC;
        return 0;
}

static void help(void) {
        printf("openshell-broker [OPTIONS]\n\n"
               "Socket-activated inference broker (started by openshell-broker.socket).\n\n"
               "  -h --help                 Show this help\n"
               "     --version              Show the version\n"
               "     --config-dir=DIR       Read DIR/inference.yaml and DIR/providers/ (default %s)\n"
               "     --credentials-dir=DIR  Provider secrets, one file per provider (default: the service's\n"
               "                            $CREDENTIALS_DIRECTORY/%sNAME, else %s/NAME)\n"
               "     --idle-timeout=SEC     Exit after SEC seconds without a request (0: never; default 120)\n"
               "     --request-timeout=SEC  Time a client has to send a request head, and then its body\n"
               "                            (default 10)\n"
               "     --stream-idle-timeout=SEC  Cut an answer whose backend sends nothing for SEC seconds\n"
               "                            (default 120)\n"
               "     --max-connections=N    Client connections at most (default %u)\n",
               BROKER_CONFIG_DIR, BROKER_CREDENTIAL_PREFIX, BROKER_CREDENTIALS_DIR, CONNECTIONS_MAX_DEFAULT);
}

static int parse_argv(Broker *b, int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_CONFIG_DIR,
                ARG_CREDENTIALS_DIR,
                ARG_IDLE,
                ARG_REQUEST,
                ARG_STREAM_IDLE,
                ARG_MAX_CONN,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config-dir", required_argument, NULL, ARG_CONFIG_DIR },
                { "credentials-dir", required_argument, NULL, ARG_CREDENTIALS_DIR },
                { "idle-timeout", required_argument, NULL, ARG_IDLE },
                { "request-timeout", required_argument, NULL, ARG_REQUEST },
                { "stream-idle-timeout", required_argument, NULL, ARG_STREAM_IDLE },
                { "max-connections", required_argument, NULL, ARG_MAX_CONN },
                {}
        };
        const char *creds;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("openshell-broker %s\n", PROJECT_VERSION);
                        return 0;
                case ARG_CONFIG_DIR:
                        free(b->config_dir);
                        b->config_dir = strdup(optarg);
                        if (!b->config_dir)
                                return log_oom();
                        break;
                case ARG_CREDENTIALS_DIR:
                        free(b->credentials_dir);
                        b->credentials_dir = strdup(optarg);
                        if (!b->credentials_dir)
                                return log_oom();
                        break;
                case ARG_IDLE:
                        if (parse_seconds(optarg, &b->idle_timeout) < 0)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --idle-timeout: %s", optarg);
                        break;
                case ARG_REQUEST:
                        if (parse_seconds(optarg, &b->request_timeout) < 0 || b->request_timeout == 0)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --request-timeout: %s",
                                                       optarg);
                        break;
                case ARG_STREAM_IDLE:
                        if (parse_seconds(optarg, &b->stream_idle_timeout) < 0 || b->stream_idle_timeout == 0)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --stream-idle-timeout: %s",
                                                       optarg);
                        break;
                case ARG_MAX_CONN: {
                        char *end;
                        unsigned long v = strtoul(optarg, &end, 10);
                        if (end == optarg || *end || v == 0 || v > 1000000)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --max-connections: %s",
                                                       optarg);
                        b->max_connections = (unsigned) v;
                        break;
                }
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown option.");
                }
        if (optind < argc)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "This program takes no arguments.");

        if (!b->config_dir && !(b->config_dir = strdup(BROKER_CONFIG_DIR)))
                return log_oom();
        if (b->credentials_dir)
                b->credential_prefix = "";
        else if ((creds = secure_getenv("CREDENTIALS_DIRECTORY"))) {
                b->credentials_dir = strdup(creds);
                b->credential_prefix = BROKER_CREDENTIAL_PREFIX;
        } else {
                b->credentials_dir = strdup(BROKER_CREDENTIALS_DIR);
                b->credential_prefix = "";
        }
        if (!b->credentials_dir)
                return log_oom();
        return 1;
}

static int run(int argc, char *argv[]) {
        _cleanup_(broker_done) Broker b = {
                .idle_timeout = 120 * USEC_PER_SEC,
                .request_timeout = 10 * USEC_PER_SEC,
                .stream_idle_timeout = STREAM_IDLE_USEC,
                .max_connections = CONNECTIONS_MAX_DEFAULT,
                .curl_epoll_fd = -EBADF,
                .connections_epoll_fd = -EBADF,
                .audit = AUDIT_ENTRY_INIT,
        };
        sigset_t ss;
        int r;

        r = parse_argv(&b, argc, argv);
        if (r <= 0)
                return r;

        /* Each stream holds two descriptors (client and backend): use the whole hard limit, as the
         * soft limit of 1024 is only there for select() users. */
        r = rlimit_nofile_raise();
        if (r < 0)
                log_debug_errno(r, "Failed to raise RLIMIT_NOFILE, ignoring: %m");

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to initialize libcurl.");

        /* Not sd_event_default(): a default loop checks with gettid() on every iteration that it runs in
         * its thread, one system call per event for a process that has one thread anyway. */
        r = sd_event_new(&b.event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate event loop: %m");
        r = sd_event_set_watchdog(b.event, true);
        if (r < 0)
                return log_error_errno(r, "Failed to enable watchdog: %m");
        sigemptyset(&ss);
        sigaddset(&ss, SIGHUP);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");
        r = sd_event_add_signal(b.event, NULL, SIGTERM, on_terminate, &b);
        if (r >= 0)
                r = sd_event_add_signal(b.event, NULL, SIGINT, on_terminate, &b);
        if (r < 0)
                return log_error_errno(r, "Failed to handle SIGTERM/SIGINT: %m");
        r = sd_event_add_signal(b.event, NULL, SIGHUP, on_sighup, &b);
        if (r < 0)
                return log_error_errno(r, "Failed to handle SIGHUP: %m");

        b.multi = curl_multi_init();
        if (!b.multi)
                return log_oom();
        b.curl_epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (b.curl_epoll_fd < 0)
                return log_error_errno(errno, "Failed to create epoll set for backend sockets: %m");
        r = sd_event_add_io(b.event, &b.curl_io, b.curl_epoll_fd, EPOLLIN, on_curl_io, &b);
        if (r < 0)
                return log_error_errno(r, "Failed to watch backend sockets: %m");
        (void) curl_multi_setopt(b.multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
        (void) curl_multi_setopt(b.multi, CURLMOPT_SOCKETDATA, &b);
        (void) curl_multi_setopt(b.multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
        (void) curl_multi_setopt(b.multi, CURLMOPT_TIMERDATA, &b);
        /* Backend connections are kept alive for the next request. curl's default cache holds four per
         * transfer in progress, so when the load drops it closes connections that the next burst has to
         * open again (a connect and a slow start per request under a fluctuating load): allow one per
         * client connection, the most requests that can be in flight at once. Idle ones still expire
         * (CURLOPT_MAXAGE_CONN). */
        (void) curl_multi_setopt(b.multi, CURLMOPT_MAXCONNECTS, (long) b.max_connections);
        /* 1 ms accuracy: curl's own timeouts (connect phases, retries) need no better, and sd-event's
         * default slack (250 ms) would be too coarse. */
        r = sd_event_add_time(b.event, &b.curl_timer, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, on_curl_timer, &b);
        if (r >= 0)
                r = sd_event_source_set_enabled(b.curl_timer, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_defer(b.event, &b.curl_now, on_curl_now, &b);
        if (r >= 0)
                r = sd_event_source_set_enabled(b.curl_now, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "Failed to set up libcurl timer: %m");

        (void) broker_load_config(&b); /* an invalid file is reported per request (503) and logged */
        b.config_checked = now_usec();

        b.connections_epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (b.connections_epoll_fd < 0)
                return log_error_errno(errno, "Failed to create epoll set for client sockets: %m");
        r = sd_event_add_io(b.event, &b.connections_io, b.connections_epoll_fd, EPOLLIN, on_connections_io, &b);
        if (r < 0)
                return log_error_errno(r, "Failed to watch client sockets: %m");

        r = broker_listen(&b);
        if (r < 0)
                return r;
        r = sd_event_add_time(b.event, &b.accept_retry, CLOCK_MONOTONIC, 0, 0, on_accept_retry, &b);
        if (r >= 0)
                r = sd_event_source_set_enabled(b.accept_retry, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "Failed to set up accept timer: %m");

        r = sd_event_add_time(b.event, &b.probe_timer, CLOCK_MONOTONIC, now_usec() + PROBE_INTERVAL, 0,
                              on_probe_timer, &b);
        if (r < 0)
                return log_error_errno(r, "Failed to set up health probe timer: %m");

        if (b.idle_timeout > 0) {
                b.idle_since = now_usec();
                b.idle_timer_at = b.idle_since + b.idle_timeout;
                r = sd_event_add_time(b.event, &b.idle_timer, CLOCK_MONOTONIC, b.idle_timer_at, 0, on_idle, &b);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up idle timer: %m");
        }

        (void) sd_notify(false, "READY=1\nSTATUS=Answering inference requests.");
        r = sd_event_loop(b.event);
        (void) sd_notify(false, "STOPPING=1");
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        curl_global_cleanup();
        return r;
}

DEFINE_MAIN_FUNCTION(run);
