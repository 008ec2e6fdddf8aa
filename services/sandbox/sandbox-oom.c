/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/eventfd.h>
#include <syslog.h>

#include "sandbox-oom.h"
#include "parse-util.h"
#include "string-util.h"

#define CGROUP_V1_MEMORY "/sys/fs/cgroup/memory"
/* memory.oom_control is three "key N" lines. */
#define OOM_CONTROL_SIZE_MAX 256

int oom_control_parse_kills(const char *text, uint64_t *ret) {
        /* kernels before 4.13 do not count OOM kills there: -ENODATA */
        return parse_keyed_u64(text, "oom_kill", ret);
}

void oom_watch_update(OomWatch *w, uint64_t count, bool cgroup_exists) {
        w->signals += count;
        if ((count > 0 && cgroup_exists) || w->signals > 1)
                w->oom = true;
}

static int on_oom_event(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        OomWatch *w = userdata;
        char text[OOM_CONTROL_SIZE_MAX];
        uint64_t count;

        if (read(fd, &count, sizeof(count)) != sizeof(count))
                return 0; /* EAGAIN: nothing new */
        /* Read after the count: if the cgroup still exists now, the removal signal is not in it. */
        oom_watch_update(w, count, pread(w->oom_control_fd, text, sizeof(text), 0) >= 0);
        return 0;
}

bool oom_watch_needed(void) {
        return access(CGROUP_V1_MEMORY "/memory.oom_control", F_OK) >= 0;
}

int oom_watch_start(OomWatch *w, sd_event *e, const char *cgroup) {
        _cleanup_close_ int dir = -EBADF, oom = -EBADF, control = -EBADF, efd = -EBADF;
        _cleanup_free_ char *path = NULL, *line = NULL;
        char text[OOM_CONTROL_SIZE_MAX];
        uint64_t kills = 0;
        ssize_t n;
        int r;

        if (access(CGROUP_V1_MEMORY "/memory.oom_control", F_OK) < 0)
                return errno == ENOENT ? -EOPNOTSUPP : -errno;
        if (asprintf_safe(&path, CGROUP_V1_MEMORY "%s", cgroup) < 0)
                return -ENOMEM;
        dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
                return -errno;
        oom = openat(dir, "memory.oom_control", O_RDONLY | O_CLOEXEC);
        if (oom < 0)
                return -errno;
        control = openat(dir, "cgroup.event_control", O_WRONLY | O_CLOEXEC);
        if (control < 0)
                return -errno;
        efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (efd < 0)
                return -errno;
        /* "<eventfd> <fd of memory.oom_control>", in one write. */
        r = asprintf_safe(&line, "%d %d", efd, oom);
        if (r < 0)
                return r;
        if (write(control, line, strlen(line)) < 0)
                return -errno;

        /* An OOM kill before we started watching, in a cgroup that still exists, the kernel counted. */
        n = pread(oom, text, sizeof(text) - 1, 0);
        if (n < 0)
                return -errno;
        text[n] = '\0';
        (void) oom_control_parse_kills(text, &kills);

        r = sd_event_add_io(e, &w->source, efd, EPOLLIN, on_oom_event, w);
        if (r < 0)
                return r;
        /* Before the bus: when both are ready, the OOM is known by the time the agent's end is handled. */
        (void) sd_event_source_set_priority(w->source, SD_EVENT_PRIORITY_IMPORTANT);
        (void) sd_event_source_set_description(w->source, "agent-oom");
        w->event_fd = TAKE_FD(efd);
        w->oom_control_fd = TAKE_FD(oom);
        w->oom = w->oom || kills > 0;
        return 0;
}

void oom_watch_done(OomWatch *w) {
        w->source = sd_event_source_disable_unref(w->source);
        w->event_fd = safe_close(w->event_fd);
        w->oom_control_fd = safe_close(w->oom_control_fd);
}

int sandbox_oom_event_fields(const SandboxOomEvent *ev, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *limit = NULL;
        int r;

#define ADD(...) STRV_EXTENDF_OR_RETURN(&l, __VA_ARGS__)

        if (ev->from_policy)
                r = asprintf_safe(&limit, "MemoryMax=%s of its policy (x-openshell.resources.memory_max)",
                                  ev->memory_max);
        else
                r = asprintf_safe(&limit, "MemoryMax=%s, the default for a policy without "
                                  "x-openshell.resources.memory_max", ev->memory_max);
        if (r < 0)
                return r;

        ADD("MESSAGE_ID=" SANDBOX_OOM_MESSAGE_ID);
        ADD("PRIORITY=%d", LOG_ERR);
        if (ev->main_killed)
                ADD("MESSAGE=Agent %s was killed by the kernel's OOM killer: it exceeded %s.", ev->agent_unit, limit);
        else
                ADD("MESSAGE=A process of agent %s was killed by the kernel's OOM killer: the agent exceeded %s.",
                    ev->agent_unit, limit);
        ADD("OPENSHELL_SANDBOX=%s", ev->sandbox);
        ADD("OPENSHELL_EVENT=process");
        ADD("OPENSHELL_DECISION=deny");
        ADD("OPENSHELL_POLICY=x-openshell.resources.memory_max");
        ADD("OPENSHELL_REASON=oom-kill: exceeded MemoryMax=%s", ev->memory_max);
        if (ev->pid > 0)
                ADD("OPENSHELL_PID=%" PRIu32, ev->pid);
        if (ev->binary)
                ADD("OPENSHELL_BINARY=%s", ev->binary);
#undef ADD

        *ret = TAKE_PTR(l);
        return 0;
}
