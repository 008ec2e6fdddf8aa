/* SPDX-License-Identifier: Apache-2.0 */
/* openshell logs NAME: a sandbox's journal entries, upstream's command line on journald. Which
 * entries belong to which of upstream's sources is journal-view.h's business. */

#include <getopt.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "cli-bus.h"
#include "journal-view.h"
#include "log.h"
#include "openshell.h"
#include "parse-util.h"
#include "string-util.h"

/* Upstream's default for -n. */
#define LOGS_LINES_DEFAULT 200

enum {
        ARG_TAIL = 0x100,
        ARG_SINCE,
        ARG_SOURCE,
        ARG_LEVEL,
};

static const struct option logs_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "tail", no_argument, NULL, ARG_TAIL },
        { "since", required_argument, NULL, ARG_SINCE },
        { "source", required_argument, NULL, ARG_SOURCE },
        { "level", required_argument, NULL, ARG_LEVEL },
        { "output", required_argument, NULL, 'o' },
        {},
};

typedef struct LogsArgs {
        const char *name;
        uint64_t lines;
        bool follow;
        uint64_t since_usec;
        unsigned sources; /* 0 until a --source: then all */
        int max_priority;
        JournalOutput output;
} LogsArgs;

static uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000) + (uint64_t) ts.tv_nsec / 1000;
}

/* Returns 1 with *a filled, or an exit status (help printed, usage error reported). */
static int parse_args(int argc, char *argv[], LogsArgs *a) {
        unsigned bits;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "hn:o:", logs_options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return verb_help();
                case 'n':
                        if (safe_atou64(optarg, &a->lines) < 0)
                                return usage_error("-n '%s': expected a number of lines", optarg);
                        break;
                case ARG_TAIL:
                        a->follow = true;
                        break;
                case ARG_SINCE:
                        r = journal_parse_since(optarg, now_usec(), &a->since_usec);
                        if (r == -ENOMEM)
                                return log_oom();
                        if (r < 0)
                                return usage_error("--since '%s': expected a time such as '2026-04-01 04:04:00', "
                                                   "'04:04', '5m', '-5m', '1h ago', 'today' or '@1775014132'",
                                                   optarg);
                        break;
                case ARG_SOURCE:
                        if (journal_sources_from_string(optarg, &bits) < 0)
                                return usage_error("--source '%s': expected sandbox, proxy, broker or all", optarg);
                        a->sources |= bits;
                        break;
                case ARG_LEVEL:
                        r = journal_level_from_string(optarg);
                        if (r < 0)
                                return usage_error("--level '%s': expected error, warn, info, debug or trace", optarg);
                        a->max_priority = r;
                        break;
                case 'o':
                        if (streq(optarg, "json"))
                                a->output = JOURNAL_OUTPUT_JSON;
                        else if (streq(optarg, "text"))
                                a->output = JOURNAL_OUTPUT_TEXT;
                        else
                                return usage_error("-o '%s': expected text or json", optarg);
                        break;
                default:
                        return verb_usage();
                }
        if (argc - optind != 1)
                return usage_error("logs takes one sandbox NAME");
        a->name = argv[optind];
        if (!sandbox_name_is_valid(a->name))
                return usage_error("invalid sandbox name '%s'", a->name);
        if (a->sources == 0)
                a->sources = JOURNAL_SOURCES_ALL;
        return 1;
}

/* The same test as `sandbox get`: a spec, or a supervisor that systemd runs (or that failed). */
static int check_sandbox_exists(const char *name) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(unit_state_done) UnitState sup = {};
        _cleanup_free_ char *spec = NULL, *unit = NULL;
        int r;

        if (sandbox_spec_path(name, &spec) < 0 || sandbox_supervisor_unit(name, &unit) < 0)
                return log_oom();
        if (access(spec, F_OK) >= 0)
                return 0;
        if (errno != ENOENT)
                return log_error_errno(errno, "Failed to check %s: %m", spec);
        r = cli_bus_open(&bus);
        if (r < 0)
                return r;
        r = cli_unit_state(bus, unit, &sup);
        if (r < 0)
                return r;
        if (streq(sup.load_state, "not-found") || streq(sup.active_state, "inactive")) {
                log_error("No sandbox '%s' (no spec %s, nothing running).", name, spec);
                return -ENOENT;
        }
        return 0;
}

static int open_system_journal(sd_journal **ret) {
        _cleanup_(sd_journal_closep) sd_journal *j = NULL;
        int r;

        r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
        if (r < 0)
                return log_error_errno(r, "Failed to open the system journal: %m");
        /* sd_journal_open() succeeds when it may read no file at all */
        if (sd_journal_has_runtime_files(j) <= 0 && sd_journal_has_persistent_files(j) <= 0)
                return log_error_errno(SYNTHETIC_ERRNO(EACCES),
                                       "No journal file can be read: the system journal is readable by root and "
                                       "the members of the groups systemd-journal and adm.");
        *ret = TAKE_PTR(j);
        return 0;
}

static int logs_run(int argc, char *argv[]) {
        _cleanup_(sd_journal_closep) sd_journal *j = NULL;
        _cleanup_(journal_filter_done) JournalFilter filter = {};
        LogsArgs a = { .lines = LOGS_LINES_DEFAULT, .max_priority = LOG_DEBUG };
        int r;

        r = parse_args(argc, argv, &a);
        if (r != 1)
                return r;
        r = check_sandbox_exists(a.name);
        if (r < 0)
                return r == -ENOENT ? EXIT_FAILURE : r;
        r = journal_filter_init(&filter, a.name, a.sources, a.max_priority, a.since_usec);
        if (r < 0)
                return log_oom();
        r = open_system_journal(&j);
        if (r < 0)
                return r;
        r = journal_filter_add_matches(&filter, j);
        if (r < 0)
                return log_error_errno(r, "Failed to add journal matches: %m");
        /* Watch the journal before reading it, so that nothing written meanwhile is missed. */
        if (a.follow && (r = sd_journal_get_fd(j)) < 0)
                return log_error_errno(r, "Failed to watch the journal: %m");
        r = journal_view_show(j, &filter, a.lines, a.output, stdout);
        if (r < 0)
                return log_error_errno(r, "Failed to show the journal: %m");
        if (!a.follow)
                return EXIT_SUCCESS;
        r = journal_view_follow(j, &filter, a.output, stdout);
        if (r < 0)
                return log_error_errno(r, "Failed to follow the journal: %m");
        return EXIT_SUCCESS;
}

const Verb logs_verb = {
        .name = "logs",
        .summary = "Show a sandbox's log lines and audit events",
        .synopsis = "NAME [-n N] [--tail] [--since TIME] [--source sandbox|proxy|broker|all]... "
                    "[--level error|warn|info|debug|trace] [-o text|json]",
        .description =
                "Show the journal entries of the sandbox NAME, oldest first: by default the last 200. Upstream "
                "OpenShell's gateway collects these lines; here they are in the journal, and this command is a "
                "view of it that selects them by source:\n"
                "\n"
                "sandbox: what the supervisor openshell-sandbox@NAME.service, the agent " SANDBOX_AGENT_PREFIX
                "NAME.service and the egress proxy openshell-proxy@NAME.service write (the agent's output and "
                "the proxy's decisions among it), their audit events, and systemd's messages about the three "
                "units. As upstream's sandbox source, it shows the denials.\n"
                "proxy: what openshell-proxy@NAME.service writes (the audit event of each connection and "
                "request the sandbox makes, allowed or denied), systemd's messages about it, and the "
                "supervisor's network events.\n"
                "broker: the audit events of the inference broker, openshell-broker.service, about the "
                "sandbox's requests (OPENSHELL_SANDBOX=NAME).\n"
                "\n"
                "An entry may belong to two sources (the proxy's entries are also 'sandbox'); its "
                "line names the narrower one. Each line is upstream's:\n"
                "\n"
                "  [EPOCH.MS] [SOURCE] [LEVEL] [TARGET] MESSAGE\n"
                "\n"
                "where LEVEL is ERROR, WARN, INFO or DEBUG from the entry's PRIORITY and TARGET the program that "
                "wrote it; for an audit event (an entry with OPENSHELL_EVENT written by one of these units: "
                "neither an agent nor any other process can pose as the proxy) LEVEL is AUDIT, TARGET its class "
                "(network, inference, process, ...) and MESSAGE upstream's one-line shorthand. Control characters "
                "and bytes that are not UTF-8 are shown as \\xNN.\n"
                "\n"
                "Reading the system journal takes root or membership in the group systemd-journal or adm.\n",
        .options =
                (const VerbItem[]) {
                        { "-n N", "Show the last N selected entries (default 200); 0 shows none, for --tail." },
                        { "--tail", "After those, print each new entry as it arrives, until interrupted (Ctrl-C, "
                                    "SIGTERM; exit status 0)." },
                        { "--since TIME",
                          "Only entries from TIME on. TIME as journalctl --since takes it: 'YYYY-MM-DD HH:MM:SS', "
                          "'YYYY-MM-DD HH:MM', 'YYYY-MM-DD', 'HH:MM[:SS]' (today), local time or followed by ' UTC'; "
                          "'now', 'today', 'yesterday'; '@SECONDS' since the epoch; '-SPAN' or 'SPAN ago'; or as upstream "
                          "takes it, a bare SPAN: '5m', '1h', '30s'. A SPAN is one or more NUMBER UNIT with the units s, "
                          "sec, m, min, h, hr, d, w and their long names ('1h 30min')." },
                        { "--source SOURCE",
                          "sandbox, proxy, broker (described above) or all, the default. May be given more than once: the "
                          "entries of each are shown." },
                        { "--level LEVEL",
                          "Only entries of LEVEL or more severe: error (PRIORITY 0-3), warn (4), info (5-6), debug or "
                          "trace (7: the journal has no trace level). Default: all." },
                        { "-o, --output text|json",
                          "text (the default): the lines above. json: one JSON object per line and entry, with "
                          "timestamp_ms, sandbox, source, level, priority, target, unit, message, and fields: the "
                          "entry's MESSAGE_ID and OPENSHELL_* fields." },
                        {},
                },
        .exit_status =
                (const VerbItem[]) {
                        { "0",
                          "The entries were shown (none, if none were selected); or --tail was interrupted." },
                        { "1", "There is no sandbox NAME (no spec, nothing running), systemd cannot be reached over the "
                               "system bus, or the journal cannot be read." },
                        VERB_EXIT_USAGE,
                        {},
                },
        .examples = "  openshell logs demo\n"
                    "  openshell logs demo --tail --source sandbox\n"
                    "  openshell logs demo --since '10 min ago' --level warn\n"
                    "  openshell logs demo --source broker -o json | jq -r .fields.OPENSHELL_MODEL\n",
        .see_also = "The same entries from journalctl:\n"
                    "\n"
                    "  journalctl -u openshell-sandbox@demo.service -u openshell-agent-demo.service\n"
                    "  journalctl OPENSHELL_SANDBOX=demo OPENSHELL_DECISION=deny\n"
                    "\n"
                    "journalctl(1), systemd.journal-fields(7), openshell sandbox get.\n",
        .run = logs_run,
        .getopt = logs_options,
};
