/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The broker's state: one Manager per process, on one sd-event loop (no threads). What each part does
 * with it is in its own file:
 *   broker-manager.c     setup, configuration, listening sockets, idle exit, signals and draining
 *   broker-connection.c  client connections: accept, read, parse, write, timeouts, release
 *   broker-request.c     one request: checks, routing, the upstream transfer, streaming, audit
 *   broker-curl.c        libcurl's multi socket API on the loop
 *   broker-health.c      health probes of backends whose circuit is open
 *   broker-metrics.c     the counters, and GET /metrics */

#include <curl/curl.h>
#include <sys/epoll.h>
#include <systemd/sd-event.h>

#include "broker-audit.h"
#include "broker-backend.h"
#include "broker-caller.h"
#include "broker-config.h"
#include "broker-metrics.h"
#include "time-util.h"

typedef struct Connection Connection;
typedef struct CurlSocket CurlSocket;
typedef struct Probe Probe;
typedef struct Request Request;

#define CONNECTIONS_MAX_DEFAULT 4096U
#define IDLE_TIMEOUT_DEFAULT (120 * USEC_PER_SEC)
#define REQUEST_TIMEOUT_DEFAULT (10 * USEC_PER_SEC)
#define STREAM_IDLE_TIMEOUT_DEFAULT (120 * USEC_PER_SEC)
/* Finished transfer handles kept for reuse (curl_easy_init() is a dozen allocations). */
#define EASY_POOL_MAX 64U

typedef struct Manager {
        sd_event *event;

        /* settings (command line) */
        char *config_dir, *credentials_dir;
        const char *credential_prefix;
        usec_t idle_timeout, request_timeout, stream_idle_timeout;
        unsigned max_connections;

        /* configuration */
        BrokerConfig *config;
        bool config_invalid;
        uint64_t config_stamp;
        usec_t config_checked;
        Router router;
        CallerTable callers;

        /* listening sockets and client connections (broker-connection.c) */
        sd_event_source **listeners;
        size_t n_listeners;
        sd_event_source *accept_retry;
        sd_event_source *connections_io;
        int connections_epoll_fd;  /* the client sockets (see on_connections_io()) */
        struct epoll_event *batch; /* the client events being handled, and how many */
        int n_batch;
        Connection *connections;
        Connection *flush_queue;
        unsigned n_connections, n_active;
        unsigned n_requests;

        /* idle exit and stopping */
        sd_event_source *idle_timer;
        usec_t idle_since;    /* when the last request ended (0: one is in progress) */
        usec_t idle_timer_at; /* when the idle timer fires (0: off) */
        bool draining;

        /* libcurl (broker-curl.c) */
        bool curl_initialized;
        CURLM *multi;
        sd_event_source *curl_timer, *curl_now, *curl_io;
        int curl_epoll_fd;        /* libcurl's sockets (see curl_socket_cb()) */
        CurlSocket *curl_sockets; /* by descriptor */
        size_t n_curl_sockets;
        bool curl_due;            /* libcurl asked to be run at once */
        CURL *easy_pool[EASY_POOL_MAX];
        size_t n_easy_pool;

        /* health probes (broker-health.c) */
        sd_event_source *probe_timer;
        Probe *probes;

        BrokerStats stats;
        AuditEntry audit; /* reused by every event */
} Manager;

int manager_new(Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* The steps of run() (broker.c), in this order. They return a negative errno for run() to log;
 * manager_load_config() logs what is wrong with the files itself (it also runs on reloads). */
int manager_setup_event(Manager *m);
int manager_setup_curl(Manager *m);
int manager_load_config(Manager *m);
/* -ENXIO: no socket passed (the broker is socket-activated only). */
int manager_listen(Manager *m);
int manager_start_probes(Manager *m);
int manager_start_idle_timer(Manager *m);
int manager_run(Manager *m);

/* Reloads the configuration if one of its files changed (checked at most once a second). */
void manager_maybe_reload(Manager *m);
/* Called as requests and connections come and go: arms the idle exit, ends a drain. */
void manager_update_idle(Manager *m);
/* A connection closed: accept again if the limit held the listeners off. */
void manager_connection_closed(Manager *m);
void manager_listeners_enable(Manager *m, bool enable);
/* Out of descriptors or memory: the listeners rest for a moment. */
void manager_pause_accepting(Manager *m);

/* When the loop woke up: precise enough for timeouts of seconds, and no clock read. What is measured
 * (latency, time to first byte) uses now(CLOCK_MONOTONIC). */
static inline usec_t manager_now(Manager *m) {
        uint64_t n;

        if (sd_event_now(m->event, CLOCK_MONOTONIC, &n) < 0)
                return now(CLOCK_MONOTONIC);
        return n;
}
