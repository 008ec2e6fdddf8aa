/* SPDX-License-Identifier: Apache-2.0 */
/* openshell-exec: the last step before the agent runs. It is the ExecStart= of the agent unit, runs
 * with all of the unit's restrictions already in place, and adds the two walls systemd cannot build:
 *
 *   1. a Landlock ruleset (file system rights per path, TCP ports, scopes), masked to what the running
 *      kernel's Landlock ABI knows;
 *   2. an extra seccomp filter (argument checks SystemCallFilter= cannot express), as compiled BPF;
 *
 * then execve()s the agent. Both come as files in $CREDENTIALS_DIRECTORY (LoadCredential= of the
 * agent unit, so systemd hands them over without the agent seeing where they are kept):
 *   openshell-landlock      text, see parse_ruleset() below
 *   openshell-seccomp.bpf   an array of struct sock_filter
 * Every error is fatal: this program never runs the agent with less than it was told to apply, except
 * where the ruleset itself says "best_effort", and then it says what it could not apply.
 *
 * Deliberately one file, no libraries beyond libc (bubblewrap's shape): it is the only code of ours
 * that runs under the agent's restrictions. */

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "exec-credentials.h" /* definitions only: nothing to link */

#define LANDLOCK_FILE SANDBOX_LANDLOCK_CREDENTIAL
#define SECCOMP_FILE SANDBOX_SECCOMP_CREDENTIAL
#define RULESET_SIZE_MAX (1024 * 1024)
#define RULESET_PATHS_MAX 1024
/* What the validator lets a policy name (POLICY_PORTS_MAX = 1024 connect and 1024 bind ports), plus
 * the proxy's port the compiler adds: a valid policy must never make the shim refuse to start. */
#define RULESET_PORTS_MAX (2 * 1024 + 1)
#define BPF_INSNS_MAX 65535 /* BPF_MAXINSNS is 4096; the kernel decides, we only bound the read */

/* Rights per Landlock ABI version (the kernel's <linux/landlock.h> values; spelled out because build
 * hosts' headers lag behind the kernels sandboxes run on). */
#define FS_ABI1 ((UINT64_C(1) << 13) - 1) /* execute .. make_sym */
#define FS_REFER (UINT64_C(1) << 13)      /* ABI 2 */
#define FS_TRUNCATE (UINT64_C(1) << 14)   /* ABI 3 */
#define FS_IOCTL_DEV (UINT64_C(1) << 15)  /* ABI 5 */
#define NET_ALL (UINT64_C(3))             /* bind_tcp, connect_tcp: ABI 4 */
#define SCOPE_ALL (UINT64_C(3))           /* abstract unix sockets, signals: ABI 6 */
#define FS_FILE_RIGHTS (UINT64_C(1) | (UINT64_C(1) << 1) | (UINT64_C(1) << 2) | FS_TRUNCATE | FS_IOCTL_DEV)

typedef struct PathRule {
        uint64_t access;
        char *path;
} PathRule;

typedef struct PortRule {
        uint64_t access;
        uint64_t port;
} PortRule;

typedef struct Ruleset {
        bool hard_requirement;
        uint64_t handled_fs, handled_net, scoped;
        PathRule paths[RULESET_PATHS_MAX];
        size_t n_paths;
        PortRule ports[RULESET_PORTS_MAX];
        size_t n_ports;
} Ruleset;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
        va_list ap;

        fputs("openshell-exec: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static _Noreturn void vdie(int status, const char *fmt, va_list ap) {
        fputs("openshell-exec: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputs(" (not starting the agent)\n", stderr);
        _exit(status);
}

/* 126, as a shell says "cannot execute": nothing of the command ran. */
static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void die(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vdie(126, fmt, ap);
}

static _Noreturn void die_status(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static _Noreturn void die_status(int status, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vdie(status, fmt, ap);
}

uint64_t exec_fs_rights_for_abi(long abi);
uint64_t exec_fs_rights_for_abi(long abi) {
        uint64_t r = 0;

        /* Falls through: each ABI knows what the previous ones knew. */
        switch (abi > 5 ? 5 : abi) {
        case 5:
                r |= FS_IOCTL_DEV;
                /* fall through */
        case 4:
        case 3:
                r |= FS_TRUNCATE;
                /* fall through */
        case 2:
                r |= FS_REFER;
                /* fall through */
        case 1:
                r |= FS_ABI1;
                /* fall through */
        default:
                break;
        }
        return r;
}

/* Reads a whole (small) file below dir_fd. Returns a NUL-terminated buffer, or NULL with errno set. */
static char *read_file_at(int dir_fd, const char *name, size_t max, size_t *ret_size) {
        int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        size_t n = 0;
        char *buf;

        if (fd < 0)
                return NULL;
        buf = malloc(max + 1);
        if (!buf) {
                close(fd);
                errno = ENOMEM;
                return NULL;
        }
        for (;;) {
                ssize_t k = read(fd, buf + n, max + 1 - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        free(buf);
                        close(fd);
                        return NULL;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > max) {
                        free(buf);
                        close(fd);
                        errno = EFBIG;
                        return NULL;
                }
        }
        close(fd);
        buf[n] = 0;
        *ret_size = n;
        return buf;
}

static int parse_u64(const char *s, uint64_t *ret) {
        char *end;
        unsigned long long v;

        if (!*s || *s == '-' || *s == '+')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 0);
        if (errno != 0 || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* The ruleset file, one directive per line (the supervisor writes it; see services/sandbox):
 *     openshell-landlock 1
 *     compatibility best_effort|hard_requirement
 *     handled_fs 0xHEX
 *     handled_net 0xHEX
 *     scoped 0xHEX
 *     path 0xHEX /absolute/path (the rest of the line)
 *     port 0xHEX NUMBER
 *     end                (optional; nothing may follow it)
 * Numbers are decimal or 0x-hexadecimal. Returns 0, or -EBADMSG with *ret_line the offending line. Modifies text in place. */
int exec_parse_ruleset(char *text, Ruleset *rs, unsigned *ret_line);
int exec_parse_ruleset(char *text, Ruleset *rs, unsigned *ret_line) {
        unsigned line = 0;
        bool header = false;
        char *save = NULL;

        *rs = (Ruleset) {};
        bool ended = false;

        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *key = l, *a, *b;
                uint64_t v;

                line++;
                *ret_line = line;
                if (ended)
                        return -EBADMSG;
                if (header && strcmp(l, "end") == 0) {
                        ended = true;
                        continue;
                }
                a = strchr(key, ' ');
                if (!a)
                        return -EBADMSG;
                *a++ = 0;
                if (!header) {
                        if (strcmp(key, "openshell-landlock") != 0 || strcmp(a, "1") != 0)
                                return -EBADMSG;
                        header = true;
                        continue;
                }
                if (strcmp(key, "compatibility") == 0) {
                        if (strcmp(a, "hard_requirement") == 0)
                                rs->hard_requirement = true;
                        else if (strcmp(a, "best_effort") == 0)
                                rs->hard_requirement = false;
                        else
                                return -EBADMSG;
                        continue;
                }
                b = strchr(a, ' ');
                if (b)
                        *b++ = 0;
                if (parse_u64(a, &v) < 0)
                        return -EBADMSG;
                if (strcmp(key, "handled_fs") == 0 && !b)
                        rs->handled_fs = v;
                else if (strcmp(key, "handled_net") == 0 && !b)
                        rs->handled_net = v;
                else if (strcmp(key, "scoped") == 0 && !b)
                        rs->scoped = v;
                else if (strcmp(key, "path") == 0 && b && b[0] == '/') {
                        if (rs->n_paths >= RULESET_PATHS_MAX)
                                return -EBADMSG;
                        rs->paths[rs->n_paths++] = (PathRule) { .access = v, .path = b };
                } else if (strcmp(key, "port") == 0 && b) {
                        uint64_t port;
                        if (parse_u64(b, &port) < 0 || port > 65535 || rs->n_ports >= RULESET_PORTS_MAX)
                                return -EBADMSG;
                        rs->ports[rs->n_ports++] = (PortRule) { .access = v, .port = port };
                } else
                        return -EBADMSG;
        }
        if (!header) {
                *ret_line = 1;
                return -EBADMSG;
        }
        return 0;
}

static long landlock_abi(void) {
        return syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
}

static const char *landlock_unavailable_reason(int e) {
        switch (e) {
        case ENOSYS:
                return "not implemented (kernel lacks CONFIG_SECURITY_LANDLOCK)";
        case EOPNOTSUPP:
                return "not enabled (Landlock is not in the kernel's active LSM list)";
        case EPERM:
                return "blocked (a seccomp filter denies the Landlock system calls)";
        default:
                return strerror(e);
        }
}

/* Our own struct: the kernel's grows with each ABI; we pass the size of what we fill in. */
struct ruleset_attr {
        uint64_t handled_access_fs;
        uint64_t handled_access_net;
        uint64_t scoped;
};

static void apply_landlock(Ruleset *rs) {
        struct ruleset_attr attr = {};
        size_t attr_size;
        unsigned applied = 0, skipped = 0;
        uint64_t fs_known, dropped;
        long abi = landlock_abi();
        int ruleset_fd;

        if (abi < 0) {
                int e = errno;
                if (rs->hard_requirement)
                        die("Landlock unavailable in hard_requirement mode: %s", landlock_unavailable_reason(e));
                say("WARNING: Landlock unavailable (%s); best_effort: running WITHOUT the Landlock file system "
                    "wall",
                    landlock_unavailable_reason(e));
                return;
        }

        fs_known = exec_fs_rights_for_abi(abi);
        attr.handled_access_fs = rs->handled_fs & fs_known;
        attr.handled_access_net = abi >= 4 ? rs->handled_net & NET_ALL : 0;
        attr.scoped = abi >= 6 ? rs->scoped & SCOPE_ALL : 0;
        attr_size = abi >= 6 ? sizeof attr : abi >= 4 ? offsetof(struct ruleset_attr, scoped) :
                                                           offsetof(struct ruleset_attr, handled_access_net);
        dropped = (rs->handled_fs & ~fs_known);
        if (rs->hard_requirement && (dropped || (rs->handled_net && abi < 4) || (rs->scoped && abi < 6)))
                die("Landlock ABI %ld cannot enforce all requested rights in hard_requirement mode (fs rights "
                    "0x%llx%s%s)",
                    abi, (unsigned long long) dropped, rs->handled_net && abi < 4 ? ", TCP ports" : "",
                    rs->scoped && abi < 6 ? ", scopes" : "");
        if (dropped || (rs->handled_net && abi < 4) || (rs->scoped && abi < 6))
                say("Landlock ABI %ld: not enforced (best_effort): fs rights 0x%llx%s%s", abi,
                    (unsigned long long) dropped, rs->handled_net && abi < 4 ? ", TCP port rules" : "",
                    rs->scoped && abi < 6 ? ", IPC scopes" : "");

        ruleset_fd = (int) syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
        if (ruleset_fd < 0)
                die("Failed to create the Landlock ruleset: %s", strerror(errno));

        for (size_t i = 0; i < rs->n_paths; i++) {
                struct landlock_path_beneath_attr pb = {};
                struct stat st;
                int fd = open(rs->paths[i].path, O_PATH | O_CLOEXEC);

                if (fd < 0 || fstat(fd, &st) < 0) {
                        int e = errno;
                        if (fd >= 0)
                                close(fd);
                        if (rs->hard_requirement)
                                die("Landlock path unavailable in hard_requirement mode: %s (%s)", rs->paths[i].path,
                                    strerror(e));
                        if (e != ENOENT)
                                say("Skipping inaccessible Landlock path (best_effort) [path:%s error:%s]",
                                    rs->paths[i].path, strerror(e));
                        skipped++;
                        continue;
                }
                pb.allowed_access = rs->paths[i].access & attr.handled_access_fs;
                /* Directory rights on a file are refused by the kernel: keep what a file can carry. */
                if (!S_ISDIR(st.st_mode))
                        pb.allowed_access &= FS_FILE_RIGHTS;
                pb.parent_fd = fd;
                if (pb.allowed_access != 0 &&
                    syscall(SYS_landlock_add_rule, ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
                        die("Failed to add the Landlock rule for %s: %s", rs->paths[i].path, strerror(errno));
                close(fd);
                applied++;
        }
        if (attr.handled_access_net)
                for (size_t i = 0; i < rs->n_ports; i++) {
                        struct {
                                uint64_t allowed_access;
                                uint64_t port;
                        } np = { rs->ports[i].access & attr.handled_access_net, rs->ports[i].port };
                        /* LANDLOCK_RULE_NET_PORT is 2; spelled out for older headers. */
                        if (np.allowed_access != 0 && syscall(SYS_landlock_add_rule, ruleset_fd, 2, &np, 0) < 0)
                                die("Failed to add the Landlock rule for TCP port %llu: %s",
                                    (unsigned long long) np.port, strerror(errno));
                }

        if (applied == 0 && rs->n_paths > 0) {
                /* Upstream would run unconfined here; an empty ruleset would deny everything. Both
                 * are wrong for a sandbox: refuse. */
                die("Landlock ruleset has zero usable paths (all %zu failed to open)", rs->n_paths);
        }
        if (syscall(SYS_landlock_restrict_self, ruleset_fd, 0) < 0)
                die("Failed to enforce the Landlock ruleset: %s", strerror(errno));
        close(ruleset_fd);
        /* A record for the sandbox's journal; not for `openshell sandbox exec`, where stderr is the
         * user's and belongs to the command. */
        if (secure_getenv("JOURNAL_STREAM"))
                say("Landlock enforced [abi:%ld compat:%s rules_applied:%u skipped:%u ports:%zu]", abi,
                    rs->hard_requirement ? "hard_requirement" : "best_effort", applied, skipped,
                    attr.handled_access_net ? rs->n_ports : 0);
}

/* Read before anything is applied: once Landlock is in force, the credentials directory is out of reach. */
static char *read_seccomp(int dir_fd, size_t *ret_size) {
        char *bpf = read_file_at(dir_fd, SECCOMP_FILE, BPF_INSNS_MAX * sizeof(struct sock_filter), ret_size);

        if (!bpf && errno != ENOENT)
                die("Failed to read %s: %s", SECCOMP_FILE, strerror(errno));
        return bpf; /* NULL: no extra filter for this sandbox */
}

static void apply_seccomp(char *bpf, size_t size) {
        struct sock_fprog prog;

        if (!bpf)
                return;
        if (size == 0 || size % sizeof(struct sock_filter) != 0)
                die("%s is not a BPF program (%zu bytes)", SECCOMP_FILE, size);
        prog.len = (unsigned short) (size / sizeof(struct sock_filter));
        prog.filter = (struct sock_filter *) bpf;
        /* NoNewPrivileges= of the unit has set no_new_privs already; setting it again is harmless
         * and makes this program correct on its own. */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                die("Failed to set no_new_privs: %s", strerror(errno));
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
                die("Failed to install the seccomp filter: %s", strerror(errno));
        free(bpf);
}

#ifndef OPENSHELL_EXEC_NO_MAIN
int main(int argc, char *argv[]) {
        const char *creds = secure_getenv("CREDENTIALS_DIRECTORY");
        static Ruleset rs;
        int dir_fd, i = 1;

        if (argc > 1 && strcmp(argv[1], "--") == 0)
                i = 2;
        if (i >= argc)
                die("usage: openshell-exec -- COMMAND [ARGS...]");
        if (!creds)
                die("$CREDENTIALS_DIRECTORY is not set: run as the agent unit, with LoadCredential=");

        dir_fd = open(creds, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                die("Failed to open %s: %s", creds, strerror(errno));

        {
                size_t size, bpf_size = 0;
                unsigned line = 0;
                char *text = read_file_at(dir_fd, LANDLOCK_FILE, RULESET_SIZE_MAX, &size);
                char *bpf;

                if (!text && errno != ENOENT)
                        die("Failed to read %s: %s", LANDLOCK_FILE, strerror(errno));
                bpf = read_seccomp(dir_fd, &bpf_size);
                close(dir_fd);
                if (text) {
                        if (exec_parse_ruleset(text, &rs, &line) < 0)
                                die("%s:%u: malformed line", LANDLOCK_FILE, line);
                        apply_landlock(&rs);
                        free(text);
                }
                apply_seccomp(bpf, bpf_size);
        }

        /* Nothing of ours is left in the agent's environment. */
        unsetenv("CREDENTIALS_DIRECTORY");
        execvp(argv[i], argv + i);
        /* 127 for "not found", as a shell says it. */
        die_status(errno == ENOENT ? 127 : 126, "Failed to execute %s: %s", argv[i], strerror(errno));
}
#endif
