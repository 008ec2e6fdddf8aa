/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* A timeout whose deadline moves often (with each request on a keep-alive connection, with each piece
 * of a stream) but whose timer is reprogrammed only when the deadline comes earlier: a later deadline
 * is taken up when the timer fires. Inline, as it is on the path of every request and answer piece. */

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "time-util.h"

typedef struct Timeout {
        sd_event_source *timer; /* a CLOCK_MONOTONIC time source */
        usec_t deadline;        /* 0: none */
        usec_t timer_at;        /* when the timer fires (0: off) */
} Timeout;

/* Sets the deadline (0: none), moving the timer only if it comes earlier. */
static inline void timeout_set(Timeout *t, usec_t deadline) {
        t->deadline = deadline;
        if (deadline == 0 || (t->timer_at != 0 && t->timer_at <= deadline))
                return;
        t->timer_at = deadline;
        (void) sd_event_source_set_time(t->timer, t->timer_at);
        (void) sd_event_source_set_enabled(t->timer, SD_EVENT_ONESHOT);
}

/* For the timer's handler, which fired at usec: true if the deadline has come; if it moved on since the
 * timer was set, the timer is set again for it. */
static inline bool timeout_due(Timeout *t, usec_t usec) {
        t->timer_at = 0;
        if (t->deadline == 0)
                return false;
        if (usec < t->deadline) {
                timeout_set(t, t->deadline);
                return false;
        }
        return true;
}

/* Creates the timer, due at deadline. */
static inline int timeout_add(Timeout *t, sd_event *e, usec_t deadline, sd_event_time_handler_t handler,
                              void *userdata) {
        t->deadline = t->timer_at = deadline;
        return sd_event_add_time(e, &t->timer, CLOCK_MONOTONIC, deadline, 0, handler, userdata);
}

static inline void timeout_done(Timeout *t) {
        t->timer = sd_event_source_disable_unref(t->timer);
        t->deadline = t->timer_at = 0;
}
