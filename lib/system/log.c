/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <systemd/sd-journal.h>

#include "log.h"
#include "string-util.h"

static int max_level = LOG_INFO;
static bool to_journal = false;
static const char *prefix = NULL;

/* JOURNAL_STREAM is "DEV:INODE" of the stream journald connected to our stdout/stderr. */
static bool stderr_is_journal(void) {
        const char *e = secure_getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_setup(void) {
        const char *e = secure_getenv("OPENSHELL_LOG_LEVEL");

        to_journal = stderr_is_journal();
        if (!e)
                return;
        if (streq(e, "debug"))
                max_level = LOG_DEBUG;
        else if (streq(e, "info"))
                max_level = LOG_INFO;
        else if (streq(e, "warn") || streq(e, "warning"))
                max_level = LOG_WARNING;
        else if (streq(e, "error"))
                max_level = LOG_ERR;
}

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_set_prefix(const char *p) {
        prefix = p;
}

int log_internal(int level, int error, const char *fmt, ...) {
        va_list ap;

        flockfile(stderr);
        if (to_journal)
                fprintf(stderr, "<%d>", level);
        else if (prefix)
                fprintf(stderr, "%s: ", prefix);
        errno = error; /* so that %m names the error passed in */
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        funlockfile(stderr);
        return -error;
}

int log_journal_fields(int level, char *const *fields) {
        _cleanup_free_ struct iovec *iov = NULL;
        size_t n = strv_length(fields);
        int r;

        iov = calloc(n, sizeof(struct iovec));
        if (!iov)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                iov[i] = (struct iovec) { .iov_base = fields[i], .iov_len = strlen(fields[i]) };
        r = sd_journal_sendv(iov, (int) n);
        if (r < 0)
                STRV_FOREACH(f, fields)
                        if (startswith(*f, "MESSAGE="))
                                log_full(level, "%s", *f + strlen("MESSAGE="));
        return r;
}
