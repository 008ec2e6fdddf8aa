/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* One request from its parsed head to its audit event: the broker's own endpoints, the checks (caller,
 * endpoint, configuration, body, route, concurrency), the upstream transfer with failover, the answer
 * streamed back, and the journal entry. */

#include <curl/curl.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "broker-endpoint.h"
#include "broker-manager.h"
#include "broker-timeout.h"
#include "broker-usage.h"
#include "buf.h"
#include "time-util.h"

#define RESPONSE_SIZE_MAX (32U * 1024U * 1024U)
#define USAGE_JSON_MAX (4U * 1024U * 1024U)
#define CONNECT_TIMEOUT_MS 5000L

struct Request {
        Connection *conn;
        Manager *manager;
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
        Timeout timeout;    /* the route's until the answer's head, then the stream's idle timeout */
        char error[CURL_ERROR_SIZE];
};

/* Takes up the request c's parser holds. On failure (< 0) c is as it was, for the caller to drop; on
 * success c may be gone already (answered and closed). */
int request_start(Connection *c);
/* The client went away (its connection is being freed): the transfer is cancelled and audited. */
void request_client_gone(Request *r);
/* The client took most of what was queued: the paused transfer goes on. */
void request_resume(Request *r);
/* libcurl ended the current attempt (a CURLcode), or the broker did (a negative errno). */
void request_finish(Request *r, int result);

/* Sends the audit event of a request (r NULL: refused before it became one) and counts it. */
void audit_send(Manager *m, const Request *r, const char *method, const char *path, int status,
                const char *reason, const char *caller);
