/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The agent reached the task limit of its policy (TasksMax=): fork() and clone() fail with EAGAIN in
 * the agent, which may or may not say so. The kernel counts each refusal in the cgroup's pids.events
 * ("max N"); systemd does not report it, and the counter goes with the cgroup when the agent ends. So
 * the supervisor reads it while the agent runs, every TASKS_WATCH_INTERVAL_USEC (cgroup v1 gives no
 * change notification for it), and writes an audit event when it grows: at once the first time, then
 * at most once per TASKS_WATCH_REPORT_INTERVAL_USEC with the refusals since. */

#include <stdint.h>
#include <systemd/sd-event.h>

#include "macro.h"

/* The catalog entry of the event is in units/catalog/openshell.catalog. */
#define SANDBOX_TASKS_MESSAGE_ID "2e6f1bf94ee94e3b8b66c3a3dcf7bee3"

#define TASKS_WATCH_INTERVAL_USEC (2 * 1000000ULL)
#define TASKS_WATCH_REPORT_INTERVAL_USEC (60 * 1000000ULL)

typedef struct TasksWatch {
        int events_fd;       /* the agent's pids.events */
        sd_event_source *timer;
        uint64_t refused;    /* "max N" at the last read */
        uint64_t reported;   /* refusals covered by events written so far */
        uint64_t last_report_usec;
        /* what the event says */
        const char *sandbox;
        const char *agent_unit;
        const char *tasks_max;
        bool from_policy;
} TasksWatch;

#define TASKS_WATCH_NULL ((TasksWatch) { .events_fd = -EBADF })

/* Starts watching the pids cgroup CGROUP (as systemd's ControlGroup property gives it), found in the
 * unified hierarchy or the cgroup v1 pids hierarchy. -ENOENT when neither has it (no pids controller). */
int tasks_watch_start(TasksWatch *w, sd_event *e, const char *cgroup);
/* Reads the counter now and writes the event if it grew and one is due (FORCE: due whatever the time). */
void tasks_watch_check(TasksWatch *w, uint64_t now_usec, bool force);
void tasks_watch_done(TasksWatch *w);

/* The value of "max N" in the text of a pids.events file. */
int pids_events_parse_max(const char *text, uint64_t *ret);

/* The journal fields of the event: REFUSED forks since the last event, TOTAL in all. */
int sandbox_tasks_event_fields(const TasksWatch *w, uint64_t refused, uint64_t total, char ***ret);
