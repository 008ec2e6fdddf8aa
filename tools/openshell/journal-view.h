/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* `openshell logs`: which journal entries belong to a sandbox, and how they are shown. The command
 * line (openshell-logs.c) only parses arguments; everything here works on any sd_journal, so the
 * unit tests run it on journal files made for them.
 *
 * Upstream OpenShell's `logs` reads lines its gateway collected, from the sources "gateway" and
 * "sandbox". Here the journal holds everything, and the sources are mapped onto units and fields:
 *
 *   sandbox  entries of the supervisor openshell-sandbox@NAME.service, of the agent
 *            openshell-agent-NAME.service and of the sandbox's egress proxy
 *            openshell-proxy@NAME.service (_SYSTEMD_UNIT=), the audit events these units write
 *            among them, and systemd's own messages about the three units (_PID=1 with UNIT=): as
 *            upstream's "sandbox" source, whose supervisor is also its proxy, it shows the denials;
 *   broker   entries of openshell-broker.service with OPENSHELL_SANDBOX=NAME: the broker's
 *            audit event of each inference request of the sandbox;
 *   proxy    entries of openshell-proxy@NAME.service (its decisions and its own lines), systemd's
 *            messages about it, and the network audit events the supervisor writes.
 *
 * An entry may belong to two sources (the proxy's entries are "sandbox" and "proxy"); it is shown
 * when either is selected, labelled with the narrower one (proxy, then broker). Which unit wrote an
 * entry is journald's _SYSTEMD_UNIT=, which no sender can set: an audit event is one only when the
 * unit that must write it did. So neither what runs in a sandbox nor any other local process can
 * pose as a sandbox's proxy, whatever fields it gives its entries. Upstream has no "gateway" here:
 * there is no gateway. */

#include <json-c/json.h>
#include <stdio.h>
#include <systemd/sd-journal.h>

#include "macro.h"

typedef enum JournalSource {
        JOURNAL_SOURCE_SANDBOX,
        JOURNAL_SOURCE_PROXY,
        JOURNAL_SOURCE_BROKER,
        _JOURNAL_SOURCE_MAX,
        _JOURNAL_SOURCE_INVALID = -EINVAL,
} JournalSource;

#define JOURNAL_SOURCE_BIT(s) (1U << (s))
#define JOURNAL_SOURCES_ALL ((1U << _JOURNAL_SOURCE_MAX) - 1U)
#define JOURNAL_BROKER_UNIT "openshell-broker.service"

const char *journal_source_to_string(JournalSource s) _pure_;
/* "sandbox", "proxy", "broker" -> its bit; "all" -> JOURNAL_SOURCES_ALL; else -EINVAL. */
int journal_sources_from_string(const char *s, unsigned *ret);

/* Upstream's --level (error, warn, info, debug, trace): the least severe journal PRIORITY shown
 * (trace is debug: syslog priorities end there). -EINVAL for another word. */
int journal_level_from_string(const char *s);

/* Upstream's log levels as shown, from a journal PRIORITY: "ERROR" (0-3), "WARN" (4), "INFO" (5-6),
 * "DEBUG" (7). */
const char *journal_priority_to_level(int priority) _pure_;

/* --since: a point in time as journalctl --since takes it, or as upstream's `logs --since` does, in
 * microseconds since the epoch (CLOCK_REALTIME):
 *   "YYYY-MM-DD HH:MM:SS", "YYYY-MM-DD HH:MM", "YYYY-MM-DD" (local time, or UTC with " UTC" after),
 *   "HH:MM:SS", "HH:MM" (today), "now", "today", "yesterday", "@SECONDS" (since the epoch),
 *   "-SPAN" and "SPAN ago" (journalctl), and a bare "SPAN" (upstream: "5m", "1h", "30s"),
 * where SPAN is one or more NUMBER UNIT, UNIT one of s, sec, second(s), m, min, minute(s), h, hr,
 * hour(s), d, day(s), w, week(s) ("1h 30min", "90s"). now_usec is the current time. -EINVAL for
 * anything else (also a time before the epoch, a span that overflows). */
int journal_parse_since(const char *s, uint64_t now_usec, uint64_t *ret);

/* What `openshell logs NAME` selects. */
typedef struct JournalFilter {
        char *sandbox;
        char *supervisor_unit; /* openshell-sandbox@NAME.service */
        char *agent_unit;      /* openshell-agent-NAME.service */
        char *proxy_unit;      /* openshell-proxy@NAME.service */
        unsigned sources;      /* JOURNAL_SOURCE_BIT()s; 0 selects nothing */
        int max_priority;      /* LOG_DEBUG: every level */
        uint64_t since_usec;   /* CLOCK_REALTIME; 0: from the journal's start */
} JournalFilter;

/* -EINVAL for an invalid sandbox name. */
int journal_filter_init(JournalFilter *f, const char *sandbox, unsigned sources, int max_priority,
                        uint64_t since_usec);
void journal_filter_done(JournalFilter *f);

/* Adds the journal matches of f's sources to j (after sd_journal_flush_matches()), so that the
 * journal itself skips what cannot be selected; journal_filter_selects() stays the rule. */
int journal_filter_add_matches(const JournalFilter *f, sd_journal *j);

/* The fields of one journal entry that `logs` uses. Strings are NULL when the entry lacks the field;
 * openshell holds its OPENSHELL_* fields, "FIELD=value", in the journal's order. */
typedef struct JournalEntry {
        uint64_t realtime_usec;
        char *message;
        int priority; /* -1 when the entry has none */
        char *unit;   /* _SYSTEMD_UNIT */
        char *slice;  /* _SYSTEMD_SLICE */
        char *object_unit; /* UNIT: the unit systemd (PID 1) writes about */
        bool from_pid1;
        char *identifier; /* SYSLOG_IDENTIFIER */
        char *message_id;
        char **openshell;
} JournalEntry;

/* Reads the entry j is at. */
int journal_entry_read(sd_journal *j, JournalEntry *ret);
void journal_entry_done(JournalEntry *e);
/* The value of OPENSHELL_<name> ("EVENT" for OPENSHELL_EVENT), or NULL. */
const char *journal_entry_openshell(const JournalEntry *e, const char *name) _pure_;

/* The sources of f's sandbox e belongs to, as bits (whichever f selects). */
unsigned journal_entry_sources(const JournalEntry *e, const JournalFilter *f) _pure_;
/* Whether `logs` shows e: of a selected source, severe enough, not before --since. */
bool journal_filter_selects(const JournalFilter *f, const JournalEntry *e) _pure_;

/* The line upstream's CLI prints for a log line (its §4 format),
 *   [EPOCH.MS] [SOURCE] [LEVEL] [TARGET] MESSAGE
 * where LEVEL is "AUDIT" for an audit event (one with OPENSHELL_EVENT, not from a sandbox), whose
 * TARGET is its event class (network, inference, process, ...), and otherwise the level of its
 * PRIORITY, padded to five, with the program (SYSLOG_IDENTIFIER or unit) as TARGET. Control characters and bytes that are not
 * UTF-8 are shown as \xNN, so that what an agent writes cannot drive the terminal; the lines of a
 * message of several lines are indented under the first. No newline at the end. */
int journal_entry_format_text(const JournalEntry *e, const JournalFilter *f, char **ret);
/* One JSON object: timestamp_ms, sandbox, source, level, priority (absent when the entry has
 * none), target, unit, message, and fields: MESSAGE_ID and every OPENSHELL_* field. Bytes that are
 * not UTF-8 become U+FFFD. */
int journal_entry_to_json(const JournalEntry *e, const JournalFilter *f, json_object **ret);

typedef enum JournalOutput {
        JOURNAL_OUTPUT_TEXT,
        JOURNAL_OUTPUT_JSON,
} JournalOutput;

/* Prints the last n_lines entries f selects, oldest first, one per line, and leaves j after the
 * last entry of the journal, so that journal_view_follow() prints only what comes next. For a
 * journal that is followed, call sd_journal_get_fd() first (so that nothing written meanwhile is
 * missed). */
int journal_view_show(sd_journal *j, const JournalFilter *f, uint64_t n_lines, JournalOutput o, FILE *out);
/* Prints each new entry f selects as it arrives, until SIGINT or SIGTERM (then returns 0). Blocks
 * both signals in the calling process, to receive them on a signalfd, and leaves them blocked. */
int journal_view_follow(sd_journal *j, const JournalFilter *f, JournalOutput o, FILE *out);
