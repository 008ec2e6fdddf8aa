/* SPDX-License-Identifier: Apache-2.0 */
/* The proxy's per-connection decision and audit entry, timed in a tight loop: what openshell-proxy does
 * between "request head complete, binary known" and "answer written", minus the socket I/O.
 *
 * Stages (mean per decision over ITERATIONS; each includes the ones above it):
 *   bare journal datagram    baseline: one sendmsg() of an audit entry's bytes to the journal socket
 *   allow: match             policy_egress_match() of an allowed host on a policy of 20 rules
 *   allow: + audit entry     + proxy_event_fields() + log_journal_fields()
 *   deny:  match + reason    a denied host: policy_egress_match(), policy_egress_reason(), the 403 JSON
 *   deny:  + audit entry     + proxy_event_fields() + log_journal_fields()
 *
 * With --journal-sink (root) it runs in a mount namespace of its own with a tmpfs on /run and a child
 * process that reads the journal socket there, so each entry is a real datagram to a reader (journald's
 * own work is not counted). Without it, entries go wherever the machine's journal is (or, if none
 * listens, to the stderr fallback). Prints times and ratios to the baseline; asserts nothing.
 *
 *   egress-decide [--journal-sink] [ITERATIONS]     (default 100000) */

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "log.h"
#include "policy-compile.h"
#include "policy.h"
#include "proxy-decide.h"
#include "string-util.h"

#define N_RULES 20
#define JOURNAL_DIR "/run/systemd/journal"
#define JOURNAL_SOCKET JOURNAL_DIR "/socket"

static const char *ancestors[] = { "/usr/bin/bash", "/usr/lib/systemd/systemd", NULL };

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static int generate(char **ret, size_t *ret_size) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return -ENOMEM;
        fputs("version: 1\nnetwork_policies:\n", f);
        for (unsigned r = 0; r < N_RULES; r++) {
                fprintf(f, "  rule_%02u:\n    endpoints:\n", r);
                fprintf(f, "      - { host: api.svc%u.example.com, port: 443 }\n", r);
                fprintf(f, "      - { host: \"*.cdn%u.example.net\", ports: [443, 8443] }\n", r);
                fprintf(f, "      - { host: git%u.example.org, port: 22 }\n", r);
                fprintf(f, "      - { ports: [9000], allowed_ips: [\"10.%u.0.0/16\"] }\n", r);
                fprintf(f,
                        "    binaries:\n      - path: /usr/bin/curl\n      - path: /usr/lib/node_modules/**\n");
        }
        if (fclose(f) != 0) {
                free(buf);
                return -errno;
        }
        *ret = buf;
        *ret_size = size;
        return 0;
}

/* A private /run with a reader on the journal socket: returns the reader's pid. */
static pid_t journal_sink(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = JOURNAL_SOCKET };
        int fd, sz = 8 * 1024 * 1024;
        pid_t pid;

        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0 ||
            mkdir("/run/systemd", 0755) < 0 || mkdir(JOURNAL_DIR, 0755) < 0) {
                fprintf(stderr, "--journal-sink: %s\n", strerror(errno));
                exit(1);
        }
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                fprintf(stderr, "--journal-sink: %s\n", strerror(errno));
                exit(1);
        }
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz);
        pid = fork();
        if (pid < 0)
                exit(1);
        if (pid == 0) {
                static char buf[65536];
                for (;;)
                        (void) recv(fd, buf, sizeof buf, 0);
        }
        close(fd);
        return pid;
}

/* The bytes of one entry as sd_journal_sendv() frames them ("FIELD=value\n" each). */
static int bare_datagram(char *const *fields, char **ret, size_t *ret_size) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return -ENOMEM;
        for (char *const *p = fields; *p; p++)
                fprintf(f, "%s\n", *p);
        fputs("PRIORITY=6\n", f);
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = buf;
        *ret_size = size;
        return 0;
}

static int decide(const PolicyEgress *t, const char *host, bool audit) {
        _cleanup_strv_free_ char **fields = NULL;
        _cleanup_free_ char *reason = NULL, *json = NULL, *resp = NULL;
        EgressMatch m;
        ProxyEvent ev = { .binary = "/usr/bin/curl", .pid = 4242, .host = host, .port = 443 };
        int r;

        r = policy_egress_match(t, host, 443, "/usr/bin/curl", (char **) ancestors, &m);
        if (r < 0)
                return r;
        if (m.decision == EGRESS_ALLOW) {
                ev.decision = PROXY_ALLOW;
                ev.rule = m.rule;
        } else {
                r = policy_egress_reason(t, &m, host, 443, "/usr/bin/curl", (char **) ancestors, &reason);
                if (r < 0)
                        return r;
                ev.decision = PROXY_DENY;
                ev.reason = reason;
                if (proxy_json_body("policy_denied", "CONNECT not permitted by policy", reason, &json) < 0 ||
                    proxy_json_response(403, json, &resp) < 0)
                        return -ENOMEM;
        }
        if (!audit)
                return m.decision == EGRESS_ALLOW;
        r = proxy_event_fields(&ev, "bench", &fields);
        if (r < 0)
                return r;
        (void) log_journal_fields(ev.decision == PROXY_ALLOW ? LOG_INFO : LOG_NOTICE, fields);
        return m.decision == EGRESS_ALLOW;
}

int main(int argc, char **argv) {
        _cleanup_(diag_list_done) DiagList diags = {};
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_free_ char *yaml = NULL, *dgram = NULL;
        _cleanup_strv_free_ char **fields = NULL;
        PolicyEgress egress = {};
        struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = JOURNAL_SOCKET };
        const char *allowed = "api.svc17.example.com", *denied = "evil.example.org";
        unsigned n = 100000;
        bool sink = false;
        pid_t sink_pid = 0;
        size_t size = 0, dgram_size = 0;
        double t[5] = {};
        int r, fd;

        log_setup();
        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--journal-sink"))
                        sink = true;
                else
                        n = (unsigned) strtoul(argv[i], NULL, 10);
        }
        if (n == 0)
                n = 1;
        if (sink)
                sink_pid = journal_sink();

        r = generate(&yaml, &size);
        if (r < 0 || policy_load_buffer("bench.yaml", yaml, size, &p, &diags) < 0 ||
            policy_egress_build(p, &egress) < 0) {
                fprintf(stderr, "the generated policy does not load\n");
                return 1;
        }
        if (decide(&egress, allowed, false) != 1 || decide(&egress, denied, false) != 0) {
                fprintf(stderr, "the generated policy does not decide as meant\n");
                return 1;
        }

        /* baseline: the bare datagram of a deny entry, on a socket of its own */
        {
                ProxyEvent ev = { .decision = PROXY_DENY,
                                  .binary = "/usr/bin/curl",
                                  .pid = 4242,
                                  .host = denied,
                                  .port = 443,
                                  .reason = "endpoint evil.example.org:443 is not allowed by any policy" };
                if (proxy_event_fields(&ev, "bench", &fields) < 0 ||
                    bare_datagram(fields, &dgram, &dgram_size) < 0)
                        return 1;
        }
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        uint64_t t0 = now_ns();
        unsigned sent = 0;
        for (unsigned i = 0; i < n; i++)
                if (sendto(fd, dgram, dgram_size, 0, (struct sockaddr *) &sa, sizeof sa) >= 0)
                        sent++;
        t[0] = (now_ns() - t0) / 1e3 / n;

        for (int stage = 1; stage < 5; stage++) {
                const char *host = stage <= 2 ? allowed : denied;
                bool audit = stage == 2 || stage == 4;
                t0 = now_ns();
                for (unsigned i = 0; i < n; i++)
                        if (decide(&egress, host, audit) < 0)
                                return 1;
                t[stage] = (now_ns() - t0) / 1e3 / n;
        }

        static const char *names[] = { "bare journal datagram", "allow: match", "allow: + audit entry",
                                       "deny: match + reason", "deny: + audit entry" };
        printf("decision + audit entry: %u iterations, policy of %d rules, journal %s\n", n, N_RULES,
               sink        ? "socket with a reader (private /run)"
               : sent == n ? "of this machine"
                           : "absent (stderr fallback)");
        printf("%-26s %10s %8s\n", "stage", "mean", "ratio");
        for (int i = 0; i < 5; i++)
                printf("%-26s %7.2f us %7.2fx\n", names[i], t[i], t[0] > 0 ? t[i] / t[0] : 0);
        if (sink_pid > 0) {
                kill(sink_pid, SIGKILL);
                waitpid(sink_pid, NULL, 0);
        }
        free(egress.entries);
        return 0;
}
