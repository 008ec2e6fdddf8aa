/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The agent reached the memory limit of its policy and the kernel's OOM killer killed it: how the
 * supervisor learns it, and the audit event it writes.
 *
 * On the unified hierarchy systemd says so itself (the unit's Result is "oom-kill"). On a cgroup v1
 * memory hierarchy (hybrid hosts) systemd 252 cannot tell an OOM kill from any other SIGKILL, and the
 * agent's cgroup, with the kernel's counter, is gone by the time the supervisor hears the agent ended.
 * So there the supervisor asks the kernel for an OOM notification while the agent runs
 * (cgroup.event_control with memory.oom_control, an eventfd). */

#include <stdint.h>
#include <systemd/sd-event.h>

#include "macro.h"

/* The catalog entry of the event is in units/catalog/openshell.catalog. */
#define SANDBOX_OOM_MESSAGE_ID "e4ff02d814064241b6e2cf5fbc4e3e2b"

typedef struct OomWatch {
        int event_fd;        /* the kernel adds 1 at each OOM of the cgroup, and 1 when it is removed */
        int oom_control_fd;  /* the cgroup's memory.oom_control: readable while the cgroup exists */
        sd_event_source *source;
        uint64_t signals;    /* every count read from event_fd */
        bool oom;            /* an OOM happened in the cgroup */
} OomWatch;

#define OOM_WATCH_NULL ((OomWatch) { .event_fd = -EBADF, .oom_control_fd = -EBADF })

/* True where the watch is needed: the memory controller is on a cgroup v1 hierarchy. */
bool oom_watch_needed(void);

/* Starts watching the cgroup v1 memory cgroup CGROUP (a path below the hierarchy's root, as systemd's
 * ControlGroup property gives it). -EOPNOTSUPP when there is no cgroup v1 memory hierarchy (the unified
 * hierarchy: there systemd reports OOM kills), -ENOENT when the cgroup does not exist (it has no
 * memory controller, or the agent is already gone). */
int oom_watch_start(OomWatch *w, sd_event *e, const char *cgroup);
void oom_watch_done(OomWatch *w);

/* What one wake-up tells: COUNT read from the eventfd, and whether the cgroup still existed after that
 * read. A signal seen while the cgroup exists is an OOM (the removal signal comes after the cgroup is
 * gone); after that, more than one signal in all means an OOM came before the removal. */
void oom_watch_update(OomWatch *w, uint64_t count, bool cgroup_exists);

/* The value of "oom_kill N" in the text of a v1 memory.oom_control file. */
int oom_control_parse_kills(const char *text, uint64_t *ret);

/* The journal fields (MESSAGE_ID, PRIORITY, MESSAGE, OPENSHELL_*) of the audit event: the OOM killer
 * killed the agent's main process (main_killed) or another of its processes. MEMORY_MAX is the unit's
 * MemoryMax= as the supervisor sent it; from_policy says whether the policy set it or it is the
 * default. BINARY (the agent's command) may be NULL. */
typedef struct SandboxOomEvent {
        const char *sandbox;
        const char *agent_unit;
        const char *memory_max;
        bool from_policy;
        bool main_killed;
        uint32_t pid;
        const char *binary;
} SandboxOomEvent;

int sandbox_oom_event_fields(const SandboxOomEvent *ev, char ***ret);
