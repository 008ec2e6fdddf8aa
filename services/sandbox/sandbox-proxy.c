/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <systemd/sd-login.h>

#include "bus-util.h"
#include "fileio.h"
#include "log.h"
#include "sandbox-name.h"
#include "sandbox-netns.h"
#include "sandbox-proxy.h"
#include "sandbox-unit.h"
#include "string-util.h"

typedef struct IdentifyConnection {
        SandboxProxy *proxy;
        int fd;
        sd_event_source *source;
} IdentifyConnection;

static IdentifyConnection *identify_connection_free(IdentifyConnection *c) {
        if (!c)
                return NULL;
        sd_event_source_disable_unref(c->source);
        safe_close(c->fd);
        for (size_t i = 0; i < ELEMENTSOF(c->proxy->connections); i++)
                if (c->proxy->connections[i] == c)
                        c->proxy->connections[i] = NULL;
        c->proxy->n_connections--;
        free(c);
        return NULL;
}

/* The cgroup of the sandbox's slice, in systemd's hierarchy (cgroup v2, hybrid or v1 name=systemd). */
static int open_slice_cgroup(SandboxProxy *p) {
        static const char *const roots[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd", "/sys/fs/cgroup" };
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL, *cgroup = NULL;
        int r;

        if (p->ctx.cgroup_fd >= 0)
                return 0;
        r = bus_unit_path(p->slice_unit, &path);
        if (r < 0)
                return r;
        r = sd_bus_get_property_string(p->bus, SYSTEMD_BUS_NAME, path, "org.freedesktop.systemd1.Slice", "ControlGroup",
                                       &error, &cgroup);
        if (r < 0)
                return log_warning_errno(r, "Failed to read the cgroup of %s: %s", p->slice_unit,
                                         bus_error_message(&error, r));
        if (isempty(cgroup) || cgroup[0] != '/')
                return log_warning_errno(SYNTHETIC_ERRNO(ENOENT), "%s has no cgroup yet.", p->slice_unit);

        for (size_t i = 0; i < ELEMENTSOF(roots); i++) {
                _cleanup_free_ char *dir = NULL;
                int fd;

                if (asprintf_safe(&dir, "%s%s", roots[i], cgroup) < 0)
                        return -ENOMEM;
                fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                if (faccessat(fd, "cgroup.procs", F_OK, 0) < 0) {
                        safe_close(fd);
                        continue;
                }
                p->ctx.cgroup_fd = fd;
                return 0;
        }
        return log_warning_errno(SYNTHETIC_ERRNO(ENOENT), "Cannot find the cgroup %s of %s.", cgroup, p->slice_unit);
}

static int on_identify_request(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        IdentifyConnection *c = userdata;
        SandboxProxy *p = c->proxy;
        _cleanup_free_ char *reply = NULL;
        char buf[IDENTIFY_REQUEST_MAX + 1];
        ssize_t n;
        int r, error = 0;

        /* MSG_TRUNC: the datagram's real length, so that an oversized request is refused, not cut. */
        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                identify_connection_free(c);
                return 0;
        }
        /* The slice's cgroup exists once the agent runs, before any request can come. */
        r = open_slice_cgroup(p);
        if (r < 0)
                r = asprintf_safe(&reply, "ERR internal\n");
        else
                /* n > IDENTIFY_REQUEST_MAX (cut at sizeof(buf)) is refused without being read. */
                r = identify_answer(&p->ctx, buf, (size_t) n, &reply, &error);
        if (r < 0) {
                log_oom();
                identify_connection_free(c);
                return 0;
        }
        if (error < 0)
                log_warning_errno(error, "Sandbox '%s': identify request answered %.*s: %m", p->sandbox,
                                  (int) strcspn(reply, "\n"), reply);
        /* A proxy that does not read its answers loses its connection rather than stall us. */
        if (send(fd, reply, strlen(reply), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                identify_connection_free(c);
        return 0;
}

static int on_identify_connection(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        SandboxProxy *p = userdata;
        _cleanup_free_ char *unit = NULL;
        _cleanup_close_ int cfd = -EBADF;
        IdentifyConnection *c;
        int r;

        cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
                return 0;
        /* Only the sandbox's own proxy: the kernel's word (SO_PEERCRED) for which unit the peer runs in. */
        r = sd_peer_get_unit(cfd, &unit);
        if (r < 0 || !streq(unit, p->unit)) {
                log_warning("Sandbox '%s': refused an identify connection from %s.", p->sandbox,
                            r < 0 ? "a process outside any unit" : unit);
                return 0;
        }
        if (p->n_connections >= SANDBOX_IDENTIFY_CONNECTIONS_MAX) {
                log_warning("Sandbox '%s': too many identify connections, refusing one more.", p->sandbox);
                return 0;
        }
        c = calloc(1, sizeof(IdentifyConnection));
        if (!c) {
                log_oom();
                return 0;
        }
        *c = (IdentifyConnection) { .proxy = p, .fd = TAKE_FD(cfd) };
        p->n_connections++;
        for (size_t i = 0; i < ELEMENTSOF(p->connections); i++)
                if (!p->connections[i]) {
                        p->connections[i] = c;
                        break;
                }
        r = sd_event_add_io(sd_event_source_get_event(source), &c->source, c->fd, EPOLLIN, on_identify_request, c);
        if (r < 0) {
                log_warning_errno(r, "Failed to watch an identify connection, dropping it: %m");
                identify_connection_free(c);
        }
        return 0;
}

static int open_netns(const char *name, int *ret) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;

        if (asprintf_safe(&path, SANDBOX_NETNS_DIR "/%s", name) < 0)
                return log_oom();
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return log_error_errno(errno, "Failed to open the sandbox's network namespace %s: %m", path);
        /* A file in place of the namespace (its mount gone) must not pass for one. */
        if (ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET)
                return log_error_errno(SYNTHETIC_ERRNO(EBADF), "%s is not a network namespace.", path);
        *ret = TAKE_FD(fd);
        return 0;
}

static int listen_identify(SandboxProxy *p, const char *dir, sd_event *e) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/" SANDBOX_IDENTIFY_SOCKET, dir);
        if (r < 0 || (size_t) r >= sizeof(sa.sun_path))
                return log_error_errno(SYNTHETIC_ERRNO(ENAMETOOLONG), "Identify socket path too long.");
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create the identify socket: %m");
        if (unlink(sa.sun_path) < 0 && errno != ENOENT)
                return log_error_errno(errno, "Failed to remove %s: %m", sa.sun_path);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return log_error_errno(errno, "Failed to bind %s: %m", sa.sun_path);
        /* Connecting needs write access to the socket; the proxy's user is dynamic. The 0700 folder above
         * and the peer check keep everyone else out. */
        if (chmod(sa.sun_path, 0666) < 0)
                return log_error_errno(errno, "Failed to chmod %s: %m", sa.sun_path);
        if (listen(fd, SANDBOX_IDENTIFY_CONNECTIONS_MAX) < 0)
                return log_error_errno(errno, "Failed to listen on %s: %m", sa.sun_path);
        r = sd_event_add_io(e, &p->listen_source, fd, EPOLLIN, on_identify_connection, p);
        if (r < 0)
                return log_error_errno(r, "Failed to watch %s: %m", sa.sun_path);
        p->listen_fd = TAKE_FD(fd);
        return 0;
}

int sandbox_proxy_install_policy(SandboxProxy *p, const void *text, size_t size) {
        _cleanup_free_ char *runtime = NULL, *dest = NULL;
        int r;

        if (sandbox_runtime_path(p->sandbox, &runtime) < 0 ||
            asprintf_safe(&dest, "%s/" SANDBOX_PROXY_DIR "/" SANDBOX_PROXY_POLICY, runtime) < 0)
                return log_oom();
        /* Atomic: the proxy, reloading at any moment, reads either the old file or the new one. */
        r = write_file_atomic(dest, text, size, 0644, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", dest);
        return 0;
}

static int copy_policy(SandboxProxy *p, const char *policy_path) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        r = read_full_file(policy_path, SANDBOX_PROXY_POLICY_SIZE_MAX, &text, &size);
        if (r < 0)
                return log_error_errno(r, "Failed to read policy %s: %m", policy_path);
        return sandbox_proxy_install_policy(p, text, size);
}

int sandbox_proxy_prepare(SandboxProxy *p, sd_event *e, sd_bus *bus, const char *name, const char *policy_path) {
        _cleanup_free_ char *runtime = NULL, *dir = NULL;
        _cleanup_close_ int netns = -EBADF;
        int r;

        p->sandbox = name;
        p->bus = bus;
        if (asprintf_safe(&p->unit, SANDBOX_PROXY_UNIT_PREFIX "%s.service", name) < 0 ||
            sandbox_slice_unit(name, &p->slice_unit) < 0 || sandbox_runtime_path(name, &runtime) < 0 ||
            asprintf_safe(&dir, "%s/" SANDBOX_PROXY_DIR, runtime) < 0)
                return log_oom();
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create %s: %m", dir);

        r = copy_policy(p, policy_path);
        if (r < 0)
                return r;

        r = open_netns(name, &netns);
        if (r < 0)
                return r;
        r = netns_open_tcp_tables(netns, &p->ctx.tcp_fd, &p->ctx.tcp6_fd);
        if (r < 0)
                return log_error_errno(r, "Failed to open the TCP tables of the sandbox's network namespace: %m");
        p->ctx.proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (p->ctx.proc_fd < 0)
                return log_error_errno(errno, "Failed to open /proc: %m");
        p->ctx.proxy_port = SANDBOX_PROXY_PORT;

        r = listen_identify(p, dir, e);
        if (r < 0)
                return r;
        if (access(SANDBOX_PROXY_BINARY, X_OK) < 0)
                log_warning("Sandbox '%s' has no network: no egress proxy is installed (%s).", name,
                            SANDBOX_PROXY_BINARY);
        return 0;
}

void sandbox_proxy_done(SandboxProxy *p) {
        for (size_t i = 0; i < ELEMENTSOF(p->connections); i++)
                identify_connection_free(p->connections[i]);
        p->listen_source = sd_event_source_disable_unref(p->listen_source);
        p->listen_fd = safe_close(p->listen_fd);
        p->ctx.tcp_fd = safe_close(p->ctx.tcp_fd);
        p->ctx.tcp6_fd = safe_close(p->ctx.tcp6_fd);
        p->ctx.cgroup_fd = safe_close(p->ctx.cgroup_fd);
        p->ctx.proc_fd = safe_close(p->ctx.proc_fd);
        p->unit = mfree(p->unit);
        p->slice_unit = mfree(p->slice_unit);
}
