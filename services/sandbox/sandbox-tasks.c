/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <inttypes.h>
#include <syslog.h>

#include "log.h"
#include "sandbox-tasks.h"
#include "parse-util.h"
#include "string-util.h"

#define PIDS_EVENTS_SIZE_MAX 64

int pids_events_parse_max(const char *text, uint64_t *ret) {
        return parse_keyed_u64(text, "max", ret);
}

int sandbox_tasks_event_fields(const TasksWatch *w, uint64_t refused, uint64_t total, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *limit = NULL;
        int r;

        if (w->from_policy)
                r = asprintf_safe(&limit, "TasksMax=%s of its policy (x-openshell.resources.tasks_max)", w->tasks_max);
        else
                r = asprintf_safe(&limit, "TasksMax=%s, the default for a policy without x-openshell.resources.tasks_max",
                                  w->tasks_max);
        if (r < 0)
                return r;

        if (strv_extend(&l, "MESSAGE_ID=" SANDBOX_TASKS_MESSAGE_ID) < 0 ||
            strv_extendf(&l, "PRIORITY=%d", LOG_WARNING) < 0 ||
            strv_extendf(&l, "MESSAGE=Agent %s reached %s: %" PRIu64 " new process%s refused (%" PRIu64 " in all).",
                         w->agent_unit, limit, refused, refused == 1 ? " was" : "es were", total) < 0 ||
            strv_extendf(&l, "OPENSHELL_SANDBOX=%s", w->sandbox) < 0 ||
            strv_extend(&l, "OPENSHELL_EVENT=process") < 0 ||
            strv_extend(&l, "OPENSHELL_DECISION=deny") < 0 ||
            strv_extend(&l, "OPENSHELL_POLICY=x-openshell.resources.tasks_max") < 0 ||
            strv_extendf(&l, "OPENSHELL_REASON=tasks-max: %" PRIu64 " fork/clone refused at TasksMax=%s", refused,
                         w->tasks_max) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

static void tasks_watch_report(TasksWatch *w, uint64_t now_usec) {
        _cleanup_strv_free_ char **fields = NULL;
        uint64_t refused = w->refused - w->reported;

        w->reported = w->refused;
        w->last_report_usec = now_usec;
        if (sandbox_tasks_event_fields(w, refused, w->refused, &fields) < 0)
                return (void) log_oom();
        (void) log_journal_fields(LOG_WARNING, fields);
}

void tasks_watch_check(TasksWatch *w, uint64_t now_usec, bool force) {
        char text[PIDS_EVENTS_SIZE_MAX];
        uint64_t max;
        ssize_t n;

        if (w->events_fd < 0)
                return;
        n = pread(w->events_fd, text, sizeof(text) - 1, 0);
        if (n < 0)
                return; /* the cgroup is gone with the agent */
        text[n] = '\0';
        if (pids_events_parse_max(text, &max) < 0 || max <= w->refused)
                return;
        w->refused = max;
        if (force || w->reported == 0 || now_usec >= w->last_report_usec + TASKS_WATCH_REPORT_INTERVAL_USEC)
                tasks_watch_report(w, now_usec);
}

static int on_tasks_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        TasksWatch *w = userdata;

        tasks_watch_check(w, usec, false);
        return sd_event_source_set_time_relative(source, TASKS_WATCH_INTERVAL_USEC);
}

static int open_pids_events(const char *cgroup) {
        static const char *const roots[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/pids" };

        for (size_t i = 0; i < ELEMENTSOF(roots); i++) {
                _cleanup_free_ char *path = NULL;
                int fd;

                if (asprintf_safe(&path, "%s%s/pids.events", roots[i], cgroup) < 0)
                        return -ENOMEM;
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd >= 0)
                        return fd;
                if (errno != ENOENT)
                        return -errno;
        }
        return -ENOENT;
}

int tasks_watch_start(TasksWatch *w, sd_event *e, const char *cgroup) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = open_pids_events(cgroup);
        if (fd < 0)
                return fd;
        r = sd_event_add_time_relative(e, &w->timer, CLOCK_MONOTONIC, TASKS_WATCH_INTERVAL_USEC, 0, on_tasks_timer, w);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(w->timer, "agent-tasks");
        w->events_fd = TAKE_FD(fd);
        return 0;
}

void tasks_watch_done(TasksWatch *w) {
        w->timer = sd_event_source_disable_unref(w->timer);
        w->events_fd = safe_close(w->events_fd);
}
