/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* libcurl's multi socket API on the manager's sd-event loop (curl's ephiperfifo.c, with sd-event): no
 * thread per request, no curl_easy_perform(). */

#include <curl/curl.h>
#include <stdint.h>

#include "broker-manager.h"

/* A backend connection's socket, by descriptor (Manager.curl_sockets): whether it is in the epoll set
 * of libcurl's sockets. An idle connection in libcurl's cache stays in the set ("parked"), so that a
 * request reusing it costs no epoll_ctl() (libcurl stops watching a socket after each transfer and
 * starts again with the next). Only sockets seen opened (curl_sockopt_cb()) are parked: their close
 * is seen too (curl_closesocket_cb()), so a descriptor number used again cannot be taken for one
 * still in the set. */
typedef enum CurlSocketState {
        CURL_SOCKET_UNKNOWN, /* not seen opened, or closed */
        CURL_SOCKET_OPEN,    /* a backend connection, not in the set */
        CURL_SOCKET_WATCHED, /* in the set, watched by libcurl */
        CURL_SOCKET_PARKED,  /* in the set, not watched by libcurl: an idle connection */
} CurlSocketState;

struct CurlSocket {
        uint8_t state;   /* CurlSocketState */
        uint32_t events; /* in the set with these */
};

/* Runs libcurl's due work (new transfers, its timeouts) and sends what its callbacks queued. */
void manager_run_curl(Manager *m);

/* A transfer handle, from the pool of finished ones if it holds one; NULL when out of memory. */
CURL *manager_easy_get(Manager *m);
/* Gives a handle back: reset into the pool, or cleaned up when the pool is full. */
void manager_easy_put(Manager *m, CURL *easy);
/* What every transfer of the broker has: url, the socket callbacks, http(s) only, no proxy from the
 * environment (the broker talks to its backends directly), no signals. */
void manager_easy_setup(Manager *m, CURL *easy, const char *url);

/* Ends what manager_setup_curl() began; after the transfers are gone. */
void manager_done_curl(Manager *m);
