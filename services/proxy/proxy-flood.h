/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Keeps a flood of denials out of the journal without losing their count: per destination host, the
 * first `burst` denials of a period are recorded one by one, the rest only counted; at the end of the
 * period the daemon writes one "N more denials to HOST suppressed" entry per host that had some. The
 * table is bounded: hosts beyond `max_hosts` share one "other hosts" counter. Pure; the daemon owns the
 * timer. */

#include <stdint.h>

#include "macro.h"

typedef struct FloodHost {
        char *host;
        unsigned recorded;    /* denials recorded individually this period */
        uint64_t suppressed;  /* denials only counted this period */
} FloodHost;

typedef struct FloodLimiter {
        unsigned burst;
        size_t max_hosts;
        FloodHost *hosts;
        size_t n_hosts;
        uint64_t other_suppressed; /* for hosts that found the table full */
} FloodLimiter;

typedef struct FloodSummary {
        char *host; /* NULL: "other hosts" */
        uint64_t suppressed;
} FloodSummary;

#define FLOOD_LIMITER_INIT(b, m) ((FloodLimiter) { .burst = (b), .max_hosts = (m) })

void flood_limiter_done(FloodLimiter *l);
/* 1 if this denial to host is to be recorded, 0 if it was counted as suppressed, -ENOMEM. */
int flood_admit(FloodLimiter *l, const char *host);
/* Ends the period: returns the hosts with suppressed denials (each count moved out exactly once) and
 * forgets every host. *ret is NULL when there is nothing to report. */
int flood_end_period(FloodLimiter *l, FloodSummary **ret, size_t *ret_n);
void flood_summaries_free(FloodSummary *s, size_t n);
