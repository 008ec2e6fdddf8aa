/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "fs-util.h"

/* Deeper trees than this are not something we create; refusing bounds the recursion. */
#define RM_RF_DEPTH_MAX 256

static int rm_rf_children(int fd, unsigned depth, dev_t dev);

static int rm_rf_entry(int dir_fd, const char *name, unsigned depth, dev_t dev) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r;

        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return RET_NERRNO(unlinkat(dir_fd, name, 0));
        if (st.st_dev != dev)
                return -EXDEV; /* a mount point inside: not ours to empty */
        if (depth >= RM_RF_DEPTH_MAX)
                return -ELOOP;

        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = rm_rf_children(TAKE_FD(fd), depth + 1, dev);
        if (r < 0)
                return r;
        return RET_NERRNO(unlinkat(dir_fd, name, AT_REMOVEDIR));
}

/* Takes ownership of fd. */
static int rm_rf_children(int fd, unsigned depth, dev_t dev) {
        _cleanup_(closedirp) DIR *d = fdopendir(fd);
        int r = 0;

        if (!d) {
                safe_close(fd);
                return -errno;
        }
        for (struct dirent *de; (errno = 0, de = readdir(d));) {
                int k;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                k = rm_rf_entry(dirfd(d), de->d_name, depth, dev);
                if (k < 0 && k != -ENOENT && r >= 0)
                        r = k;
        }
        if (errno > 0 && r >= 0)
                r = -errno;
        return r;
}

int rm_rf_at(int dir_fd, const char *name) {
        struct stat st;

        if (fstat(dir_fd, &st) < 0)
                return -errno;
        return rm_rf_entry(dir_fd, name, 0, st.st_dev);
}

int openat_beneath(int dir_fd, const char *path, int flags, mode_t mode) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC),
                .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };
        long fd;

        fd = syscall(SYS_openat2, dir_fd, path, &how, sizeof how);
        if (fd < 0)
                return -errno;
        return (int) fd;
}

int loop_write(int fd, const void *buf, size_t n) {
        const char *p = buf;

        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EIO;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

int copy_fd(int in, int out) {
        char buf[64 * 1024];

        for (;;) {
                ssize_t k = read(in, buf, sizeof buf);
                int r;

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return 0;
                r = loop_write(out, buf, (size_t) k);
                if (r < 0)
                        return r;
        }
}

int rlimit_nofile_raise(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return -errno;
        if (rl.rlim_cur >= rl.rlim_max)
                return 0;
        rl.rlim_cur = rl.rlim_max;
        return RET_NERRNO(setrlimit(RLIMIT_NOFILE, &rl));
}
