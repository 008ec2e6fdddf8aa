/* SPDX-License-Identifier: Apache-2.0 */
/* `openshell logs` on a real journal file: systemd-journal-remote turns a journal export made here
 * (entries of the sandbox "demo", of other sandboxes and of other units) into a journal file, which
 * the tests open with sd_journal_open_files() and read with journal-view.h: which entries each
 * --source, --level, --since and -n selects, that the journal matches agree with the selection rule,
 * the text and JSON output, the --since syntax, and the command line's usage errors. */

#include <check.h>
#include <endian.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "check-util.h"
#include "cli-run.h"
#include "journal-view.h"
#include "string-util.h"

#define T0 UINT64_C(1775014132) /* entry i is written at T0 + i seconds + 690 ms */
#define USEC(i) ((T0 + (uint64_t) (i)) * UINT64_C(1000000) + UINT64_C(690000))
#define BOOT "_BOOT_ID=0123456789abcdef0123456789abcdef"
#define SUP "_SYSTEMD_UNIT=openshell-sandbox@demo.service"
#define AGENT "_SYSTEMD_UNIT=openshell-agent-demo.service"
#define BROKER "_SYSTEMD_UNIT=openshell-broker.service"
#define PROXY "_SYSTEMD_UNIT=openshell-proxy@demo.service"
#define DENY_MESSAGE                                                                                    \
        "NET:OPEN [MED] DENIED /usr/bin/curl(64) -> httpbin.org:443 [policy:- engine:policy] [reason:no matching policy]"
/* Entry 10's MESSAGE: two lines, an escape sequence, a C1 control character (as UTF-8 and as a bare
 * byte), a byte that is no UTF-8, and an "é" that is. */
#define BINARY_MESSAGE "line one\nline two \x1b[31mred\xc2\x9b\x9b bad\xff \xc3\xa9"

static const char *const entries[][8] = {
        /* 0 */ { SUP, "SYSLOG_IDENTIFIER=openshell-sandbox", "PRIORITY=6",
                  "MESSAGE=Sandbox 'demo' uses policy /usr/share/openshell/policies/default.yaml." },
        /* 1 */
        { "_SYSTEMD_UNIT=init.scope", "_PID=1", "SYSLOG_IDENTIFIER=systemd", "PRIORITY=6",
          "UNIT=openshell-agent-demo.service", "MESSAGE=Started openshell-agent-demo.service." },
        /* 2 */ { AGENT, "SYSLOG_IDENTIFIER=agent", "PRIORITY=6", "MESSAGE=hello from the agent" },
        /* 3: another sandbox whose name starts alike */
        { "_SYSTEMD_UNIT=openshell-sandbox@demo2.service", "SYSLOG_IDENTIFIER=openshell-sandbox",
          "PRIORITY=3", "MESSAGE=other sandbox" },
        /* 4 */
        { BROKER, "SYSLOG_IDENTIFIER=openshell-broker", "PRIORITY=6",
          "MESSAGE_ID=45bed7cf28f74e09bb2dedc1232e9aab", "OPENSHELL_SANDBOX=demo",
          "OPENSHELL_EVENT=inference", "OPENSHELL_MODEL=m1",
          "MESSAGE=API:INFERENCE [INFO] Success m1 via vllm 12ms [POST /v1/chat/completions]" },
        /* 5: the broker, for another sandbox */
        { BROKER, "SYSLOG_IDENTIFIER=openshell-broker", "PRIORITY=6", "OPENSHELL_SANDBOX=other",
          "OPENSHELL_EVENT=inference", "MESSAGE=API:INFERENCE [INFO] Success m1 via vllm 9ms" },
        /* 6: a network event the supervisor writes: sandbox and proxy */
        { SUP, "SYSLOG_IDENTIFIER=openshell-sandbox", "PRIORITY=4", "OPENSHELL_SANDBOX=demo",
          "OPENSHELL_EVENT=network", "OPENSHELL_DECISION=deny", "OPENSHELL_HOST=httpbin.org",
          "MESSAGE=" DENY_MESSAGE },
        /* 7: the sandbox's proxy: sandbox and proxy */
        { PROXY, "SYSLOG_IDENTIFIER=openshell-proxy", "PRIORITY=6", "OPENSHELL_SANDBOX=demo",
          "OPENSHELL_EVENT=network", "OPENSHELL_DECISION=allow",
          "MESSAGE=NET:OPEN [INFO] ALLOWED /usr/bin/curl(58) -> api.github.com:443 [policy:github engine:policy]" },
        /* 8: systemd about another sandbox */
        { "_SYSTEMD_UNIT=init.scope", "_PID=1", "SYSLOG_IDENTIFIER=systemd", "PRIORITY=6",
          "UNIT=openshell-sandbox@other.service", "MESSAGE=Started openshell-sandbox@other.service." },
        /* 9: an event naming the sandbox from a unit that is none of its sources */
        { "_SYSTEMD_UNIT=foo.service", "PRIORITY=6", "OPENSHELL_SANDBOX=demo", "OPENSHELL_EVENT=process",
          "MESSAGE=PROC:LAUNCH [INFO] sleep(49)" },
        /* 10: the agent, with BINARY_MESSAGE */
        { AGENT, "SYSLOG_IDENTIFIER=agent", "PRIORITY=3" },
        /* 11 */ { AGENT, "SYSLOG_IDENTIFIER=agent", "PRIORITY=7", "MESSAGE=debug detail" },
        /* 12: another sandbox's proxy */
        { "_SYSTEMD_UNIT=openshell-proxy@demo2.service", "PRIORITY=4", "OPENSHELL_SANDBOX=demo2",
          "OPENSHELL_EVENT=network", "MESSAGE=NET:OPEN [MED] DENIED x" },
        /* 13: UNIT= from a process that is not systemd */
        { "_SYSTEMD_UNIT=evil.service", "_PID=1234", "PRIORITY=6", "UNIT=openshell-agent-demo.service",
          "MESSAGE=not systemd" },
        /* 14: the agent posing as the proxy: its line, not an audit event */
        { AGENT, "_SYSTEMD_SLICE=openshell-demo.slice", "SYSLOG_IDENTIFIER=agent", "PRIORITY=6",
          "OPENSHELL_SANDBOX=demo", "OPENSHELL_EVENT=network", "MESSAGE=NET:OPEN [INFO] ALLOWED forged" },
        /* 15: `sandbox exec` in another sandbox posing as this one's proxy: nothing */
        { "_SYSTEMD_UNIT=openshell-exec-evil-1.service", "_SYSTEMD_SLICE=openshell-evil.slice", "PRIORITY=4",
          "OPENSHELL_SANDBOX=demo", "OPENSHELL_EVENT=network", "MESSAGE=NET:OPEN [MED] DENIED forged" },
        /* 16: another sandbox's agent posing as this one's proxy: nothing */
        { "_SYSTEMD_UNIT=openshell-agent-evil.service", "PRIORITY=4", "OPENSHELL_SANDBOX=demo",
          "OPENSHELL_EVENT=network", "MESSAGE=NET:OPEN [MED] DENIED forged" },
        /* 17: a unit of the host posing as this sandbox's proxy: nothing */
        { "_SYSTEMD_UNIT=example-egress.service", "PRIORITY=4", "OPENSHELL_SANDBOX=demo",
          "OPENSHELL_EVENT=network", "OPENSHELL_DECISION=allow", "MESSAGE=NET:OPEN [INFO] ALLOWED forged" },
        /* 18: systemd about the sandbox's proxy: sandbox and proxy */
        { "_SYSTEMD_UNIT=init.scope", "_PID=1", "SYSLOG_IDENTIFIER=systemd", "PRIORITY=6",
          "UNIT=openshell-proxy@demo.service", "MESSAGE=Started openshell-proxy@demo.service." },
};

static char tmpdir[] = "/tmp/openshell-test-journal-view-XXXXXX";
static char journal_path[sizeof tmpdir + 32];

static void write_binary_field(FILE *f, const char *name, const char *value) {
        uint64_t len = htole64(strlen(value));

        fprintf(f, "%s\n", name);
        fwrite(&len, sizeof len, 1, f);
        fprintf(f, "%s\n", value);
}

static const char *journal_remote(void) {
        static const char *const paths[] = { "/lib/systemd/systemd-journal-remote",
                                             "/usr/lib/systemd/systemd-journal-remote" };

        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                if (access(paths[i], X_OK) == 0)
                        return paths[i];
        return NULL;
}

/* systemd-journal-remote --output JOURNAL EXPORT: returns its exit status. */
static int run_journal_remote(const char *export_path, const char *journal) {
        const char *remote = journal_remote();
        pid_t pid = fork();
        int status;

        if (pid < 0)
                return -1;
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (null >= 0)
                        (void) dup2(null, STDERR_FILENO);
                execl(remote, remote, "--output", journal, export_path, (char *) NULL);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) != pid)
                return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* In main(), outside the tests: Check's asserts work only inside them. */
#define REQUIRE(x)                                                                                      \
        do {                                                                                            \
                if (!(x)) {                                                                             \
                        fprintf(stderr, "%s:%d: %s failed: %m\n", __FILE__, __LINE__, #x);              \
                        exit(EXIT_FAILURE);                                                             \
                }                                                                                       \
        } while (0)

/* Writes the entries in journal export format and makes the journal file from them; false (after
 * a message) when systemd-journal-remote is missing. */
static bool make_journal(void) {
        char export_path[sizeof tmpdir + 32];
        FILE *f;

        if (!journal_remote()) {
                fprintf(stderr, "systemd-journal-remote is not installed (tools/install-deps installs it)\n");
                return false;
        }
        REQUIRE(mkdtemp(tmpdir));
        snprintf(export_path, sizeof export_path, "%s/entries.export", tmpdir);
        snprintf(journal_path, sizeof journal_path, "%s/test.journal", tmpdir);
        f = fopen(export_path, "we");
        REQUIRE(f);
        for (size_t i = 0; i < ELEMENTSOF(entries); i++) {
                fprintf(f, "__REALTIME_TIMESTAMP=%" PRIu64 "\n__MONOTONIC_TIMESTAMP=%zu\n" BOOT "\n", USEC(i),
                        (i + 1) * 1000000);
                for (size_t k = 0; k < ELEMENTSOF(entries[i]) && entries[i][k]; k++)
                        fprintf(f, "%s\n", entries[i][k]);
                if (i == 10)
                        write_binary_field(f, "MESSAGE", BINARY_MESSAGE);
                fputc('\n', f);
        }
        REQUIRE(fclose(f) == 0);

        REQUIRE(run_journal_remote(export_path, journal_path) == 0);
        REQUIRE(unlink(export_path) == 0);
        return true;
}

static sd_journal *open_journal(void) {
        sd_journal *j = NULL;

        ck_assert_int_eq(sd_journal_open_files(&j, (const char *[]) { journal_path, NULL }, 0), 0);
        return j;
}

/* What journal_view_show() prints for these settings, with or without the journal matches. */
static char *show_ext(unsigned sources, int max_priority, uint64_t since, uint64_t n, JournalOutput o,
                      bool matches) {
        _cleanup_(journal_filter_done) JournalFilter f = {};
        sd_journal *j = open_journal();
        char *buf = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&buf, &size);

        ck_assert_ptr_nonnull(out);
        ck_assert_int_eq(journal_filter_init(&f, "demo", sources, max_priority, since), 0);
        if (matches)
                ck_assert_int_eq(journal_filter_add_matches(&f, j), 0);
        ck_assert_int_eq(journal_view_show(j, &f, n, o, out), 0);
        ck_assert_int_eq(fclose(out), 0);
        sd_journal_close(j);
        return buf;
}

/* The indexes of the entries a text output shows, as "0 1 2": each line's timestamp names its
 * entry; the indented lines of a message of several lines are skipped. */
static char *shown(unsigned sources, int max_priority, uint64_t since, uint64_t n) {
        _cleanup_free_ char *text = show_ext(sources, max_priority, since, n, JOURNAL_OUTPUT_TEXT, true);
        char *buf = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&buf, &size);

        for (const char *l = text; *l; l = strchr(l, '\n') + 1) {
                unsigned long long s;

                if (l[0] == ' ')
                        continue;
                ck_assert_int_eq(sscanf(l, "[%llu.690] ", &s), 1);
                fprintf(out, "%s%llu", ftell(out) > 0 ? " " : "", s - T0);
        }
        ck_assert_int_eq(fclose(out), 0);
        return buf;
}

#define ALL JOURNAL_SOURCES_ALL
#define BIT(s) JOURNAL_SOURCE_BIT(JOURNAL_SOURCE_##s)

#define assert_shown(sources, prio, since, n, expected)                                                 \
        do {                                                                                            \
                _cleanup_free_ char *_s_ = shown(sources, prio, since, n);                              \
                ck_assert_str_eq(_s_, expected);                                                        \
        } while (0)

START_TEST(test_sources) {
        assert_shown(ALL, LOG_DEBUG, 0, 200, "0 1 2 4 6 7 10 11 14 18");
        assert_shown(BIT(SANDBOX), LOG_DEBUG, 0, 200, "0 1 2 6 7 10 11 14 18");
        assert_shown(BIT(BROKER), LOG_DEBUG, 0, 200, "4");
        assert_shown(BIT(PROXY), LOG_DEBUG, 0, 200, "6 7 18");
        assert_shown(BIT(BROKER) | BIT(PROXY), LOG_DEBUG, 0, 200, "4 6 7 18");
}
END_TEST

START_TEST(test_level_since_lines) {
        assert_shown(ALL, LOG_WARNING, 0, 200, "6 10");
        assert_shown(ALL, LOG_ERR, 0, 200, "10");
        assert_shown(ALL, LOG_INFO, 0, 200, "0 1 2 4 6 7 10 14 18");
        assert_shown(ALL, LOG_DEBUG, USEC(6), 200, "6 7 10 11 14 18");
        assert_shown(ALL, LOG_DEBUG, USEC(6) + 1, 200, "7 10 11 14 18");
        assert_shown(ALL, LOG_DEBUG, USEC(20), 200, "");
        assert_shown(BIT(PROXY), LOG_DEBUG, USEC(8), 200, "18");
        assert_shown(BIT(PROXY), LOG_DEBUG, USEC(19), 200, "");
        assert_shown(ALL, LOG_DEBUG, 0, 2, "14 18");
        assert_shown(BIT(SANDBOX), LOG_WARNING, 0, 1, "10");
        assert_shown(BIT(PROXY), LOG_DEBUG, 0, 1, "18");
        assert_shown(ALL, LOG_DEBUG, 0, 0, "");
        assert_shown(ALL, LOG_DEBUG, USEC(2), 3, "11 14 18");
        assert_shown(ALL, LOG_DEBUG, USEC(2), 100, "2 4 6 7 10 11 14 18");
}
END_TEST

/* The journal's own matches (journal_filter_add_matches) select what the rule selects. */
START_TEST(test_matches_agree) {
        for (unsigned sources = 1; sources <= ALL; sources++)
                for (int prio = LOG_ERR; prio <= LOG_DEBUG; prio++) {
                        _cleanup_free_ char *with = show_ext(sources, prio, 0, 200, JOURNAL_OUTPUT_TEXT, true);
                        _cleanup_free_ char *without = show_ext(sources, prio, 0, 200, JOURNAL_OUTPUT_TEXT, false);

                        ck_assert_msg(streq(with, without), "sources %u, priority %d:\n%s\nvs.\n%s", sources, prio,
                                      with, without);
                }
}
END_TEST

START_TEST(test_text_lines) {
        _cleanup_free_ char *text = show_ext(ALL, LOG_DEBUG, 0, 200, JOURNAL_OUTPUT_TEXT, true);
        const char *expected =
                "[1775014132.690] [sandbox] [INFO ] [openshell-sandbox] Sandbox 'demo' uses policy "
                "/usr/share/openshell/policies/default.yaml.\n"
                "[1775014133.690] [sandbox] [INFO ] [systemd] Started openshell-agent-demo.service.\n"
                "[1775014134.690] [sandbox] [INFO ] [agent] hello from the agent\n"
                "[1775014136.690] [broker] [AUDIT] [inference] API:INFERENCE [INFO] Success m1 via vllm 12ms "
                "[POST /v1/chat/completions]\n"
                "[1775014138.690] [proxy] [AUDIT] [network] " DENY_MESSAGE "\n"
                "[1775014139.690] [proxy] [AUDIT] [network] NET:OPEN [INFO] ALLOWED /usr/bin/curl(58) -> "
                "api.github.com:443 [policy:github engine:policy]\n"
                "[1775014142.690] [sandbox] [ERROR] [agent] line one\n"
                "                                           line two \\x1b[31mred\\xc2\\x9b\\x9b bad\\xff \xc3\xa9\n"
                "[1775014143.690] [sandbox] [DEBUG] [agent] debug detail\n"
                "[1775014146.690] [sandbox] [INFO ] [agent] NET:OPEN [INFO] ALLOWED forged\n"
                "[1775014150.690] [proxy] [INFO ] [systemd] Started openshell-proxy@demo.service.\n";

        ck_assert_str_eq(text, expected);
}
END_TEST

static json_object *json_line(const char *text, size_t index) {
        const char *l = text;
        json_object *o;

        for (size_t i = 0; i < index; i++) {
                l = strchr(l, '\n');
                ck_assert_ptr_nonnull(l);
                l++;
        }
        {
                _cleanup_free_ char *line = strndup(l, strcspn(l, "\n"));
                o = json_tokener_parse(line);
                ck_assert_msg(o, "not JSON: %s", line);
        }
        return o;
}

static const char *json_str(json_object *o, const char *key) {
        json_object *v;

        ck_assert_msg(json_object_object_get_ex(o, key, &v), "no key %s", key);
        return json_object_get_string(v);
}

START_TEST(test_json) {
        _cleanup_free_ char *text = show_ext(ALL, LOG_DEBUG, 0, 200, JOURNAL_OUTPUT_JSON, true);
        json_object *o, *fields, *v;
        size_t lines = 0;

        for (const char *p = text; (p = strchr(p, '\n')); p++)
                lines++;
        ck_assert_uint_eq(lines, 10); /* one line per entry, also for the message of two lines */

        o = json_line(text, 4); /* entry 6 */
        ck_assert(json_object_object_get_ex(o, "timestamp_ms", &v));
        ck_assert_int_eq(json_object_get_int64(v), 1775014138690);
        ck_assert_str_eq(json_str(o, "sandbox"), "demo");
        ck_assert_str_eq(json_str(o, "source"), "proxy");
        ck_assert_str_eq(json_str(o, "level"), "AUDIT");
        ck_assert(json_object_object_get_ex(o, "priority", &v));
        ck_assert_int_eq(json_object_get_int(v), 4);
        ck_assert_str_eq(json_str(o, "target"), "network");
        ck_assert_str_eq(json_str(o, "unit"), "openshell-sandbox@demo.service");
        ck_assert_str_eq(json_str(o, "message"), DENY_MESSAGE);
        ck_assert(json_object_object_get_ex(o, "fields", &fields));
        ck_assert_int_eq(json_object_object_length(fields), 4);
        ck_assert_str_eq(json_str(fields, "OPENSHELL_SANDBOX"), "demo");
        ck_assert_str_eq(json_str(fields, "OPENSHELL_EVENT"), "network");
        ck_assert_str_eq(json_str(fields, "OPENSHELL_DECISION"), "deny");
        ck_assert_str_eq(json_str(fields, "OPENSHELL_HOST"), "httpbin.org");
        json_object_put(o);

        o = json_line(text, 3); /* entry 4: the broker's, with its MESSAGE_ID */
        ck_assert(json_object_object_get_ex(o, "fields", &fields));
        ck_assert_str_eq(json_str(fields, "MESSAGE_ID"), "45bed7cf28f74e09bb2dedc1232e9aab");
        ck_assert_str_eq(json_str(fields, "OPENSHELL_MODEL"), "m1");
        ck_assert_str_eq(json_str(o, "source"), "broker");
        json_object_put(o);

        o = json_line(text, 6); /* entry 10: bytes that are no UTF-8 become U+FFFD */
        ck_assert_str_eq(json_str(o, "message"),
                         "line one\nline two \x1b[31mred\xc2\x9b\xef\xbf\xbd bad\xef\xbf\xbd \xc3\xa9");
        ck_assert_str_eq(json_str(o, "level"), "ERROR");
        ck_assert(json_object_object_get_ex(o, "fields", &fields));
        ck_assert_int_eq(json_object_object_length(fields), 0);
        json_object_put(o);
}
END_TEST

/* An entry appended after journal_view_show() is what journal_view_follow() prints, and SIGTERM
 * ends it with 0. The journal is a directory here, which sd_journal watches for new files. */
START_TEST(test_follow) {
        char dir[sizeof tmpdir + 32], path[sizeof dir + 32], export_path[sizeof dir + 32];
        int pipefd[2], status;
        pid_t pid;
        FILE *f;

        snprintf(dir, sizeof dir, "%s/follow", tmpdir);
        ck_assert_int_eq(mkdir(dir, 0755), 0);
        snprintf(path, sizeof path, "%s/first.journal", dir);
        ck_assert_int_eq(link(journal_path, path), 0);
        ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                JournalFilter filter = {};
                sd_journal *j = NULL;
                FILE *out = fdopen(pipefd[1], "w");
                int r;

                /* Check kills this test's process when it times out: the child goes with it */
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (!out || sd_journal_open_directory(&j, dir, 0) < 0 ||
                    journal_filter_init(&filter, "demo", BIT(PROXY), LOG_DEBUG, 0) < 0 ||
                    journal_filter_add_matches(&filter, j) < 0 || sd_journal_get_fd(j) < 0 ||
                    journal_view_show(j, &filter, 1, JOURNAL_OUTPUT_TEXT, out) < 0)
                        _exit(10);
                fputs("--\n", out);
                fflush(out);
                r = journal_view_follow(j, &filter, JOURNAL_OUTPUT_TEXT, out);
                fputs("end\n", out);
                fflush(out);
                _exit(r == 0 ? 0 : 11);
        }
        close(pipefd[1]);
        f = fdopen(pipefd[0], "r");
        ck_assert_ptr_nonnull(f);

        {
                char line[512];

                /* the last proxy entry, then the marker: the child follows */
                ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
                ck_assert(startswith(line, "[1775014150.690] [proxy] "));
                ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
                ck_assert_str_eq(line, "--\n");

                /* a new journal file in the directory, with one entry of the sandbox and one not */
                snprintf(export_path, sizeof export_path, "%s/new.export", tmpdir);
                FILE *e = fopen(export_path, "we");
                ck_assert_ptr_nonnull(e);
                fprintf(e, "__REALTIME_TIMESTAMP=%" PRIu64 "\n__MONOTONIC_TIMESTAMP=99000000\n" BOOT "\n"
                           "OPENSHELL_SANDBOX=other\nOPENSHELL_EVENT=network\nMESSAGE=not ours\n\n",
                        USEC(29));
                fprintf(e,
                        "__REALTIME_TIMESTAMP=%" PRIu64 "\n__MONOTONIC_TIMESTAMP=100000000\n" BOOT "\n" PROXY
                        "\nOPENSHELL_SANDBOX=demo\nOPENSHELL_EVENT=network\nPRIORITY=4\nMESSAGE=new entry\n\n",
                        USEC(30));
                ck_assert_int_eq(fclose(e), 0);
                snprintf(path, sizeof path, "%s/second.journal", dir);
                ck_assert_int_eq(run_journal_remote(export_path, path), 0);

                ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
                ck_assert_str_eq(line, "[1775014162.690] [proxy] [AUDIT] [network] new entry\n");
                ck_assert_int_eq(kill(pid, SIGTERM), 0);
                ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
                ck_assert_str_eq(line, "end\n");
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "follow ended with status %d", status);
        fclose(f);
        (void) unlink(export_path);
        (void) unlink(path);
        snprintf(path, sizeof path, "%s/first.journal", dir);
        (void) unlink(path);
        (void) rmdir(dir);
}
END_TEST

/* 2026-04-01 04:04:13 UTC */
#define NOW_S UINT64_C(1775016253)
#define NOW (NOW_S * UINT64_C(1000000))
#define S(x) ((uint64_t) (x) * UINT64_C(1000000))

START_TEST(test_since) {
        static const struct {
                const char *text;
                uint64_t usec;
        } good[] = {
                { "2026-04-01 04:04:13 UTC", NOW },
                { "2026-04-01 04:04:13", NOW }, /* TZ=UTC */
                { "2026-04-01 04:04", NOW - S(13) },
                { "2026-04-01", S(1775001600) },
                { "2026-04-01 UTC", S(1775001600) },
                { "04:04:13", NOW },
                { "00:00", S(1775001600) },
                { "00:00:00 UTC", S(1775001600) },
                { "now", NOW },
                { "today", S(1775001600) },
                { "yesterday", S(1774915200) },
                { "@1775014132", S(1775014132) },
                { "5m", NOW - S(300) },
                { "1h", NOW - S(3600) },
                { "30s", NOW - S(30) },
                { "-5m", NOW - S(300) },
                { "-5min", NOW - S(300) },
                { "5 min ago", NOW - S(300) },
                { "5min ago", NOW - S(300) },
                { "1h 30min", NOW - S(5400) },
                { "1h30m", NOW - S(5400) },
                { "2 days ago", NOW - S(172800) },
                { "1w", NOW - S(604800) },
                { "90 seconds", NOW - S(90) },
        };
        static const char *const bad[] = {
                "", "5", "5x", "5 M", "-", "ago", " ago", "5m ago ago", "+5m", "@", "@12a", "@-1", "2026-13-01",
                "2026-02-31", "2026-04-01 25:00", "2026-04-01 04:60", "2026-04-01T04:04:13", "2026-4-1",
                "04:04:13 CEST", "4:04", "04:04:13:00", "04:04:60", "1969-12-31", "99999999999999999999s", "100000w",
                "2026-04-01 04:04:13 UTC ", "now ", "m", "5 m m",
        };

        ck_assert_int_eq(setenv("TZ", "UTC", 1), 0);
        tzset();
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                uint64_t t = 7;
                int r = journal_parse_since(good[i].text, NOW, &t);

                ck_assert_msg(r == 0, "'%s': %d", good[i].text, r);
                ck_assert_msg(t == good[i].usec, "'%s': %" PRIu64 ", expected %" PRIu64, good[i].text, t,
                              good[i].usec);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                uint64_t t = 7;

                ck_assert_msg(journal_parse_since(bad[i], NOW, &t) == -EINVAL, "'%s' accepted", bad[i]);
                ck_assert_msg(t == 7, "'%s' wrote the output", bad[i]);
        }
}
END_TEST

START_TEST(test_words) {
        JournalFilter f = { .sandbox = (char *) "x" };
        unsigned bits = 99;

        ck_assert_int_eq(journal_sources_from_string("sandbox", &bits), 0);
        ck_assert_uint_eq(bits, BIT(SANDBOX));
        ck_assert_int_eq(journal_sources_from_string("proxy", &bits), 0);
        ck_assert_uint_eq(bits, BIT(PROXY));
        ck_assert_int_eq(journal_sources_from_string("broker", &bits), 0);
        ck_assert_uint_eq(bits, BIT(BROKER));
        ck_assert_int_eq(journal_sources_from_string("all", &bits), 0);
        ck_assert_uint_eq(bits, ALL);
        bits = 99;
        ck_assert_int_eq(journal_sources_from_string("gateway", &bits), -EINVAL);
        ck_assert_int_eq(journal_sources_from_string("Sandbox", &bits), -EINVAL);
        ck_assert_uint_eq(bits, 99);

        ck_assert_int_eq(journal_level_from_string("error"), LOG_ERR);
        ck_assert_int_eq(journal_level_from_string("warn"), LOG_WARNING);
        ck_assert_int_eq(journal_level_from_string("info"), LOG_INFO);
        ck_assert_int_eq(journal_level_from_string("debug"), LOG_DEBUG);
        ck_assert_int_eq(journal_level_from_string("trace"), LOG_DEBUG);
        ck_assert_int_eq(journal_level_from_string("warning"), -EINVAL);
        ck_assert_str_eq(journal_priority_to_level(0), "ERROR");
        ck_assert_str_eq(journal_priority_to_level(5), "INFO");

        ck_assert_int_eq(journal_filter_init(&f, "../x", ALL, LOG_DEBUG, 0), -EINVAL);
        ck_assert_str_eq(f.sandbox, "x");
}
END_TEST

static char cli_root[] = "/tmp/openshell-test-logs-cli-XXXXXX";

static void expect_usage(char *const *args, const char *in_err) {
        CliRun r;

        cli_run(&r, cli_root, NULL, args);
        ck_assert_msg(r.status == 2, "exit %d: %s", r.status, r.err);
        ck_assert_str_eq(r.out, "");
        ck_assert_msg(strstr(r.err, in_err), "'%s' not in: %s", in_err, r.err);
        ck_assert(endswith(r.err, "Try 'openshell logs --help'.\n"));
}

#define ARGS(...) ((char *const[]) { (char *) "logs", __VA_ARGS__, NULL })

START_TEST(test_cli_usage) {
        CliRun r;

        ck_assert_ptr_nonnull(mkdtemp(cli_root));
        expect_usage((char *const[]) { (char *) "logs", NULL }, "logs takes one sandbox NAME");
        expect_usage(ARGS("a", "b"), "logs takes one sandbox NAME");
        expect_usage(ARGS("../x"), "invalid sandbox name '../x'");
        expect_usage(ARGS("demo", "--since", "5x"), "--since '5x': expected a time");
        expect_usage(ARGS("demo", "--since", "2026-04-01T04:04:13"), "--since '2026-04-01T04:04:13'");
        expect_usage(ARGS("demo", "--source", "gateway"), "--source 'gateway': expected sandbox, proxy, broker or all");
        expect_usage(ARGS("demo", "--level", "verbose"), "--level 'verbose'");
        expect_usage(ARGS("demo", "-n", "-1"), "-n '-1': expected a number of lines");
        expect_usage(ARGS("demo", "-n", "99999999999999999999"), "-n '99999999999999999999'");
        expect_usage(ARGS("demo", "-o", "yaml"), "-o 'yaml': expected text or json");

        /* valid arguments get as far as asking systemd, which this test cannot reach */
        cli_run(&r, cli_root, NULL, ARGS("demo", "-n", "5", "--since", "5 min ago", "--source", "proxy", "--level",
                                         "warn", "-o", "json"));
        ck_assert_msg(r.status == 1, "exit %d: %s", r.status, r.err);
        ck_assert_str_eq(r.out, "");
        ck_assert_ptr_nonnull(strstr(r.err, "system bus"));
        ck_assert_int_eq(rmdir(cli_root), 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("journal-view");
        TCase *tc = tcase_create("journal-view");
        int status;

        if (!make_journal())
                return EXIT_TEST_SKIP;
        tcase_add_test(tc, test_sources);
        tcase_add_test(tc, test_level_since_lines);
        tcase_add_test(tc, test_matches_agree);
        tcase_add_test(tc, test_text_lines);
        tcase_add_test(tc, test_json);
        tcase_add_test(tc, test_follow);
        tcase_add_test(tc, test_since);
        tcase_add_test(tc, test_words);
        tcase_add_test(tc, test_cli_usage);
        suite_add_tcase(s, tc);
        status = check_run_suite(s);
        (void) unlink(journal_path);
        (void) rmdir(tmpdir);
        return status;
}
