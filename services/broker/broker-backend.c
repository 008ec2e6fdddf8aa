/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "broker-backend.h"
#include "string-util.h"

void router_done(Router *r) {
        while (r->backends) {
                BackendState *b = r->backends;
                r->backends = b->next;
                free(b->url);
                free(b);
        }
        r->n_backends = 0;
}

static BackendState *router_get(Router *r, const char *url) {
        BackendState *b;

        for (b = r->backends; b; b = b->next)
                if (streq(b->url, url))
                        return b;
        b = calloc(1, sizeof(BackendState));
        if (!b)
                return NULL;
        b->url = strdup(url);
        if (!b->url) {
                free(b);
                return NULL;
        }
        b->next = r->backends;
        r->backends = b;
        r->n_backends++;
        return b;
}

int router_attach(Router *r, BrokerConfig *c) {
        for (size_t i = 0; i < c->n_routes; i++)
                for (size_t j = 0; j < c->routes[i].n_backends; j++) {
                        RouteBackend *rb = &c->routes[i].backends[j];
                        rb->state = router_get(r, rb->url);
                        if (!rb->state)
                                return -ENOMEM;
                }
        return 0;
}

bool backend_circuit_open(const BackendState *b, usec_t now) {
        return b->open_until != 0 && (now < b->open_until || b->trial_in_flight);
}

int route_pick_backend(Router *router, const Route *route, usec_t now, const bool *tried, size_t *ret) {
        size_t best = SIZE_MAX, n_best = 0;
        uint64_t best_load = UINT64_MAX;

        for (size_t i = 0; i < route->n_backends; i++) {
                const RouteBackend *rb = &route->backends[i];
                uint64_t load;

                if ((tried && tried[i]) || !rb->state || backend_circuit_open(rb->state, now))
                        continue;
                /* outstanding / weight, compared without division */
                load = (uint64_t) rb->state->outstanding * 1000000U / rb->weight;
                if (load < best_load) {
                        best_load = load;
                        best = i;
                        n_best = 1;
                } else if (load == best_load) {
                        /* Ties rotate, so idle backends share the work. */
                        n_best++;
                        if ((router->rr % n_best) == 0)
                                best = i;
                }
        }
        if (best == SIZE_MAX)
                return -EHOSTUNREACH;
        router->rr++;
        *ret = best;
        return 0;
}

void backend_begin(BackendState *b, usec_t now) {
        b->outstanding++;
        b->n_requests++;
        if (b->open_until != 0 && now >= b->open_until)
                b->trial_in_flight = true; /* half-open: this request is the trial */
}

void backend_end(BackendState *b, bool ok, usec_t now) {
        bool was_trial = b->trial_in_flight;

        if (b->outstanding > 0)
                b->outstanding--;
        b->trial_in_flight = false;
        if (ok) {
                b->consecutive_failures = 0;
                b->open_until = 0;
                b->open_for = 0;
                return;
        }
        b->n_failures++;
        b->consecutive_failures++;
        if (was_trial || b->consecutive_failures >= BREAKER_FAILURES) {
                b->open_for = b->open_for == 0 ? BREAKER_OPEN_MIN : MIN(b->open_for * 2, BREAKER_OPEN_MAX);
                b->open_until = now + b->open_for;
        }
}

bool backend_wants_probe(const BackendState *b) {
        return b->open_until != 0 && !b->probing;
}

void backend_probe_result(BackendState *b, bool alive, usec_t now) {
        b->probing = false;
        b->n_probes++;
        if (alive) {
                b->consecutive_failures = 0;
                b->open_until = 0;
                b->open_for = 0;
                return;
        }
        if (b->open_until != 0)
                b->open_until = MAX(b->open_until, now + b->open_for);
}
