/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The backends of the routes: runtime health of each backend URL, shared by every route and
 * configuration generation naming it, the choice of a backend for a request, and the circuit breaker.
 *
 * Circuit breaker: BREAKER_FAILURES consecutive failures open the circuit for BREAKER_OPEN_MIN,
 * doubling on each failed trial up to BREAKER_OPEN_MAX; once it expires one trial request is let
 * through (half-open) and its success closes the circuit. */

#include <stdbool.h>
#include <stdint.h>

#include "broker-config.h"
#include "macro.h"
#include "time-util.h"

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
