/* SPDX-License-Identifier: Apache-2.0 */
/* openshell sandbox exec|connect: a command inside a running sandbox, with the same restrictions as
 * its agent.
 *
 * The command runs as one more transient unit, openshell-exec-NAME-XXXXXXXX.service, started with
 * exactly the settings the supervisor applied to the agent (it publishes them in
 * /run/openshell/sandboxes/NAME/agent.properties) plus JoinsNamespaceOf= the agent unit, so it shares
 * the agent's network namespace and /tmp, and sees the same file system. Our stdin/stdout/stderr (or a
 * pseudo-terminal, for connect) are handed to it over D-Bus; its exit status becomes ours. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <termios.h>

#include "bus-util.h"
#include "cli-bus.h"
#include "fileio.h"
#include "fs-util.h"
#include "log.h"
#include "openshell.h"
#include "parse-util.h"
#include "sandbox-name.h"
#include "sandbox-spec.h"
#include "sandbox-unit.h"
#include "string-util.h"

/* systemd's exit status when the command could not be executed (EXIT_EXEC). */
#define SYSTEMD_EXIT_EXEC 203

typedef struct ExecRequest {
        const char *name;
        char **command;
        char **environment; /* extra "K=V" */
        const char *workdir;
        uint64_t timeout_usec; /* 0: none */
        bool tty;
} ExecRequest;

static void exec_request_done(ExecRequest *req) {
        strv_free(req->command);
        strv_free(req->environment);
}

typedef struct ExecSession {
        sd_event *event;
        sd_bus *bus;
        char *unit;
        char *unit_path;
        bool started;      /* the start job is done */
        bool seen_running; /* the unit was seen activating or active */
        bool final_seen;   /* the unit was seen inactive or failed after that */
        sd_event_source *stdin_source;
        int exec_main_code, exec_main_status;
        char *result;
        /* tty relay */
        int master;
        bool stdin_eof;
        bool raw;
        struct termios saved;
} ExecSession;

static void exec_session_done(ExecSession *s) {
        sd_event_source_unref(s->stdin_source);
        if (s->raw)
                (void) tcsetattr(STDIN_FILENO, TCSADRAIN, &s->saved);
        free(s->unit);
        free(s->unit_path);
        free(s->result);
        safe_close(s->master);
        sd_bus_flush_close_unref(s->bus);
        sd_event_unref(s->event);
}

/* agent.properties holds one unit setting per line, as the supervisor applied them. */
#define AGENT_PROPERTIES_MAX (1024U * 1024U)

static int read_agent_properties(const char *name, char ***ret) {
        _cleanup_free_ char *dir = NULL, *path = NULL, *text = NULL;
        _cleanup_strv_free_ char **l = NULL;
        int r;

        if (sandbox_runtime_path(name, &dir) < 0 || asprintf_safe(&path, "%s/%s", dir, SANDBOX_AGENT_PROPERTIES) < 0)
                return log_oom();
        r = read_full_file(path, AGENT_PROPERTIES_MAX, &text, NULL);
        if (r == -ENOENT) {
                _cleanup_free_ char *spec = NULL;
                if (sandbox_spec_path(name, &spec) < 0)
                        return log_oom();
                if (access(spec, F_OK) < 0)
                        log_error("No sandbox '%s' (no spec %s).", name, spec);
                else
                        log_error("Sandbox '%s' is not running (start it with 'systemctl start "
                                  "openshell-sandbox@%s').",
                                  name, name);
                return -ESRCH;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", path);
        for (char *line = text, *next; line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (!isempty(line) && strv_extend(&l, line) < 0)
                        return log_oom();
        }
        if (!l) {
                log_error("%s is empty.", path);
                return -EBADMSG;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* The agent's settings, minus what identifies the agent unit itself. */
static bool property_is_inherited(const char *assignment, const ExecRequest *req) {
        static const char *const own[] = { "Description=", "CollectMode=" };

        for (size_t i = 0; i < ELEMENTSOF(own); i++)
                if (startswith(assignment, own[i]))
                        return false;
        if (req->workdir && startswith(assignment, "WorkingDirectory="))
                return false;
        return true;
}

static int append_fd(sd_bus_message *m, const char *key, int fd) {
        return sd_bus_message_append(m, "(sv)", key, "h", fd);
}

static int build_start_message(ExecSession *s, const ExecRequest *req, char *const *props, int in, int out, int err,
                               sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *agent = NULL;
        _cleanup_strv_free_ char **argv = NULL;
        int r;

        if (sandbox_agent_unit(req->name, &agent) < 0)
                return -ENOMEM;

        /* Through openshell-exec, as the agent, when the sandbox has a Landlock ruleset and seccomp
         * filter. No wrapper is needed for a terminal session: systemd makes a terminal passed as
         * standard input the controlling terminal of the service's main process (a session leader). */
        r = sandbox_unit_exec_argv(req->command, sandbox_unit_uses_shim(props), &argv);
        if (r < 0)
                return r;

        r = bus_transient_unit_begin(s->bus, s->unit, &m);
        if (r < 0)
                return r;

        STRV_FOREACH(p, props) {
                if (!property_is_inherited(*p, req))
                        continue;
                r = bus_append_unit_assignment(m, *p);
                if (r < 0) {
                        log_error_errno(r, "Cannot apply the sandbox's setting '%s': %m", *p);
                        return r;
                }
        }
        /* Type=exec: the start job ends once the command really runs (or could not be run). */
        r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)", "Description", "s", "openshell exec in sandbox",
                                  "CollectMode", "s", "inactive-or-failed", "JoinsNamespaceOf", "as", 1, agent, "Type",
                                  "s", "exec");
        if (r < 0)
                return r;
        if (req->workdir) {
                r = sd_bus_message_append(m, "(sv)", "WorkingDirectory", "s", req->workdir);
                if (r < 0)
                        return r;
        }
        STRV_FOREACH(e, req->environment) {
                r = sd_bus_message_append(m, "(sv)", "Environment", "as", 1, *e);
                if (r < 0)
                        return r;
        }
        if (req->timeout_usec > 0) {
                r = sd_bus_message_append(m, "(sv)", "RuntimeMaxUSec", "t", req->timeout_usec);
                if (r < 0)
                        return r;
        }
        if (req->tty) {
                r = sd_bus_message_append(m, "(sv)", "SendSIGHUP", "b", 1);
                if (r < 0)
                        return r;
        }
        r = append_fd(m, "StandardInputFileDescriptor", in);
        if (r >= 0)
                r = append_fd(m, "StandardOutputFileDescriptor", out);
        if (r >= 0)
                r = append_fd(m, "StandardErrorFileDescriptor", err);
        if (r < 0)
                return r;
        r = bus_transient_unit_end(m, argv);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

static int exit_status(const ExecSession *s) {
        if (s->exec_main_code == CLD_EXITED) {
                if (s->exec_main_status == SYSTEMD_EXIT_EXEC)
                        return 127; /* as a shell says "command not found" */
                return s->exec_main_status;
        }
        if (s->exec_main_code == CLD_KILLED || s->exec_main_code == CLD_DUMPED)
                return 128 + s->exec_main_status;
        return EXIT_FAILURE;
}

static void session_finish(ExecSession *s) {
        int status = exit_status(s);

        if (s->exec_main_code == CLD_EXITED && s->exec_main_status == SYSTEMD_EXIT_EXEC)
                log_error("The command could not be executed in the sandbox (not found, or not executable there); "
                          "see 'journalctl -u %s'.",
                          s->unit);
        else if (s->result && streq(s->result, "timeout"))
                log_error("The command ran out of time (--timeout) and was stopped.");
        (void) sd_event_exit(s->event, status);
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        ExecSession *s = userdata;
        const char *iface;
        int r;

        r = sd_bus_message_read(m, "s", &iface);
        if (r < 0)
                return 0;
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return 0;
        while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                const char *prop, *v;

                if (sd_bus_message_read(m, "s", &prop) < 0)
                        return 0;
                if (streq(iface, SYSTEMD_SERVICE_IFACE) && streq(prop, "ExecMainCode"))
                        r = sd_bus_message_read(m, "v", "i", &s->exec_main_code);
                else if (streq(iface, SYSTEMD_SERVICE_IFACE) && streq(prop, "ExecMainStatus"))
                        r = sd_bus_message_read(m, "v", "i", &s->exec_main_status);
                else if (streq(iface, SYSTEMD_SERVICE_IFACE) && streq(prop, "Result")) {
                        r = sd_bus_message_read(m, "v", "s", &v);
                        if (r >= 0) {
                                free(s->result);
                                s->result = strdup(v);
                        }
                } else if (streq(iface, SYSTEMD_UNIT_IFACE) && streq(prop, "ActiveState")) {
                        r = sd_bus_message_read(m, "v", "s", &v);
                        /* "inactive" is also the state of the freshly created unit: only an end after
                         * the start counts. systemd may coalesce active->inactive into one signal for a
                         * quick command, but then the JobRemoved signal has come first. */
                        if (r >= 0 && !streq(v, "inactive") && !streq(v, "failed"))
                                s->seen_running = true;
                        else if (r >= 0 && s->seen_running) {
                                s->final_seen = true;
                                if (s->started)
                                        session_finish(s);
                        } else if (r >= 0 && s->started)
                                session_finish(s);
                } else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0 || sd_bus_message_exit_container(m) < 0)
                        return 0;
        }
        return 0;
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        ExecSession *s = userdata;
        const char *path, *unit, *result;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0 || !streq(unit, s->unit))
                return 0;
        /* "failed": the command could not be executed (Type=exec); its status tells why. */
        if (!streq(result, "done") && !streq(result, "failed")) {
                log_error("Starting the command in the sandbox failed (job result '%s'); see 'journalctl -u %s'.",
                          result, s->unit);
                (void) sd_event_exit(s->event, EXIT_FAILURE);
                return 0;
        }
        s->started = true;
        if (s->final_seen)
                session_finish(s);
        /* Only now is the terminal set up on the other side: systemd resets (and flushes) it before
         * it runs the command, so input sent earlier would be lost. */
        if (s->stdin_source)
                (void) sd_event_source_set_enabled(s->stdin_source, SD_EVENT_ON);
        return 0;
}

static int on_start_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        ExecSession *s = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (e) {
                log_error("systemd refused to run the command: %s", bus_error_message(e, 0));
                (void) sd_event_exit(s->event, EXIT_FAILURE);
        }
        return 0;
}

/* Ctrl-C and friends, when there is no terminal to carry them: passed on to the command. */
static int on_signal(sd_event_source *source, const struct signalfd_siginfo *si, void *userdata) {
        ExecSession *s = userdata;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

        (void) sd_bus_call_method(s->bus, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE, "KillUnit",
                                  &error, NULL, "ssi", s->unit, "all", (int) si->ssi_signo);
        return 0;
}

static void resize_pty(ExecSession *s) {
        struct winsize ws;

        if (s->master >= 0 && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) >= 0)
                (void) ioctl(s->master, TIOCSWINSZ, &ws);
}

static int on_winch(sd_event_source *source, const struct signalfd_siginfo *si, void *userdata) {
        resize_pty(userdata);
        return 0;
}

static int on_stdin(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        ExecSession *s = userdata;
        char buf[4096];
        ssize_t k;

        k = read(fd, buf, sizeof buf);
        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (k <= 0) {
                /* End of our input: tell the terminal's reader with an EOF character, once. */
                if (!s->stdin_eof && s->master >= 0) {
                        struct termios t;
                        char eof = tcgetattr(s->master, &t) >= 0 ? (char) t.c_cc[VEOF] : 4;
                        (void) loop_write(s->master, &eof, 1);
                }
                s->stdin_eof = true;
                return sd_event_source_set_enabled(source, SD_EVENT_OFF);
        }
        (void) loop_write(s->master, buf, (size_t) k);
        return 0;
}

static int on_master(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        char buf[4096];
        ssize_t k;

        k = read(fd, buf, sizeof buf);
        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (k <= 0) /* EIO: the last user of the terminal closed it */
                return sd_event_source_set_enabled(source, SD_EVENT_OFF);
        (void) loop_write(STDOUT_FILENO, buf, (size_t) k);
        return 0;
}

static int open_pty(int *ret_master, int *ret_slave) {
        _cleanup_close_ int master = -EBADF, slave = -EBADF;
        char name[64];

        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
        if (master < 0)
                return -errno;
        if (grantpt(master) < 0 || unlockpt(master) < 0 || ptsname_r(master, name, sizeof name) != 0)
                return -errno;
        slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return -errno;
        *ret_master = TAKE_FD(master);
        *ret_slave = TAKE_FD(slave);
        return 0;
}

static int random_suffix(char *buf, size_t n) {
        uint8_t b[4];
        _cleanup_close_ int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

        if (fd < 0 || read(fd, b, sizeof b) != (ssize_t) sizeof b)
                return -EIO;
        snprintf(buf, n, "%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
        return 0;
}

static const int forwarded_signals[] = { SIGINT, SIGTERM, SIGHUP };

static int run_in_sandbox(const ExecRequest *req) {
        _cleanup_(exec_session_done) ExecSession s = { .master = -EBADF };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_strv_free_ char **props = NULL;
        _cleanup_close_ int slave = -EBADF;
        char suffix[16];
        sigset_t mask;
        int r;

        r = read_agent_properties(req->name, &props);
        if (r < 0)
                return r;
        if (random_suffix(suffix, sizeof suffix) < 0 ||
            asprintf_safe(&s.unit, "openshell-exec-%s-%s.service", req->name, suffix) < 0 ||
            bus_unit_path(s.unit, &s.unit_path) < 0)
                return log_oom();

        r = sd_event_default(&s.event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate event loop: %m");
        r = cli_bus_open(&s.bus);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(s.bus, s.event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach bus: %m");

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGWINCH);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        if (req->tty) {
                r = open_pty(&s.master, &slave);
                if (r < 0)
                        return log_error_errno(r, "Failed to allocate a pseudo-terminal: %m");
                if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &s.saved) >= 0) {
                        struct termios raw = s.saved;
                        cfmakeraw(&raw);
                        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) >= 0)
                                s.raw = true;
                        resize_pty(&s);
                }
                r = sd_event_add_io(s.event, &s.stdin_source, STDIN_FILENO, EPOLLIN, on_stdin, &s);
                if (r == -EPERM) { /* stdin is a regular file or /dev/null: nothing to relay */
                        s.stdin_eof = true;
                        r = 0;
                } else if (r >= 0)
                        r = sd_event_source_set_enabled(s.stdin_source, SD_EVENT_OFF);
                if (r >= 0)
                        r = sd_event_add_io(s.event, NULL, s.master, EPOLLIN, on_master, &s);
                if (r >= 0)
                        r = sd_event_add_signal(s.event, NULL, SIGWINCH, on_winch, &s);
                if (r < 0)
                        return log_error_errno(r, "Failed to relay the terminal: %m");
        }
        /* Signals to us are passed on to the command (with a terminal in raw mode, Ctrl-C reaches it
         * through the terminal instead). */
        for (size_t i = 0; i < ELEMENTSOF(forwarded_signals); i++) {
                r = sd_event_add_signal(s.event, NULL, forwarded_signals[i], on_signal, &s);
                if (r < 0)
                        return log_error_errno(r, "Failed to handle signals: %m");
        }

        r = sd_bus_match_signal(s.bus, NULL, SYSTEMD_BUS_NAME, s.unit_path, "org.freedesktop.DBus.Properties",
                                "PropertiesChanged", on_properties_changed, &s);
        if (r >= 0)
                r = sd_bus_match_signal(s.bus, NULL, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE,
                                        "JobRemoved", on_job_removed, &s);
        if (r < 0)
                return log_error_errno(r, "Failed to watch systemd: %m");
        r = sd_bus_call_method(s.bus, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE, "Subscribe", &error,
                               NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to systemd: %s", bus_error_message(&error, r));

        r = build_start_message(&s, req, props, req->tty ? slave : STDIN_FILENO,
                                req->tty ? slave : STDOUT_FILENO, req->tty ? slave : STDERR_FILENO, &m);
        if (r < 0)
                return log_error_errno(r, "Failed to build the request to systemd: %m");
        r = sd_bus_call_async(s.bus, NULL, m, on_start_reply, &s, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to ask systemd to run the command: %m");
        /* The unit holds its own copy now; ours must go, or the terminal never reports the end. */
        slave = safe_close(slave);

        r = sd_event_loop(s.event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");

        /* Whatever the command wrote last is still in the terminal: pass it on. */
        if (s.master >= 0)
                for (;;) {
                        char buf[4096];
                        ssize_t k = read(s.master, buf, sizeof buf);
                        if (k <= 0)
                                break;
                        (void) loop_write(STDOUT_FILENO, buf, (size_t) k);
                }
        return r;
}

enum { ARG_WORKDIR = 0x100, ARG_TIMEOUT, ARG_TTY, ARG_NO_TTY, ARG_ENV };

/* exec and connect take the same options; they differ in the default of --tty and in the command. */
static const struct option exec_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "name", required_argument, NULL, 'n' },
        { "workdir", required_argument, NULL, ARG_WORKDIR },
        { "timeout", required_argument, NULL, ARG_TIMEOUT },
        { "tty", no_argument, NULL, ARG_TTY },
        { "no-tty", no_argument, NULL, ARG_NO_TTY },
        { "env", required_argument, NULL, ARG_ENV },
        {},
};

/* Returns 1 to go on, 0 when the help was printed, -EINVAL after a usage error's message. */
static int parse_exec_args(int argc, char *argv[], bool connect, ExecRequest *req) {
        int c, n_opts = split_at_double_dash(argc, argv);

        optind = 0;
        while ((c = getopt_long(n_opts, argv, "hn:", exec_options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return verb_help();
                case 'n':
                        req->name = optarg;
                        break;
                case ARG_WORKDIR:
                        if (optarg[0] != '/' || string_has_cc(optarg)) {
                                log_error("--workdir %s: must be an absolute path", optarg);
                                return -EINVAL;
                        }
                        req->workdir = optarg;
                        break;
                case ARG_TIMEOUT: {
                        uint64_t v;
                        if (safe_atou64(optarg, &v) < 0 || v > UINT64_MAX / 1000000ULL) {
                                log_error("--timeout %s: expected seconds (0: none)", optarg);
                                return -EINVAL;
                        }
                        req->timeout_usec = v * 1000000ULL;
                        break;
                }
                case ARG_TTY:
                        req->tty = true;
                        break;
                case ARG_NO_TTY:
                        req->tty = false;
                        break;
                case ARG_ENV: {
                        const char *eq = strchr(optarg, '=');
                        _cleanup_free_ char *key = eq ? strndup(optarg, (size_t) (eq - optarg)) : NULL;
                        if (!key || !environment_name_is_valid(key) || string_has_cc(eq + 1)) {
                                log_error("--env %s: expected KEY=VALUE with a valid variable name", optarg);
                                return -EINVAL;
                        }
                        if (strv_extend(&req->environment, optarg) < 0)
                                return log_oom();
                        break;
                }
                default:
                        return -EINVAL;
                }

        if (optind < n_opts) {
                if (req->name || optind + 1 < n_opts) {
                        log_error("unexpected argument '%s'%s", req->name ? argv[optind] : argv[optind + 1],
                                  connect ? "" : " (the command goes after '--')");
                        return -EINVAL;
                }
                req->name = argv[optind];
        }
        if (!req->name) {
                log_error("which sandbox? (give its NAME)");
                return -EINVAL;
        }
        if (!sandbox_name_is_valid(req->name)) {
                log_error("invalid sandbox name '%s'", req->name);
                return -EINVAL;
        }
        if (n_opts + 1 < argc) {
                const char *prog = argv[n_opts + 1];
                if (isempty(prog) || (prog[0] != '/' && strchr(prog, '/'))) {
                        log_error("command '%s' must be an absolute path or a bare name", prog);
                        return -EINVAL;
                }
                req->command = strv_copy(argv + n_opts + 1);
                if (!req->command)
                        return log_oom();
        } else if (!connect) {
                log_error("no command given (write it after '--': openshell sandbox exec NAME -- COMMAND...)");
                return -EINVAL;
        }
        return 1;
}

static int exec_or_connect(int argc, char *argv[], bool connect) {
        _cleanup_(exec_request_done) ExecRequest req = { .tty = connect };
        int r;

        r = parse_exec_args(argc, argv, connect, &req);
        if (r == -EINVAL)
                return verb_usage();
        if (r <= 0)
                return r;
        if (!req.command) {
                /* connect without a command: the sandbox's login shell */
                req.command = strv_copy((char *[]) { (char *) "/bin/bash", (char *) "-l", NULL });
                if (access("/bin/bash", X_OK) < 0) {
                        strv_free(req.command);
                        req.command = strv_copy((char *[]) { (char *) "/bin/sh", (char *) "-l", NULL });
                }
                if (!req.command)
                        return log_oom();
        }
        if (req.tty && secure_getenv("TERM")) {
                _cleanup_free_ char *term = NULL;
                if (asprintf_safe(&term, "TERM=%s", secure_getenv("TERM")) < 0 || strv_consume(&req.environment,
                                                                                               TAKE_PTR(term)) < 0)
                        return log_oom();
        }

        return run_in_sandbox(&req);
}

static int sandbox_exec(int argc, char *argv[]) {
        return exec_or_connect(argc, argv, false);
}

static int sandbox_connect(int argc, char *argv[]) {
        return exec_or_connect(argc, argv, true);
}

/* What the manuals of exec and connect share. */
#define EXEC_UNIT_TEXT                                                                                          \
        "The command runs as one more transient unit, openshell-exec-NAME-XXXXXXXX.service, started with "      \
        "exactly the settings the supervisor applied to the agent (it publishes them in " SANDBOX_RUNTIME_DIR   \
        "/NAME/" SANDBOX_AGENT_PROPERTIES ") plus JoinsNamespaceOf=" SANDBOX_AGENT_PREFIX "NAME.service: the "  \
        "agent's account, restrictions, Landlock ruleset and seccomp filter, network namespace and /tmp. "      \
        "systemd removes the unit when the command has ended. The sandbox must be running.\n"

#define EXEC_OPTIONS                                                                                            \
        { "-n, --name NAME", "The sandbox, instead of the first argument." },                                   \
        { "--workdir DIR",                                                                                      \
          "The working directory in the sandbox, an absolute path. Default: " SANDBOX_WORKDIR_IN_SANDBOX "." }, \
        { "--timeout SECS",                                                                                     \
          "Stop the command after SECS seconds (systemd's RuntimeMaxSec=); 0, the default, for no limit." },    \
        { "--env KEY=VALUE", "An environment variable of the command, besides the agent's (repeatable)." }

#define EXEC_EXIT_STATUS                                                                                        \
        { "N", "The command's own exit status." },                                                              \
        { "127", "The command was not found in the sandbox, or could not be executed there." },                 \
        { "128+N", "The command was killed by signal N (143, SIGTERM, when --timeout stopped it)." },           \
        { "1", "The sandbox is not running, or systemd refused to run the command." },                          \
        { "2", "Usage error (an unknown option, no NAME, for exec no COMMAND); or the command's own status 2." }

#define EXEC_SEE_ALSO                                                                                           \
        "Nearly the same with systemd, without the agent's settings:\n"                                         \
        "\n"                                                                                                    \
        "  systemd-run --pipe --wait -p JoinsNamespaceOf=" SANDBOX_AGENT_PREFIX "NAME.service ...\n"            \
        "\n"                                                                                                    \
        "systemd-run(1), systemd.exec(5), openshell sandbox upload.\n"

const Verb sandbox_exec_verb = {
        .name = "exec",
        .summary = "Run a command inside a sandbox (non-interactive)",
        .synopsis = "NAME [OPTIONS] -- COMMAND [ARG...]\n"
                    "-n NAME [OPTIONS] -- COMMAND [ARG...]",
        .description =
                "Run COMMAND inside the running sandbox NAME and wait for it. Its standard input, output and "
                "error are openshell's, and its exit status becomes openshell's; SIGINT, SIGTERM and SIGHUP sent "
                "to openshell are passed on to it. Upstream OpenShell lacks this command.\n"
                "\n" EXEC_UNIT_TEXT
                "\n"
                "COMMAND is an absolute path or a bare name looked up in the sandbox's PATH; its arguments are "
                "passed literally.\n",
        .options = (const VerbItem[]) {
                EXEC_OPTIONS,
                { "--tty", "Run the command on a pseudo-terminal, as 'connect' does, with TERM passed on." },
                { "--no-tty", "Hand over standard input, output and error as they are (the default)." },
                {},
        },
        .exit_status = (const VerbItem[]) { EXEC_EXIT_STATUS, {} },
        .examples = "  openshell sandbox exec demo -- ls -l /sandbox\n"
                    "  openshell sandbox exec demo --timeout 60 --env DEBUG=1 -- python3 job.py < input.json\n"
                    "  openshell sandbox exec -n demo --workdir /tmp -- sh -c 'echo $PWD'\n",
        .see_also = EXEC_SEE_ALSO,
        .run = sandbox_exec,
        .getopt = exec_options,
};

const Verb sandbox_connect_verb = {
        .name = "connect",
        .summary = "Open an interactive shell inside a sandbox",
        .synopsis = "NAME [OPTIONS] [-- COMMAND [ARG...]]\n"
                    "-n NAME [OPTIONS] [-- COMMAND [ARG...]]",
        .description =
                "Open a login shell (/bin/bash -l, or /bin/sh -l where there is no bash) or COMMAND inside the "
                "running sandbox NAME, on a pseudo-terminal relayed to openshell's: what the agent can do, tried "
                "by hand. The terminal's size follows openshell's and TERM is passed on; Ctrl-C reaches the "
                "command through the terminal. Leave the shell with 'exit' or Ctrl-D.\n"
                "\n" EXEC_UNIT_TEXT,
        .options = (const VerbItem[]) {
                EXEC_OPTIONS,
                { "--tty", "Run on a pseudo-terminal (the default)." },
                { "--no-tty", "Hand over standard input, output and error as they are, as 'exec' does." },
                {},
        },
        .exit_status = (const VerbItem[]) { EXEC_EXIT_STATUS, {} },
        .examples = "  openshell sandbox connect demo\n"
                    "  openshell sandbox connect demo -- htop\n",
        .see_also = EXEC_SEE_ALSO,
        .run = sandbox_connect,
        .getopt = exec_options,
};
