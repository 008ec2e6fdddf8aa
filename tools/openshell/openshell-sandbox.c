/* SPDX-License-Identifier: Apache-2.0 */
/* openshell sandbox ...: sandboxes are systemd units; everything here asks systemd over sd-bus. */

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <getopt.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "bus-util.h"
#include "cli-bus.h"
#include "fileio.h"
#include "fs-util.h"
#include "log.h"
#include "openshell.h"
#include "parse-util.h"
#include "sandbox-name.h"
#include "policy-compile.h"
#include "policy.h"
#include "sandbox-spec.h"
#include "string-util.h"
#include "yaml-node.h"

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

        if (!verb_parse_no_options(argc, argv, &r))
                return r;
        if (optind < argc)
                return usage_error("sandbox list takes no arguments, got '%s'", argv[optind]);

        r = cli_bus_open(&bus);
        if (r < 0)
                return r;
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

static const Verb sandbox_list_verb = {
        .name = "list",
        .summary = "List sandboxes and the state of their units",
        .description =
                "List every sandbox: those with a spec in " SANDBOX_SPEC_DIR " and those whose units systemd has "
                "loaded, sorted by name. SUPERVISOR is the state of " SANDBOX_SUPERVISOR_PREFIX "NAME.service and "
                "AGENT that of " SANDBOX_AGENT_PREFIX "NAME.service, as systemd reports them (ACTIVE (SUB)); "
                "'inactive' is a sandbox whose supervisor is not loaded, '-' one without an agent unit (stopped, "
                "or its command has ended). Prints 'No sandboxes.' when there are none.\n",
        .exit_status = (const VerbItem[]) {
                { "0", "The list was printed." },
                { "1", "systemd cannot be reached over the system bus, or " SANDBOX_SPEC_DIR " cannot be read." },
                VERB_EXIT_USAGE,
                {},
        },
        .examples = "  openshell sandbox list\n",
        .see_also = "The same from systemd:\n"
                    "\n"
                    "  systemctl list-units --all 'openshell-sandbox@*' 'openshell-agent-*'\n"
                    "  ls " SANDBOX_SPEC_DIR "\n",
        .run = sandbox_list,
        .getopt = verb_no_options,
};

/* ---- create ---- */

int split_at_double_dash(int argc, char *argv[]) {
        for (int i = 1; i < argc; i++)
                if (streq(argv[i], "--"))
                        return i;
        return argc;
}

static double elapsed(const struct timespec *t0) {
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double) (t.tv_sec - t0->tv_sec) + (double) (t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int random_name(char **ret) {
        uint8_t b[3];

        if (getrandom(b, sizeof b, 0) != (ssize_t) sizeof b)
                return -EIO;
        return asprintf_safe(ret, "sandbox-%02x%02x%02x", b[0], b[1], b[2]);
}

/* Writes the spec to SANDBOX_SPEC_DIR/NAME.yaml, refusing to replace an existing sandbox. */
static int write_spec(const char *name, const SandboxSpec *spec) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;
        int r;

        r = sandbox_spec_path(name, &path);
        if (r < 0)
                return log_oom();
        f = open_memstream(&text, &size);
        if (!f)
                return log_oom();
        fprintf(f, "# Sandbox '%s', written by 'openshell sandbox create'.\n", name);
        r = sandbox_spec_write(spec, f);
        if (r >= 0 && fflush(f) != 0)
                r = -ENOMEM;
        if (r < 0)
                return log_error_errno(r, "Failed to format the spec of sandbox '%s': %m", name);

        /* NOREPLACE: never replaces a spec created meanwhile. */
        r = write_file_atomic(path, text, size, 0644, WRITE_FILE_MKDIR | WRITE_FILE_NOREPLACE);
        if (r == -EEXIST)
                return log_error_errno(r, "Sandbox '%s' already exists (%s); delete it first.", name, path);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s: %m", path);
        return 0;
}

/* --policy FILE: validated now (every problem printed, nothing written if it is invalid), then copied
 * to POLICIES_DIR/sandbox-NAME.yaml, which the spec names: the sandbox keeps the policy it was
 * created with when the original changes, and the supervisor, which cannot see home directories,
 * can read it. */
static int install_policy(const char *name, const char *src, char **ret_path) {
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_free_ char *dst = NULL, *text = NULL;
        size_t size;
        int r;

        r = policy_load_file(src, &p, &d);
        log_diag_list(&d);
        if (r == -EBADMSG) {
                log_error("--policy %s is invalid; no sandbox created.", src);
                return -EBADMSG;
        }
        if (r < 0)
                return log_error_errno(r, "--policy %s: %m", src);

        if (sandbox_policy_copy_path(name, &dst) < 0)
                return log_oom();
        r = read_full_file(src, YAML_FILE_SIZE_MAX, &text, &size);
        if (r < 0)
                return log_error_errno(r, "--policy %s: %m", src);
        r = write_file_atomic(dst, text, size, 0644, WRITE_FILE_MKDIR);
        if (r < 0)
                return log_error_errno(r, "Failed to install the policy as %s: %m", dst);
        *ret_path = TAKE_PTR(dst);
        return 0;
}

enum {
        ARG_NAME = 0x100,
        ARG_POLICY,
        ARG_FROM,
        ARG_PROVIDER,
        ARG_FORWARD,
        ARG_ENV,
        ARG_KEEP,
        ARG_NO_KEEP,
        ARG_NO_START,
};

static const struct option sandbox_create_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "name", required_argument, NULL, ARG_NAME },
        { "policy", required_argument, NULL, ARG_POLICY },
        { "from", required_argument, NULL, ARG_FROM },
        { "provider", required_argument, NULL, ARG_PROVIDER },
        { "forward", required_argument, NULL, ARG_FORWARD },
        { "env", required_argument, NULL, ARG_ENV },
        { "keep", no_argument, NULL, ARG_KEEP },
        { "no-keep", no_argument, NULL, ARG_NO_KEEP },
        { "no-start", no_argument, NULL, ARG_NO_START },
        {},
};

static int sandbox_create(int argc, char *argv[]) {
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
        while ((c = getopt_long(n_opts, argv, "h", sandbox_create_options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return verb_help();
                case ARG_NAME:
                        free(name);
                        name = strdup(optarg);
                        if (!name)
                                return log_oom();
                        break;
                case ARG_POLICY: {
                        struct stat st2;
                        if (stat(optarg, &st2) < 0 || !S_ISREG(st2.st_mode))
                                return usage_error("--policy %s: %s", optarg,
                                                   errno == ENOENT ? "no such file" : "not a regular file");
                        policy_src = optarg;
                        break;
                }
                case ARG_FROM: {
                        _cleanup_free_ char *dir = NULL;
                        struct stat st2;
                        if (!spec_object_name_is_valid(optarg))
                                return usage_error("--from %s: invalid profile name (letters, digits, '-' and '_')",
                                                   optarg);
                        if (asprintf_safe(&dir, PROFILES_DIR "/%s", optarg) < 0)
                                return log_oom();
                        if (stat(dir, &st2) < 0 || !S_ISDIR(st2.st_mode))
                                return usage_error("--from %s: no such profile (looked in %s)", optarg, PROFILES_DIR);
                        free(spec->profile);
                        spec->profile = strdup(optarg);
                        if (!spec->profile)
                                return log_oom();
                        break;
                }
                case ARG_PROVIDER:
                        if (!spec_object_name_is_valid(optarg))
                                return usage_error(
                                        "--provider %s: invalid provider name (letters, digits, '-' and '_')", optarg);
                        if (strv_contains(spec->providers, optarg))
                                break;
                        if (strv_extend(&spec->providers, optarg) < 0)
                                return log_oom();
                        break;
                case ARG_FORWARD: {
                        uint16_t port, *p;
                        if (parse_port(optarg, &port) < 0)
                                return usage_error("--forward %s: invalid port; expected 1..=65535", optarg);
                        if (spec->n_forward >= SANDBOX_FORWARDS_MAX)
                                return usage_error("--forward: at most %u ports", SANDBOX_FORWARDS_MAX);
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
                        if (!eq || !key || !environment_name_is_valid(key) || string_has_cc(eq + 1))
                                return usage_error("--env %s: expected KEY=VALUE with a valid variable name", optarg);
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
                        return verb_usage();
                }

        /* A positional NAME (upstream's form). */
        if (optind < n_opts) {
                if (name || optind + 1 < n_opts)
                        return usage_error("unexpected argument '%s' (the command goes after '--')",
                                           name ? argv[optind] : argv[optind + 1]);
                name = strdup(argv[optind]);
                if (!name)
                        return log_oom();
        }
        if (n_opts + 1 < argc) {
                const char *prog = argv[n_opts + 1];
                if (isempty(prog) || (prog[0] != '/' && strchr(prog, '/')))
                        return usage_error("command '%s' must be an absolute path or a bare name", prog);
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
        if (!sandbox_name_is_valid(name))
                return usage_error("invalid sandbox name '%s': use 1-%d letters, digits, '-' or '_', starting "
                                   "with a letter or digit",
                                   name, SANDBOX_NAME_MAX);

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

static const Verb sandbox_create_verb = {
        .name = "create",
        .summary = "Create a sandbox and start it",
        .synopsis = "[NAME] [OPTIONS] [-- COMMAND [ARG...]]",
        .description =
                "Write the sandbox's spec " SANDBOX_SPEC_DIR "/NAME.yaml and start its supervisor "
                SANDBOX_SUPERVISOR_PREFIX "NAME.service, as 'systemctl start' would, waiting until systemd has "
                "finished the start job. The supervisor compiles the sandbox's policy and starts COMMAND as the "
                "agent: the transient unit " SANDBOX_AGENT_PREFIX "NAME.service, in a slice of its own below "
                "openshell.slice, with the workdir " SANDBOX_STATE_DIR "/NAME (created at the first start, kept "
                "across restarts) mounted at " SANDBOX_WORKDIR_IN_SANDBOX ". An existing sandbox of the same name "
                "is never replaced.\n"
                "\n"
                "COMMAND is a program, an absolute path or a bare name systemd looks up in its PATH, and its "
                "arguments; they are passed literally ('$' is not expanded). Without one the agent is the profile's "
                "command (--from) or '/bin/sleep infinity': a sandbox to work in with 'sandbox connect' and "
                "'sandbox exec'.\n"
                "\n"
                "NAME, the first argument or --name, is 1 to 63 letters, digits, '-' or '_', starting with a letter "
                "or digit; it names the units and files above. Default: sandbox-XXXXXX (random).\n"
                "\n"
                "Each step prints a line with the time since the start: the spec written, then 'ready' with the "
                "agent's unit and main PID (or 'started; its command has already ended'). When the supervisor "
                "cannot start (an invalid spec or policy ends it with status 78), the spec stays: read 'journalctl "
                "-u " SANDBOX_SUPERVISOR_PREFIX "NAME', then fix it and 'systemctl start " SANDBOX_SUPERVISOR_PREFIX
                "NAME', or 'openshell sandbox delete NAME'.\n",
        .options = (const VerbItem[]) {
                { "--name NAME", "The sandbox's name, instead of the first argument." },
                { "--policy FILE",
                  "The sandbox's policy, in upstream OpenShell's policy format. It is validated first: every "
                  "problem is printed, and an invalid policy creates nothing (exit status 1). A valid FILE is "
                  "copied to " POLICIES_DIR "/sandbox-NAME.yaml and the spec names the copy: the sandbox keeps the "
                  "policy it was created with, and the supervisor, which cannot read home directories, can read it. "
                  "Default: the profile's policy with --from, else " DATADIR "/policies/default.yaml (no egress, the "
                  "workdir read-write, the system read-only)." },
                { "--from PROFILE",
                  "Use the profile " PROFILES_DIR "/PROFILE/: its sandbox.yaml gives the command, forwards and "
                  "providers the command line does not, and environment variables (--env adds to and overrides "
                  "them); its policy.yaml is the policy unless --policy is given. The spec records the profile's "
                  "name, and the supervisor reads the profile at every start." },
                { "--provider NAME",
                  "Attach a provider from 'openshell provider list' (repeatable). Recorded in the spec; not "
                  "injected yet (that comes with the egress proxy), which the supervisor says in its journal." },
                { "--forward PORT",
                  "Forward the host's 127.0.0.1:PORT to 127.0.0.1:PORT in the sandbox (repeatable, at most 64). "
                  "Recorded in the spec; not set up yet, which the supervisor says in its journal. Upstream's "
                  "BIND:PORT form is not supported." },
                { "--env KEY=VALUE",
                  "An environment variable of the agent (repeatable). Not for secrets: the spec is readable by "
                  "every user." },
                { "--keep",
                  "Keep the sandbox when its command exits (the default): 'systemctl start' runs it again." },
                { "--no-keep",
                  "Remove the sandbox, its spec and its workdir, once its command has exited (keep: false in the "
                  "spec): for one run." },
                { "--no-start",
                  "Only write the spec (and the copy of the --policy file); start it later with 'systemctl start "
                  SANDBOX_SUPERVISOR_PREFIX "NAME'. Needs no running systemd." },
                {},
        },
        .exit_status = (const VerbItem[]) {
                { "0", "The sandbox was created and, unless --no-start, its supervisor started (also when the "
                       "command has already ended)." },
                { "1", "The policy is invalid, the sandbox exists already, a file cannot be written (run as root), "
                       "systemd cannot be reached, or the supervisor failed to start." },
                { "2", "Usage error: an unknown option; an invalid NAME, port or KEY=VALUE; no such --policy file or "
                       "--from profile; a COMMAND that is neither an absolute path nor a bare name." },
                {},
        },
        .examples = "A sandbox to work in, and a shell in it:\n"
                    "\n"
                    "  openshell sandbox create dev\n"
                    "  openshell sandbox connect dev\n"
                    "\n"
                    "An agent under a policy of your own:\n"
                    "\n"
                    "  openshell sandbox create agent1 --policy ./policy.yaml --env LOG_LEVEL=info \\\n"
                    "      -- /usr/local/bin/my-agent --serve\n"
                    "\n"
                    "The openclaw profile; a run that leaves nothing behind, its output in the journal:\n"
                    "\n"
                    "  openshell sandbox create claw --from openclaw\n"
                    "  openshell sandbox create once --no-keep -- /usr/bin/id\n"
                    "  journalctl -u " SANDBOX_AGENT_PREFIX "once\n",
        .see_also = "The same with systemd, once the spec is written (by hand, or with --no-start):\n"
                    "\n"
                    "  systemctl start " SANDBOX_SUPERVISOR_PREFIX "NAME\n"
                    "  systemctl enable " SANDBOX_SUPERVISOR_PREFIX "NAME      # start it at boot\n"
                    "  journalctl -u " SANDBOX_SUPERVISOR_PREFIX "NAME -u " SANDBOX_AGENT_PREFIX "NAME\n"
                    "\n"
                    "openshell sandbox get, openshell policy validate, openshell policy compile, systemd.exec(5).\n",
        .run = sandbox_create,
        .getopt = sandbox_create_options,
};

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
                log_diag_list(&d);
                return log_error_errno(r, "Sandbox spec %s is invalid.", path);
        }
        return 0;
}

/* Which policy the supervisor applies (as it chooses: the spec's, the profile's, the default) and what
 * it grants, in two lines; `openshell policy compile` shows all of it. */
static void print_policy_summary(const SandboxSpec *spec) {
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_free_ char *profile_policy = NULL;
        const char *path = spec->policy;
        char mem[32], tasks[32];

        if (!path && spec->profile) {
                if (asprintf_safe(&profile_policy, PROFILES_DIR "/%s/policy.yaml", spec->profile) < 0)
                        return (void) log_oom();
                path = profile_policy;
        }
        if (!path)
                path = SANDBOX_DEFAULT_POLICY;
        printf("Policy:      %s\n", path);
        if (policy_load_file(path, &p, &d) < 0) {
                printf("             (cannot be used: see 'openshell policy validate %s')\n", path);
                return;
        }
        printf("             files: %zu read-only, %zu read-write (plus the baseline and the workdir); Landlock %s\n",
               p->n_read_only, p->n_read_write, policy_landlock_compat_to_string(p->landlock_compatibility));
        if (p->n_rules > 0)
                printf("             network: %zu network_policies\n", p->n_rules);
        else
                printf("             network: none (no network_policies: no egress)\n");
        if (p->resources.memory_max == UINT64_MAX)
                snprintf(mem, sizeof mem, "infinity");
        else
                format_bytes(mem, sizeof mem, p->resources.memory_max ?: POLICY_DEFAULT_MEMORY_MAX);
        if (p->resources.tasks_max == UINT64_MAX)
                snprintf(tasks, sizeof tasks, "infinity");
        else
                snprintf(tasks, sizeof tasks, "%" PRIu64, p->resources.tasks_max ?: POLICY_DEFAULT_TASKS_MAX);
        printf("             limits: memory %s, tasks %s; GPU: %s\n", mem, tasks,
               p->gpu_all ? "all" : p->n_gpu_devices > 0 ? "the listed devices" : "none");
}

static int sandbox_get(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sandbox_spec_freep) SandboxSpec *spec = NULL;
        _cleanup_(unit_state_done) UnitState sup = {}, agent = {};
        _cleanup_free_ char *sup_unit = NULL, *agent_unit = NULL, *workdir = NULL;
        const char *name;
        char b1[32], b2[32];
        int r;

        if (!verb_parse_no_options(argc, argv, &r))
                return r;
        if (argc - optind != 1)
                return usage_error("sandbox get takes one sandbox NAME");
        name = argv[optind];
        if (!sandbox_name_is_valid(name))
                return usage_error("invalid sandbox name '%s'", name);
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
        /* openshell-sandbox@NAME.service always loads (from the template): no spec and nothing running
         * means no sandbox */
        if (!spec && (streq(sup.load_state, "not-found") || streq(sup.active_state, "inactive"))) {
                log_error("No sandbox '%s' (no spec " SANDBOX_SPEC_DIR "/%s.yaml, nothing running).", name, name);
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
                print_policy_summary(spec);
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

static const Verb sandbox_get_verb = {
        .name = "get",
        .summary = "Show one sandbox",
        .synopsis = "NAME",
        .description =
                "Show a sandbox: its phase; what its spec " SANDBOX_SPEC_DIR "/NAME.yaml says (command, policy, "
                "profile, providers, forwards, keep); the state of its supervisor " SANDBOX_SUPERVISOR_PREFIX
                "NAME.service and of its agent " SANDBOX_AGENT_PREFIX "NAME.service; while the agent runs, its main "
                "PID, its memory and CPU time now (systemd's MemoryCurrent and CPUUsageNSec); and its workdir.\n"
                "\n"
                "The phase uses upstream's names: Provisioning (the supervisor is starting), Ready (supervisor and "
                "agent active), Unknown (the supervisor is active, the agent is not), Stopping, Stopped, Error (the "
                "supervisor failed).\n",
        .exit_status = (const VerbItem[]) {
                { "0", "The sandbox was shown." },
                { "1", "There is no such sandbox (neither a spec nor a unit), its spec is invalid, or systemd cannot "
                       "be reached." },
                VERB_EXIT_USAGE,
                {},
        },
        .examples = "  openshell sandbox get demo\n",
        .see_also = "The same from systemd:\n"
                    "\n"
                    "  systemctl status " SANDBOX_SUPERVISOR_PREFIX "NAME " SANDBOX_AGENT_PREFIX "NAME\n"
                    "  systemctl show -p MainPID,MemoryCurrent,CPUUsageNSec " SANDBOX_AGENT_PREFIX "NAME\n"
                    "  cat " SANDBOX_SPEC_DIR "/NAME.yaml\n",
        .run = sandbox_get,
        .getopt = verb_no_options,
};

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
                if (sandbox_policy_copy_path(name, &policy) < 0)
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

static const struct option sandbox_delete_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "purge", no_argument, NULL, 'p' },
        { "all", no_argument, NULL, 'a' },
        {},
};

static int sandbox_delete(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sandbox_table_done) SandboxTable t = {};
        bool purge = false, all = false;
        int c, r, ret = EXIT_SUCCESS;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", sandbox_delete_options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return verb_help();
                case 'p':
                        purge = true;
                        break;
                case 'a':
                        all = true;
                        break;
                default:
                        return verb_usage();
                }
        if (all == (optind < argc))
                return usage_error("sandbox delete takes sandbox names or --all");
        for (int i = optind; i < argc; i++)
                if (!sandbox_name_is_valid(argv[i]))
                        return usage_error("invalid sandbox name '%s'", argv[i]);

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

static const Verb sandbox_delete_verb = {
        .name = "delete",
        .summary = "Stop and remove sandboxes",
        .synopsis = "NAME... [--purge]\n--all [--purge]",
        .description =
                "For each sandbox: stop its supervisor " SANDBOX_SUPERVISOR_PREFIX "NAME.service if it runs, which "
                "stops the agent " SANDBOX_AGENT_PREFIX "NAME.service with it, and wait until systemd is done; reset "
                "its failed state and disable it (a sandbox enabled with 'systemctl enable' must not come back at "
                "boot without its spec); remove its spec " SANDBOX_SPEC_DIR "/NAME.yaml and the policy copy "
                POLICIES_DIR "/sandbox-NAME.yaml. The workdir " SANDBOX_STATE_DIR "/NAME is kept unless --purge is "
                "given. A sandbox that does not exist is reported, and the others are still deleted.\n",
        .options = (const VerbItem[]) {
                { "--all", "Delete every sandbox 'openshell sandbox list' shows, instead of the NAMEs." },
                { "--purge", "Also remove the workdirs, with everything the agents wrote there." },
                {},
        },
        .exit_status = (const VerbItem[]) {
                { "0", "Every sandbox was deleted." },
                { "1", "A sandbox does not exist, or could not be stopped or removed (the others were deleted); or "
                       "systemd cannot be reached." },
                VERB_EXIT_USAGE,
                {},
        },
        .examples = "  openshell sandbox delete demo\n"
                    "  openshell sandbox delete --all --purge\n",
        .see_also = "The same with systemd:\n"
                    "\n"
                    "  systemctl stop " SANDBOX_SUPERVISOR_PREFIX "NAME\n"
                    "  systemctl disable " SANDBOX_SUPERVISOR_PREFIX "NAME\n"
                    "  rm " SANDBOX_SPEC_DIR "/NAME.yaml\n"
                    "  rm -r " SANDBOX_STATE_DIR "/NAME      # --purge\n",
        .run = sandbox_delete,
        .getopt = sandbox_delete_options,
};

const Verb sandbox_verb = {
        .name = "sandbox",
        .summary = "Create, list and manage sandboxes",
        .description =
                "A sandbox NAME is its spec " SANDBOX_SPEC_DIR "/NAME.yaml and two units: the supervisor "
                SANDBOX_SUPERVISOR_PREFIX "NAME.service and the agent " SANDBOX_AGENT_PREFIX "NAME.service, a "
                "transient unit with the restrictions of the sandbox's policy; the agent's workdir "
                SANDBOX_STATE_DIR "/NAME is its " SANDBOX_WORKDIR_IN_SANDBOX ". These commands create, show and "
                "remove sandboxes, run commands in them and copy files in and out; the units can equally be "
                "started, stopped and watched with systemctl and journalctl.\n",
        .see_also = "systemctl(1), journalctl(1), openshell policy --help.\n",
        .verbs = (const Verb *const[]) {
                &sandbox_create_verb,
                &sandbox_list_verb,
                &sandbox_get_verb,
                &sandbox_delete_verb,
                &sandbox_exec_verb,
                &sandbox_connect_verb,
                &sandbox_upload_verb,
                &sandbox_download_verb,
                NULL,
        },
};
