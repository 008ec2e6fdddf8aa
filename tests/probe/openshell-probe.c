/* SPDX-License-Identifier: Apache-2.0 */
/* openshell-probe: runs inside a sandbox and tries ONE thing the test names, then prints one line,
 * "ok" or "denied: <errno name>: <message>", and exits 0 (it worked) or 1 (it was refused); 2 means
 * the probe itself was misused. Tests assert what the sandbox lets its agent do (crun's tests/init,
 * bubblewrap's try-syscall). */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <arpa/inet.h>

static int report(int r) {
        if (r >= 0) {
                puts("ok");
                return 0;
        }
        printf("denied: %s: %s\n", strerrorname_np(errno) ?: "?", strerror(errno));
        return 1;
}

static int connect_unix(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path)) {
                errno = ENAMETOOLONG;
                return -1;
        }
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        return connect(fd, (struct sockaddr *) &sa, sizeof(sa));
}

/* A TCP connection to the numeric address HOST, PORT (IPv4 or IPv6), or -1 with errno. */
static int connect_tcp(const char *host, const char *port) {
        struct sockaddr_storage ss = {};
        struct sockaddr_in *in = (struct sockaddr_in *) &ss;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;
        socklen_t len;
        int fd;

        if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
                in->sin_family = AF_INET;
                in->sin_port = htons((uint16_t) atoi(port));
                len = sizeof(*in);
        } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t) atoi(port));
                len = sizeof(*in6);
        } else {
                errno = EINVAL;
                return -1;
        }
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        if (connect(fd, (struct sockaddr *) &ss, len) < 0) {
                int saved = errno;
                close(fd);
                errno = saved;
                return -1;
        }
        return fd;
}

/* Connects, then prints the first line the server sends ("ok: LINE"), or how it failed. */
static int tcp_read_line(const char *host, const char *port) {
        char buf[4096];
        size_t n = 0;
        int fd = connect_tcp(host, port);

        if (fd < 0)
                return report(-1);
        while (n < sizeof(buf) - 1) {
                ssize_t k = read(fd, buf + n, sizeof(buf) - 1 - n);
                if (k < 0)
                        return report(-1);
                if (k == 0)
                        break;
                n += (size_t) k;
                if (memchr(buf, '\n', n))
                        break;
        }
        buf[n] = 0;
        buf[strcspn(buf, "\n")] = 0;
        printf("ok: %s\n", buf);
        return 0;
}

/* A bounded fork bomb: forks children that only wait, until fork() fails or MAX of them run, and
 * reports how it ended ("denied: EAGAIN: ..." at a TasksMax= limit, "ok" if MAX were allowed). The
 * children are kept HOLD seconds, so that a test can look at the full cgroup, then killed. */
static int fork_bomb(unsigned hold, unsigned max) {
        pid_t *children = calloc(max, sizeof(pid_t));
        unsigned n = 0;
        int saved = 0, r;

        if (!children)
                return report(-1);
        fflush(stdout); /* nothing buffered may be copied into the children */
        while (n < max) {
                pid_t pid = fork();
                if (pid < 0) {
                        saved = errno;
                        break;
                }
                if (pid == 0) {
                        for (;;)
                                pause();
                }
                children[n++] = pid;
        }
        errno = saved;
        r = report(n < max ? -1 : 0);
        fprintf(stderr, "%u processes forked\n", n);
        fflush(stdout);
        fflush(stderr);
        sleep(hold);
        for (unsigned i = 0; i < n; i++)
                (void) kill(children[i], SIGKILL);
        for (unsigned i = 0; i < n; i++)
                (void) waitpid(children[i], NULL, 0);
        free(children);
        return r;
}

/* Allocates and touches memory, 1 MiB at a time, until it is killed (the OOM killer at a MemoryMax=
 * limit), mmap() fails (denied: ENOMEM), or MAX_MIB are in use ("ok": no limit stopped it). It waits
 * half a second first: on a cgroup v1 host the supervisor starts watching the agent's cgroup for OOM
 * kills once systemd has started it (an agent killed before that is reported as a plain SIGKILL). */
static int memory_hog(unsigned max_mib) {
        const size_t chunk = 1 << 20;

        (void) nanosleep(&(struct timespec) { .tv_nsec = 500 * 1000 * 1000 }, NULL);
        for (unsigned i = 0; i < max_mib; i++) {
                void *p = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                        return report(-1);
                memset(p, 0x5a, chunk);
        }
        return report(0);
}

/* Dies of SIG, without a core dump: the testbed counts every core dump as a crash. */
static int die_of(int sig) {
        fflush(stdout);
        (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        (void) raise(sig);
        return 3; /* not reached unless SIG is ignored */
}

/* What a JIT runtime does at start: map memory writable and executable. Refused (MemoryDenyWriteExecute=
 * yes), it gives up as V8 does, with a trap (SIGTRAP). */
static int wx_memory(void) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (p == MAP_FAILED) {
                (void) report(-1);
                return die_of(SIGTRAP);
        }
        (void) munmap(p, 4096);
        return report(0);
}

/* A system call of another ABI of this architecture: x32's getpid (the x32 bit set on the number), which
 * seccomp sees before the kernel looks whether it supports x32 at all. Killed with SIGSYS under
 * SystemCallArchitectures=native; elsewhere "ok", or "denied: ENOSYS" on a kernel without x32. No core
 * dump either way (the testbed counts them). */
static int foreign_syscall(void) {
#if defined(__x86_64__)
        fflush(stdout);
        (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        return report((int) syscall(0x40000000 /* __X32_SYSCALL_BIT */ | SYS_getpid));
#else
        puts("unsupported: no second ABI to call on this architecture");
        return 2;
#endif
}

static int usage(void) {
        fputs("usage: openshell-probe open-read PATH | open-write PATH | stat PATH | connect-unix PATH | mount | unshare user|net|mount|pid |\n"
              "       connect-tcp ADDRESS PORT | tcp-read-line ADDRESS PORT |\n"
              "       socket raw|packet|inet|vsock|bluetooth | ptrace PID | kill PID | setuid | euid |\n"
              "       chmod-suid PATH | syscall bpf|keyctl|userfaultfd|perf_event_open|io_uring_setup|memfd_create |\n"
              "       fork-bomb [HOLD-SECONDS [MAX]] | memory-hog [MAX-MIB] | wx-memory | foreign-syscall\n",
              stderr);
        return 2;
}

int main(int argc, char *argv[]) {
        const char *what = argc > 1 ? argv[1] : "";
        const char *arg = argc > 2 ? argv[2] : NULL;

        if (!strcmp(what, "open-read") && arg)
                return report(open(arg, O_RDONLY | O_CLOEXEC | O_NONBLOCK));
        if (!strcmp(what, "open-write") && arg)
                return report(open(arg, O_WRONLY | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644));
        if (!strcmp(what, "stat") && arg) {
                struct stat st;
                return report(lstat(arg, &st));
        }
        if (!strcmp(what, "connect-unix") && arg)
                return report(connect_unix(arg));
        if (!strcmp(what, "connect-tcp") && arg && argc > 3)
                return report(connect_tcp(arg, argv[3]));
        if (!strcmp(what, "tcp-read-line") && arg && argc > 3)
                return tcp_read_line(arg, argv[3]);
        if (!strcmp(what, "mount"))
                return report(mount("tmpfs", "/tmp", "tmpfs", 0, NULL));
        if (!strcmp(what, "unshare") && arg) {
                int flags = !strcmp(arg, "user")  ? CLONE_NEWUSER :
                            !strcmp(arg, "net")   ? CLONE_NEWNET :
                            !strcmp(arg, "mount") ? CLONE_NEWNS :
                            !strcmp(arg, "pid")   ? CLONE_NEWPID : 0;
                if (!flags)
                        return usage();
                return report(unshare(flags));
        }
        if (!strcmp(what, "socket") && arg) {
                if (!strcmp(arg, "raw"))
                        return report(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP));
                if (!strcmp(arg, "packet"))
                        return report(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
                if (!strcmp(arg, "inet"))
                        return report(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
                if (!strcmp(arg, "vsock"))
                        return report(socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
                if (!strcmp(arg, "bluetooth"))
                        return report(socket(AF_BLUETOOTH, SOCK_RAW | SOCK_CLOEXEC, 0));
                return usage();
        }
        if (!strcmp(what, "ptrace") && arg)
                return report((int) ptrace(PTRACE_ATTACH, (pid_t) atoi(arg), NULL, NULL));
        if (!strcmp(what, "kill") && arg)
                return report(kill((pid_t) atoi(arg), 0));
        if (!strcmp(what, "setuid"))
                return report(setuid(0));
        if (!strcmp(what, "euid")) {
                printf("%u\n", (unsigned) geteuid());
                return 0;
        }
        /* Raw system calls with harmless arguments: what matters is whether the kernel sees them. */
        if (!strcmp(what, "syscall") && arg) {
                if (!strcmp(arg, "bpf"))
                        return report((int) syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, NULL, 0));
                if (!strcmp(arg, "keyctl"))
                        return report((int) syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0));
                if (!strcmp(arg, "userfaultfd"))
                        return report((int) syscall(SYS_userfaultfd, 0));
                if (!strcmp(arg, "perf_event_open"))
                        return report((int) syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
                if (!strcmp(arg, "io_uring_setup"))
                        return report((int) syscall(SYS_io_uring_setup, 1, NULL));
                if (!strcmp(arg, "memfd_create"))
                        return report((int) syscall(SYS_memfd_create, "probe", 0));
                return usage();
        }
        if (!strcmp(what, "chmod-suid") && arg)
                return report(chmod(arg, 04755));
        if (!strcmp(what, "fork-bomb")) {
                int max = argc > 3 ? atoi(argv[3]) : 10000;
                if (max <= 0)
                        return usage();
                return fork_bomb(arg ? (unsigned) atoi(arg) : 0, (unsigned) max);
        }
        if (!strcmp(what, "memory-hog"))
                return memory_hog(arg ? (unsigned) atoi(arg) : 1024);
        if (!strcmp(what, "wx-memory"))
                return wx_memory();
        if (!strcmp(what, "foreign-syscall"))
                return foreign_syscall();
        return usage();
}
