/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "broker-connection.h"
#include "broker-curl.h"
#include "broker-request.h"
#include "log.h"
#include "string-util.h"

/* ---- writing answers ---- */

static int connection_queue(Connection *c, const void *data, size_t size) {
        return buf_append(&c->out, data, size);
}

int response_head(Connection *c, int status, const char *content_type, int64_t content_length, const char *extra) {
        Buf *o = &c->out;
        int r;

        if (c->manager->draining)
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

int response_body(Connection *c, const void *data, size_t size) {
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

int response_end(Connection *c) {
        return c->chunked_out ? connection_queue(c, "0\r\n\r\n", 5) : 0;
}

int connection_respond(Connection *c, int status, const char *content_type, const void *body, size_t size) {
        int r;

        r = response_head(c, status, content_type, (int64_t) size, NULL);
        if (r < 0)
                return r;
        r = connection_queue(c, body, size);
        if (r < 0)
                return r;
        connection_request_done(c);
        return 0;
}

int connection_respond_error(Connection *c, int status, const char *message) {
        _cleanup_free_ char *body = NULL;
        int r;

        r = asprintf_safe(&body, "{\"error\":\"%s\"}\n", message);
        if (r < 0)
                return r;
        return connection_respond(c, status, "application/json", body, strlen(body));
}

/* ---- lifetime ---- */

void connection_set_state(Connection *c, ConnState s) {
        bool was = c->state != CONN_IDLE, is = s != CONN_IDLE;

        c->state = s;
        if (was != is) {
                if (is)
                        c->manager->n_active++;
                else
                        c->manager->n_active--;
                manager_update_idle(c->manager);
        }
}

/* Sets the connection's timeout (0: none). A request on a keep-alive connection, which goes from a
 * keep-alive timeout to none and back to a later one, leaves the timer alone (broker-timeout.h). */
static void connection_arm(Connection *c, usec_t usec) {
        timeout_set(&c->timeout, usec == 0 ? 0 : manager_now(c->manager) + usec);
}

Connection *connection_free(Connection *c) {
        Manager *m;

        if (!c)
                return NULL;
        m = c->manager;
        /* The request learns that its client is gone: its transfer is cancelled and audited. */
        if (c->request)
                request_client_gone(TAKE_PTR(c->request));
        if (c->state != CONN_IDLE)
                m->n_active--;
        /* Events of the batch being handled that are still to come must not reach the freed memory. */
        for (int i = 0; i < m->n_batch; i++)
                if (m->batch[i].data.ptr == c)
                        m->batch[i].data.ptr = NULL;
        if (c->flush_queued)
                for (Connection **q = &m->flush_queue; *q; q = &(*q)->flush_next)
                        if (*q == c) {
                                *q = c->flush_next;
                                break;
                        }
        timeout_done(&c->timeout);
        sd_event_source_disable_unref(c->defer);
        safe_close(c->fd);
        http_parser_done(&c->parser);
        buf_done(&c->in);
        buf_done(&c->out);
        if (c->prev)
                c->prev->next = c->next;
        else
                m->connections = c->next;
        if (c->next)
                c->next->prev = c->prev;
        m->n_connections--;
        return mfree(c);
}

void connection_release(Connection *c) {
        Manager *m;

        if (!c)
                return;
        m = c->manager;
        connection_free(c);
        manager_connection_closed(m);
}

/* Errors a client causes by going away or not reading: not worth more than a debug message. */
static bool error_is_client_side(int error) {
        switch (abs(error)) {
        case 0:
        case EPIPE:
        case ECONNRESET:
        case ENOTCONN:
        case ETIMEDOUT:
        case ENOBUFS: /* its answer did not fit the output buffer: it reads too slowly */
                return true;
        default:
                return false;
        }
}

void connection_drop(Connection *c, int error, const char *why) {
        int level = error_is_client_side(error) ? LOG_DEBUG : LOG_WARNING;

        if (error == 0)
                log_full(level, "Closing connection %d: %s.", c->fd, why);
        else
                log_full_errno(level, error, "Closing connection %d: %s: %m", c->fd, why);
        connection_release(c);
}

/* ---- sending ---- */

int connection_flush(Connection *c) {
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
                connection_arm(c, c->state == CONN_IDLE      ? KEEPALIVE_USEC
                                  : c->state == CONN_READING ? c->manager->request_timeout
                                                             : 0);
        }

        /* A paused upstream transfer resumes once the client has taken most of what is queued. */
        if (c->request && c->request->paused && c->out.size <= OUT_LOW_WATERMARK) {
                request_resume(c->request);
                /* What libcurl held back may have been handed over (and queued) just now. */
                if (c->out.size > 0)
                        return connection_flush(c);
        }
        return 0;
}

void connection_queue_flush(Connection *c) {
        if (c->flush_queued)
                return;
        c->flush_queued = true;
        c->flush_next = c->manager->flush_queue;
        c->manager->flush_queue = c;
}

void manager_flush_queued(Manager *m) {
        while (m->flush_queue) {
                Connection *c = m->flush_queue;
                int r;

                m->flush_queue = c->flush_next;
                c->flush_queued = false;
                c->flush_next = NULL;
                /* A client that cannot take its answer any more is gone: its transfer is cancelled. */
                r = connection_flush(c);
                if (r < 0)
                        connection_drop(c, r, "failed to send the answer");
        }
}

void connection_close_after_flush(Connection *c) {
        int r;

        c->keep_alive = false;
        connection_set_state(c, CONN_CLOSING);
        r = connection_flush(c);
        if (r < 0)
                return connection_drop(c, r, "failed to send the answer");
        if (c->out.size == 0)
                connection_release(c);
}

void connection_request_done(Connection *c) {
        int r;

        c->request = NULL;
        if (!c->keep_alive || c->manager->draining)
                return connection_close_after_flush(c);
        http_parser_reset(&c->parser);
        c->sent_continue = false;
        connection_set_state(c, CONN_IDLE);
        r = connection_flush(c);
        if (r < 0)
                return connection_drop(c, r, "failed to send the answer");
        if (!c->write_stalled)
                connection_arm(c, KEEPALIVE_USEC);
        /* Pipelined bytes, already read or still in the socket (whose edge has passed), and a close seen
         * meanwhile are taken up from a deferred event, not recursively. */
        if (c->in.size > 0 || c->readable || c->hup)
                (void) sd_event_source_set_enabled(c->defer, SD_EVENT_ONESHOT);
}

/* ---- receiving ---- */

/* Refuses what the parser could not take, with its audit event. */
static void connection_refuse(Connection *c, int status, const char *message) {
        int r;

        audit_send(c->manager, NULL, c->parser.req.method, c->parser.req.path, status, message, NULL);
        c->keep_alive = false;
        r = connection_respond_error(c, status, message);
        if (r < 0)
                connection_drop(c, r, "failed to queue the answer");
}

static void connection_process(Connection *c) {
        size_t consumed = 0;
        int r;

        if (c->state != CONN_IDLE && c->state != CONN_READING)
                return;
        if (c->in.size == 0)
                return;
        if (c->state == CONN_IDLE) {
                connection_set_state(c, CONN_READING);
                c->timeout.deadline = 0;
        }

        r = http_parser_feed(&c->parser, c->in.data, c->in.size, &consumed);
        buf_consume(&c->in, consumed);
        if (r < 0) {
                log_debug("Refusing malformed request on connection %d: %d %s", c->fd, c->parser.status,
                          c->parser.error);
                return connection_refuse(c, c->parser.status, c->parser.error);
        }
        if (r == 0) {
                /* The whole head within the timeout, from its first byte (read in this iteration of the
                 * loop); a request that came in one piece needs no timer at all. */
                if (c->timeout.deadline == 0)
                        connection_arm(c, c->manager->request_timeout);
                if (http_parser_head_done(&c->parser) && !c->sent_continue) {
                        /* The head is in: the body gets its own time from now on. */
                        c->sent_continue = true;
                        connection_arm(c, c->manager->request_timeout);
                        if (c->parser.req.expect_continue && c->parser.req.version_minor >= 1) {
                                r = connection_queue(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
                                if (r >= 0)
                                        r = connection_flush(c);
                                if (r < 0)
                                        return connection_drop(c, r, "failed to send 100 Continue");
                        }
                }
                return;
        }

        connection_set_state(c, CONN_BUSY);
        connection_arm(c, 0);
        c->keep_alive = c->parser.req.keep_alive;
        r = request_start(c);
        if (r < 0)
                connection_drop(c, r, "failed to take up the request");
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
        int r;

        if (c->state == CONN_BUSY || c->state == CONN_CLOSING || c->out.size > 0) {
                /* A client that closes (or half-closes) its side while an answer is due counts as gone:
                 * its upstream transfer is cancelled (connection_free()). Otherwise new input waits until
                 * the answer is out. */
                if (c->hup)
                        connection_drop(c, 0, "client closed the connection before its answer was sent");
                return;
        }
        r = connection_receive(c);
        if (r < 0)
                return connection_drop(c, r, "failed to receive");
        if (c->in.size == 0) {
                /* EOF: a partial request is dropped; a complete one would have been parsed already. */
                if (c->eof)
                        connection_drop(c, 0,
                                        c->state == CONN_READING ? "client closed the connection within a request"
                                                                 : "client closed the connection");
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
        int r;

        if (revents & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                c->readable = true;
        if (revents & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                c->hup = true;
        if ((revents & EPOLLOUT) && c->out.size > 0) {
                r = connection_flush(c);
                if (r < 0)
                        return connection_drop(c, r, "failed to send the answer");
                if (c->state == CONN_CLOSING && c->out.size == 0)
                        return connection_release(c);
        }
        connection_run(c);
}

/* Client sockets that are ready, taken in one go (as with libcurl's, on_curl_io()): sd-event would
 * dispatch one per iteration, with an epoll_wait() before each. The requests that arrive together
 * are then handed to libcurl together, in the same iteration. */
#define CONNECTION_EVENTS_BATCH 64

int on_connections_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct epoll_event events[CONNECTION_EVENTS_BATCH];
        Manager *m = userdata;
        int n;

        n = epoll_wait(m->connections_epoll_fd, events, ELEMENTSOF(events), 0);
        if (n < 0) {
                if (errno == EINTR || errno == EAGAIN)
                        return 0;
                return log_error_errno(errno, "Failed to wait for client sockets: %m");
        }
        m->batch = events;
        m->n_batch = n;
        for (int i = 0; i < n; i++)
                if (events[i].data.ptr)
                        connection_event(events[i].data.ptr, events[i].events);
        m->batch = NULL;
        m->n_batch = 0;
        if (m->curl_due)
                manager_run_curl(m);
        return 0;
}

static int on_connection_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Connection *c = userdata;

        if (!timeout_due(&c->timeout, usec))
                return 0;
        if (c->write_stalled)
                connection_drop(c, -ETIMEDOUT, "client does not read its answer");
        else if (c->state == CONN_IDLE || c->state == CONN_CLOSING)
                connection_drop(c, 0, "idle");
        else if (c->state == CONN_READING)
                connection_refuse(c, 408, "request not received in time");
        return 0;
}

/* ---- accepting ---- */

static int connection_new(Manager *m, int fd, Connection **ret) {
        _cleanup_close_ int cfd = fd;
        Connection *c;
        struct ucred cred;
        socklen_t l = sizeof(cred);
        int domain = 0;
        socklen_t dl = sizeof(domain);

        c = calloc(1, sizeof(Connection));
        if (!c)
                return -ENOMEM;
        *c = (Connection) {
                .manager = m,
                .fd = TAKE_FD(cfd),
                .in = BUF_INIT(IN_BUFFER_MAX),
                .out = BUF_INIT(OUT_BUFFER_MAX),
                .next = m->connections,
        };
        http_parser_init(&c->parser);
        if (c->next)
                c->next->prev = c;
        m->connections = c;
        m->n_connections++;

        if (getsockopt(c->fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) >= 0 && domain != AF_UNIX) {
                /* Answers go out in several small writes (head, chunks): without this, Nagle and the
                 * client's delayed ACK add 40 ms to each. */
                int one = 1;
                (void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        } else if (domain == AF_UNIX) {
                c->is_unix = true;
                if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &l) >= 0) {
                        c->have_uid = true;
                        c->uid = cred.uid;
                }
        }
        *ret = c;
        return 0;
}

/* Watches c: edge-triggered and for good, so no epoll_ctl() per request, and an epoll_wait() with many
 * clients waiting to be served does not report (and poll) each of them again. */
static int connection_watch(Connection *c) {
        Manager *m = c->manager;
        int r;

        r = RET_NERRNO(epoll_ctl(m->connections_epoll_fd, EPOLL_CTL_ADD, c->fd,
                                 &(struct epoll_event) {
                                         .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                         .data.ptr = c,
                                 }));
        if (r < 0)
                return r;
        r = timeout_add(&c->timeout, m->event, manager_now(m) + KEEPALIVE_USEC, on_connection_timer, c);
        if (r < 0)
                return r;
        r = sd_event_add_defer(m->event, &c->defer, on_connection_defer, c);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(c->defer, SD_EVENT_OFF);
}

int on_listener_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;

        while (m->n_connections < m->max_connections) {
                Connection *c;
                int cfd, r;

                cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                                return 0;
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                                /* Out of descriptors or memory: stop accepting for a moment instead
                                 * of spinning on a listener that stays readable. */
                                log_warning_errno(errno, "Failed to accept connection, pausing accepts: %m");
                                manager_pause_accepting(m);
                                return 0;
                        }
                        return log_error_errno(errno, "Failed to accept connection: %m");
                }

                r = connection_new(m, cfd, &c);
                if (r < 0)
                        return log_oom();
                m->stats.connections_total++;
                if (m->n_connections == m->max_connections) {
                        log_warning("Connection limit (%u) reached, not accepting more until one closes.",
                                    m->max_connections);
                        m->stats.connections_refused++;
                        manager_listeners_enable(m, false);
                }

                r = connection_watch(c);
                if (r < 0) {
                        connection_drop(c, r, "failed to set up the connection");
                        continue;
                }
                manager_update_idle(m);
        }
        return 0;
}
