/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <sys/types.h>

#include "macro.h"

/* Removes NAME below the directory dir_fd, recursively, without ever following a symbolic link
 * (links are removed, not their targets) and without leaving dir_fd's file system. -ENOENT if it
 * does not exist. */
int rm_rf_at(int dir_fd, const char *name);

/* openat2() with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV: path is resolved strictly
 * below dir_fd; "..", absolute symlinks and links that lead out are refused (-EXDEV), as are magic
 * links such as /proc/self/fd/N. Falls back to refusing with -ENOSYS on kernels without openat2. */
int openat_beneath(int dir_fd, const char *path, int flags, mode_t mode);

/* Writes all of buf, retrying on short writes and EINTR. */
int loop_write(int fd, const void *buf, size_t n);
/* Copies everything from in to out. */
int copy_fd(int in, int out);
/* Raises the soft RLIMIT_NOFILE to the hard limit (the soft 1024 only exists for select() users):
 * for daemons holding several descriptors per client. 0, or a negative errno. */
int rlimit_nofile_raise(void);
