/* SPDX-License-Identifier: Apache-2.0 */
/* `openshell logs`: selecting a sandbox's journal entries and showing them (journal-view.h). */

#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <systemd/sd-event.h>

#include "journal-view.h"
#include "parse-util.h"
#include "sandbox-name.h"
#include "sandbox-unit.h"
#include "string-util.h"

#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define OPENSHELL_FIELD_PREFIX "OPENSHELL_"
#define AUDIT_LEVEL "AUDIT"

static const char *const source_names[_JOURNAL_SOURCE_MAX] = {
        [JOURNAL_SOURCE_SANDBOX] = "sandbox",
        [JOURNAL_SOURCE_PROXY] = "proxy",
        [JOURNAL_SOURCE_BROKER] = "broker",
};

const char *journal_source_to_string(JournalSource s) {
        return s >= 0 && s < _JOURNAL_SOURCE_MAX ? source_names[s] : NULL;
}

int journal_sources_from_string(const char *s, unsigned *ret) {
        if (streq(s, "all")) {
                *ret = JOURNAL_SOURCES_ALL;
                return 0;
        }
        for (JournalSource i = 0; i < _JOURNAL_SOURCE_MAX; i++)
                if (streq(s, source_names[i])) {
                        *ret = JOURNAL_SOURCE_BIT(i);
                        return 0;
                }
        return -EINVAL;
}

int journal_level_from_string(const char *s) {
        static const struct {
                const char *name;
                int priority;
        } levels[] = {
                { "error", LOG_ERR }, { "warn", LOG_WARNING }, { "info", LOG_INFO },
                { "debug", LOG_DEBUG }, { "trace", LOG_DEBUG },
        };

        for (size_t i = 0; i < ELEMENTSOF(levels); i++)
                if (streq(s, levels[i].name))
                        return levels[i].priority;
        return -EINVAL;
}

const char *journal_priority_to_level(int priority) {
        if (priority <= LOG_ERR)
                return "ERROR";
        if (priority == LOG_WARNING)
                return "WARN";
        if (priority <= LOG_INFO)
                return "INFO";
        return "DEBUG";
}

/* The decimal number at *p (at least one digit), moving *p past it; -ERANGE past UINT64_MAX. */
static int parse_decimal(const char **p, uint64_t *ret) {
        size_t digits = strspn(*p, "0123456789");
        uint64_t n = 0;

        if (digits == 0)
                return -EINVAL;
        for (size_t i = 0; i < digits; i++) {
                uint64_t d = (uint64_t) ((*p)[i] - '0');

                if (n > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                n = n * 10 + d;
        }
        *p += digits;
        *ret = n;
        return 0;
}

/* ---- --since ---- */

/* Parses exactly n digits at *p, moving *p past them. */
static int parse_digits(const char **p, size_t n, int *ret) {
        int v = 0;

        for (size_t i = 0; i < n; i++) {
                if ((*p)[i] < '0' || (*p)[i] > '9')
                        return -EINVAL;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += n;
        *ret = v;
        return 0;
}

static bool skip_char(const char **p, char c) {
        if (**p != c)
                return false;
        (*p)++;
        return true;
}

/* "HH:MM" or "HH:MM:SS" at *p into tm. */
static int parse_clock(const char **p, struct tm *tm) {
        if (parse_digits(p, 2, &tm->tm_hour) < 0 || !skip_char(p, ':') || parse_digits(p, 2, &tm->tm_min) < 0)
                return -EINVAL;
        tm->tm_sec = 0;
        if (skip_char(p, ':') && parse_digits(p, 2, &tm->tm_sec) < 0)
                return -EINVAL;
        if (tm->tm_hour > 23 || tm->tm_min > 59 || tm->tm_sec > 59)
                return -EINVAL;
        return 0;
}

/* tm (local time, or UTC) -> microseconds since the epoch; refuses dates mktime() had to normalize
 * ("2026-02-31") and times before the epoch. */
static int tm_to_usec(struct tm *tm, bool utc, uint64_t *ret) {
        int year = tm->tm_year, month = tm->tm_mon, day = tm->tm_mday;
        time_t t;

        tm->tm_isdst = -1;
        t = utc ? timegm(tm) : mktime(tm);
        if (t == (time_t) -1 || t < 0)
                return -EINVAL;
        if (tm->tm_year != year || tm->tm_mon != month || tm->tm_mday != day)
                return -EINVAL;
        *ret = (uint64_t) t * USEC_PER_SEC;
        return 0;
}

/* "[YYYY-MM-DD ]HH:MM[:SS]", "YYYY-MM-DD", each optionally followed by " UTC". */
static int parse_timestamp(const char *s, uint64_t now_usec, uint64_t *ret) {
        time_t now = (time_t) (now_usec / USEC_PER_SEC);
        const char *p = s;
        struct tm tm = {};
        bool utc, has_date = false;

        if (strlen(s) >= 10 && s[4] == '-') {
                if (parse_digits(&p, 4, &tm.tm_year) < 0 || !skip_char(&p, '-') ||
                    parse_digits(&p, 2, &tm.tm_mon) < 0 || !skip_char(&p, '-') ||
                    parse_digits(&p, 2, &tm.tm_mday) < 0)
                        return -EINVAL;
                if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31)
                        return -EINVAL;
                tm.tm_year -= 1900;
                tm.tm_mon -= 1;
                has_date = true;
                if (*p == ' ' && !streq(p, " UTC")) {
                        p++;
                        if (parse_clock(&p, &tm) < 0)
                                return -EINVAL;
                }
        } else if (parse_clock(&p, &tm) < 0)
                return -EINVAL;

        utc = streq(p, " UTC");
        if (!utc && *p)
                return -EINVAL;
        if (!has_date) {
                struct tm today = {};

                if (!(utc ? gmtime_r(&now, &today) : localtime_r(&now, &today)))
                        return -EINVAL;
                tm.tm_year = today.tm_year;
                tm.tm_mon = today.tm_mon;
                tm.tm_mday = today.tm_mday;
        }
        return tm_to_usec(&tm, utc, ret);
}

/* Local midnight, days_back days before now. */
static int parse_midnight(uint64_t now_usec, int days_back, uint64_t *ret) {
        time_t now = (time_t) (now_usec / USEC_PER_SEC);
        struct tm tm = {};

        if (!localtime_r(&now, &tm))
                return -EINVAL;
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        tm.tm_mday -= days_back;
        tm.tm_isdst = -1;
        now = mktime(&tm);
        if (now == (time_t) -1 || now < 0)
                return -EINVAL;
        *ret = (uint64_t) now * USEC_PER_SEC;
        return 0;
}

/* "5m", "1h 30min", "90 seconds": one or more NUMBER UNIT, in microseconds. */
static int parse_span(const char *s, uint64_t *ret) {
        static const struct {
                const char *name;
                uint64_t seconds;
        } units[] = {
                { "s", 1 },        { "sec", 1 },      { "secs", 1 },      { "second", 1 },  { "seconds", 1 },
                { "m", 60 },       { "min", 60 },     { "mins", 60 },     { "minute", 60 }, { "minutes", 60 },
                { "h", 3600 },     { "hr", 3600 },    { "hrs", 3600 },    { "hour", 3600 }, { "hours", 3600 },
                { "d", 86400 },    { "day", 86400 },  { "days", 86400 },  { "w", 604800 },  { "week", 604800 },
                { "weeks", 604800 },
        };
        uint64_t total = 0;
        const char *p = s;

        if (isempty(s))
                return -EINVAL;
        while (*p) {
                uint64_t n, usec = 0;
                size_t letters;
                bool known = false;

                p += strspn(p, " ");
                if (parse_decimal(&p, &n) < 0)
                        return -EINVAL;
                p += strspn(p, " ");
                letters = strspn(p, "abcdefghijklmnopqrstuvwxyz");
                for (size_t i = 0; i < ELEMENTSOF(units) && !known; i++)
                        if (strlen(units[i].name) == letters && strneq(p, units[i].name, letters)) {
                                if (n > UINT64_MAX / (units[i].seconds * USEC_PER_SEC))
                                        return -EINVAL;
                                usec = n * units[i].seconds * USEC_PER_SEC;
                                known = true;
                        }
                if (!known || total > UINT64_MAX - usec)
                        return -EINVAL;
                total += usec;
                p += letters;
                p += strspn(p, " ");
        }
        *ret = total;
        return 0;
}

static int parse_epoch(const char *s, uint64_t *ret) {
        uint64_t n;
        int r;

        r = safe_atou64(s, &n);
        if (r < 0 || n > UINT64_MAX / USEC_PER_SEC)
                return -EINVAL;
        *ret = n * USEC_PER_SEC;
        return 0;
}

static int span_before(uint64_t now_usec, const char *span, uint64_t *ret) {
        uint64_t d;

        if (parse_span(span, &d) < 0 || d > now_usec)
                return -EINVAL;
        *ret = now_usec - d;
        return 0;
}

int journal_parse_since(const char *s, uint64_t now_usec, uint64_t *ret) {
        uint64_t t;
        int r;

        if (streq(s, "now"))
                t = now_usec, r = 0;
        else if (streq(s, "today"))
                r = parse_midnight(now_usec, 0, &t);
        else if (streq(s, "yesterday"))
                r = parse_midnight(now_usec, 1, &t);
        else if (s[0] == '@')
                r = parse_epoch(s + 1, &t);
        else if (s[0] == '-')
                r = span_before(now_usec, s + 1, &t);
        else if (endswith(s, " ago")) {
                _cleanup_free_ char *span = strndup(s, strlen(s) - strlen(" ago"));
                if (!span)
                        return -ENOMEM;
                r = span_before(now_usec, span, &t);
        } else if (strchr(s, ':') || strchr(s, '-'))
                r = parse_timestamp(s, now_usec, &t);
        else
                r = span_before(now_usec, s, &t);
        if (r < 0)
                return r;
        *ret = t;
        return 0;
}

/* ---- the filter ---- */

int journal_filter_init(JournalFilter *f, const char *sandbox, unsigned sources, int max_priority,
                        uint64_t since_usec) {
        _cleanup_free_ char *name = NULL, *sup = NULL, *agent = NULL, *proxy = NULL;
        int r;

        if (!sandbox_name_is_valid(sandbox))
                return -EINVAL;
        name = strdup(sandbox);
        if (!name)
                return -ENOMEM;
        r = sandbox_supervisor_unit(sandbox, &sup);
        if (r < 0)
                return r;
        r = sandbox_agent_unit(sandbox, &agent);
        if (r < 0)
                return r;
        if (asprintf_safe(&proxy, SANDBOX_PROXY_SERVICE_PREFIX "%s.service", sandbox) < 0)
                return -ENOMEM;
        *f = (JournalFilter) {
                .sandbox = TAKE_PTR(name),
                .supervisor_unit = TAKE_PTR(sup),
                .agent_unit = TAKE_PTR(agent),
                .proxy_unit = TAKE_PTR(proxy),
                .sources = sources & JOURNAL_SOURCES_ALL,
                .max_priority = max_priority,
                .since_usec = since_usec,
        };
        return 0;
}

void journal_filter_done(JournalFilter *f) {
        if (!f)
                return;
        free(f->sandbox);
        free(f->supervisor_unit);
        free(f->agent_unit);
        free(f->proxy_unit);
        *f = (JournalFilter) {};
}

static int add_match(sd_journal *j, const char *field, const char *value) {
        _cleanup_free_ char *m = NULL;

        if (asprintf_safe(&m, "%s=%s", field, value) < 0)
                return -ENOMEM;
        return sd_journal_add_match(j, m, 0);
}

/* Each source is one term of a disjunction; within a term, matches on different fields must all
 * hold and matches on the same field are alternatives (sd_journal_add_match(3)). */
int journal_filter_add_matches(const JournalFilter *f, sd_journal *j) {
        bool first = true;
        int r;

        sd_journal_flush_matches(j);
#define NEXT_TERM()                                                                                     \
        do {                                                                                            \
                if (!first && (r = sd_journal_add_disjunction(j)) < 0)                                  \
                        return r;                                                                       \
                first = false;                                                                          \
        } while (0)
        if (f->sources & JOURNAL_SOURCE_BIT(JOURNAL_SOURCE_SANDBOX)) {
                NEXT_TERM();
                if ((r = add_match(j, "_SYSTEMD_UNIT", f->supervisor_unit)) < 0 ||
                    (r = add_match(j, "_SYSTEMD_UNIT", f->agent_unit)) < 0 ||
                    (r = add_match(j, "_SYSTEMD_UNIT", f->proxy_unit)) < 0)
                        return r;
                NEXT_TERM();
                if ((r = add_match(j, "_PID", "1")) < 0 || (r = add_match(j, "UNIT", f->supervisor_unit)) < 0 ||
                    (r = add_match(j, "UNIT", f->agent_unit)) < 0 ||
                    (r = add_match(j, "UNIT", f->proxy_unit)) < 0)
                        return r;
        }
        if (f->sources & JOURNAL_SOURCE_BIT(JOURNAL_SOURCE_BROKER)) {
                NEXT_TERM();
                if ((r = add_match(j, "_SYSTEMD_UNIT", JOURNAL_BROKER_UNIT)) < 0 ||
                    (r = add_match(j, "OPENSHELL_SANDBOX", f->sandbox)) < 0)
                        return r;
        }
        if (f->sources & JOURNAL_SOURCE_BIT(JOURNAL_SOURCE_PROXY)) {
                NEXT_TERM();
                if ((r = add_match(j, "_SYSTEMD_UNIT", f->proxy_unit)) < 0)
                        return r;
                NEXT_TERM();
                if ((r = add_match(j, "_PID", "1")) < 0 || (r = add_match(j, "UNIT", f->proxy_unit)) < 0)
                        return r;
                NEXT_TERM();
                if ((r = add_match(j, "_SYSTEMD_UNIT", f->supervisor_unit)) < 0 ||
                    (r = add_match(j, "OPENSHELL_SANDBOX", f->sandbox)) < 0 ||
                    (r = add_match(j, "OPENSHELL_EVENT", "network")) < 0)
                        return r;
        }
#undef NEXT_TERM
        return 0;
}

/* ---- entries ---- */

static bool field_is(const char *data, size_t key_len, const char *key) {
        return strlen(key) == key_len && strneq(data, key, key_len);
}

/* Sets *s to the value, unless an earlier copy of the field set it already. */
static int set_value(char **s, const char *value, size_t len) {
        if (*s)
                return 0;
        *s = strndup(value, len);
        return *s ? 0 : -ENOMEM;
}

int journal_entry_read(sd_journal *j, JournalEntry *ret) {
        _cleanup_(journal_entry_done) JournalEntry e = { .priority = -1 };
        const void *data;
        size_t len;
        int r;

        r = sd_journal_get_realtime_usec(j, &e.realtime_usec);
        if (r < 0)
                return r;
        sd_journal_restart_data(j);
        /* Skips fields it cannot decode (a compression this libsystemd lacks) rather than the entry. */
        while ((r = sd_journal_enumerate_available_data(j, &data, &len)) > 0) {
                const char *d = data, *eq = memchr(d, '=', len);
                size_t kl, vl;

                if (!eq)
                        continue;
                kl = (size_t) (eq - d);
                vl = len - kl - 1;
                if (field_is(d, kl, "MESSAGE"))
                        r = set_value(&e.message, eq + 1, vl);
                else if (field_is(d, kl, "PRIORITY")) {
                        if (vl == 1 && eq[1] >= '0' && eq[1] <= '7' && e.priority < 0)
                                e.priority = eq[1] - '0';
                } else if (field_is(d, kl, "_SYSTEMD_UNIT"))
                        r = set_value(&e.unit, eq + 1, vl);
                else if (field_is(d, kl, "_SYSTEMD_SLICE"))
                        r = set_value(&e.slice, eq + 1, vl);
                else if (field_is(d, kl, "UNIT"))
                        r = set_value(&e.object_unit, eq + 1, vl);
                else if (field_is(d, kl, "_PID"))
                        e.from_pid1 = e.from_pid1 || (vl == 1 && eq[1] == '1');
                else if (field_is(d, kl, "SYSLOG_IDENTIFIER"))
                        r = set_value(&e.identifier, eq + 1, vl);
                else if (field_is(d, kl, "MESSAGE_ID"))
                        r = set_value(&e.message_id, eq + 1, vl);
                else if (kl > strlen(OPENSHELL_FIELD_PREFIX) &&
                         strneq(d, OPENSHELL_FIELD_PREFIX, strlen(OPENSHELL_FIELD_PREFIX)))
                        r = strv_consume(&e.openshell, strndup(d, len));
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        *ret = e;
        e = (JournalEntry) {};
        return 0;
}

void journal_entry_done(JournalEntry *e) {
        if (!e)
                return;
        free(e->message);
        free(e->unit);
        free(e->slice);
        free(e->object_unit);
        free(e->identifier);
        free(e->message_id);
        strv_free(e->openshell);
        *e = (JournalEntry) { .priority = -1 };
}

const char *journal_entry_openshell(const JournalEntry *e, const char *name) {
        size_t nl = strlen(name), pl = strlen(OPENSHELL_FIELD_PREFIX);

        STRV_FOREACH(f, e->openshell)
                if (strneq(*f + pl, name, nl) && (*f)[pl + nl] == '=')
                        return *f + pl + nl + 1;
        return NULL;
}

static bool is_sandbox_unit(const JournalFilter *f, const char *unit) {
        return unit && (streq(unit, f->supervisor_unit) || streq(unit, f->agent_unit));
}

/* Whether e's OPENSHELL_* fields make it an audit event. Any process that may write to the journal
 * may write such fields; what runs in a sandbox, the one thing the sandboxes exist to distrust, must
 * not pass its own entries off as the proxy's events: the audit fields of the entries of any agent
 * unit, and of any unit in a sandbox's slice (`sandbox exec` too), count for nothing. _SYSTEMD_UNIT
 * and _SYSTEMD_SLICE are journald's, which no sender can set. */
static bool is_audit_event(const JournalEntry *e, const JournalFilter *f) {
        bool in_sandbox = (e->unit && startswith(e->unit, SANDBOX_AGENT_PREFIX)) ||
                          (e->slice && startswith(e->slice, "openshell-") && endswith(e->slice, ".slice"));

        return journal_entry_openshell(e, "EVENT") && !in_sandbox;
}

unsigned journal_entry_sources(const JournalEntry *e, const JournalFilter *f) {
        const char *sandbox = journal_entry_openshell(e, "SANDBOX"), *event = journal_entry_openshell(e, "EVENT");
        bool ours = sandbox && streq(sandbox, f->sandbox) && is_audit_event(e, f);
        bool proxy = streq_ptr(e->unit, f->proxy_unit) ||
                     (e->from_pid1 && streq_ptr(e->object_unit, f->proxy_unit));
        unsigned bits = 0;

        if (is_sandbox_unit(f, e->unit) || (e->from_pid1 && is_sandbox_unit(f, e->object_unit)) || proxy)
                bits |= JOURNAL_SOURCE_BIT(JOURNAL_SOURCE_SANDBOX);
        if (ours && e->unit && streq(e->unit, JOURNAL_BROKER_UNIT))
                bits |= JOURNAL_SOURCE_BIT(JOURNAL_SOURCE_BROKER);
        if (proxy || (ours && streq_ptr(e->unit, f->supervisor_unit) && streq_ptr(event, "network")))
                bits |= JOURNAL_SOURCE_BIT(JOURNAL_SOURCE_PROXY);
        return bits;
}

bool journal_filter_selects(const JournalFilter *f, const JournalEntry *e) {
        int priority = e->priority >= 0 ? e->priority : LOG_INFO;

        return (journal_entry_sources(e, f) & f->sources) && priority <= f->max_priority &&
               e->realtime_usec >= f->since_usec;
}

/* The narrowest source of e: what its line is labelled with. */
static JournalSource entry_label(const JournalEntry *e, const JournalFilter *f) {
        unsigned bits = journal_entry_sources(e, f);

        if (bits & JOURNAL_SOURCE_BIT(JOURNAL_SOURCE_PROXY))
                return JOURNAL_SOURCE_PROXY;
        if (bits & JOURNAL_SOURCE_BIT(JOURNAL_SOURCE_BROKER))
                return JOURNAL_SOURCE_BROKER;
        return JOURNAL_SOURCE_SANDBOX;
}

static const char *entry_level(const JournalEntry *e, const JournalFilter *f) {
        if (is_audit_event(e, f))
                return AUDIT_LEVEL;
        return journal_priority_to_level(e->priority >= 0 ? e->priority : LOG_INFO);
}

static const char *entry_target(const JournalEntry *e, const JournalFilter *f) {
        if (is_audit_event(e, f))
                return journal_entry_openshell(e, "EVENT");
        return e->identifier ?: e->unit ?: "-";
}

/* ---- output ---- */

/* The length of the UTF-8 sequence at s (n > 0 bytes left) and its code point, or 0 if the bytes
 * there are no well-formed sequence (overlong forms and surrogates are not). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *ret) {
        uint32_t cp, min;
        size_t len;

        if (s[0] < 0x80) {
                *ret = s[0];
                return 1;
        }
        if ((s[0] & 0xe0) == 0xc0)
                len = 2, cp = s[0] & 0x1f, min = 0x80;
        else if ((s[0] & 0xf0) == 0xe0)
                len = 3, cp = s[0] & 0x0f, min = 0x800;
        else if ((s[0] & 0xf8) == 0xf0)
                len = 4, cp = s[0] & 0x07, min = 0x10000;
        else
                return 0;
        if (n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        *ret = cp;
        return len;
}

/* Writes s for a terminal: C0 and C1 control characters (but tab) and bytes that are not UTF-8 as
 * \xNN; a newline, if indent is not NULL, as a newline followed by indent. */
static void write_escaped(FILE *out, const char *s, const char *indent) {
        const unsigned char *p = (const unsigned char *) s;
        size_t n = strlen(s);

        while (n > 0) {
                uint32_t cp;
                size_t len = utf8_decode(p, n, &cp);

                if (len > 0 && cp == '\n' && indent) {
                        fputc('\n', out);
                        fputs(indent, out);
                } else if (len == 0 || (cp < 0x20 && cp != '\t') || (cp >= 0x7f && cp < 0xa0)) {
                        fprintf(out, "\\x%02x", p[0]);
                        len = 1;
                } else
                        fwrite(p, 1, len, out);
                p += len;
                n -= len;
        }
}

/* s with each byte that is not part of a UTF-8 sequence replaced by U+FFFD (json-c escapes control
 * characters itself, but passes other bytes as they are). */
static char *utf8_sanitize(const char *s) {
        const unsigned char *p = (const unsigned char *) s;
        size_t n = strlen(s), k = 0;
        char *out = malloc(n * 3 + 1);

        if (!out)
                return NULL;
        while (n > 0) {
                uint32_t cp;
                size_t len = utf8_decode(p, n, &cp);

                if (len == 0) {
                        memcpy(out + k, "\xef\xbf\xbd", 3);
                        k += 3;
                        len = 1;
                } else {
                        memcpy(out + k, p, len);
                        k += len;
                }
                p += len;
                n -= len;
        }
        out[k] = 0;
        return out;
}

int journal_entry_format_text(const JournalEntry *e, const JournalFilter *f, char **ret) {
        _cleanup_free_ char *buf = NULL, *indent = NULL;
        _cleanup_fclose_ FILE *out = NULL;
        size_t size = 0;
        long prefix;

        out = open_memstream(&buf, &size);
        if (!out)
                return -ENOMEM;
        fprintf(out, "[%" PRIu64 ".%03" PRIu64 "] [%s] [%-5s] [", e->realtime_usec / USEC_PER_SEC,
                e->realtime_usec % USEC_PER_SEC / USEC_PER_MSEC, journal_source_to_string(entry_label(e, f)),
                entry_level(e, f));
        write_escaped(out, entry_target(e, f), NULL);
        fputs("] ", out);
        prefix = ftell(out);
        if (prefix < 0)
                return -ENOMEM;
        indent = malloc((size_t) prefix + 1);
        if (!indent)
                return -ENOMEM;
        memset(indent, ' ', (size_t) prefix);
        indent[prefix] = 0;
        write_escaped(out, e->message ?: "", indent);
        if (fflush(out) != 0 || ferror(out))
                return -ENOMEM;
        out = safe_fclose(out);
        *ret = TAKE_PTR(buf);
        return 0;
}

static int json_add(json_object *o, const char *key, json_object *v) {
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int json_add_string(json_object *o, const char *key, const char *s) {
        _cleanup_free_ char *clean = NULL;

        if (!s) /* json-c's null is a NULL object */
                return json_object_object_add(o, key, NULL) < 0 ? -ENOMEM : 0;
        clean = utf8_sanitize(s);
        if (!clean)
                return -ENOMEM;
        return json_add(o, key, json_object_new_string(clean));
}

static int entry_fields_to_json(const JournalEntry *e, json_object **ret) {
        json_object *o = json_object_new_object();
        int r;

        if (!o)
                return -ENOMEM;
        if (e->message_id && (r = json_add_string(o, "MESSAGE_ID", e->message_id)) < 0)
                goto fail;
        STRV_FOREACH(field, e->openshell) {
                _cleanup_free_ char *key = strndup(*field, strcspn(*field, "="));

                if (!key) {
                        r = -ENOMEM;
                        goto fail;
                }
                r = json_add_string(o, key, *field + strlen(key) + 1);
                if (r < 0)
                        goto fail;
        }
        *ret = o;
        return 0;
fail:
        json_object_put(o);
        return r;
}

int journal_entry_to_json(const JournalEntry *e, const JournalFilter *f, json_object **ret) {
        json_object *o = json_object_new_object(), *fields = NULL;
        int64_t ms = (int64_t) (e->realtime_usec / USEC_PER_MSEC);
        int r;

        if (!o)
                return -ENOMEM;
        if ((r = json_add(o, "timestamp_ms", json_object_new_int64(ms))) < 0 ||
            (r = json_add_string(o, "sandbox", f->sandbox)) < 0 ||
            (r = json_add_string(o, "source", journal_source_to_string(entry_label(e, f)))) < 0 ||
            (r = json_add_string(o, "level", entry_level(e, f))) < 0 ||
            (e->priority >= 0 && (r = json_add(o, "priority", json_object_new_int(e->priority))) < 0) ||
            (r = json_add_string(o, "target", entry_target(e, f))) < 0 ||
            (r = json_add_string(o, "unit", e->unit)) < 0 ||
            (r = json_add_string(o, "message", e->message ?: "")) < 0 ||
            (r = entry_fields_to_json(e, &fields)) < 0 || (r = json_add(o, "fields", fields)) < 0) {
                json_object_put(o);
                return r;
        }
        *ret = o;
        return 0;
}

static int print_entry(const JournalEntry *e, const JournalFilter *f, JournalOutput o, FILE *out) {
        int r;

        if (o == JOURNAL_OUTPUT_JSON) {
                json_object *obj;

                r = journal_entry_to_json(e, f, &obj);
                if (r < 0)
                        return r;
                fprintf(out, "%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(obj);
        } else {
                _cleanup_free_ char *line = NULL;

                r = journal_entry_format_text(e, f, &line);
                if (r < 0)
                        return r;
                fprintf(out, "%s\n", line);
        }
        return ferror(out) ? -EIO : 0;
}

/* Prints the entries f selects from the one after j's position to the end of the journal. */
static int print_following(sd_journal *j, const JournalFilter *f, JournalOutput o, FILE *out) {
        int r;

        while ((r = sd_journal_next(j)) > 0) {
                _cleanup_(journal_entry_done) JournalEntry e = {};

                r = journal_entry_read(j, &e);
                if (r < 0)
                        return r;
                if (!journal_filter_selects(f, &e))
                        continue;
                r = print_entry(&e, f, o, out);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return fflush(out) == 0 ? 0 : -errno;
}

int journal_view_show(sd_journal *j, const JournalFilter *f, uint64_t n_lines, JournalOutput o, FILE *out) {
        _cleanup_free_ char *first = NULL;
        uint64_t found = 0;
        int r;

        /* Backwards from the end to the oldest of the last n_lines selected entries... */
        r = sd_journal_seek_tail(j);
        if (r < 0)
                return r;
        while (found < n_lines) {
                _cleanup_(journal_entry_done) JournalEntry e = {};

                r = sd_journal_previous(j);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = journal_entry_read(j, &e);
                if (r < 0)
                        return r;
                if (e.realtime_usec < f->since_usec)
                        break;
                if (!journal_filter_selects(f, &e))
                        continue;
                found++;
                free(first);
                first = NULL;
                r = sd_journal_get_cursor(j, &first);
                if (r < 0)
                        return r;
        }

        /* ... then forwards from there. Without any, stay at the last entry: what follows is new. */
        if (!first) {
                r = sd_journal_seek_tail(j);
                if (r >= 0)
                        r = sd_journal_previous(j);
                return r < 0 ? r : 0;
        }
        /* after seeking to a cursor, the next entry is the cursor's own */
        r = sd_journal_seek_cursor(j, first);
        if (r < 0)
                return r;
        return print_following(j, f, o, out);
}

typedef struct Follow {
        sd_journal *journal;
        const JournalFilter *filter;
        JournalOutput output;
        FILE *out;
} Follow;

static int on_journal_changed(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Follow *c = userdata;
        int r;

        r = sd_journal_process(c->journal);
        if (r >= 0)
                r = print_following(c->journal, c->filter, c->output, c->out);
        if (r < 0)
                return sd_event_exit(sd_event_source_get_event(s), r);
        return 0;
}

int journal_view_follow(sd_journal *j, const JournalFilter *f, JournalOutput o, FILE *out) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        Follow c = { .journal = j, .filter = f, .output = o, .out = out };
        sigset_t mask;
        int fd, events, r;

        /* sd-event takes the signals from a signalfd: they must not be delivered the ordinary way */
        if (sigemptyset(&mask) < 0 || sigaddset(&mask, SIGINT) < 0 || sigaddset(&mask, SIGTERM) < 0)
                return -EINVAL;
        r = RET_NERRNO(sigprocmask(SIG_BLOCK, &mask, NULL));
        if (r < 0)
                return r;
        r = sd_event_new(&event);
        if (r < 0)
                return r;
        /* without a handler, a signal ends the loop with the exit code 0 (sd_event_add_signal(3)) */
        r = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
        if (r < 0)
                return r;
        r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        if (r < 0)
                return r;
        fd = sd_journal_get_fd(j);
        if (fd < 0)
                return fd;
        events = sd_journal_get_events(j);
        if (events < 0)
                return events;
        r = sd_event_add_io(event, NULL, fd, (uint32_t) events, on_journal_changed, &c);
        if (r < 0)
                return r;
        /* what arrived since journal_view_show() */
        r = print_following(j, f, o, out);
        if (r < 0)
                return r;
        return sd_event_loop(event);
}
