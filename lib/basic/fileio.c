/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "fs-util.h"
#include "string-util.h"

int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        for (;;) {
                ssize_t n;

                if (size + 1 >= allocated) {
                        /* Never more than max + 2 bytes: one past max tells "too big" from "exactly max". */
                        size_t want = MIN(MAX(allocated * 2, (size_t) 4096), max + 2);
                        char *p;

                        if (want <= size + 1)
                                return -EFBIG;
                        p = realloc(buf, want);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        allocated = want;
                }
                n = read(fd, buf + size, allocated - size - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size > max)
                        return -EFBIG;
        }
        if (!buf && !(buf = malloc(1)))
                return -ENOMEM;
        buf[size] = 0;
        if (ret_size)
                *ret_size = size;
        *ret = TAKE_PTR(buf);
        return 0;
}

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        struct stat st;

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) >= 0)
                return 0;
        if (errno != EEXIST)
                return -errno;
        if (stat(p, &st) < 0)
                return -errno;
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode, WriteFileFlags flags) {
        _cleanup_free_ char *dir = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -EBADF, dir_fd = -EBADF;
        const char *slash = strrchr(path, '/');
        int r;

        if (!slash || !slash[1])
                return -EINVAL;
        dir = slash == path ? strdup("/") : strndup(path, (size_t) (slash - path));
        if (!dir)
                return -ENOMEM;
        if (flags & WRITE_FILE_MKDIR) {
                r = mkdir_p(dir, 0755);
                if (r < 0)
                        return r;
        }
        r = asprintf_safe(&tmp, "%s/.%s.XXXXXX", dir, slash + 1);
        if (r < 0)
                return r;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;

        r = RET_NERRNO(fchmod(fd, mode));
        if (r >= 0)
                r = loop_write(fd, data, size);
        if (r >= 0)
                r = RET_NERRNO(fsync(fd));
        if (r >= 0 && (flags & WRITE_FILE_NOREPLACE))
                /* link() never replaces: a file created meanwhile wins, and we say so. */
                r = RET_NERRNO(link(tmp, path));
        else if (r >= 0)
                r = RET_NERRNO(rename(tmp, path));
        if (r < 0 || (flags & WRITE_FILE_NOREPLACE))
                (void) unlink(tmp);
        if (r < 0)
                return r;

        /* The rename is durable once the directory is; a failure here loses nothing already written. */
        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd >= 0)
                (void) fsync(dir_fd);
        return 0;
}

int read_full_file_at(int dir_fd, const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        return read_full_fd(fd, max, ret, ret_size);
}
