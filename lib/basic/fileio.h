/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Whole files: bounded reads, atomic replacement, directories with their parents. */

#include <fcntl.h>
#include <sys/types.h>

#include "macro.h"

/* Reads all of path (relative to dir_fd, or AT_FDCWD) into a NUL-terminated buffer; -EFBIG if it is
 * larger than max bytes (the reader never holds more than max + 1). Opened O_NONBLOCK | O_NOCTTY, so a
 * FIFO or a terminal named by a user cannot block or become our terminal; a directory is -EISDIR.
 * ret_size may be NULL. */
int read_full_file_at(int dir_fd, const char *path, size_t max, char **ret, size_t *ret_size);
/* The same from fd's current offset to its end. */
int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size);
static inline int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size) {
        return read_full_file_at(AT_FDCWD, path, max, ret, ret_size);
}

typedef enum WriteFileFlags {
        WRITE_FILE_MKDIR = 1 << 0,     /* create the parent directories (0755) first */
        WRITE_FILE_NOREPLACE = 1 << 1, /* -EEXIST rather than replace an existing file */
} WriteFileFlags;

/* Writes data to path so that readers see the old file or the new one, never a part: a temporary
 * file in the same directory gets the mode before any byte is written (secrets are never readable
 * by others, not even briefly), the data, fsync(); then rename() (or link() with NOREPLACE) over the
 * path and fsync() of the directory. On failure the temporary file is removed and path is unchanged. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode, WriteFileFlags flags);

/* mkdir -p: every missing parent with 0755, the last component with mode. Existing directories are
 * fine; an existing non-directory is -ENOTDIR. */
int mkdir_p(const char *path, mode_t mode);
