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

_printf_(4, 0) static int log_write(int level, bool prefixed, int error, const char *fmt, va_list ap) {
        flockfile(stderr);
        if (to_journal)
                fprintf(stderr, "<%d>", level);
        else if (prefix && prefixed)
                fprintf(stderr, "%s: ", prefix);
        errno = error; /* so that %m names the error passed in */
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        funlockfile(stderr);
        return -error;
}

int log_internal(int level, int error, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = log_write(level, true, error, fmt, ap);
        va_end(ap);
        return r;
}

/* A diagnostic names its own place ("FILE:LINE:COLUMN: ..."), as a compiler's does: no program prefix,
 * so that editors and scripts read it as they read a compiler's. */
_printf_(2, 3) static void log_diag_line(int level, const char *fmt, ...) {
        va_list ap;

        if (log_get_max_level() < level)
                return;
        va_start(ap, fmt);
        (void) log_write(level, false, 0, fmt, ap);
        va_end(ap);
}

int log_journal_fields(int level, char *const *fields) {
        _cleanup_free_ struct iovec *iov = NULL;
        size_t n = strv_length(fields), k = 0;
        char priority[sizeof("PRIORITY=") + 12];
        bool have_priority = false;
        int r;

        iov = calloc(n + 1, sizeof(struct iovec));
        if (!iov)
                return -ENOMEM;
        STRV_FOREACH(f, fields) {
                have_priority = have_priority || startswith(*f, "PRIORITY=");
                iov[k++] = (struct iovec) { .iov_base = *f, .iov_len = strlen(*f) };
        }
        /* Without PRIORITY= journald would file the event at no level at all: `journalctl -p` and
         * `openshell logs --level` could not select it. */
        if (!have_priority) {
                (void) snprintf(priority, sizeof priority, "PRIORITY=%d", LOG_PRI(level));
                iov[k++] = (struct iovec) { .iov_base = priority, .iov_len = strlen(priority) };
        }
        r = sd_journal_sendv(iov, (int) k);
        if (r < 0)
                STRV_FOREACH(f, fields)
                        if (startswith(*f, "MESSAGE="))
                                log_full(level, "%s", *f + strlen("MESSAGE="));
        return r;
}

void log_diag_list(const DiagList *l) {
        size_t total = l->n_errors + l->n_warnings;

        for (size_t i = 0; i < l->n_items; i++) {
                _cleanup_free_ char *line = NULL;
                int level = l->items[i].level == DIAG_WARNING ? LOG_WARNING : LOG_ERR;

                if (diag_format(&l->items[i], &line) < 0) {
                        log_oom();
                        return;
                }
                log_diag_line(level, "%s", line);
        }
        if (total > l->n_items)
                log_diag_line(l->n_errors > 0 ? LOG_ERR : LOG_WARNING, "%zu more problems not shown",
                              total - l->n_items);
}
