/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A client connection: accepted from a listening socket, read and parsed (lib/common/http-parser.h),
 * answered, kept alive or closed. Every connection ends in connection_release(): after its answer, or
 * through connection_drop(), which logs once why. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "broker-manager.h"
#include "broker-timeout.h"
#include "buf.h"
#include "http-parser.h"
#include "time-util.h"

#define IN_BUFFER_MAX (64U * 1024U)
#define OUT_BUFFER_MAX (8U * 1024U * 1024U)
/* Above this much unsent data for a client the upstream transfer is paused (slow clients). */
#define OUT_HIGH_WATERMARK (256U * 1024U)
#define OUT_LOW_WATERMARK (64U * 1024U)
#define KEEPALIVE_USEC (60 * USEC_PER_SEC)
#define WRITE_STALL_USEC (60 * USEC_PER_SEC)

typedef enum ConnState {
        CONN_IDLE,    /* keep-alive, no byte of a request yet */
        CONN_READING, /* a request is arriving */
        CONN_BUSY,    /* a request is being answered */
        CONN_CLOSING, /* flush what is queued, then close */
} ConnState;

struct Connection {
        Manager *manager;
        Connection *prev, *next;
        int fd;
        sd_event_source *defer;
        Timeout timeout;
        bool is_unix, have_uid;
        uid_t uid;
        ConnState state;
        HttpParser parser;
        Buf in, out;
        bool sent_continue;
        bool keep_alive;    /* of the current request */
        bool chunked_out;   /* the current response uses chunked encoding */
        bool write_stalled; /* the timer watches a blocked write */
        /* The socket is watched edge-triggered, for input and output at once, so its epoll entry never
         * changes while it lives (see on_connections_io()): what an edge said is kept here until recv()
         * has taken it. */
        bool readable;      /* bytes (or the end) may wait in the socket */
        bool hup;           /* the client closed or half-closed its side */
        bool eof;           /* recv() saw the end */
        /* Answer bytes queued from libcurl's callbacks are sent once libcurl returns, so that a head and
         * the body that came with it leave in one send(). */
        bool flush_queued;
        Connection *flush_next;
        Request *request;
};

/* sd-event handlers of the listening sockets and of the epoll set of the client sockets. */
int on_listener_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);
int on_connections_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/* The destructor: unregisters c from its manager and aborts its request. Accepts NULL. */
Connection *connection_free(Connection *c);
/* Closes c when it is done with (after its answer, or given up): frees it and lets the manager accept
 * again and check for idleness. */
void connection_release(Connection *c);
/* Drops c before its answer is complete, and logs once why (error: a negative errno, or 0; at debug
 * level when the client caused it). */
void connection_drop(Connection *c, int error, const char *why);

void connection_set_state(Connection *c, ConnState s);
int connection_flush(Connection *c);
/* Sends what libcurl's callbacks queued for c once libcurl has returned (manager_flush_queued()). */
void connection_queue_flush(Connection *c);
void manager_flush_queued(Manager *m);
/* The answer to the current request is queued: go on with the next one, or close. c may be gone
 * afterwards. */
void connection_request_done(Connection *c);
/* The answer is cut short: send what is queued, then close. c may be gone afterwards. */
void connection_close_after_flush(Connection *c);

/* Writing an answer: a head (content_length -1: chunked, or close-delimited for HTTP/1.0), pieces of
 * its body, its end. Each returns -ENOBUFS when the output buffer is full. */
int response_head(Connection *c, int status, const char *content_type, int64_t content_length, const char *extra);
int response_body(Connection *c, const void *data, size_t size);
int response_end(Connection *c);
/* A complete answer made by the broker itself (errors, /healthz, /metrics), then the next request.
 * On failure c is left as it was, for the caller to drop. */
int connection_respond(Connection *c, int status, const char *content_type, const void *body, size_t size);
int connection_respond_error(Connection *c, int status, const char *message);
