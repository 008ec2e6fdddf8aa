/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Logging for daemons and the CLI. Library code (policy/, lib/basic, lib/common) does not
 * log: it returns negative errno values and fills error lists; callers log once.
 *
 * Output goes to stderr. When stderr is connected to the journal (JOURNAL_STREAM names it), each line
 * carries a "<N>" syslog prefix so journald records the right priority. */

#include <syslog.h>

#include "diag.h"
#include "macro.h"

void log_setup(void);
void log_set_max_level(int level);
int log_get_max_level(void) _pure_;
/* Prefixes each line with "NAME: " (the CLI uses this; daemons leave it unset, the journal knows). */
void log_set_prefix(const char *prefix);

int log_internal(int level, int error, const char *fmt, ...) _printf_(3, 4);

/* Sends one structured journal entry made of "FIELD=value" strings (audit events), with PRIORITY=LEVEL
 * unless the fields have a PRIORITY= of their own. If the journal cannot take it, its MESSAGE= is
 * logged the ordinary way (stderr) at LEVEL, so the event is not lost. */
int log_journal_fields(int level, char *const *fields);

/* Logs every entry of l, errors at LOG_ERR and warnings at LOG_WARNING, one line each in
 * diag_format()'s form without the prefix of log_set_prefix() (the line names its own file, as a
 * compiler's does), and a last line "N more problems not shown" if the list dropped some. */
void log_diag_list(const DiagList *l);

/* Its value is -abs(error) whether or not the message is shown, written out here (log_internal()
 * returns the same) so that a reader and the static analyzer see that "return log_error_errno(r, ...)"
 * returns a negative value for a negative r. */
#define log_full_errno(level, error, ...)                                                                   \
        ({                                                                                                  \
                int _level_ = (level), _e_ = (error);                                                       \
                _e_ = _e_ < 0 ? -_e_ : _e_;                                                                 \
                if (log_get_max_level() >= _level_)                                                         \
                        (void) log_internal(_level_, _e_, __VA_ARGS__);                                     \
                -_e_;                                                                                       \
        })

#define log_full(level, ...) (void) log_full_errno(level, 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_notice_errno(e, ...) log_full_errno(LOG_NOTICE, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)

#define log_oom() log_error_errno(ENOMEM, "Out of memory.")
