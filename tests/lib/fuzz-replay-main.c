/* SPDX-License-Identifier: Apache-2.0 */
/* The main() of the fuzz targets' replay programs: feeds every file of the directories (or the files)
 * named on the command line to LLVMFuzzerTestOneInput(), so that meson's 'fuzz' suite runs each corpus
 * as a regression test without libFuzzer. Fails if nothing was replayed. With --skip-if-absent first,
 * a missing argument skips the test (exit 77, for meson) instead of failing it: for inputs that live
 * outside the repository (upstream's files in ../shared, absent from a user's clone). */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(int dfd, const char *name) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ uint8_t *buf = NULL;
        struct stat st;
        size_t n = 0;

        fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return 0;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (n < (size_t) st.st_size) {
                ssize_t k = read(fd, buf + n, (size_t) st.st_size - n);
                if (k <= 0)
                        return k < 0 ? -errno : -EIO;
                n += (size_t) k;
        }
        (void) LLVMFuzzerTestOneInput(buf, n);
        return 1;
}

/* Replays every file of the directories (or files) named on the command line. */
int main(int argc, char *argv[]) {
        bool skip_if_absent = argc > 1 && strcmp(argv[1], "--skip-if-absent") == 0;
        int first = skip_if_absent ? 2 : 1;
        unsigned count = 0;

        for (int i = first; skip_if_absent && i < argc; i++)
                if (access(argv[i], F_OK) < 0) {
                        printf("SKIP: %s is absent\n", argv[i]);
                        return 77; /* meson's "skipped" */
                }
        for (int i = first; i < argc; i++) {
                _cleanup_(closedirp) DIR *d = opendir(argv[i]);

                if (!d) {
                        int r = replay_file(AT_FDCWD, argv[i]);
                        if (r < 0) {
                                fprintf(stderr, "Cannot read %s: %s\n", argv[i], strerror(-r));
                                return EXIT_FAILURE;
                        }
                        count += (unsigned) r;
                        continue;
                }
                for (struct dirent *de; (de = readdir(d));) {
                        int r;
                        if (de->d_name[0] == '.')
                                continue;
                        r = replay_file(dirfd(d), de->d_name);
                        if (r < 0) {
                                fprintf(stderr, "Cannot read %s/%s: %s\n", argv[i], de->d_name, strerror(-r));
                                return EXIT_FAILURE;
                        }
                        count += (unsigned) r;
                }
        }
        printf("%u inputs replayed\n", count);
        return count > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
