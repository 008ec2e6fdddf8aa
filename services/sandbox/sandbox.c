/* SPDX-License-Identifier: Apache-2.0 */
/* openshell-sandbox NAME: the supervisor behind openshell-sandbox@NAME.service.
 *
 * It reads the sandbox's spec, prepares its workdir, starts the agent as the transient unit
 * openshell-agent-NAME.service over sd-bus, reports READY=1 once systemd has started it, and then
 * follows it: when the agent ends, the supervisor ends with the agent's result. The agent unit is
 * BindsTo=/PartOf= the supervisor, so stopping (or losing) the supervisor stops the agent. */

#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <grp.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "bus-util.h"
#include "diag.h"
#include "fileio.h"
#include "fs-util.h"
#include "log.h"
#include "main-func.h"
#include "parse-util.h"
#include "policy-compile.h"
#include "policy-status.h"
#include "policy.h"
#include "sandbox-kill.h"
#include "sandbox-name.h"
#include "sandbox-oom.h"
#include "sandbox-ca.h"
#include "sandbox-proxy.h"
#include "sandbox-tasks.h"
#include "sandbox-spec.h"
#include "sandbox-unit.h"
#include "string-util.h"
#include "time-util.h"

/* sysexits.h EX_CONFIG: the spec is invalid; systemd shows it as status=78/CONFIG. */
#define EXIT_CONFIG 78

/* The audit event of a policy reload, accepted or refused (units/catalog/openshell.catalog). */
#define SANDBOX_POLICY_MESSAGE_ID "3c9e5b7a1d2f4e8b9a6c0d4f7e1b2a95"
/* In the sandbox's runtime directory: how many reloads the supervisor has finished (ExecReload=). */
#define SANDBOX_RELOADS_FILE "reloads"

typedef struct Supervisor {
        const char *name;
        bool keep; /* false: remove the sandbox (spec and workdir) once the agent has ended */
        char *agent_unit;
        char *agent_path;
        sd_event *event;
        sd_bus *bus;
        bool ready;
        bool agent_started;      /* the start job is done */
        bool agent_seen_running; /* the agent unit was seen activating or active */
        bool agent_ended;
        uint64_t agent_start_usec; /* CLOCK_MONOTONIC when systemd had started it; 0: not seen */
        /* The agent unit's settings as sent: what protections it runs under. */
        char **agent_settings;
        /* Last values systemd reported for the agent's main process. */
        char *result;
        int exec_main_code; /* CLD_EXITED, CLD_KILLED, ... */
        int exec_main_status;
        uint32_t main_pid;
        /* For the report of an OOM kill: the agent's MemoryMax= as sent, whether its policy set it,
         * its command, and (cgroup v1) the kernel's OOM notifications for its cgroup. */
        const char *memory_max;
        bool memory_max_from_policy;
        const char *binary;
        OomWatch oom_watch;
        /* The agent's refused forks at its TasksMax= (pids.events). */
        TasksWatch tasks_watch;
        /* The sandbox's network namespace and the supervisor's side of its proxy (sandbox-proxy.h). */
        char *netns_path;
        SandboxProxy proxy;
        /* The policy in force: the one the agent started with, then each accepted reload. */
        Policy *policy;
        /* A reload (SIGHUP) in progress: the policy installed for the proxy, the proxy's reload job
         * waited for, and whether another SIGHUP came meanwhile. */
        bool reloading;
        bool reload_again;
        char *reload_policy_path;
        char *reload_job;
        char reload_hash[POLICY_HASH_HEX_LEN + 1]; /* of the bytes installed for the proxy */
        unsigned n_reloads; /* finished, written to SANDBOX_RELOADS_FILE for ExecReload= */
} Supervisor;

static void supervisor_done(Supervisor *s) {
        oom_watch_done(&s->oom_watch);
        tasks_watch_done(&s->tasks_watch);
        sandbox_proxy_done(&s->proxy);
        policy_free(s->policy);
        free(s->reload_policy_path);
        free(s->reload_job);
        free(s->netns_path);
        free(s->agent_unit);
        free(s->agent_path);
        free(s->result);
        strv_free(s->agent_settings);
        sd_bus_flush_close_unref(s->bus);
        sd_event_unref(s->event);
}

/* ACTION ("starting", "reloading") names what an invalid spec stops. */
static int load_spec(const char *name, const char *action, SandboxSpec **ret) {
        _cleanup_(diag_list_done) DiagList diags = {};
        _cleanup_free_ char *path = NULL;
        int r;

        r = sandbox_spec_path(name, &path);
        if (r < 0)
                return log_oom();

        r = sandbox_spec_load(path, ret, &diags);
        log_diag_list(&diags);
        if (r == -EBADMSG)
                return log_error_errno(r, "Sandbox spec %s is invalid, not %s sandbox '%s'.", path, action, name);
        if (r < 0)
                return log_error_errno(r, "Failed to load sandbox spec %s: %m", path);
        return 0;
}

#define PROFILES_DIR SANDBOX_PROFILES_DIR
#define DEFAULT_POLICY SANDBOX_DEFAULT_POLICY

/* A profile (--from) gives the command, forwards and providers when the spec has none, its
 * environment first, and its policy unless the spec names one. */
static int apply_profile(const char *name, SandboxSpec *spec, char **ret_policy) {
        _cleanup_(diag_list_done) DiagList diags = {};
        _cleanup_(sandbox_spec_freep) SandboxSpec *profile = NULL;
        _cleanup_free_ char *path = NULL, *policy = NULL;
        int r;

        if (asprintf_safe(&path, PROFILES_DIR "/%s/sandbox.yaml", spec->profile) < 0 ||
            asprintf_safe(&policy, PROFILES_DIR "/%s/policy.yaml", spec->profile) < 0)
                return log_oom();
        r = sandbox_spec_load(path, &profile, &diags);
        log_diag_list(&diags);
        if (r < 0)
                return log_error_errno(r, "Sandbox '%s': cannot use profile '%s' (%s): %m", name, spec->profile, path);

        if (!spec->command) {
                spec->command = TAKE_PTR(profile->command);
                if (!spec->command)
                        return log_error_errno(EINVAL, "Sandbox '%s': neither its spec nor profile '%s' gives a command.",
                                               name, spec->profile);
        }
        if (spec->n_forward == 0) {
                spec->forward = TAKE_PTR(profile->forward);
                spec->n_forward = profile->n_forward;
        }
        if (!spec->providers)
                spec->providers = TAKE_PTR(profile->providers);
        STRV_FOREACH(e, spec->environment)
                if (strv_extend(&profile->environment, *e) < 0)
                        return log_oom();
        strv_free(spec->environment);
        spec->environment = TAKE_PTR(profile->environment);
        *ret_policy = TAKE_PTR(policy);
        return 0;
}

static const char *policy_path_of(const SandboxSpec *spec, const char *profile_policy) {
        return spec->policy ?: profile_policy ?: DEFAULT_POLICY;
}

/* Loads, validates and compiles the sandbox's policy: what the agent unit is made of. */
static int compile_policy(const char *name, const SandboxSpec *spec, const char *profile_policy, Policy **ret_policy,
                          PolicyCompiled **ret_compiled) {
        _cleanup_(diag_list_done) DiagList diags = {};
        _cleanup_(policy_freep) Policy *policy = NULL;
        const char *path = policy_path_of(spec, profile_policy);
        PolicyCompileOptions o = {
                .agent_user = SANDBOX_AGENT_USER,
                .workdir = SANDBOX_WORKDIR_IN_SANDBOX,
        };
        int r;

        r = policy_load_file(path, &policy, &diags);
        log_diag_list(&diags);
        if (r == -EBADMSG)
                return log_error_errno(r, "Policy %s is invalid, not starting sandbox '%s'.", path, name);
        if (r < 0)
                return log_error_errno(r, "Failed to load policy %s: %m", path);
        r = policy_compile(policy, &o, ret_compiled);
        if (r < 0)
                return log_error_errno(r, "Failed to compile policy %s: %m", path);
        log_info("Sandbox '%s' uses policy %s.", name, path);
        *ret_policy = TAKE_PTR(policy);
        return 0;
}

/* Says out loud what this version records but cannot apply yet, never silently drops it. */
static void warn_unapplied(const char *name, const SandboxSpec *spec) {
        if (spec->providers)
                log_warning("Sandbox '%s' lists providers; they are recorded but not injected yet (the egress "
                            "proxy does not inject credentials in this version).",
                            name);
        if (spec->n_forward > 0)
                log_warning("Sandbox '%s' lists port forwards; they are recorded but not set up yet.", name);
}

/* Writes the compiled Landlock ruleset and seccomp filter where LoadCredential= picks them up. */
static int write_compiled(const char *name, const PolicyCompiled *c, char **ret_dir) {
        _cleanup_free_ char *dir = NULL, *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = sandbox_runtime_path(name, &dir);
        if (r < 0 || asprintf_safe(&path, "%s/" SANDBOX_LANDLOCK_FILE, dir) < 0)
                return log_oom();
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create %s: %m", path);
        f = fdopen(TAKE_FD(fd), "w");
        if (!f)
                return log_oom();
        r = policy_landlock_serialize(&c->landlock, f);
        if (r >= 0 && fflush(f) != 0)
                r = -errno;
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", path);

        free(path);
        path = NULL;
        if (asprintf_safe(&path, "%s/" SANDBOX_SECCOMP_FILE, dir) < 0)
                return log_oom();
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create %s: %m", path);
        r = policy_seccomp_export_bpf(&c->seccomp, fd);
        if (r < 0)
                return log_error_errno(r, "Failed to write the seccomp filter %s: %m", path);

        *ret_dir = TAKE_PTR(dir);
        return 0;
}

/* The agent's root directory: empty, root's, in the sandbox's runtime directory (gone when the supervisor
 * stops). systemd creates the mount points of the compiled policy's binds in it when the agent starts. */
static int prepare_root_directory(const char *runtime_dir, char **ret_path) {
        _cleanup_free_ char *path = NULL;
        struct stat st;

        if (asprintf_safe(&path, "%s/" SANDBOX_ROOT_DIR, runtime_dir) < 0)
                return log_oom();
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create the agent's root directory %s: %m", path);
        if (lstat(path, &st) < 0)
                return log_error_errno(errno, "Failed to stat %s: %m", path);
        if (!S_ISDIR(st.st_mode) || st.st_uid != 0)
                return log_error_errno(SYNTHETIC_ERRNO(ENOTDIR), "%s is not a directory owned by root, refusing.",
                                       path);
        *ret_path = TAKE_PTR(path);
        return 0;
}

/* Writes the agent unit's settings, one "Key=Value" per line, to SANDBOX_RUNTIME_DIR/NAME/agent.properties
 * (atomically): `openshell sandbox exec` and `connect` start their commands with exactly these. */
static int write_agent_properties(const char *name, char *const *assignments) {
        _cleanup_free_ char *dir = NULL, *path = NULL, *lines = NULL, *text = NULL;
        int r;

        r = sandbox_runtime_path(name, &dir);
        if (r < 0 || asprintf_safe(&path, "%s/%s", dir, SANDBOX_AGENT_PROPERTIES) < 0)
                return log_oom();
        /* One assignment per line, each ending in a newline. */
        lines = strv_join(assignments, "\n");
        if (!lines || asprintf_safe(&text, "%s%s", lines, isempty(lines) ? "" : "\n") < 0)
                return log_oom();
        r = write_file_atomic(path, text, strlen(text), 0600, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s (is RuntimeDirectory= set?): %m", path);
        return 0;
}

/* keep: false — the sandbox was for one run: its spec, the policy copy `create --policy` made for it
 * and its workdir go once the agent has ended. */
static void remove_sandbox(const char *name) {
        _cleanup_close_ int state = -EBADF;
        _cleanup_free_ char *spec = NULL, *policy = NULL;
        int r;

        if (sandbox_spec_path(name, &spec) < 0 || sandbox_policy_copy_path(name, &policy) < 0) {
                log_oom();
                return;
        }
        if (unlink(spec) < 0 && errno != ENOENT)
                log_warning_errno(errno, "Failed to remove %s, ignoring: %m", spec);
        if (unlink(policy) < 0 && errno != ENOENT)
                log_warning_errno(errno, "Failed to remove %s, ignoring: %m", policy);

        state = open(SANDBOX_STATE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        r = state < 0 ? -errno : rm_rf_at(state, name);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to remove the workdir of sandbox '%s', ignoring: %m", name);
        else
                log_info("Sandbox '%s' removed (keep: false).", name);
}

/* Creates SANDBOX_STATE_DIR/NAME owned by the agent account, mode 0700. An existing workdir is kept
 * (it persists across restarts); a symlink or non-directory in its place is refused, never followed. */
static int prepare_workdir(const char *name, const char *user, char **ret_path) {
        _cleanup_close_ int parent = -EBADF, fd = -EBADF;
        _cleanup_free_ char *path = NULL;
        struct passwd *pw;
        uint32_t uid;
        bool numeric;
        struct stat st;
        int r;

        r = sandbox_workdir_path(name, &path);
        if (r < 0)
                return log_oom();

        errno = 0;
        numeric = safe_atou32(user, &uid) >= 0;
        pw = numeric ? getpwuid((uid_t) uid) : getpwnam(user);
        if (!pw && numeric) {
                /* A numeric run_as_user without an account: the same number as group. */
                static struct passwd numeric_account;
                numeric_account = (struct passwd) { .pw_uid = (uid_t) uid, .pw_gid = (gid_t) uid };
                pw = &numeric_account;
        }
        if (!pw)
                return log_error_errno(errno > 0 ? errno : ESRCH,
                                       "Agent account '%s' does not exist (is the sysusers.d snippet applied?): %m",
                                       user);

        if (mkdir(SANDBOX_STATE_DIR, 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create %s: %m", SANDBOX_STATE_DIR);
        parent = open(SANDBOX_STATE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (parent < 0)
                return log_error_errno(errno, "Failed to open %s: %m", SANDBOX_STATE_DIR);

        if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create %s: %m", path);
        fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return log_error_errno(errno, "Failed to open workdir %s (not a directory?): %m", path);
        if (fstat(fd, &st) < 0)
                return log_error_errno(errno, "Failed to stat %s: %m", path);
        if (st.st_uid != pw->pw_uid || st.st_gid != pw->pw_gid)
                if (fchown(fd, pw->pw_uid, pw->pw_gid) < 0)
                        return log_error_errno(errno, "Failed to hand %s to '%s': %m", path, user);
        if ((st.st_mode & 07777) != 0700)
                if (fchmod(fd, 0700) < 0)
                        return log_error_errno(errno, "Failed to set mode of %s: %m", path);

        *ret_path = TAKE_PTR(path);
        return 0;
}

static void supervisor_notify_ready(Supervisor *s) {
        if (s->ready)
                return;
        s->ready = true;
        (void) sd_notifyf(false, "READY=1\nSTATUS=Agent running as %s (PID %" PRIu32 ")", s->agent_unit,
                          s->main_pid);
}

/* The supervisor's exit status mirrors the agent's: its exit code, or 128+signal like a shell. */
static int agent_exit_status(const Supervisor *s) {
        if (s->exec_main_code == CLD_EXITED)
                return s->exec_main_status;
        if (s->exec_main_code == CLD_KILLED || s->exec_main_code == CLD_DUMPED)
                return 128 + s->exec_main_status;
        return s->result && streq(s->result, "success") ? EXIT_SUCCESS : EXIT_FAILURE;
}

static bool supervisor_agent_oom_killed(const Supervisor *s) {
        return (s->result && streq(s->result, "oom-kill")) || s->oom_watch.oom;
}

/* The OOM killer ended the agent (or one of its processes): say so, with the limit it exceeded, as an
 * audit event (sandbox-oom.h). */
static void supervisor_report_oom(Supervisor *s) {
        _cleanup_strv_free_ char **fields = NULL;
        SandboxOomEvent ev = {
                .sandbox = s->name,
                .agent_unit = s->agent_unit,
                .memory_max = s->memory_max ?: "infinity",
                .from_policy = s->memory_max_from_policy,
                .main_killed = s->exec_main_code == CLD_KILLED && s->exec_main_status == SIGKILL,
                .pid = s->main_pid,
                .binary = s->binary,
        };

        if (!supervisor_agent_oom_killed(s))
                return;
        if (sandbox_oom_event_fields(&ev, &fields) < 0)
                return (void) log_oom();
        (void) log_journal_fields(LOG_ERR, fields);
}

/* The agent's main process died of a signal systemd counts as a failure (not the SIGTERM of a stop),
 * other than an OOM kill (reported above): name the protection that likely did it (sandbox-kill.h), as
 * an audit event that is also the log line. Returns true if it wrote one. */
static bool supervisor_report_kill(Supervisor *s) {
        _cleanup_strv_free_ char **fields = NULL;
        uint64_t now;
        SandboxKillEvent ev = {
                .sandbox = s->name,
                .agent_unit = s->agent_unit,
                .signal = s->exec_main_status,
                .unit = s->agent_settings,
                .pid = s->main_pid,
                .binary = s->binary,
        };

        if ((s->exec_main_code != CLD_KILLED && s->exec_main_code != CLD_DUMPED) ||
            (s->result && streq(s->result, "success")) || supervisor_agent_oom_killed(s))
                return false;
        /* Never seen started: it died before the supervisor heard of its start, which is early too. */
        ev.early = s->agent_start_usec == 0 || sd_event_now(s->event, CLOCK_MONOTONIC, &now) < 0 ||
                   now - s->agent_start_usec <= SANDBOX_KILL_EARLY_USEC;
        if (sandbox_kill_event_fields(&ev, &fields) < 0) {
                log_oom();
                return false;
        }
        (void) log_journal_fields(LOG_ERR, fields);
        return true;
}

static void supervisor_agent_ended(Supervisor *s, const char *state) {
        int status = agent_exit_status(s);
        uint64_t t;

        if (s->agent_ended)
                return;
        s->agent_ended = true;
        /* refusals since the last look, if the cgroup is still there to tell */
        if (sd_event_now(s->event, CLOCK_MONOTONIC, &t) >= 0)
                tasks_watch_check(&s->tasks_watch, t, true);
        supervisor_report_oom(s);

        if (status == 0)
                log_info("Agent %s finished successfully.", s->agent_unit);
        else if (s->exec_main_code == CLD_EXITED)
                log_error("Agent %s %s: result '%s', exit status %d.", s->agent_unit, state,
                          strna(s->result), s->exec_main_status);
        else if (!supervisor_report_kill(s))
                log_error("Agent %s %s: result '%s', killed by signal %s.", s->agent_unit, state,
                          strna(s->result), strsignal(s->exec_main_status));

        /* Type=notify: a supervisor that never said READY=1 would be a protocol failure; the result
         * that matters is the agent's, so say READY before leaving. */
        supervisor_notify_ready(s);
        (void) sd_notifyf(false, "STATUS=Agent ended (%s)", strna(s->result));
        (void) sd_event_exit(s->event, status);
}

static int read_service_properties(Supervisor *s, sd_bus_message *m) {
        int r;

        for (;;) {
                const char *prop;

                r = sd_bus_message_enter_container(m, 'e', "sv");
                if (r <= 0)
                        return r;
                r = sd_bus_message_read(m, "s", &prop);
                if (r < 0)
                        return r;

                if (streq(prop, "Result")) {
                        const char *v;
                        r = sd_bus_message_read(m, "v", "s", &v);
                        if (r >= 0) {
                                char *c = strdup(v);
                                if (!c)
                                        return -ENOMEM;
                                free(s->result);
                                s->result = c;
                        }
                } else if (streq(prop, "ExecMainCode"))
                        r = sd_bus_message_read(m, "v", "i", &s->exec_main_code);
                else if (streq(prop, "ExecMainStatus"))
                        r = sd_bus_message_read(m, "v", "i", &s->exec_main_status);
                else if (streq(prop, "MainPID")) {
                        uint32_t pid;
                        /* 0 once it has exited: keep the last one, for the report of its end */
                        r = sd_bus_message_read(m, "v", "u", &pid);
                        if (r >= 0 && pid > 0)
                                s->main_pid = pid;
                }
                else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
}

static int read_active_state(sd_bus_message *m, const char **ret) {
        int r;

        *ret = NULL;
        for (;;) {
                const char *prop;

                r = sd_bus_message_enter_container(m, 'e', "sv");
                if (r <= 0)
                        return r;
                r = sd_bus_message_read(m, "s", &prop);
                if (r < 0)
                        return r;
                if (streq(prop, "ActiveState"))
                        r = sd_bus_message_read(m, "v", "s", ret);
                else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
}

/* systemd sends PropertiesChanged first for the Service interface, then for the Unit interface (so
 * clients see a consistent state): by the time ActiveState says the agent is gone, its exit status
 * has been recorded. */
static int on_agent_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Supervisor *s = userdata;
        const char *iface, *state = NULL;
        int r;

        r = sd_bus_message_read(m, "s", &iface);
        if (r < 0)
                goto fail;
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                goto fail;

        if (streq(iface, SYSTEMD_SERVICE_IFACE)) {
                r = read_service_properties(s, m);
                if (r < 0)
                        goto fail;
                return 0;
        }
        if (!streq(iface, SYSTEMD_UNIT_IFACE))
                return 0;

        r = read_active_state(m, &state);
        if (r < 0)
                goto fail;
        if (!state)
                return 0;
        /* "inactive" is also the state of the freshly created unit: only an end after the start counts. */
        if (!streq(state, "inactive") && !streq(state, "failed"))
                s->agent_seen_running = true;
        else if (s->agent_started || s->agent_seen_running)
                supervisor_agent_ended(s, streq(state, "failed") ? "failed" : "stopped");
        return 0;

fail:
        log_warning_errno(r, "Failed to parse PropertiesChanged of %s, ignoring: %m", s->agent_unit);
        return 0;
}

/* Watches the agent's cgroup for what its limits refuse: OOM kills (cgroup v1 only, see sandbox-oom.h)
 * and refused forks (sandbox-tasks.h). Best effort: the limits apply either way; without a watch an OOM
 * kill is reported as a plain SIGKILL and refused forks go unreported. */
static void supervisor_watch_limits(Supervisor *s) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *cgroup = NULL;
        bool tasks = s->tasks_watch.tasks_max && !streq(s->tasks_watch.tasks_max, "infinity");
        int r;

        if (!oom_watch_needed() && !tasks)
                return;
        r = sd_bus_get_property_string(s->bus, SYSTEMD_BUS_NAME, s->agent_path, SYSTEMD_SERVICE_IFACE,
                                       "ControlGroup", &error, &cgroup);
        if (r < 0) {
                log_debug("Failed to read the cgroup of %s, ignoring: %s", s->agent_unit, bus_error_message(&error, r));
                return;
        }
        if (oom_watch_needed()) {
                r = oom_watch_start(&s->oom_watch, s->event, cgroup);
                if (r < 0)
                        log_full_errno(r == -ENOENT ? LOG_DEBUG : LOG_WARNING, r,
                                       "Cannot watch %s for OOM kills (cgroup v1 memory controller), ignoring: %m",
                                       s->agent_unit);
        }
        if (tasks) {
                r = tasks_watch_start(&s->tasks_watch, s->event, cgroup);
                if (r < 0)
                        log_full_errno(r == -ENOENT ? LOG_DEBUG : LOG_WARNING, r,
                                       "Cannot watch %s for refused forks (pids controller), ignoring: %m",
                                       s->agent_unit);
        }
}

static void supervisor_proxy_reloaded(Supervisor *s, const char *result);

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Supervisor *s = userdata;
        const char *path, *unit, *result;
        uint32_t id;
        int r;

        r = sd_bus_message_read(m, "uoss", &id, &path, &unit, &result);
        if (r < 0) {
                log_warning_errno(r, "Failed to parse JobRemoved signal, ignoring: %m");
                return 0;
        }
        if (s->reload_job && streq(path, s->reload_job)) {
                supervisor_proxy_reloaded(s, result);
                return 0;
        }
        if (!streq(unit, s->agent_unit) || s->agent_started)
                return 0;

        if (!streq(result, "done")) {
                log_error("Starting agent unit %s failed: job result '%s' (see 'journalctl -u %s').", unit, result,
                          unit);
                (void) sd_event_exit(s->event, EXIT_FAILURE);
                return 0;
        }

        s->agent_started = true;
        (void) sd_event_now(s->event, CLOCK_MONOTONIC, &s->agent_start_usec);
        (void) sd_bus_get_property_trivial(s->bus, SYSTEMD_BUS_NAME, s->agent_path, SYSTEMD_SERVICE_IFACE, "MainPID",
                                           NULL, 'u', &s->main_pid);
        supervisor_watch_limits(s);
        log_info("Sandbox '%s' is running: agent unit %s, PID %" PRIu32 ".", s->name, s->agent_unit, s->main_pid);
        supervisor_notify_ready(s);
        return 0;
}

static int on_start_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Supervisor *s = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (e) {
                log_error("Failed to start agent unit %s: %s", s->agent_unit, bus_error_message(e, 0));
                (void) sd_event_exit(s->event, EXIT_FAILURE);
        }
        /* Success: the JobRemoved signal tells when systemd has actually started it. */
        return 0;
}

/* A previous run may have left a failed agent unit behind (e.g. when CollectMode could not apply);
 * StartTransientUnit would refuse the name then. */
static void reset_stale_agent(Supervisor *s) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call_method(s->bus, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE, "ResetFailedUnit",
                               &error, NULL, "s", s->agent_unit);
        if (r < 0 && !sd_bus_error_has_name(&error, "org.freedesktop.systemd1.NoSuchUnit"))
                log_debug("Could not reset %s, ignoring: %s", s->agent_unit, bus_error_message(&error, r));
}

static int supervisor_start_agent(Supervisor *s, const SandboxSpec *spec, const char *workdir,
                                  const PolicyCompiled *compiled, const char *credentials_dir,
                                  const char *root_directory) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_strv_free_ char **assignments = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        SandboxUnitConfig c = {
                .name = s->name,
                .workdir = workdir,
                .user = SANDBOX_AGENT_USER,
                .command = spec->command,
                .environment = spec->environment,
                .policy_unit = compiled ? compiled->unit : NULL,
                .credentials_dir = credentials_dir,
                .root_directory = root_directory,
                .netns_path = s->netns_path,
        };
        int r;

        /* Matches first, then Subscribe, then the call: no signal about our unit can be missed. */
        r = sd_bus_match_signal_async(s->bus, NULL, SYSTEMD_BUS_NAME, s->agent_path,
                                      "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                      on_agent_properties_changed, NULL, s);
        if (r < 0)
                return log_error_errno(r, "Failed to watch %s: %m", s->agent_unit);
        r = sd_bus_match_signal_async(s->bus, NULL, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE,
                                      "JobRemoved", on_job_removed, NULL, s);
        if (r < 0)
                return log_error_errno(r, "Failed to watch systemd jobs: %m");
        r = sd_bus_call_method(s->bus, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE, "Subscribe", &error,
                               NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to systemd signals: %s", bus_error_message(&error, r));

        reset_stale_agent(s);

        r = sandbox_unit_assignments(&c, &assignments);
        if (r < 0)
                return log_error_errno(r, "Failed to compute the agent unit's settings: %m");
        r = write_agent_properties(s->name, assignments);
        if (r < 0)
                return r;
        s->agent_settings = TAKE_PTR(assignments);

        r = sandbox_unit_new_start_message(s->bus, &c, &m);
        if (r < 0)
                return log_error_errno(r, "Failed to build the agent unit's settings: %m");
        r = sd_bus_call_async(s->bus, NULL, m, on_start_reply, s, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to ask systemd to start %s: %m", s->agent_unit);

        (void) sd_notifyf(false, "STATUS=Starting agent unit %s", s->agent_unit);
        return 0;
}

static int on_exit_signal(sd_event_source *source, const struct signalfd_siginfo *si, void *userdata) {
        Supervisor *s = userdata;

        /* Stopped by systemd (or a person): the agent is stopped with us through BindsTo=. */
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Stopping");
        log_info("Received %s, stopping sandbox '%s'.", strsignal((int) si->ssi_signo), s->name);
        (void) sd_event_exit(s->event, EXIT_SUCCESS);
        return 0;
}

/* The SHA-256 of a policy's bytes, as `openshell policy get|set` computes it; POLICY_HASH_NONE when
 * TEXT is NULL (nothing could be read). */
static void policy_hash(const void *text, size_t size, char ret[static POLICY_HASH_HEX_LEN + 1]) {
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned n = 0;

        if (!text || !EVP_Digest(text, size, md, &n, EVP_sha256(), NULL) || n != 32) {
                strcpy(ret, POLICY_HASH_NONE);
                return;
        }
        hex_encode(md, n, ret);
}

/* The policy status file (policy-status.h) `openshell policy set --wait` waits on: LOADED, or refused
 * with MESSAGE. Written atomically, so a reader sees the old line or the new one. */
static void write_policy_status(const Supervisor *s, bool loaded, const char *hash, const char *message) {
        _cleanup_free_ char *dir = NULL, *path = NULL, *line = NULL;
        int r;

        if (sandbox_runtime_path(s->name, &dir) < 0 || asprintf_safe(&path, "%s/" POLICY_STATUS_FILE, dir) < 0)
                return (void) log_oom();
        r = policy_status_format(loaded, hash, message ?: "the policy cannot be applied", &line);
        if (r >= 0)
                r = write_file_atomic(path, line, strlen(line), 0644, 0);
        if (r < 0)
                log_warning_errno(r,
                                  "Failed to write %s, 'openshell policy set --wait' cannot see this reload: %m",
                                  path);
}

/* The audit event of a reload: DECISION "allow" (the policy at POLICY_PATH is in force) or "deny"
 * (REASON: why the policy in force stays). */
static void log_policy_event(const Supervisor *s, const char *policy_path, bool allowed, const char *reason) {
        _cleanup_strv_free_ char **l = NULL;
        int priority = allowed ? LOG_NOTICE : LOG_WARNING;

        if (strv_extend(&l, "MESSAGE_ID=" SANDBOX_POLICY_MESSAGE_ID) < 0 ||
            strv_extendf(&l, "PRIORITY=%d", priority) < 0 ||
            (allowed ? strv_extendf(&l, "MESSAGE=Sandbox '%s' reloaded its policy: %s is in force.", s->name,
                                    policy_path)
                     : strv_extendf(&l, "MESSAGE=Sandbox '%s' refused to reload policy %s: %s; the policy in "
                                    "force stays.", s->name, policy_path, reason)) < 0 ||
            strv_extendf(&l, "OPENSHELL_SANDBOX=%s", s->name) < 0 ||
            strv_extend(&l, "OPENSHELL_EVENT=policy") < 0 ||
            strv_extendf(&l, "OPENSHELL_DECISION=%s", allowed ? "allow" : "deny") < 0 ||
            strv_extendf(&l, "OPENSHELL_POLICY=%s", policy_path) < 0 ||
            (reason && strv_extendf(&l, "OPENSHELL_REASON=%s", reason) < 0))
                return (void) log_oom();
        (void) log_journal_fields(priority, l);
}

/* The message of the first error in DIAGS: upstream's words for what a reload may not change. */
static const char *first_error(const DiagList *diags) {
        for (size_t i = 0; i < diags->n_items; i++)
                if (diags->items[i].level == DIAG_ERROR)
                        return diags->items[i].message;
        return NULL;
}

static void supervisor_reload_finish(Supervisor *s);

static int on_proxy_reload_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Supervisor *s = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        const char *job;
        int r;

        if (e) {
                log_warning("Sandbox '%s': failed to reload %s: %s", s->name, s->proxy.unit,
                            bus_error_message(e, 0));
                supervisor_proxy_reloaded(s, "failed");
                return 0;
        }
        r = sd_bus_message_read(m, "o", &job);
        if (r >= 0) {
                s->reload_job = strdup(job);
                if (!s->reload_job)
                        r = -ENOMEM;
        }
        if (r < 0) {
                log_warning_errno(r, "Sandbox '%s': failed to read the job of %s's reload: %m", s->name,
                                  s->proxy.unit);
                supervisor_proxy_reloaded(s, "failed");
        }
        /* Success: the JobRemoved signal tells when the proxy has reloaded (systemd sends it after this
         * reply). */
        return 0;
}

/* RESULT: the proxy's reload job's. The policy file is in place either way: a proxy that is not running
 * (job result "invalid": systemd reloads active units only) reads it when it starts. */
static void supervisor_proxy_reloaded(Supervisor *s, const char *result) {
        if (streq(result, "done"))
                log_info("Sandbox '%s': %s reloaded the policy.", s->name, s->proxy.unit);
        else if (streq(result, "invalid"))
                log_info("Sandbox '%s': %s is not running; it reads the new policy when it starts.", s->name,
                         s->proxy.unit);
        else
                log_warning("Sandbox '%s': reloading %s ended with result '%s'; it reads the new policy when it "
                            "restarts (see 'journalctl -u %s').",
                            s->name, s->proxy.unit, result, s->proxy.unit);
        log_policy_event(s, s->reload_policy_path, true, NULL);
        if (streq(result, "done") || streq(result, "invalid"))
                write_policy_status(s, true, s->reload_hash, NULL);
        else {
                _cleanup_free_ char *why = NULL;
                (void) asprintf_safe(&why,
                                     "the egress proxy %s did not reload (result '%s'; see 'journalctl -u %s')",
                                     s->proxy.unit, result, s->proxy.unit);
                write_policy_status(s, false, s->reload_hash, why);
        }
        supervisor_reload_finish(s);
}

/* Re-reads the policy the sandbox's spec names (resolved as at start) and puts it in force if
 * policy_check_reload() accepts it. Returns 1 when waiting for the proxy's reload, 0 when done (the
 * policy in force unchanged), negative on failure (logged). */
static int supervisor_reload_policy(Supervisor *s) {
        _cleanup_(sandbox_spec_freep) SandboxSpec *spec = NULL;
        _cleanup_(policy_freep) Policy *candidate = NULL;
        _cleanup_(diag_list_done) DiagList diags = {};
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *profile_policy = NULL, *text = NULL, *path = NULL;
        char hash[POLICY_HASH_HEX_LEN + 1];
        size_t size;
        int r;

        r = load_spec(s->name, "reloading", &spec);
        if (r < 0) {
                write_policy_status(s, false, POLICY_HASH_NONE, "the sandbox spec cannot be loaded");
                return r;
        }
        if (spec->profile) {
                r = apply_profile(s->name, spec, &profile_policy);
                if (r < 0) {
                        write_policy_status(s, false, POLICY_HASH_NONE,
                                            "the sandbox's profile cannot be used");
                        return r;
                }
        }
        path = strdup(policy_path_of(spec, profile_policy));
        if (!path)
                return log_oom();

        /* One read: what is validated is what the proxy gets. */
        r = read_full_file(path, SANDBOX_PROXY_POLICY_SIZE_MAX, &text, &size);
        if (r < 0) {
                log_error_errno(r, "Failed to read policy %s, keeping the policy in force: %m", path);
                log_policy_event(s, path, false, "the policy cannot be read");
                write_policy_status(s, false, POLICY_HASH_NONE, "the policy cannot be read");
                return r;
        }
        policy_hash(text, size, hash);
        r = policy_load_buffer(path, text, size, &candidate, &diags);
        log_diag_list(&diags);
        if (r < 0) {
                _cleanup_free_ char *why = NULL;
                log_error_errno(r, "Policy %s is invalid, keeping the policy in force of sandbox '%s'.", path,
                                s->name);
                log_policy_event(s, path, false, "the policy is invalid");
                (void) asprintf_safe(&why, "the policy is invalid: %s", strna(first_error(&diags)));
                write_policy_status(s, false, hash, why);
                return r;
        }
        diag_list_done(&diags);
        r = policy_check_reload(s->policy, candidate, &diags);
        log_diag_list(&diags);
        if (r == -EBADMSG) {
                log_error("Policy %s changes what requires a sandbox restart, keeping the policy in force of "
                          "sandbox '%s'.",
                          path, s->name);
                log_policy_event(s, path, false, first_error(&diags));
                write_policy_status(s, false, hash, first_error(&diags));
                return 0;
        }
        if (r < 0) {
                write_policy_status(s, false, hash, "the policy cannot be compared with the one in force");
                return log_error_errno(r, "Failed to compare policy %s with the one in force: %m", path);
        }

        r = sandbox_proxy_install_policy(&s->proxy, text, size);
        if (r < 0) {
                log_policy_event(s, path, false, "the proxy's copy cannot be written");
                write_policy_status(s, false, hash, "the proxy's copy cannot be written");
                return r;
        }
        memcpy(s->reload_hash, hash, sizeof(hash));
        policy_free(s->policy);
        s->policy = TAKE_PTR(candidate);
        free(s->reload_policy_path);
        s->reload_policy_path = TAKE_PTR(path);

        r = sd_bus_call_method_async(s->bus, NULL, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE,
                                     "ReloadUnit", on_proxy_reload_reply, s, "ss", s->proxy.unit, "replace");
        if (r < 0) {
                log_warning_errno(r, "Sandbox '%s': failed to ask systemd to reload %s: %m", s->name,
                                  s->proxy.unit);
                log_policy_event(s, s->reload_policy_path, true, NULL);
                write_policy_status(s, true, hash, NULL);
                return 0;
        }
        return 1;
}

static void supervisor_reload(Supervisor *s) {
        int r;

        s->reloading = true;
        s->reload_again = false;
        /* MONOTONIC_USEC: systemd >= 253 wants it with RELOADING=1; older ones ignore it. Before READY=1
         * there is no reload job to hold. */
        if (s->ready)
                (void) sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=Reloading the policy",
                                  now(CLOCK_MONOTONIC));
        r = supervisor_reload_policy(s);
        if (r <= 0)
                supervisor_reload_finish(s);
}

/* The count of finished reloads, for ExecReload=, which waits for it to change: systemd 252 has no
 * Type=notify-reload, and a kill that exits before RELOADING=1 reaches systemd would end the reload
 * job (and `systemctl reload`) before the reload is done. */
static void write_reload_count(Supervisor *s) {
        _cleanup_free_ char *dir = NULL, *path = NULL, *text = NULL;
        int r;

        s->n_reloads++;
        if (sandbox_runtime_path(s->name, &dir) < 0 || asprintf_safe(&path, "%s/" SANDBOX_RELOADS_FILE, dir) < 0 ||
            asprintf_safe(&text, "%u\n", s->n_reloads) < 0)
                return (void) log_oom();
        r = write_file_atomic(path, text, strlen(text), 0600, 0);
        if (r < 0)
                log_warning_errno(r, "Failed to write %s, systemctl reload will wait for its timeout: %m", path);
}

/* The reload is over: READY=1 and the count of reloads end systemd's reload job (`systemctl reload`
 * returns). */
static void supervisor_reload_finish(Supervisor *s) {
        s->reloading = false;
        s->reload_job = mfree(s->reload_job);
        if (s->ready)
                (void) sd_notifyf(false, "READY=1\nSTATUS=Agent running as %s (PID %" PRIu32 ")", s->agent_unit,
                                  s->main_pid);
        write_reload_count(s);
        if (s->reload_again)
                supervisor_reload(s);
}

static int on_reload_signal(sd_event_source *source, const struct signalfd_siginfo *si, void *userdata) {
        Supervisor *s = userdata;

        if (s->reloading) {
                s->reload_again = true;
                return 0;
        }
        log_info("Received SIGHUP, reloading the policy of sandbox '%s'.", s->name);
        supervisor_reload(s);
        return 0;
}

/* At start: the policy in force is the proxy's copy, the bytes sandbox_proxy_prepare() installed. */
static void write_start_policy_status(const Supervisor *s) {
        _cleanup_free_ char *dir = NULL, *path = NULL, *text = NULL;
        char hash[POLICY_HASH_HEX_LEN + 1];
        size_t size = 0;

        if (sandbox_runtime_path(s->name, &dir) < 0 ||
            asprintf_safe(&path, "%s/" SANDBOX_PROXY_DIR "/" SANDBOX_PROXY_POLICY, dir) < 0)
                return (void) log_oom();
        if (read_full_file(path, SANDBOX_PROXY_POLICY_SIZE_MAX, &text, &size) < 0)
                text = mfree(text);
        policy_hash(text, size, hash);
        write_policy_status(s, true, hash, NULL);
}

static int run(int argc, char *argv[]) {
        _cleanup_(supervisor_done) Supervisor s = { .oom_watch = OOM_WATCH_NULL, .tasks_watch = TASKS_WATCH_NULL,
                                                    .proxy = SANDBOX_PROXY_NULL };
        _cleanup_(sandbox_spec_freep) SandboxSpec *spec = NULL;
        _cleanup_(policy_compiled_freep) PolicyCompiled *compiled = NULL;
        _cleanup_(policy_freep) Policy *policy = NULL;
        _cleanup_free_ char *workdir = NULL, *profile_policy = NULL, *credentials_dir = NULL, *root_directory = NULL;
        const char *user;
        sigset_t mask;
        int r;

        if (argc != 2) {
                log_error("Usage: %s NAME (normally started as openshell-sandbox@NAME.service)",
                          program_invocation_short_name);
                return EXIT_FAILURE;
        }
        s.name = argv[1];
        if (!sandbox_name_is_valid(s.name)) {
                log_error("Invalid sandbox name '%s': use 1-%d letters, digits, '-' or '_', starting with a letter "
                          "or digit.",
                          s.name, SANDBOX_NAME_MAX);
                return EXIT_CONFIG;
        }

        r = load_spec(s.name, "starting", &spec);
        if (r == -EBADMSG)
                return EXIT_CONFIG;
        if (r < 0)
                return r;
        if (spec->profile) {
                r = apply_profile(s.name, spec, &profile_policy);
                if (r < 0)
                        return EXIT_CONFIG;
        }
        r = compile_policy(s.name, spec, profile_policy, &policy, &compiled);
        if (r == -EBADMSG || r == -ENOENT)
                return EXIT_CONFIG;
        if (r < 0)
                return r;
        /* Set on success. Said for clang's analyzer, which lets an errno of INT_MIN make
         * log_error_errno() non-negative and then finds these NULL below. */
        assert(policy && compiled);
        warn_unapplied(s.name, spec);
        s.keep = spec->keep;
        s.memory_max = sandbox_unit_assignment_value(compiled->unit, "MemoryMax");
        s.memory_max_from_policy = policy->resources.memory_max != 0;
        s.binary = spec->command ? spec->command[0] : NULL;
        s.tasks_watch.sandbox = s.name;
        s.tasks_watch.tasks_max = sandbox_unit_assignment_value(compiled->unit, "TasksMax");
        s.tasks_watch.from_policy = policy->resources.tasks_max != 0;

        /* The workdir belongs to whoever the policy runs the agent as. */
        user = sandbox_unit_assignment_value(compiled->unit, "User") ?: SANDBOX_AGENT_USER;
        r = prepare_workdir(s.name, user, &workdir);
        if (r < 0)
                return r;
        r = write_compiled(s.name, compiled, &credentials_dir);
        if (r < 0)
                return r;
        r = prepare_root_directory(credentials_dir, &root_directory);
        if (r < 0)
                return r;

        if (sandbox_agent_unit(s.name, &s.agent_unit) < 0 || bus_unit_path(s.agent_unit, &s.agent_path) < 0)
                return log_oom();
        s.tasks_watch.agent_unit = s.agent_unit;

        r = sd_event_default(&s.event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate event loop: %m");
        (void) sd_event_set_watchdog(s.event, true);

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");
        r = sd_event_add_signal(s.event, NULL, SIGTERM, on_exit_signal, &s);
        if (r >= 0)
                r = sd_event_add_signal(s.event, NULL, SIGINT, on_exit_signal, &s);
        if (r >= 0)
                r = sd_event_add_signal(s.event, NULL, SIGHUP, on_reload_signal, &s);
        if (r < 0)
                return log_error_errno(r, "Failed to handle signals: %m");

        r = sd_bus_default_system(&s.bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");
        r = sd_bus_attach_event(s.bus, s.event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach bus to event loop: %m");

        /* The namespace is openshell-sandbox-netns's (ExecStartPre=+); the proxy's folder, policy copy and
         * identify socket are ours, ready before systemd starts the proxy ahead of the agent, and so is
         * the sandbox's CA (new at each start; the proxy unit loads its key, the agent trusts it). */
        if (asprintf_safe(&s.netns_path, SANDBOX_NETNS_DIR "/%s", s.name) < 0)
                return log_oom();
        /* credentials_dir is the sandbox's runtime directory. */
        r = sandbox_ca_prepare(credentials_dir, sandbox_ca_system_bundles);
        if (r < 0)
                return r;
        r = sandbox_proxy_prepare(&s.proxy, s.event, s.bus, s.name, policy_path_of(spec, profile_policy));
        if (r < 0)
                return r;
        write_start_policy_status(&s);

        r = supervisor_start_agent(&s, spec, workdir, compiled, credentials_dir, root_directory);
        if (r < 0)
                return r;
        s.policy = TAKE_PTR(policy);

        r = sd_event_loop(s.event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        if (!s.keep && s.agent_ended)
                remove_sandbox(s.name);
        return r;
}

DEFINE_MAIN_FUNCTION(run);
