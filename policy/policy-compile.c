/* SPDX-License-Identifier: Apache-2.0 */
/* Policy -> unit properties + Landlock ruleset (+ the seccomp plan and egress table, built by
 * policy-seccomp.c and policy-egress.c). */

#include <inttypes.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "policy-compile.h"
#include "policy-internal.h"
#include "sandbox-name.h"
#include "string-util.h"

#define _fallthrough_ __attribute__((__fallthrough__))

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

/* Defaults of the resource extension when a policy sets none: bounded, but enough for an agent that
 * runs node, git and a compiler. */
#define DEFAULT_MEMORY_MAX POLICY_DEFAULT_MEMORY_MAX
#define DEFAULT_TASKS_MAX POLICY_DEFAULT_TASKS_MAX
#define DEFAULT_OPEN_FILES 4096U

uint64_t landlock_fs_rights_for_abi(unsigned abi) {
        uint64_t r = 0;

        switch (abi > LL_ABI_MAX ? LL_ABI_MAX : abi) {
        case 6:
        case 5:
                r |= LL_FS_IOCTL_DEV;
                _fallthrough_;
        case 4:
        case 3:
                r |= LL_FS_TRUNCATE;
                _fallthrough_;
        case 2:
                r |= LL_FS_REFER;
                _fallthrough_;
        case 1:
                r |= (LL_FS_MAKE_SYM << 1) - 1;
                _fallthrough_;
        default:
                return r;
        }
}

uint64_t landlock_net_rights_for_abi(unsigned abi) {
        return abi >= 4 ? LL_NET_BIND_TCP | LL_NET_CONNECT_TCP : 0;
}

uint64_t landlock_scope_for_abi(unsigned abi) {
        return abi >= 6 ? LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL : 0;
}

const char *landlock_fs_right_to_string(unsigned bit) {
        static const char *const names[] = {
                "execute",   "write_file", "read_file", "read_dir",  "remove_dir", "remove_file",
                "make_char", "make_dir",   "make_reg",  "make_sock", "make_fifo",  "make_block",
                "make_sym",  "refer",      "truncate",  "ioctl_dev",
        };
        return bit < ELEMENTSOF(names) ? names[bit] : NULL;
}

const char *landlock_origin_to_string(LandlockOrigin o) {
        static const char *const names[_LANDLOCK_ORIGIN_MAX] = {
                [LANDLOCK_ORIGIN_POLICY] = "policy",
                [LANDLOCK_ORIGIN_WORKDIR] = "workdir",
                [LANDLOCK_ORIGIN_BASELINE] = "baseline",
                [LANDLOCK_ORIGIN_GPU] = "gpu",
        };
        return o >= 0 && o < _LANDLOCK_ORIGIN_MAX ? names[o] : NULL;
}

PolicyCompiled *policy_compiled_free(PolicyCompiled *c) {
        if (!c)
                return NULL;
        strv_free(c->unit);
        for (size_t i = 0; i < c->landlock.n_paths; i++)
                free(c->landlock.paths[i].path);
        free(c->landlock.paths);
        free(c->landlock.ports);
        free(c->seccomp.rules);
        free(c->egress.entries);
        free(c);
        return NULL;
}

/* ---- Landlock ------------------------------------------------------------------------------- */

/* As upstream's supervisor (SPEC.md §1.2 "baseline enrichment"): what every process needs to start. */
static const char *const baseline_read_only[] = { "/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc", "/app",
                                                  "/var/log", "/proc", "/dev/urandom", NULL };
static const char *const baseline_read_write[] = { "/tmp", "/dev/null", NULL };
static const char *const gpu_control_devices[] = { "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools",
                                                   "/dev/nvidia-modeset", NULL };

static int landlock_add(PolicyLandlock *l, const char *path, uint64_t access, LandlockOrigin origin) {
        LandlockPathRule *n;

        for (size_t i = 0; i < l->n_paths; i++)
                if (streq(l->paths[i].path, path)) {
                        /* the origin shown is what gave the path its widest rights, or the policy
                         * when it names the path itself */
                        if ((access & ~l->paths[i].access) || origin == LANDLOCK_ORIGIN_POLICY)
                                l->paths[i].origin = origin;
                        l->paths[i].access |= access;
                        return 0;
                }
        n = reallocarray(l->paths, l->n_paths + 1, sizeof(LandlockPathRule));
        if (!n)
                return -ENOMEM;
        l->paths = n;
        n[l->n_paths] = (LandlockPathRule) { .path = strdup(path), .access = access, .origin = origin };
        if (!n[l->n_paths].path)
                return -ENOMEM;
        l->n_paths++;
        return 0;
}

static int landlock_add_port(PolicyLandlock *l, uint16_t port, uint64_t access) {
        LandlockPortRule *n;

        for (size_t i = 0; i < l->n_ports; i++)
                if (l->ports[i].port == port) {
                        l->ports[i].access |= access;
                        return 0;
                }
        n = reallocarray(l->ports, l->n_ports + 1, sizeof(LandlockPortRule));
        if (!n)
                return -ENOMEM;
        l->ports = n;
        n[l->n_ports++] = (LandlockPortRule) { .port = port, .access = access };
        return 0;
}

/* "gpu: {devices: all}" means the GPUs present when the policy is compiled, which the supervisor does
 * when the sandbox starts. */
static int add_present_gpus(PolicyLandlock *l, uint64_t all) {
        _cleanup_(closedirp) DIR *d = opendir("/dev");

        if (!d)
                return 0;
        for (struct dirent *de; (de = readdir(d));) {
                const char *n = de->d_name + strlen("nvidia");
                char dev[sizeof(de->d_name) + 8];
                int r;

                if (!startswith(de->d_name, "nvidia") || !*n || strspn(n, "0123456789") != strlen(n) || strlen(n) > 3)
                        continue;
                snprintf(dev, sizeof(dev), "/dev/%s", de->d_name);
                r = landlock_add(l, dev, all, LANDLOCK_ORIGIN_GPU);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int compare_path_rules(const void *a, const void *b) {
        return strcmp(((const LandlockPathRule *) a)->path, ((const LandlockPathRule *) b)->path);
}

static int compare_port_rules(const void *a, const void *b) {
        return (int) ((const LandlockPortRule *) a)->port - (int) ((const LandlockPortRule *) b)->port;
}

static int compile_landlock(const Policy *p, const PolicyCompileOptions *o, PolicyLandlock *l) {
        uint64_t all = landlock_fs_rights_for_abi(LL_ABI_MAX);
        bool workdir = p->has_filesystem_policy ? p->include_workdir : true;
        int r;

        l->compatibility = p->landlock_compatibility;
        l->handled_fs = all;
        l->handled_net = LL_NET_CONNECT_TCP | (p->tcp_bind_restricted ? LL_NET_BIND_TCP : 0);
        l->scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;

        for (const char *const *s = baseline_read_only; *s; s++)
                if ((r = landlock_add(l, *s, LL_FS_READ_ONLY, LANDLOCK_ORIGIN_BASELINE)) < 0)
                        return r;
        for (const char *const *s = baseline_read_write; *s; s++)
                if ((r = landlock_add(l, *s, all, LANDLOCK_ORIGIN_BASELINE)) < 0)
                        return r;
        if (workdir && (r = landlock_add(l, o->workdir, all, LANDLOCK_ORIGIN_WORKDIR)) < 0)
                return r;
        for (size_t i = 0; i < p->n_read_only; i++)
                if ((r = landlock_add(l, p->read_only[i].path, LL_FS_READ_ONLY, LANDLOCK_ORIGIN_POLICY)) < 0)
                        return r;
        for (size_t i = 0; i < p->n_read_write; i++)
                if ((r = landlock_add(l, p->read_write[i].path, all, LANDLOCK_ORIGIN_POLICY)) < 0)
                        return r;
        if (p->gpu_all || p->n_gpu_devices > 0) {
                for (const char *const *s = gpu_control_devices; *s; s++)
                        if ((r = landlock_add(l, *s, all, LANDLOCK_ORIGIN_GPU)) < 0)
                                return r;
                if ((r = landlock_add(l, "/run/nvidia-persistenced", LL_FS_READ_ONLY, LANDLOCK_ORIGIN_GPU)) < 0)
                        return r;
                /* CUDA writes /proc/<pid>/task/<tid>/comm (SPEC.md §1.2) */
                if ((r = landlock_add(l, "/proc", all, LANDLOCK_ORIGIN_GPU)) < 0)
                        return r;
                for (size_t i = 0; i < p->n_gpu_devices; i++) {
                        char dev[32];
                        snprintf(dev, sizeof(dev), "/dev/nvidia%u", p->gpu_devices[i]);
                        if ((r = landlock_add(l, dev, all, LANDLOCK_ORIGIN_GPU)) < 0)
                                return r;
                }
                if (p->gpu_all && (r = add_present_gpus(l, all)) < 0)
                        return r;
        }
        qsort(l->paths, l->n_paths, sizeof(LandlockPathRule), compare_path_rules);

        if ((r = landlock_add_port(l, o->proxy_port, LL_NET_CONNECT_TCP)) < 0)
                return r;
        for (size_t i = 0; i < p->n_tcp_connect_ports; i++)
                if ((r = landlock_add_port(l, p->tcp_connect_ports[i], LL_NET_CONNECT_TCP)) < 0)
                        return r;
        for (size_t i = 0; i < p->n_tcp_bind_ports; i++)
                if ((r = landlock_add_port(l, p->tcp_bind_ports[i], LL_NET_BIND_TCP)) < 0)
                        return r;
        if (l->n_ports > 0)
                qsort(l->ports, l->n_ports, sizeof(LandlockPortRule), compare_port_rules);
        return 0;
}

/* ---- seccomp plan ----------------------------------------------------------------------------- */

static bool syscall_allowed_by_policy(const Policy *p, const char *name) {
        for (size_t i = 0; i < p->n_syscalls_allow; i++)
                if (streq(p->syscalls_allow[i].path, name))
                        return true;
        return false;
}

static int seccomp_add(PolicySeccomp *s, SeccompRule rule) {
        SeccompRule *n = reallocarray(s->rules, s->n_rules + 1, sizeof(SeccompRule));

        if (!n)
                return -ENOMEM;
        s->rules = n;
        n[s->n_rules++] = rule;
        return 0;
}

#define ARG(i, o, m, v, name)                                                                           \
        ((SeccompArg) { .index = (i), .op = (o), .mask = (m), .value = (v), .value_name = (name) })

static int compile_seccomp(const Policy *p, PolicySeccomp *s) {
        static const struct {
                int family;
                const char *name;
        } families[] = { { AF_PACKET, "AF_PACKET" }, { AF_BLUETOOTH, "AF_BLUETOOTH" }, { AF_VSOCK, "AF_VSOCK" } };
        static const struct {
                uint64_t flag;
                const char *name;
        } ns_flags[] = {
                { CLONE_NEWUSER, "CLONE_NEWUSER" }, { CLONE_NEWNS, "CLONE_NEWNS" },   { CLONE_NEWPID, "CLONE_NEWPID" },
                { CLONE_NEWNET, "CLONE_NEWNET" },   { CLONE_NEWUTS, "CLONE_NEWUTS" }, { CLONE_NEWIPC, "CLONE_NEWIPC" },
                { CLONE_NEWCGROUP, "CLONE_NEWCGROUP" }, { CLONE_NEWTIME, "CLONE_NEWTIME" },
        };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(families); i++) {
                r = seccomp_add(s, (SeccompRule) { .syscall = "socket", .error = EPERM,
                                                   .args = { ARG(0, SECCOMP_OP_EQ, 0, (uint64_t) families[i].family,
                                                                 families[i].name) },
                                                   .n_args = 1, .why = "raw, Bluetooth and VM sockets bypass the network namespace's proxy" });
                if (r < 0)
                        return r;
        }
        r = seccomp_add(s, (SeccompRule) { .syscall = "socket", .error = EPERM,
                                           .args = { ARG(0, SECCOMP_OP_EQ, 0, AF_NETLINK, "AF_NETLINK"),
                                                     ARG(2, SECCOMP_OP_NE, 0, 0, "NETLINK_ROUTE") },
                                           .n_args = 2, .why = "only NETLINK_ROUTE (getifaddrs) is needed; other netlink families reach the kernel's configuration" });
        if (r < 0)
                return r;

        for (size_t i = 0; i < ELEMENTSOF(ns_flags); i++) {
                /* For clone() the low byte is the exit signal, so CLONE_NEWTIME (0x80) cannot be
                 * filtered there (and clone() cannot create a time namespace anyway). */
                if (ns_flags[i].flag != CLONE_NEWTIME) {
                        r = seccomp_add(s, (SeccompRule) { .syscall = "clone", .error = EPERM,
                                                           .args = { ARG(0, SECCOMP_OP_MASKED_EQ, ns_flags[i].flag,
                                                                         ns_flags[i].flag, ns_flags[i].name) },
                                                           .n_args = 1, .why = "no new namespaces (a user namespace gives capabilities back)" });
                        if (r < 0)
                                return r;
                }
                r = seccomp_add(s, (SeccompRule) { .syscall = "unshare", .error = EPERM,
                                                   .args = { ARG(0, SECCOMP_OP_MASKED_EQ, ns_flags[i].flag,
                                                                 ns_flags[i].flag, ns_flags[i].name) },
                                                   .n_args = 1, .why = "no new namespaces (a user namespace gives capabilities back)" });
                if (r < 0)
                        return r;
        }
        r = seccomp_add(s, (SeccompRule) { .syscall = "clone3", .error = ENOSYS,
                                           .why = "its flags are in memory, out of a filter's reach; ENOSYS makes libc fall back to clone()" });
        if (r < 0)
                return r;
        r = seccomp_add(s, (SeccompRule) { .syscall = "ioctl", .error = EPERM,
                                           .args = { ARG(1, SECCOMP_OP_MASKED_EQ, UINT32_MAX, TIOCSTI, "TIOCSTI") },
                                           .n_args = 1, .why = "pushing input into a terminal runs commands outside the sandbox" });
        if (r < 0)
                return r;
        r = seccomp_add(s, (SeccompRule) { .syscall = "ioctl", .error = EPERM,
                                           .args = { ARG(1, SECCOMP_OP_MASKED_EQ, UINT32_MAX, TIOCLINUX, "TIOCLINUX") },
                                           .n_args = 1, .why = "console selection pastes input like TIOCSTI" });
        if (r < 0)
                return r;
        if (!syscall_allowed_by_policy(p, "seccomp")) {
                r = seccomp_add(s, (SeccompRule) { .syscall = "seccomp", .error = EPERM,
                                                   .args = { ARG(0, SECCOMP_OP_EQ, 0, SECCOMP_SET_MODE_FILTER, "SECCOMP_SET_MODE_FILTER") },
                                                   .n_args = 1, .why = "as upstream: no further filters (x-openshell.syscalls.allow: [seccomp] lifts this, e.g. for Chromium's sandbox)" });
                if (r < 0)
                        return r;
        }
        return seccomp_add(s, (SeccompRule) { .syscall = "execveat", .error = EPERM,
                                              .args = { ARG(4, SECCOMP_OP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH, "AT_EMPTY_PATH") },
                                              .n_args = 1, .why = "executing an fd (e.g. a memfd) hides the program from binary identity checks" });
}

/* ---- unit properties ------------------------------------------------------------------------- */

/* path is dir or below it */
static bool path_startswith_dir(const char *path, const char *dir) {
        size_t n = strlen(dir);
        return strneq(path, dir, n) && (path[n] == '/' || path[n] == '\0');
}

static bool path_is_api_or_private(const char *p) {
        /* There in every sandbox without a bind: the API file systems (/proc, /sys, the private /dev)
         * and the private /tmp and /var/tmp. */
        return path_startswith_dir(p, "/dev") || path_startswith_dir(p, "/proc") || path_startswith_dir(p, "/sys") ||
               path_startswith_dir(p, "/tmp") || path_startswith_dir(p, "/var/tmp");
}

static bool landlock_grants(const PolicyLandlock *l, const char *path) {
        for (size_t i = 0; i < l->n_paths; i++)
                if (streq(l->paths[i].path, path))
                        return true;
        return false;
}

static int format_size(uint64_t v, char *buf, size_t n) {
        static const char suffix[] = "KMGT";

        if (v == UINT64_MAX)
                return snprintf(buf, n, "infinity");
        for (int i = 3; i >= 0; i--) {
                uint64_t unit = UINT64_C(1) << (10 * (i + 1));
                if (v % unit == 0)
                        return snprintf(buf, n, "%" PRIu64 "%c", v / unit, suffix[i]);
        }
        return snprintf(buf, n, "%" PRIu64, v);
}

/* Appends a word to a space-separated list. */
static int append_word(char **list, const char *word) {
        char *n;

        if (asprintf_safe(&n, "%s%s%s", *list ?: "", *list ? " " : "", word) < 0)
                return -ENOMEM;
        free(*list);
        *list = n;
        return 0;
}

static int compile_unit(const Policy *p, const PolicyCompileOptions *o, const PolicyLandlock *l, char ***ret) {
        static const char *const hardening[] = {
                "NoNewPrivileges=yes",
                "CapabilityBoundingSet=",
                "AmbientCapabilities=",
                "ProtectSystem=strict",
                "ProtectHome=yes",
                "PrivateTmp=yes",
                "PrivateDevices=yes",
                "PrivateNetwork=yes",
                "ProtectKernelTunables=yes",
                "ProtectKernelModules=yes",
                "ProtectKernelLogs=yes",
                "ProtectControlGroups=yes",
                "ProtectClock=yes",
                "ProtectHostname=yes",
                "ProtectProc=invisible",
                "LockPersonality=yes",
                "RestrictRealtime=yes",
                "RestrictSUIDSGID=yes",
                "RestrictNamespaces=yes",
                "KeyringMode=private",
                "UMask=0077",
                "LimitCORE=0",
                "DevicePolicy=closed",
                "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
                "SystemCallArchitectures=native",
                "SystemCallErrorNumber=EPERM",
                "SystemCallFilter=@system-service",
                "SystemCallFilter=~@privileged @debug @mount @cpu-emulation @obsolete @raw-io @reboot @swap @module @clock",
                /* @privileged includes @chown: changing a file's group among one's own is common
                 * (tar, cp -p) and harmless without capabilities. */
                "SystemCallFilter=@chown",
        };
        _cleanup_strv_free_ char **u = NULL;
        _cleanup_free_ char *deny = NULL;
        char buf[64];
        int r;

#define ADD(...) STRV_EXTENDF_OR_RETURN(&u, __VA_ARGS__)

        ADD("User=%s", p->run_as_user && !streq(p->run_as_user, "sandbox") ? p->run_as_user : o->agent_user);
        ADD("Group=%s", p->run_as_group && !streq(p->run_as_group, "sandbox") ? p->run_as_group : o->agent_user);
        for (size_t i = 0; i < ELEMENTSOF(hardening); i++)
                ADD("%s", hardening[i]);
        ADD("MemoryDenyWriteExecute=%s", p->memory_deny_write_execute ? "yes" : "no");

        /* The default deny set (minus what the policy allows) plus the policy's additions, in one
         * line. Argument filters are in the extra seccomp filter, which systemd cannot express. */
        for (const char *const *s = policy_mandatory_denied_syscalls; *s; s++)
                if ((r = append_word(&deny, *s)) < 0)
                        return r;
        for (const char *const *s = policy_allowable_denied_syscalls; *s; s++)
                if (!syscall_allowed_by_policy(p, *s) && !streq(*s, "seccomp") && (r = append_word(&deny, *s)) < 0)
                        return r;
        for (size_t i = 0; i < p->n_syscalls_deny; i++)
                if ((r = append_word(&deny, p->syscalls_deny[i].path)) < 0)
                        return r;
        if (deny)
                ADD("SystemCallFilter=~%s", deny);

        /* Filesystem view. The supervisor starts the agent in an empty root directory (RootDirectory=)
         * into which only what Landlock grants is bound, read-only or writable as granted: what the
         * policy does not grant is not there at all (ENOENT), rather than there and refused. /proc,
         * /sys and the private /dev come from MountAPIVFS=; /run is an empty read-only tmpfs (the one
         * MountAPIVFS= makes is writable), /tmp and /var/tmp are PrivateTmp=, the workdir is bound by
         * the supervisor. '-': a path missing on this host is not an error (Landlock's
         * best_effort/hard_requirement decides about missing paths). */
        ADD("MountAPIVFS=yes");
        if (!landlock_grants(l, "/run")) {
                /* The system bus, systemd's private socket and the like live there: Landlock does not
                 * govern connect() to a named socket, so they must not be in the agent's view. */
                ADD("TemporaryFileSystem=/run:ro");
        }
        for (size_t i = 0; i < l->n_paths; i++) {
                const char *path = l->paths[i].path;
                if (path_is_api_or_private(path) || path_startswith_dir(path, o->workdir))
                        continue;
                ADD("%s=-%s", l->paths[i].access & LL_FS_WRITE_FILE ? "BindPaths" : "BindReadOnlyPaths", path);
        }
        for (size_t i = 0; i < p->n_inaccessible; i++)
                ADD("InaccessiblePaths=-%s", p->inaccessible[i].path);

        /* GPU: the private /dev has no GPU nodes; bind the chosen ones in and let the device cgroup
         * allow them. */
        for (size_t i = 0; i < l->n_paths; i++)
                if (l->paths[i].origin == LANDLOCK_ORIGIN_GPU && startswith(l->paths[i].path, "/dev/")) {
                        ADD("BindPaths=-%s", l->paths[i].path);
                        ADD("DeviceAllow=%s rw", l->paths[i].path);
                }

        /* Resources (x-openshell.resources), with bounded defaults. */
        format_size(p->resources.memory_max ?: DEFAULT_MEMORY_MAX, buf, sizeof(buf));
        ADD("MemoryMax=%s", buf);
        if (p->resources.memory_high) {
                format_size(p->resources.memory_high, buf, sizeof(buf));
                ADD("MemoryHigh=%s", buf);
        }
        if (p->resources.cpu_quota_percent)
                ADD("CPUQuota=%" PRIu64 "%%", p->resources.cpu_quota_percent);
        if (p->resources.cpu_weight)
                ADD("CPUWeight=%" PRIu64, p->resources.cpu_weight);
        if (p->resources.tasks_max == UINT64_MAX)
                ADD("TasksMax=infinity");
        else
                ADD("TasksMax=%" PRIu64, p->resources.tasks_max ?: DEFAULT_TASKS_MAX);
        ADD("LimitNOFILE=%" PRIu64, p->resources.open_files ?: DEFAULT_OPEN_FILES);
#undef ADD

        *ret = TAKE_PTR(u);
        return 0;
}

int policy_compile(const Policy *p, const PolicyCompileOptions *o, PolicyCompiled **ret) {
        _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL;
        PolicyCompileOptions opts = {
                .agent_user = o && o->agent_user ? o->agent_user : SANDBOX_AGENT_USER,
                .workdir = o && o->workdir ? o->workdir : SANDBOX_WORKDIR_IN_SANDBOX,
                .proxy_port = o && o->proxy_port ? o->proxy_port : 3128,
        };
        int r;

        c = calloc(1, sizeof(PolicyCompiled));
        if (!c)
                return -ENOMEM;
        c->policy = p;
        r = compile_landlock(p, &opts, &c->landlock);
        if (r < 0)
                return r;
        r = compile_seccomp(p, &c->seccomp);
        if (r < 0)
                return r;
        r = compile_unit(p, &opts, &c->landlock, &c->unit);
        if (r < 0)
                return r;
        r = policy_egress_build(p, &c->egress);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}
