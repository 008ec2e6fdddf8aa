/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The handful of helpers every module uses: cleanup attributes, ownership transfer, array sizes.
 * Written for this project (systemd's own macro.h is internal to systemd and not a library). */

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _pure_ __attribute__((pure))
#define _const_ __attribute__((const))
#define _warn_unused_result_ __attribute__((warn_unused_result))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))

#define ELEMENTSOF(x)                                                                                   \
        (__builtin_choose_expr(!__builtin_types_compatible_p(typeof(x), typeof(&*(x))),                 \
                               sizeof(x) / sizeof((x)[0]), (void) 0))

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Returns the value of *p and resets *p to NULL: ownership moves to the caller. */
#define TAKE_PTR(p)                                                                                     \
        ({                                                                                              \
                typeof(p) *_pp_ = &(p);                                                                 \
                typeof(p) _p_ = *_pp_;                                                                  \
                *_pp_ = NULL;                                                                           \
                _p_;                                                                                    \
        })

/* Same for file descriptors, which are "unset" at -EBADF. */
#define TAKE_FD(fd)                                                                                     \
        ({                                                                                              \
                int *_pfd_ = &(fd);                                                                     \
                int _fd_ = *_pfd_;                                                                      \
                *_pfd_ = -EBADF;                                                                        \
                _fd_;                                                                                   \
        })

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                         \
        static inline void func##p(type *p) {                                                           \
                if (*p)                                                                                 \
                        *p = func(*p);                                                                  \
        }

/* free() in an expression: p = mfree(p). */
static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

static inline void freep(void *p) {
        free(*(void **) p);
        *(void **) p = NULL;
}

static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}

static inline void closep(int *fd) {
        *fd = safe_close(*fd);
}

static inline FILE *safe_fclose(FILE *f) {
        if (f)
                (void) fclose(f);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(FILE *, safe_fclose);

static inline DIR *safe_closedir(DIR *d) {
        if (d)
                (void) closedir(d);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, safe_closedir);
#define closedirp safe_closedirp

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(safe_fclosep)

/* Converts a libc "-1 and errno" result into a negative errno (never 0 on failure). */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}
#define RET_NERRNO(expr)                                                                                \
        ({                                                                                              \
                int _r_ = (expr);                                                                       \
                _r_ < 0 ? negative_errno() : _r_;                                                       \
        })

/* An error we make up ourselves: sets errno (so %m works in the caller's message) and yields -e. */
#define SYNTHETIC_ERRNO(e) ({ errno = (e); -(e); })

#define streq(a, b) (strcmp((a), (b)) == 0)
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)
#define isempty(s) (!(s) || !(s)[0])
