/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox-netns.h"

int netns_loopback_up(void) {
        struct ifreq ifr = { .ifr_name = "lo" };
        _cleanup_close_ int fd = -EBADF;

        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                return -errno;
        if (ifr.ifr_flags & IFF_UP)
                return 0;
        ifr.ifr_flags |= IFF_UP;
        return RET_NERRNO(ioctl(fd, SIOCSIFFLAGS, &ifr));
}

int netns_remove(const char *path) {
        /* Every mount stacked there (a bounded number); EINVAL: not (or no longer) a mount point, a
         * file left without its mount; ENOENT: nothing there. */
        for (unsigned i = 0;; i++) {
                if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0) {
                        if (errno == EINVAL || errno == ENOENT)
                                break;
                        return -errno;
                }
                if (i >= 16)
                        return -EBUSY;
        }
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

/* Waits for PID; its exit status is a positive errno (0: success). */
static int wait_child(pid_t pid) {
        int status;

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (!WIFEXITED(status))
                return -EPROTO;
        return -WEXITSTATUS(status);
}

static _noreturn_ void child_exit(int r) {
        _exit(r < 0 ? (-r > 255 ? EIO : -r) : 0);
}

int netns_create(const char *path) {
        _cleanup_close_ int fd = -EBADF;
        pid_t pid;
        int r;

        r = netns_remove(path);
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0444);
        if (fd < 0)
                return -errno;
        fd = safe_close(fd);

        /* A child makes the namespace and pins it: the caller stays where it was. */
        pid = fork();
        if (pid < 0)
                r = -errno;
        else if (pid == 0) {
                if (unshare(CLONE_NEWNET) < 0)
                        child_exit(-errno);
                r = netns_loopback_up();
                if (r < 0)
                        child_exit(r);
                if (mount("/proc/thread-self/ns/net", path, NULL, MS_BIND, NULL) < 0)
                        child_exit(-errno);
                child_exit(0);
        } else
                r = wait_child(pid);
        if (r < 0)
                (void) netns_remove(path);
        return r;
}

static int send_fds(int sock, const int *fds, size_t n) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(2 * sizeof(int))];
        } control = {};
        char byte = 'x';
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = CMSG_SPACE(n * sizeof(int)),
        };
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(n * sizeof(int));
        memcpy(CMSG_DATA(c), fds, n * sizeof(int));
        return RET_NERRNO(sendmsg(sock, &mh, MSG_NOSIGNAL));
}

/* Receives one or two fds; *ret_n says how many. */
static int receive_fds(int sock, int fds[static 2], size_t *ret_n) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(2 * sizeof(int))];
        } control = {};
        char byte;
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = sizeof(control) };
        struct cmsghdr *c;

        if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT) < 0)
                return -errno;
        c = CMSG_FIRSTHDR(&mh);
        if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                return -EBADMSG;
        for (size_t n = 1; n <= 2; n++)
                if (c->cmsg_len == CMSG_LEN(n * sizeof(int))) {
                        memcpy(fds, CMSG_DATA(c), n * sizeof(int));
                        *ret_n = n;
                        return 0;
                }
        return -EBADMSG;
}

static _noreturn_ void tcp_tables_child(int netns_fd, int sock) {
        int fds[2];
        size_t n = 1;

        if (setns(netns_fd, CLONE_NEWNET) < 0)
                child_exit(-errno);
        /* thread-self: the table of this thread's namespace (/proc/net is /proc/self/net, the leader's). */
        fds[0] = open("/proc/thread-self/net/tcp", O_RDONLY | O_CLOEXEC);
        if (fds[0] < 0)
                child_exit(-errno);
        fds[1] = open("/proc/thread-self/net/tcp6", O_RDONLY | O_CLOEXEC);
        if (fds[1] >= 0)
                n = 2;
        else if (errno != ENOENT)
                child_exit(-errno);
        child_exit(send_fds(sock, fds, n));
}

int netns_open_tcp_tables(int netns_fd, int *ret_tcp, int *ret_tcp6) {
        _cleanup_close_ int sock = -EBADF;
        int pair[2], fds[2] = { -EBADF, -EBADF }, r;
        size_t n = 0;
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) < 0)
                return -errno;
        sock = pair[0];
        pid = fork();
        if (pid < 0) {
                safe_close(pair[1]);
                return -errno;
        }
        if (pid == 0)
                tcp_tables_child(netns_fd, pair[1]);
        safe_close(pair[1]);
        r = wait_child(pid);
        if (r < 0)
                return r;
        r = receive_fds(sock, fds, &n);
        if (r < 0)
                return r;
        *ret_tcp = fds[0];
        *ret_tcp6 = n == 2 ? fds[1] : -EBADF;
        return 0;
}
