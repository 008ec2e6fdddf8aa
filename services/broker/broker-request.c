/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <strings.h>
#include <systemd/sd-journal.h>

#include "broker-body.h"
#include "broker-caller.h"
#include "broker-connection.h"
#include "broker-curl.h"
#include "broker-request.h"
#include "broker-route.h"
#include "broker-upstream.h"
#include "json-util.h"
#include "log.h"
#include "string-util.h"

/* ---- audit ---- */

void audit_send(Manager *m, const Request *r, const char *method, const char *path, int status,
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
                a.latency = now(CLOCK_MONOTONIC) - r->start;
                a.ttfb = r->first_byte > r->start ? r->first_byte - r->start : 0;
        }
        broker_stats_count_answer(&m->stats, status, a.usage);

        k = audit_format(&a, &m->audit);
        if (k < 0)
                return (void) log_error_errno(k, "Failed to format audit event: %m");
        k = sd_journal_sendv(m->audit.iov, (int) m->audit.n_fields);
        if (k < 0)
                log_debug_errno(k, "Failed to send audit event to the journal, ignoring: %m");
        /* MESSAGE is the third field. */
        log_debug("%.*s", (int) m->audit.iov[2].iov_len - 8, (const char *) m->audit.iov[2].iov_base + 8);
}

/* ---- lifetime ---- */

static Request *request_free(Request *r) {
        Manager *m;

        if (!r)
                return NULL;
        m = r->manager;
        if (r->easy) {
                if (r->in_multi)
                        curl_multi_remove_handle(m->multi, r->easy);
                manager_easy_put(m, r->easy);
        }
        if (r->caller_counted)
                caller_release(&m->callers, r->identity);
        for (struct curl_slist *l = r->headers; l; l = l->next)
                explicit_bzero(l->data, strlen(l->data)); /* one of them is the credential */
        curl_slist_free_all(r->headers);
        timeout_done(&r->timeout);
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
        m->n_requests--;
        manager_update_idle(m);
        return mfree(r);
}

static int request_new(Connection *c, Request **ret) {
        Manager *m = c->manager;
        Request *r;

        r = calloc(1, sizeof(Request));
        if (!r)
                return -ENOMEM;
        *r = (Request) {
                .conn = c,
                .manager = m,
                .start = now(CLOCK_MONOTONIC),
                .json = BUF_INIT(USAGE_JSON_MAX),
                .extra = BUF_INIT(4096),
        };
        sse_scanner_init(&r->scanner);
        m->n_requests++;
        r->method = strdup(c->parser.req.method);
        r->path = strdup(c->parser.req.path);
        if (!r->method || !r->path) {
                request_free(r);
                return -ENOMEM;
        }
        *ret = r;
        return 0;
}

/* Answers a request that never reached a backend, with its audit event. On failure the connection is
 * left for the caller to drop. */
static int request_refuse(Request *r, int status, const char *message) {
        Connection *c = r->conn;

        audit_send(r->manager, r, r->method, r->path, status, message, r->identity);
        c->request = NULL;
        r->conn = NULL;
        request_free(r);
        return connection_respond_error(c, status, message);
}

/* ---- taking a request up ---- */

static int request_metrics(Connection *c) {
        _cleanup_(buf_done) Buf o = BUF_INIT(METRICS_SIZE_MAX);
        Manager *m = c->manager;
        BrokerGauges g = {
                .requests_in_flight = m->n_requests,
                .connections = m->n_connections,
        };

        if (metrics_format(&m->stats, &g, &m->router, now(CLOCK_MONOTONIC), &o) < 0)
                return connection_respond_error(c, 500, "metrics too large");
        return connection_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", o.data, o.size);
}

static bool request_is(const HttpRequest *req, const char *method, const char *path) {
        size_t l = strlen(path);

        return streq(req->method, method) && strneq(req->path, path, l) &&
               (req->path[l] == 0 || req->path[l] == '?');
}

/* The provider's header lines, as libcurl takes them. The lines held the credential: they are erased. */
static int request_set_headers(Request *r, const HttpRequest *req) {
        _cleanup_strv_free_ char **lines = NULL;
        int k;

        k = upstream_headers(r->route->provider, req, &lines);
        if (k < 0)
                return k;
        STRV_FOREACH(l, lines) {
                struct curl_slist *n = curl_slist_append(r->headers, *l);

                if (!n) {
                        k = -ENOMEM;
                        break;
                }
                r->headers = n;
        }
        STRV_FOREACH(l, lines)
                explicit_bzero(*l, strlen(*l));
        return k < 0 ? k : 0;
}

static int request_attempt(Request *r);

int request_start(Connection *c) {
        _cleanup_(json_object_putp) json_object *body = NULL;
        Manager *m = c->manager;
        HttpRequest *req = &c->parser.req;
        Request *r;
        int k;

        if (request_is(req, "GET", "/healthz"))
                return connection_respond(c, 200, "application/json", "{\"status\":\"ok\"}\n", 16);
        if (request_is(req, "GET", "/metrics"))
                return request_metrics(c);

        k = request_new(c, &r);
        if (k < 0)
                return k;
        c->request = r;

        k = broker_caller_identity(c->have_uid, c->uid, req, broker_user_lookup_dynamic, &r->identity,
                                   &r->is_sandbox);
        if (k == -EBADMSG)
                return request_refuse(r, 400, "invalid X-OpenShell-Sandbox header");
        if (k < 0)
                return k;

        if (inference_classify(req->method, req->path, &r->protocol) < 0)
                return request_refuse(r, 403, "connection not allowed by policy");

        manager_maybe_reload(m);
        if (m->config_invalid)
                return request_refuse(r, 503, "inference configuration is invalid");
        r->config = broker_config_ref(m->config);
        if (streq(req->method, "POST")) {
                k = request_body_parse(req->body.data ?: "", req->body.size, &body);
                if (k < 0)
                        return request_refuse(r, 400, "request body is not a JSON object");
        }
        r->route = route_choose(r->config, http_request_header(req, "Host"), body ? request_body_model(body) : NULL);
        if (!r->route)
                return request_refuse(r, 400, "no inference route configured");
        if (!provider_supports(r->route->provider->type, r->protocol))
                return request_refuse(r, 400, "no compatible inference route available");

        if (body && request_body_unchanged(body, req->body.data, req->body.size, r->route->model)) {
                /* The parser keeps the body until the connection's next request, after this one. */
                r->upload = req->body.data;
                r->upload_size = req->body.size;
        } else if (body) {
                k = request_body_rewrite(body, r->route->model, &r->body, &r->upload_size);
                if (k < 0)
                        return k;
                r->upload = r->body;
        }

        k = caller_acquire(&m->callers, r->identity, r->route->max_concurrency_per_sandbox);
        if (k == -EBUSY)
                return request_refuse(r, 429, "too many concurrent inference requests");
        if (k < 0)
                return k;
        r->caller_counted = true;

        k = request_set_headers(r, req);
        if (k < 0)
                return k;

        r->tried = calloc(r->route->n_backends, sizeof(bool));
        if (!r->tried)
                return -ENOMEM;
        /* From here on the request ends through request_finish(), which answers the client. */
        (void) request_attempt(r);
        return 0;
}

/* ---- the upstream transfer ---- */

/* Moves the request's timeout (a stream pushes its idle timeout on with every piece). */
static void request_arm(Request *r, usec_t usec) {
        timeout_set(&r->timeout, manager_now(r->manager) + usec);
}

static int on_request_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Request *r = userdata;

        if (!timeout_due(&r->timeout, usec))
                return 0;

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
                            !backend_circuit_open(r->route->backends[i].state, manager_now(r->manager))) {
                                r->retry = true;
                                return 0;
                        }

        r->first_byte = now(CLOCK_MONOTONIC);
        r->sse = r->content_type && strncasecmp(r->content_type, "text/event-stream", 17) == 0;
        if (r->sse)
                (void) buf_printf(&r->extra, "Cache-Control: no-cache\r\n");
        if (buf_terminate(&r->extra) < 0)
                return 0;
        if (response_head(c, (int) status, r->content_type ?: "application/octet-stream", -1,
                          r->extra.size > 0 ? r->extra.data : NULL) < 0)
                return 0;
        r->head_sent = true;
        request_arm(r, r->manager->stream_idle_timeout);
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
                r->manager->stats.pauses++;
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
        request_arm(r, r->manager->stream_idle_timeout);
        /* Small pieces wait for the end of libcurl's run (manager_flush_queued()); a lot of data goes at
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
        Manager *m = r->manager;
        const RouteBackend *rb;
        _cleanup_free_ char *url = NULL;
        size_t i;
        int k;

        k = route_pick_backend(&m->router, r->route, manager_now(m), r->tried, &i);
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
                m->stats.failovers++;
        r->status = 0;
        r->retry = false;

        if (upstream_url(rb->url, r->path, &url) < 0) {
                request_finish(r, -ENOMEM);
                return -ENOMEM;
        }
        if (r->easy) {
                if (r->in_multi)
                        curl_multi_remove_handle(m->multi, r->easy);
                r->in_multi = false;
                curl_easy_reset(r->easy);
        } else
                r->easy = manager_easy_get(m);
        if (!r->easy) {
                request_finish(r, -ENOMEM);
                return -ENOMEM;
        }

        manager_easy_setup(m, r->easy, url);
        (void) curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
        (void) curl_easy_setopt(r->easy, CURLOPT_FOLLOWLOCATION, 0L);
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

        if (!r->timeout.timer) {
                k = timeout_add(&r->timeout, m->event, manager_now(m) + (usec_t) r->route->timeout_sec * USEC_PER_SEC,
                                on_request_timer, r);
                if (k < 0) {
                        request_finish(r, -ENOMEM);
                        return k;
                }
        }

        backend_begin(rb->state, manager_now(m));
        r->backend_counted = true;
        if (curl_multi_add_handle(m->multi, r->easy) != CURLM_OK) {
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

/* The broker's answer when no backend gave one: nobody reachable is "unavailable"; a backend that
 * answered garbage or hung up is an "error" (the two router errors of openshell/SPEC.md §2.9); no
 * answer within the route's timeout is a timeout. */
static int request_failure_status(const Request *r, int result) {
        if (result == -EHOSTUNREACH && r->attempts == 0)
                return 503;
        if (r->timed_out)
                return 504;
        switch (r->last_result) {
        case 0:
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_SSL_CONNECT_ERROR:
                return 503;
        default:
                return 502;
        }
}

static const char *request_failure_message(const Request *r, int result) {
        switch (request_failure_status(r, result)) {
        case 503:
                return "inference service unavailable";
        case 504:
                return "inference service timed out";
        default:
                return "inference service error";
        }
}

/* Ends the current attempt with a curl result (or a negative errno of ours); retries on another backend
 * while the client has not seen a byte, else completes the answer and the audit event. */
void request_finish(Request *r, int result) {
        Connection *c = r->conn;
        Manager *m = r->manager;
        bool ok = result == CURLE_OK && r->status > 0 && r->status < 500;
        bool attempt_failed = !ok && !r->client_gone;
        int k;

        if (r->easy && r->in_multi) {
                curl_multi_remove_handle(m->multi, r->easy);
                r->in_multi = false;
        }
        if (r->backend_counted) {
                BackendState *s = r->route->backends[r->backend].state;
                r->backend_counted = false;
                /* A cancelled client says nothing about the backend's health. */
                if (r->client_gone && !r->retry)
                        s->outstanding = s->outstanding > 0 ? s->outstanding - 1 : 0;
                else
                        backend_end(s, !attempt_failed, manager_now(m));
                if (attempt_failed)
                        m->stats.upstream_errors++;
        }

        if (r->client_gone || !c) {
                audit_send(m, r, r->method, r->path, r->head_sent ? r->status : 499, "client closed the connection",
                           r->identity);
                if (c)
                        c->request = NULL;
                request_free(r);
                /* The client could not take its answer (on_upstream_data()). */
                if (c)
                        connection_drop(c, 0, "client does not take its answer");
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
                k = request_refuse(r, request_failure_status(r, result), request_failure_message(r, result));
                if (k < 0)
                        connection_drop(c, k, "failed to queue the answer");
                return;
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
                        audit_send(m, r, r->method, r->path, r->status, "upstream answer interrupted", r->identity);
                        c->request = NULL;
                        request_free(r);
                        return connection_close_after_flush(c);
                }
                (void) response_body(c, sse_error, sizeof(sse_error) - 1);
        }
        k = response_end(c);
        if (k < 0)
                return connection_drop(c, k, "failed to queue the end of the answer");
        /* The client first, the journal after: the audit event is not on the answer's path. A client
         * gone meanwhile is noticed by connection_request_done(). */
        (void) connection_flush(c);
        audit_send(m, r, r->method, r->path, r->status, result != CURLE_OK ? "upstream stream interrupted" : NULL,
                   r->identity);
        c->request = NULL;
        r->conn = NULL;
        request_free(r);
        connection_request_done(c);
}


void request_client_gone(Request *r) {
        r->client_gone = true;
        r->conn = NULL;
        request_finish(r, CURLE_ABORTED_BY_CALLBACK);
}

void request_resume(Request *r) {
        r->paused = false;
        (void) curl_easy_pause(r->easy, CURLPAUSE_CONT);
}
