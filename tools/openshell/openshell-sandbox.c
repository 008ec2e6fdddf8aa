/* SPDX-License-Identifier: Apache-2.0 */
/* openshell sandbox ...: sandboxes are systemd units; everything here asks systemd over sd-bus. */

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <time.h>
#include <getopt.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "bus-util.h"
#include "cli-bus.h"
#include "fs-util.h"
#include "log.h"
#include "openshell.h"
#include "sandbox-name.h"
#include "policy.h"
#include "sandbox-spec.h"
#include "string-util.h"

typedef struct SandboxRow {
        char *name;
        char *supervisor; /* "active (running)" or "-" when not loaded */
        char *agent;
} SandboxRow;

typedef struct SandboxTable {
        SandboxRow *rows;
        size_t n;
} SandboxTable;

static void sandbox_table_done(SandboxTable *t) {
        for (size_t i = 0; i < t->n; i++) {
                free(t->rows[i].name);
                free(t->rows[i].supervisor);
                free(t->rows[i].agent);
        }
        free(t->rows);
        *t = (SandboxTable) {};
}

static SandboxRow *sandbox_table_get(SandboxTable *t, const char *name) {
        SandboxRow *rows;

        for (size_t i = 0; i < t->n; i++)
                if (streq(t->rows[i].name, name))
                        return &t->rows[i];
        rows = reallocarray(t->rows, t->n + 1, sizeof(SandboxRow));
        if (!rows)
                return NULL;
        t->rows = rows;
        t->rows[t->n] = (SandboxRow) { .name = strdup(name) };
        if (!t->rows[t->n].name)
                return NULL;
        return &t->rows[t->n++];
}

/* "openshell-sandbox@demo.service" -> "demo" (or NULL if the unit name is not one of ours). */
static char *unit_to_sandbox_name(const char *unit, const char *prefix) {
        _cleanup_free_ char *name = NULL;
        size_t lp = strlen(prefix), lu = strlen(unit);

        if (!startswith(unit, prefix) || !endswith(unit, ".service") || lu <= lp + strlen(".service"))
                return NULL;
        name = strndup(unit + lp, lu - lp - strlen(".service"));
        if (!name || !sandbox_name_is_valid(name))
                return NULL;
        return TAKE_PTR(name);
}

static int collect_units(sd_bus *bus, SandboxTable *t) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *unit, *active, *sub;
        int r;

        r = sd_bus_call_method(bus, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE, "ListUnitsByPatterns",
                               &error, &reply, "asas", 0, 2, SANDBOX_SUPERVISOR_PREFIX "*.service",
                               SANDBOX_AGENT_PREFIX "*.service");
        if (r < 0)
                return log_error_errno(r, "Failed to list units: %s", bus_error_message(&error, r));

        r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
        if (r < 0)
                return log_error_errno(r, "Failed to parse unit list: %m");
        while ((r = sd_bus_message_read(reply, "(ssssssouso)", &unit, NULL, NULL, &active, &sub, NULL, NULL, NULL,
                                        NULL, NULL)) > 0) {
                _cleanup_free_ char *name = NULL, *state = NULL;
                bool is_agent = false;
                SandboxRow *row;

                name = unit_to_sandbox_name(unit, SANDBOX_SUPERVISOR_PREFIX);
                if (!name) {
                        name = unit_to_sandbox_name(unit, SANDBOX_AGENT_PREFIX);
                        is_agent = true;
                }
                if (!name)
                        continue;
                row = sandbox_table_get(t, name);
                if (!row || asprintf_safe(&state, "%s (%s)", active, sub) < 0)
                        return log_oom();
                free(is_agent ? row->agent : row->supervisor);
                *(is_agent ? &row->agent : &row->supervisor) = TAKE_PTR(state);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to parse unit list: %m");
        return 0;
}

/* Sandboxes with a spec but no loaded unit (never started, or stopped and unloaded). */
static int collect_specs(SandboxTable *t) {
        _cleanup_(closedirp) DIR *d = opendir(SANDBOX_SPEC_DIR);

        if (!d) {
                if (errno == ENOENT)
                        return 0;
                return log_error_errno(errno, "Failed to open %s: %m", SANDBOX_SPEC_DIR);
        }
        for (struct dirent *de; (de = readdir(d));) {
                _cleanup_free_ char *name = NULL;

                if (!endswith(de->d_name, ".yaml"))
                        continue;
                name = strndup(de->d_name, strlen(de->d_name) - strlen(".yaml"));
                if (!name)
                        return log_oom();
                if (!sandbox_name_is_valid(name))
                        continue;
                if (!sandbox_table_get(t, name))
                        return log_oom();
        }
        return 0;
}

static int compare_rows(const void *a, const void *b) {
        return strcmp(((const SandboxRow *) a)->name, ((const SandboxRow *) b)->name);
}

static int sandbox_list(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sandbox_table_done) SandboxTable t = {};
        size_t w = strlen("NAME"), ws = strlen("SUPERVISOR");
        int r;

        if (argc > 1) {
                if (streq(argv[1], "--help") || streq(argv[1], "-h")) {
                        printf("Usage: openshell sandbox list\n\n"
                               "List sandboxes: those with a spec in " SANDBOX_SPEC_DIR " and those systemd knows,\n"
                               "with the state of the supervisor (openshell-sandbox@NAME.service) and of the agent\n"
                               "(openshell-agent-NAME.service).\n");
                        return EXIT_SUCCESS;
                }
                log_error("sandbox list takes no arguments, got '%s'", argv[1]);
                return EXIT_USAGE;
        }

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus (is systemd running?): %m");
        r = collect_units(bus, &t);
        if (r < 0)
                return r;
        r = collect_specs(&t);
        if (r < 0)
                return r;

        if (t.n == 0) {
                printf("No sandboxes.\n");
                return EXIT_SUCCESS;
        }
        qsort(t.rows, t.n, sizeof(SandboxRow), compare_rows);
        for (size_t i = 0; i < t.n; i++) {
                w = MAX(w, strlen(t.rows[i].name));
                ws = MAX(ws, strlen(t.rows[i].supervisor ?: "inactive"));
        }
        printf("%-*s  %-*s  %s\n", (int) w, "NAME", (int) ws, "SUPERVISOR", "AGENT");
        for (size_t i = 0; i < t.n; i++)
                printf("%-*s  %-*s  %s\n", (int) w, t.rows[i].name, (int) ws, t.rows[i].supervisor ?: "inactive",
                       t.rows[i].agent ?: "-");
        return EXIT_SUCCESS;
}


/* ---- create ---- */

int split_at_double_dash(int argc, char *argv[]) {
        for (int i = 1; i < argc; i++)
                if (streq(argv[i], "--"))
                        return i;
        return argc;
}

#define PROFILES_DIR DATADIR "/profiles"

static double elapsed(const struct timespec *t0) {
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double) (t.tv_sec - t0->tv_sec) + (double) (t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int random_name(char **ret) {
        uint8_t b[3];
        FILE *f = fopen("/dev/urandom", "re");

        if (!f || fread(b, 1, sizeof b, f) != sizeof b) {
                if (f)
                        fclose(f);
                return -EIO;
        }
        fclose(f);
        return asprintf_safe(ret, "sandbox-%02x%02x%02x", b[0], b[1], b[2]);
}

static int parse_port(const char *s, uint16_t *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end || v < 1 || v > 65535 || s[0] == '-' || s[0] == '+')
                return -EINVAL;
        *ret = (uint16_t) v;
        return 0;
}

/* Writes the spec to SANDBOX_SPEC_DIR/NAME.yaml, refusing to replace an existing sandbox. */
static int write_spec(const char *name, const SandboxSpec *spec) {
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = sandbox_spec_path(name, &path);
        if (r < 0 || asprintf_safe(&tmp, "%s.tmp-%d", path, (int) getpid()) < 0)
                return log_oom();
        if (mkdir("/etc/openshell", 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create /etc/openshell: %m");
        if (mkdir(SANDBOX_SPEC_DIR, 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create %s: %m", SANDBOX_SPEC_DIR);

        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create %s: %m", tmp);
        f = fdopen(TAKE_FD(fd), "w");
        if (!f)
                return log_oom();
        fprintf(f, "# Sandbox '%s', written by 'openshell sandbox create'.\n", name);
        r = sandbox_spec_write(spec, f);
        if (r >= 0 && (fflush(f) != 0 || fsync(fileno(f)) < 0))
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return log_error_errno(r, "Failed to write %s: %m", tmp);
        }
        /* link() + unlink() instead of rename(): never replaces a spec created meanwhile. */
        if (link(tmp, path) < 0) {
                r = -errno;
                (void) unlink(tmp);
                if (r == -EEXIST)
                        return log_error_errno(r, "Sandbox '%s' already exists (%s); delete it first.", name, path);
                return log_error_errno(r, "Failed to create %s: %m", path);
        }
        (void) unlink(tmp);
        return 0;
}

#define POLICIES_DIR "/etc/openshell/policies"

/* --policy FILE: validated now (every problem printed, nothing written if it is invalid), then copied
 * to POLICIES_DIR/sandbox-NAME.yaml, which the spec names: the sandbox keeps the policy it was
 * created with when the original changes, and the supervisor, which cannot see home directories,
 * can read it. */
static int install_policy(const char *name, const char *src, char **ret_path) {
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_free_ char *dst = NULL, *tmp = NULL;
        _cleanup_close_ int in = -EBADF, out = -EBADF;
        int r;

        r = policy_load_file(src, &p, &d);
        diag_list_print(&d, stderr);
        if (r == -EBADMSG) {
                log_error("--policy %s is invalid; no sandbox created.", src);
                return -EBADMSG;
        }
        if (r < 0)
                return log_error_errno(r, "--policy %s: %m", src);

        if (asprintf_safe(&dst, POLICIES_DIR "/sandbox-%s.yaml", name) < 0 ||
            asprintf_safe(&tmp, "%s.tmp-%d", dst, (int) getpid()) < 0)
                return log_oom();
        if ((mkdir("/etc/openshell", 0755) < 0 && errno != EEXIST) || (mkdir(POLICIES_DIR, 0755) < 0 && errno != EEXIST))
                return log_error_errno(errno, "Failed to create " POLICIES_DIR ": %m");
        in = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (in < 0)
                return log_error_errno(errno, "--policy %s: %m", src);
        out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (out < 0)
                return log_error_errno(errno, "Failed to create %s: %m", tmp);
        r = copy_fd(in, out);
        if (r >= 0 && fsync(out) < 0)
                r = -errno;
        if (r >= 0 && rename(tmp, dst) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return log_error_errno(r, "Failed to install the policy as %s: %m", dst);
        }
        *ret_path = TAKE_PTR(dst);
        return 0;
}

static void create_help(FILE *f) {
        fprintf(f,
                "Usage: openshell sandbox create [NAME] [OPTIONS] [-- COMMAND...]\n"
                "\n"
                "Write the spec " SANDBOX_SPEC_DIR "/NAME.yaml and start openshell-sandbox@NAME.service.\n"
                "Without a command the agent is '/bin/sleep infinity': use 'connect' and 'exec' to work in it.\n"
                "\n"
                "Options:\n"
                "  --name NAME        sandbox name (default: sandbox-XXXXXX); letters, digits, '-', '_'\n"
                "  --policy FILE      policy file, validated and copied to " POLICIES_DIR "/sandbox-NAME.yaml\n"
                "                     (default: the shipped default policy)\n"
                "  --from PROFILE     a shipped profile (" PROFILES_DIR "/PROFILE)\n"
                "  --provider NAME    attach a provider (repeatable; recorded, injected with the egress proxy)\n"
                "  --forward PORT     forward host 127.0.0.1:PORT into the sandbox (repeatable; recorded)\n"
                "  --env KEY=VALUE    environment of the agent (repeatable; not for secrets)\n"
                "  --keep             keep the sandbox when its command exits (default)\n"
                "  --no-keep          remove the sandbox when its command exits\n"
                "  --no-start         only write the spec\n");
}

static int sandbox_create(int argc, char *argv[]) {
        enum { ARG_NAME = 0x100, ARG_POLICY, ARG_FROM, ARG_PROVIDER, ARG_FORWARD, ARG_ENV, ARG_KEEP, ARG_NO_KEEP,
               ARG_NO_START };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },         { "name", required_argument, NULL, ARG_NAME },
                { "policy", required_argument, NULL, ARG_POLICY }, { "from", required_argument, NULL, ARG_FROM },
                { "provider", required_argument, NULL, ARG_PROVIDER },
                { "forward", required_argument, NULL, ARG_FORWARD },
                { "env", required_argument, NULL, ARG_ENV },   { "keep", no_argument, NULL, ARG_KEEP },
                { "no-keep", no_argument, NULL, ARG_NO_KEEP }, { "no-start", no_argument, NULL, ARG_NO_START },
                {},
        };
        _cleanup_(sandbox_spec_freep) SandboxSpec *spec = calloc(1, sizeof(SandboxSpec));
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *name = NULL, *unit = NULL;
        _cleanup_(unit_state_done) UnitState st = {};
        struct timespec t0;
        const char *policy_src = NULL;
        bool start = true;
        int c, r, n_opts;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (!spec)
                return log_oom();
        spec->keep = true;

        /* Options and NAME before "--", the command after it. */
        n_opts = split_at_double_dash(argc, argv);
        optind = 0;
        while ((c = getopt_long(n_opts, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        create_help(stdout);
                        return EXIT_SUCCESS;
                case ARG_NAME:
                        free(name);
                        name = strdup(optarg);
                        if (!name)
                                return log_oom();
                        break;
                case ARG_POLICY: {
                        struct stat st2;
                        if (stat(optarg, &st2) < 0 || !S_ISREG(st2.st_mode)) {
                                log_error("--policy %s: %s", optarg,
                                          errno == ENOENT ? "no such file" : "not a regular file");
                                return EXIT_USAGE;
                        }
                        policy_src = optarg;
                        break;
                }
                case ARG_FROM: {
                        _cleanup_free_ char *dir = NULL;
                        struct stat st2;
                        if (!spec_object_name_is_valid(optarg)) {
                                log_error("--from %s: invalid profile name (letters, digits, '-' and '_')", optarg);
                                return EXIT_USAGE;
                        }
                        if (asprintf_safe(&dir, PROFILES_DIR "/%s", optarg) < 0)
                                return log_oom();
                        if (stat(dir, &st2) < 0 || !S_ISDIR(st2.st_mode)) {
                                log_error("--from %s: no such profile (looked in %s)", optarg, PROFILES_DIR);
                                return EXIT_USAGE;
                        }
                        free(spec->profile);
                        spec->profile = strdup(optarg);
                        if (!spec->profile)
                                return log_oom();
                        break;
                }
                case ARG_PROVIDER:
                        if (!spec_object_name_is_valid(optarg)) {
                                log_error("--provider %s: invalid provider name (letters, digits, '-' and '_')",
                                          optarg);
                                return EXIT_USAGE;
                        }
                        if (strv_contains(spec->providers, optarg))
                                break;
                        if (strv_extend(&spec->providers, optarg) < 0)
                                return log_oom();
                        break;
                case ARG_FORWARD: {
                        uint16_t port, *p;
                        if (parse_port(optarg, &port) < 0) {
                                log_error("--forward %s: invalid port; expected 1..=65535", optarg);
                                return EXIT_USAGE;
                        }
                        if (spec->n_forward >= SANDBOX_FORWARDS_MAX) {
                                log_error("--forward: at most %u ports", SANDBOX_FORWARDS_MAX);
                                return EXIT_USAGE;
                        }
                        p = reallocarray(spec->forward, spec->n_forward + 1, sizeof(uint16_t));
                        if (!p)
                                return log_oom();
                        spec->forward = p;
                        spec->forward[spec->n_forward++] = port;
                        break;
                }
                case ARG_ENV: {
                        const char *eq = strchr(optarg, '=');
                        _cleanup_free_ char *key = eq ? strndup(optarg, (size_t) (eq - optarg)) : NULL;
                        if (!eq || !key || !environment_name_is_valid(key) || string_has_cc(eq + 1)) {
                                log_error("--env %s: expected KEY=VALUE with a valid variable name", optarg);
                                return EXIT_USAGE;
                        }
                        if (strv_extend(&spec->environment, optarg) < 0)
                                return log_oom();
                        break;
                }
                case ARG_KEEP:
                        spec->keep = true;
                        break;
                case ARG_NO_KEEP:
                        spec->keep = false;
                        break;
                case ARG_NO_START:
                        start = false;
                        break;
                default:
                        create_help(stderr);
                        return EXIT_USAGE;
                }

        /* A positional NAME (upstream's form). */
        if (optind < n_opts) {
                if (name || optind + 1 < n_opts) {
                        log_error("unexpected argument '%s' (the command goes after '--')",
                                  name ? argv[optind] : argv[optind + 1]);
                        return EXIT_USAGE;
                }
                name = strdup(argv[optind]);
                if (!name)
                        return log_oom();
        }
        if (n_opts + 1 < argc) {
                const char *prog = argv[n_opts + 1];
                if (isempty(prog) || (prog[0] != '/' && strchr(prog, '/'))) {
                        log_error("command '%s' must be an absolute path or a bare name", prog);
                        return EXIT_USAGE;
                }
                spec->command = strv_copy(argv + n_opts + 1);
                if (!spec->command)
                        return log_oom();
        } else if (!spec->profile) {
                spec->command = strv_copy((char *[]) { (char *) "/bin/sleep", (char *) "infinity", NULL });
                if (!spec->command)
                        return log_oom();
        }

        if (!name && random_name(&name) < 0)
                return log_error_errno(EIO, "Failed to pick a sandbox name.");
        if (!sandbox_name_is_valid(name)) {
                log_error("invalid sandbox name '%s': use 1-%d letters, digits, '-' or '_', starting with a letter "
                          "or digit",
                          name, SANDBOX_NAME_MAX);
                return EXIT_USAGE;
        }

        if (start) {
                r = cli_bus_open(&bus);
                if (r < 0)
                        return r;
        }
        if (policy_src) {
                _cleanup_free_ char *spec_path = NULL;
                if (sandbox_spec_path(name, &spec_path) < 0)
                        return log_oom();
                if (access(spec_path, F_OK) >= 0)
                        return log_error_errno(EEXIST, "Sandbox '%s' already exists (%s); delete it first.", name,
                                               spec_path);
                r = install_policy(name, policy_src, &spec->policy);
                if (r < 0)
                        return EXIT_FAILURE;
        }
        r = write_spec(name, spec);
        if (r < 0)
                return r;
        printf("[%.2fs] Sandbox '%s': spec written to " SANDBOX_SPEC_DIR "/%s.yaml\n", elapsed(&t0), name, name);
        if (!start)
                return EXIT_SUCCESS;

        if (sandbox_supervisor_unit(name, &unit) < 0)
                return log_oom();
        r = cli_unit_job(bus, "StartUnit", unit);
        if (r < 0)
                return r;
        free(unit);
        if (sandbox_agent_unit(name, &unit) < 0)
                return log_oom();
        r = cli_unit_state(bus, unit, &st);
        if (r < 0)
                return r;
        if (streq(st.active_state, "active"))
                printf("[%.2fs] Sandbox '%s' ready: agent %s, PID %" PRIu32 "\n", elapsed(&t0), name, unit,
                       st.main_pid);
        else
                printf("[%.2fs] Sandbox '%s' started; its command has already ended (%s)\n", elapsed(&t0), name,
                       st.active_state);
        return EXIT_SUCCESS;
}

/* ---- get ---- */

/* Upstream's phases, from the two units' states. */
static const char *sandbox_phase(const UnitState *sup, const UnitState *agent) {
        if (streq(sup->active_state, "failed"))
                return "Error";
        if (streq(sup->active_state, "activating"))
                return "Provisioning";
        if (streq(sup->active_state, "deactivating"))
                return "Stopping";
        if (streq(sup->active_state, "active"))
                return streq(agent->active_state, "active") ? "Ready" : "Unknown";
        return "Stopped";
}

static int load_spec_quiet(const char *name, SandboxSpec **ret) {
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_free_ char *path = NULL;
        int r;

        if (sandbox_spec_path(name, &path) < 0)
                return log_oom();
        r = sandbox_spec_load(path, ret, &d);
        if (r == -ENOENT)
                return r;
        if (r < 0) {
                diag_list_print(&d, stderr);
                return log_error_errno(r, "Sandbox spec %s is invalid.", path);
        }
        return 0;
}

static int sandbox_get(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sandbox_spec_freep) SandboxSpec *spec = NULL;
        _cleanup_(unit_state_done) UnitState sup = {}, agent = {};
        _cleanup_free_ char *sup_unit = NULL, *agent_unit = NULL, *workdir = NULL;
        const char *name;
        char b1[32], b2[32];
        int r;

        if (argc != 2 || streq(argv[1], "--help") || streq(argv[1], "-h")) {
                fprintf(argc == 2 ? stdout : stderr,
                        "Usage: openshell sandbox get NAME\n\nShow a sandbox: phase, spec, units, main PID, memory and "
                        "CPU now, forwards.\n");
                return argc == 2 ? EXIT_SUCCESS : EXIT_USAGE;
        }
        name = argv[1];
        if (!sandbox_name_is_valid(name)) {
                log_error("invalid sandbox name '%s'", name);
                return EXIT_USAGE;
        }
        if (sandbox_supervisor_unit(name, &sup_unit) < 0 || sandbox_agent_unit(name, &agent_unit) < 0 ||
            sandbox_workdir_path(name, &workdir) < 0)
                return log_oom();

        r = load_spec_quiet(name, &spec);
        if (r < 0 && r != -ENOENT)
                return r;
        r = cli_bus_open(&bus);
        if (r < 0)
                return r;
        r = cli_unit_state(bus, sup_unit, &sup);
        if (r < 0)
                return r;
        r = cli_unit_state(bus, agent_unit, &agent);
        if (r < 0)
                return r;
        if (!spec && streq(sup.load_state, "not-found")) {
                log_error("No sandbox '%s' (no spec " SANDBOX_SPEC_DIR "/%s.yaml and no unit).", name, name);
                return EXIT_FAILURE;
        }

        printf("Sandbox:     %s\n", name);
        printf("Phase:       %s\n", sandbox_phase(&sup, &agent));
        printf("Spec:        " SANDBOX_SPEC_DIR "/%s.yaml%s\n", name, spec ? "" : " (missing)");
        if (spec) {
                printf("Command:    ");
                STRV_FOREACH(a, spec->command)
                        printf(" %s", *a);
                printf("%s\n", spec->command ? "" : " (from the profile)");
                printf("Policy:      %s\n", spec->policy ?: spec->profile ? "(from the profile)" : "(default)");
                if (spec->profile)
                        printf("Profile:     %s\n", spec->profile);
                printf("Providers:  ");
                STRV_FOREACH(p, spec->providers)
                        printf(" %s", *p);
                printf("%s\n", spec->providers ? "" : " -");
                printf("Forwards:   ");
                for (size_t i = 0; i < spec->n_forward; i++)
                        printf(" 127.0.0.1:%u", spec->forward[i]);
                printf("%s\n", spec->n_forward > 0 ? "" : " -");
                printf("Keep:        %s\n", spec->keep ? "yes" : "no (removed when its command exits)");
        }
        printf("Supervisor:  %s (%s/%s)\n", sup_unit, sup.active_state, sup.sub_state);
        printf("Agent:       %s (%s/%s)\n", agent_unit, agent.active_state, agent.sub_state);
        if (agent.main_pid > 0)
                printf("Main PID:    %" PRIu32 "\n", agent.main_pid);
        if (streq(agent.active_state, "active"))
                printf("Memory:      %s\nCPU:         %s\n", format_bytes(b1, sizeof b1, agent.memory_current),
                       format_nsec(b2, sizeof b2, agent.cpu_usage_nsec));
        printf("Workdir:     %s (mounted at " SANDBOX_WORKDIR_IN_SANDBOX ")\n", workdir);
        return EXIT_SUCCESS;
}

/* ---- delete ---- */

static int delete_one(sd_bus *bus, const char *name, bool purge) {
        _cleanup_free_ char *unit = NULL, *spec = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(unit_state_done) UnitState st = {};
        bool found = false;
        int r;

        if (sandbox_supervisor_unit(name, &unit) < 0 || sandbox_spec_path(name, &spec) < 0)
                return log_oom();
        r = cli_unit_state(bus, unit, &st);
        if (r < 0)
                return r;
        if (!streq(st.load_state, "not-found")) {
                /* A stopped instance systemd still has loaded is no sandbox by itself. */
                found = !streq(st.active_state, "inactive");
                if (!streq(st.active_state, "inactive") && !streq(st.active_state, "failed")) {
                        r = cli_unit_job(bus, "StopUnit", unit);
                        if (r < 0)
                                return r;
                }
                (void) sd_bus_call_method(bus, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE,
                                          "ResetFailedUnit", &error, NULL, "s", unit);
                sd_bus_error_free(&error);
                /* A sandbox enabled to start at boot must not come back without its spec. */
                (void) sd_bus_call_method(bus, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE,
                                          "DisableUnitFiles", &error, NULL, "asb", 1, unit, 0);
        }
        if (unlink(spec) >= 0)
                found = true;
        else if (errno != ENOENT)
                return log_error_errno(errno, "Failed to remove %s: %m", spec);
        {
                /* the copy `create --policy` made for this sandbox */
                _cleanup_free_ char *policy = NULL;
                if (asprintf_safe(&policy, POLICIES_DIR "/sandbox-%s.yaml", name) < 0)
                        return log_oom();
                if (unlink(policy) < 0 && errno != ENOENT)
                        log_warning_errno(errno, "Failed to remove %s, ignoring: %m", policy);
        }

        if (purge) {
                _cleanup_close_ int state = open(SANDBOX_STATE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                r = state < 0 ? -errno : rm_rf_at(state, name);
                if (r >= 0)
                        found = true;
                else if (r != -ENOENT)
                        return log_error_errno(r, "Failed to remove the workdir of '%s': %m", name);
        }
        if (!found) {
                log_error("No sandbox '%s'.", name);
                return -ENOENT;
        }
        printf("Deleted sandbox '%s'%s\n", name, purge ? " and its workdir" : " (workdir kept; --purge removes it)");
        return 0;
}

static int sandbox_delete(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "purge", no_argument, NULL, 'p' },
                { "all", no_argument, NULL, 'a' },
                {},
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sandbox_table_done) SandboxTable t = {};
        bool purge = false, all = false;
        int c, r, ret = EXIT_SUCCESS;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("Usage: openshell sandbox delete NAME... | --all [--purge]\n\n"
                               "Stop the sandbox, remove its spec and unit, and with --purge its workdir.\n");
                        return EXIT_SUCCESS;
                case 'p':
                        purge = true;
                        break;
                case 'a':
                        all = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (all == (optind < argc)) {
                log_error("sandbox delete takes sandbox names or --all");
                return EXIT_USAGE;
        }
        for (int i = optind; i < argc; i++)
                if (!sandbox_name_is_valid(argv[i])) {
                        log_error("invalid sandbox name '%s'", argv[i]);
                        return EXIT_USAGE;
                }

        r = cli_bus_open(&bus);
        if (r < 0)
                return r;
        if (all) {
                r = collect_units(bus, &t);
                if (r >= 0)
                        r = collect_specs(&t);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < t.n; i++)
                        if (delete_one(bus, t.rows[i].name, purge) < 0)
                                ret = EXIT_FAILURE;
                return ret;
        }
        for (int i = optind; i < argc; i++)
                if (delete_one(bus, argv[i], purge) < 0)
                        ret = EXIT_FAILURE;
        return ret;
}

static const Verb sandbox_verbs[] = {
        { "create", "Create a sandbox and start it", sandbox_create },
        { "list", "List sandboxes and the state of their units", sandbox_list },
        { "get", "Show one sandbox", sandbox_get },
        { "delete", "Stop and remove sandboxes", sandbox_delete },
        { "exec", "Run a command inside a sandbox (non-interactive)", sandbox_exec },
        { "connect", "Open an interactive shell inside a sandbox", sandbox_connect },
        { "upload", "Copy files from the host into a sandbox's /sandbox", sandbox_upload },
        { "download", "Copy files from a sandbox's /sandbox to the host", sandbox_download },
};

int verb_sandbox(int argc, char *argv[]) {
        if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h")) {
                FILE *f = argc < 2 ? stderr : stdout;
                fprintf(f, "Usage: openshell sandbox COMMAND ...\n\nCommands:\n");
                verb_print_table(sandbox_verbs, ELEMENTSOF(sandbox_verbs), f);
                fprintf(f, "\nRun 'openshell sandbox COMMAND --help' for a command's options.\n");
                return argc < 2 ? EXIT_USAGE : EXIT_SUCCESS;
        }
        return verb_dispatch("sandbox", sandbox_verbs, ELEMENTSOF(sandbox_verbs), argc - 1, argv + 1);
}
