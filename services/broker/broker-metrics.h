/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the broker counts, and GET /metrics: the counts in Prometheus' text format. */

#include <stdint.h>

#include "broker-backend.h"
#include "broker-usage.h"
#include "buf.h"
#include "time-util.h"

#define METRICS_SIZE_MAX (1024U * 1024U)

typedef struct BrokerStats {
        uint64_t status_counts[600]; /* answers, by HTTP status */
        uint64_t tokens_in, tokens_out;
        uint64_t failovers, upstream_errors, pauses;
        uint64_t connections_total, connections_refused;
        uint64_t config_reloads, config_errors;
} BrokerStats;

/* Counts one audited answer: its status and the tokens the backend reported. */
static inline void broker_stats_count_answer(BrokerStats *s, int status, TokenUsage usage) {
        if (status > 0 && status < (int) ELEMENTSOF(s->status_counts))
                s->status_counts[status]++;
        if (usage.in > 0)
                s->tokens_in += (uint64_t) usage.in;
        if (usage.out > 0)
                s->tokens_out += (uint64_t) usage.out;
}

/* The gauges besides the counters: what is open or in flight at the time of the scrape. */
typedef struct BrokerGauges {
        unsigned requests_in_flight;
        unsigned connections;
} BrokerGauges;

/* Appends the exposition to o: -ENOBUFS when it does not fit below o->max, -ENOMEM. */
int metrics_format(const BrokerStats *s, const BrokerGauges *g, const Router *router, usec_t now, Buf *o);
