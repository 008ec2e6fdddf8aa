/* SPDX-License-Identifier: Apache-2.0 */
/* openshell policy validate|compile: offline; reads policy files, talks to nobody.
 * openshell policy get|set: the policy of a sandbox, shown, or changed and reloaded live. */

#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bus-util.h"
#include "cli-bus.h"
#include "cli-output.h"
#include "fileio.h"
#include "log.h"
#include "openshell.h"
#include "parse-util.h"
#include "policy-compile.h"
#include "policy-status.h"
#include "policy.h"
#include "sandbox-spec.h"
#include "string-util.h"
#include "time-util.h"

static const struct option validate_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "quiet", no_argument, NULL, 'q' },
        {},
};

static int policy_validate_run(int argc, char *argv[]) {
        bool quiet = false, invalid = false;
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "hq", validate_options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return verb_help();
                case 'q':
                        quiet = true;
                        break;
                default:
                        return verb_usage();
                }
        if (optind >= argc)
                return usage_error("policy validate needs at least one FILE");

        for (int i = optind; i < argc; i++) {
                _cleanup_(policy_freep) Policy *p = NULL;
                _cleanup_(diag_list_done) DiagList d = {};
                int r;

                r = policy_load_file(argv[i], &p, &d);
                log_diag_list(&d);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0) {
                        if (d.n_errors == 0)
                                log_error_errno(r, "%s: cannot read policy: %m", argv[i]);
                        invalid = true;
                        continue;
                }
                if (!quiet)
                        printf("%s: valid%s\n", argv[i], d.n_warnings ? " (with warnings)" : "");
        }
        return invalid ? EXIT_FAILURE : EXIT_SUCCESS;
}

enum { ARG_FORMAT = 0x100 };

static const struct option compile_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "format", required_argument, NULL, ARG_FORMAT },
        {},
};

static int policy_compile_run(int argc, char *argv[]) {
        _cleanup_(policy_compiled_freep) PolicyCompiled *compiled = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_(diag_list_done) DiagList d = {};
        bool json = false;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", compile_options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return verb_help();
                case ARG_FORMAT:
                        if (streq(optarg, "json"))
                                json = true;
                        else if (streq(optarg, "unit"))
                                json = false;
                        else
                                return usage_error("unknown --format '%s' (expected unit or json)", optarg);
                        break;
                default:
                        return verb_usage();
                }
        if (argc - optind != 1)
                return usage_error("policy compile needs exactly one FILE");

        r = policy_load_file(argv[optind], &p, &d);
        log_diag_list(&d);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                if (d.n_errors == 0)
                        log_error_errno(r, "%s: cannot read policy: %m", argv[optind]);
                return EXIT_FAILURE;
        }
        r = policy_compile(p, NULL, &compiled);
        if (r < 0)
                return log_error_errno(r, "Failed to compile %s: %m", argv[optind]);
        r = json ? policy_print_json(compiled, stdout) : policy_print_unit(compiled, stdout);
        if (r >= 0 && fflush(stdout) != 0)
                r = -errno;
        if (r < 0)
                return log_error_errno(r, "Failed to write the compiled policy: %m");
        return EXIT_SUCCESS;
}

/* ---- get and set: one sandbox's policy ---- */

/* `policy set --wait` gives up after this long unless --timeout says otherwise; upstream's default. */
#define POLICY_WAIT_TIMEOUT_SEC 60U
/* The exit status of a wait that timed out, as timeout(1) and upstream's `policy set --wait`. */
#define EXIT_TIMEOUT 124

static void policy_hash(const void *text, size_t size, char ret[static POLICY_HASH_HEX_LEN + 1]) {
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned n = 0;

        if (!EVP_Digest(text, size, md, &n, EVP_sha256(), NULL) || n != 32) {
                strcpy(ret, POLICY_HASH_NONE);
                return;
        }
        hex_encode(md, n, ret);
}

/* The sandbox's spec; a message and -ENOENT when there is no such sandbox. */
static int load_sandbox_spec(const char *name, SandboxSpec **ret) {
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_free_ char *path = NULL;
        int r;

        if (!sandbox_name_is_valid(name))
                return log_error_errno(EINVAL, "Invalid sandbox name '%s'.", name);
        if (sandbox_spec_path(name, &path) < 0)
                return log_oom();
        if (access(path, F_OK) < 0 && errno == ENOENT)
                return log_error_errno(ENOENT, "Sandbox '%s' does not exist (no %s).", name, path);
        r = sandbox_spec_load(path, ret, &d);
        log_diag_list(&d);
        if (r < 0 && d.n_errors == 0)
                log_error_errno(r, "Failed to load %s: %m", path);
        return r;
}

/* The policy file the supervisor reads for this spec (as it chooses: the spec's, the profile's, the
 * default). */
static int spec_policy_source(const SandboxSpec *spec, char **ret) {
        if (spec->policy)
                *ret = strdup(spec->policy);
        else if (spec->profile)
                return asprintf_safe(ret, PROFILES_DIR "/%s/policy.yaml", spec->profile) < 0 ? log_oom() : 0;
        else
                *ret = strdup(SANDBOX_DEFAULT_POLICY);
        return *ret ? 0 : log_oom();
}

/* NAME's runtime file FILE: the supervisor's, present only while it runs (RuntimeDirectory=). */
static int runtime_file(const char *name, const char *file, char **ret) {
        _cleanup_free_ char *dir = NULL;

        if (sandbox_runtime_path(name, &dir) < 0 || asprintf_safe(ret, "%s/%s", dir, file) < 0)
                return log_oom();
        return 0;
}

#define PROXY_POLICY_COPY "proxy/policy.yaml" /* the policy in force, as the supervisor installed it */

/* The supervisor's policy status; -ENOENT when the sandbox is not running. ret_ino (optional) tells a
 * rewritten file from the same one (each write is a rename). */
static int read_policy_status(const char *name, PolicyStatus *ret, ino_t *ret_ino) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r;

        r = runtime_file(name, POLICY_STATUS_FILE, &path);
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        r = read_full_fd(fd, 4096, &text, NULL);
        if (r < 0)
                return r;
        r = policy_status_parse(text, ret);
        if (r < 0)
                return r;
        if (ret_ino)
                *ret_ino = st.st_ino;
        return 0;
}

typedef struct PolicyState {
        char *source; /* the file the spec names */
        bool running;
        PolicyStatus status;                /* running: the supervisor's */
        char hash[POLICY_HASH_HEX_LEN + 1]; /* running: of the policy in force; stopped: of source */
        char *text; /* the policy in force (running) or the one the next start reads */
        size_t size;
        char source_hash[POLICY_HASH_HEX_LEN + 1];
} PolicyState;

static void policy_state_done(PolicyState *s) {
        free(s->source);
        free(s->text);
        policy_status_done(&s->status);
}

static int policy_state_load(const char *name, PolicyState *ret) {
        _cleanup_(sandbox_spec_freep) SandboxSpec *spec = NULL;
        _cleanup_free_ char *copy = NULL, *source_text = NULL;
        size_t source_size = 0;
        int r;

        r = load_sandbox_spec(name, &spec);
        if (r < 0)
                return r;
        r = spec_policy_source(spec, &ret->source);
        if (r < 0)
                return r;
        r = read_full_file(ret->source, YAML_FILE_SIZE_MAX, &source_text, &source_size);
        if (r >= 0)
                policy_hash(source_text, source_size, ret->source_hash);
        else
                strcpy(ret->source_hash, POLICY_HASH_NONE);

        r = read_policy_status(name, &ret->status, NULL);
        if (r == -EACCES)
                return log_error_errno(r, "Cannot read the state of sandbox '%s': %m (run as root).", name);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "Cannot read the policy status of sandbox '%s': %m", name);
        ret->running = r >= 0;
        if (!ret->running) {
                if (!source_text)
                        return log_error_errno(EIO, "Cannot read %s, the policy of sandbox '%s'.",
                                               ret->source, name);
                ret->text = TAKE_PTR(source_text);
                ret->size = source_size;
                memcpy(ret->hash, ret->source_hash, sizeof(ret->hash));
                return 0;
        }
        r = runtime_file(name, PROXY_POLICY_COPY, &copy);
        if (r < 0)
                return r;
        r = read_full_file(copy, YAML_FILE_SIZE_MAX, &ret->text, &ret->size);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s, the policy in force of sandbox '%s': %m", copy,
                                       name);
        policy_hash(ret->text, ret->size, ret->hash);
        return 0;
}

static const char *policy_state_status(const PolicyState *s) {
        if (!s->running)
                return "stopped";
        return s->status.loaded ? "loaded" : "failed";
}

static int policy_get_json(const char *name, const PolicyState *s, bool full) {
        json_object *o = json_object_new_object();
        int r = 0;

        if (!o)
                return log_oom();
        json_object_object_add(o, "sandbox", json_object_new_string(name));
        json_object_object_add(o, "source", json_object_new_string(s->source));
        json_object_object_add(o, "hash", json_object_new_string(s->hash));
        json_object_object_add(o, "status", json_object_new_string(policy_state_status(s)));
        json_object_object_add(o, "running", json_object_new_boolean(s->running));
        if (s->running) {
                /* the last reload attempt: what it read, and why it failed */
                json_object_object_add(o, "last_hash", json_object_new_string(s->status.hash));
                json_object_object_add(o, "error",
                                       s->status.message ? json_object_new_string(s->status.message) : NULL);
        }
        json_object_object_add(o, "source_hash", json_object_new_string(s->source_hash));
        if (full)
                json_object_object_add(o, "policy", json_object_new_string_len(s->text, (int) s->size));
        if (puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)) <
            0)
                r = -EIO;
        json_object_put(o);
        return r;
}

static void policy_get_table(const char *name, const PolicyState *s) {
        printf("%-20s %-12s %-8s %s\n", "NAME", "HASH", "STATUS", "SOURCE");
        printf("%-20s %-12.12s %-8s %s\n", name, s->hash, policy_state_status(s), s->source);
        if (!s->running) {
                printf("Not running: the policy above takes effect at the next start.\n");
                return;
        }
        if (!s->status.loaded)
                printf("Last reload (hash %.12s) failed: %s\nThe policy in force stays.\n", s->status.hash,
                       s->status.message);
        else if (!streq(s->source_hash, s->hash))
                printf("%s has changed since it was loaded; 'openshell policy set %s --policy %s' applies it.\n",
                       s->source, name, s->source);
}

static const struct option get_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "full", no_argument, NULL, 'f' },
        { "output", required_argument, NULL, 'o' },
        {},
};

static int policy_get_run(int argc, char *argv[]) {
        _cleanup_(policy_state_done) PolicyState s = {};
        OutputFormat fmt = OUTPUT_TABLE;
        bool full = false;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "hfo:", get_options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return verb_help();
                case 'f':
                        full = true;
                        break;
                case 'o':
                        if (parse_output_format(optarg, &fmt) < 0 || fmt == OUTPUT_YAML)
                                return usage_error("-o takes table or json");
                        break;
                default:
                        return verb_usage();
                }
        if (argc - optind != 1)
                return usage_error("policy get needs exactly one sandbox NAME");

        r = policy_state_load(argv[optind], &s);
        if (r < 0)
                return EXIT_FAILURE;
        if (fmt == OUTPUT_JSON)
                r = policy_get_json(argv[optind], &s, full);
        else if (full)
                r = fwrite(s.text, 1, s.size, stdout) == s.size ? 0 : -EIO;
        else
                policy_get_table(argv[optind], &s);
        if (r >= 0 && fflush(stdout) != 0)
                r = -errno;
        if (r < 0)
                return log_error_errno(r, "Failed to write the policy: %m");
        return EXIT_SUCCESS;
}

/* Points the spec's `policy:` at PATH, keeping every other line: the line is replaced, or added. The
 * result is read back; a spec that does not say PATH then (a `policy:` value spread over lines) is
 * rewritten whole from what it says. */
static int spec_set_policy(const char *name, SandboxSpec *spec, const char *path) {
        _cleanup_(sandbox_spec_freep) SandboxSpec *check = NULL;
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_free_ char *spec_path = NULL, *text = NULL, *out = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0, out_size = 0;
        bool done = false;
        int r;

        if (spec->policy && streq(spec->policy, path))
                return 0;
        if (sandbox_spec_path(name, &spec_path) < 0)
                return log_oom();
        r = read_full_file(spec_path, YAML_FILE_SIZE_MAX, &text, &size);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", spec_path);
        f = open_memstream(&out, &out_size);
        if (!f)
                return log_oom();
        for (char *line = text, *end; *line; line = end) {
                end = strchrnul(line, '\n');
                if (*end)
                        end++;
                if (!done && startswith(line, "policy:")) {
                        fprintf(f, "policy: %s\n", path);
                        done = true;
                } else
                        fwrite(line, 1, end - line, f);
        }
        if (!done)
                fprintf(f, "%spolicy: %s\n", size > 0 && text[size - 1] != '\n' ? "\n" : "", path);
        if (fflush(f) != 0)
                return log_oom();
        r = write_file_atomic(spec_path, out, out_size, 0644, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", spec_path);

        r = sandbox_spec_load(spec_path, &check, &d);
        if (r >= 0 && check->policy && streq(check->policy, path))
                return 0;
        /* Not what was meant: the spec as it was, with the new policy, written in full. */
        f = safe_fclose(f);
        out = mfree(out);
        out_size = 0;
        free(spec->policy);
        spec->policy = strdup(path);
        if (!spec->policy)
                return log_oom();
        f = open_memstream(&out, &out_size);
        if (!f)
                return log_oom();
        fprintf(f, "# Sandbox '%s', rewritten by 'openshell policy set'.\n", name);
        r = sandbox_spec_write(spec, f);
        if (r >= 0 && fflush(f) != 0)
                r = -ENOMEM;
        if (r >= 0)
                r = write_file_atomic(spec_path, out, out_size, 0644, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", spec_path);
        return 0;
}

/* Whether the sandbox's supervisor runs (a reload reaches it). */
static int sandbox_running(sd_bus *bus, const char *name, bool *ret) {
        _cleanup_(unit_state_done) UnitState st = {};
        _cleanup_free_ char *unit = NULL;
        int r;

        if (sandbox_supervisor_unit(name, &unit) < 0)
                return log_oom();
        r = cli_unit_state(bus, unit, &st);
        if (r < 0)
                return r;
        *ret = streq(st.active_state, "active") || streq(st.active_state, "reloading") ||
               streq(st.active_state, "activating");
        return 0;
}

/* The policy in force of a running sandbox: what its supervisor last installed for the proxy. */
static int load_running_policy(const char *name, Policy **ret) {
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_free_ char *path = NULL;
        int r;

        r = runtime_file(name, PROXY_POLICY_COPY, &path);
        if (r < 0)
                return r;
        r = policy_load_file(path, ret, &d);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s, the policy in force of sandbox '%s': %m", path,
                                       name);
        return 0;
}

/* Waits until the supervisor reports on the policy whose hash is HASH (a status file newer than the
 * one of inode INO). Returns EXIT_SUCCESS (loaded), EXIT_FAILURE (refused, said why) or EXIT_TIMEOUT. */
static int wait_policy_status(const char *name, const char *hash, ino_t ino, usec_t timeout) {
        usec_t deadline = now(CLOCK_MONOTONIC) + timeout;

        for (;;) {
                _cleanup_(policy_status_done) PolicyStatus st = {};
                ino_t cur = 0;
                int r;

                r = read_policy_status(name, &st, &cur);
                if (r >= 0 && cur != ino) {
                        if (streq(st.hash, hash) || streq(st.hash, POLICY_HASH_NONE)) {
                                if (st.loaded) {
                                        printf("Policy applied to sandbox '%s' (hash %.12s).\n", name, hash);
                                        return EXIT_SUCCESS;
                                }
                                log_error("Sandbox '%s' did not load the policy: %s", name, st.message);
                                return EXIT_FAILURE;
                        }
                        ino = cur; /* another reload's report: wait for ours */
                }
                if (r == -ENOENT) {
                        log_error("Sandbox '%s' stopped; the policy is stored and takes effect at the next start.",
                                  name);
                        return EXIT_FAILURE;
                }
                if (now(CLOCK_MONOTONIC) >= deadline) {
                        log_error("Timed out after %" PRIu64
                                  "s waiting for sandbox '%s' to load the policy; it is "
                                  "stored, 'openshell policy get %s' shows whether it is loaded.",
                                  timeout / USEC_PER_SEC, name, name);
                        return EXIT_TIMEOUT;
                }
                (void) nanosleep(&(struct timespec) { .tv_nsec = 50 * 1000 * 1000 }, NULL);
        }
}

enum {
        ARG_POLICY = 0x100,
        ARG_WAIT,
        ARG_TIMEOUT
};

static const struct option set_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "policy", required_argument, NULL, ARG_POLICY },
        { "wait", no_argument, NULL, ARG_WAIT },
        { "timeout", required_argument, NULL, ARG_TIMEOUT },
        {},
};

static int policy_set_run(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sandbox_spec_freep) SandboxSpec *spec = NULL;
        _cleanup_(policy_freep) Policy *candidate = NULL, *running_policy = NULL;
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_(policy_status_done) PolicyStatus before = {};
        _cleanup_free_ char *text = NULL, *dest = NULL, *unit = NULL;
        char hash[POLICY_HASH_HEX_LEN + 1];
        const char *file = NULL, *name;
        unsigned timeout = POLICY_WAIT_TIMEOUT_SEC;
        bool wait = false, running;
        ino_t ino = 0;
        size_t size;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", set_options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return verb_help();
                case ARG_POLICY:
                        file = optarg;
                        break;
                case ARG_WAIT:
                        wait = true;
                        break;
                case ARG_TIMEOUT:
                        if (safe_atou(optarg, &timeout) < 0 || timeout == 0 || timeout > 24 * 3600)
                                return usage_error("--timeout takes seconds, 1 to 86400: '%s'", optarg);
                        break;
                default:
                        return verb_usage();
                }
        if (argc - optind != 1)
                return usage_error("policy set needs exactly one sandbox NAME");
        if (!file)
                return usage_error("policy set needs --policy FILE");
        name = argv[optind];

        r = load_sandbox_spec(name, &spec);
        if (r < 0)
                return EXIT_FAILURE;

        /* One read: what is checked is what is stored. */
        r = read_full_file(file, YAML_FILE_SIZE_MAX, &text, &size);
        if (r < 0) {
                log_error_errno(r, "--policy %s: %m", file);
                return EXIT_FAILURE;
        }
        r = policy_load_buffer(file, text, size, &candidate, &d);
        log_diag_list(&d);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                log_error("%s is invalid; the policy of sandbox '%s' is unchanged.", file, name);
                return EXIT_FAILURE;
        }
        policy_hash(text, size, hash);

        r = cli_bus_open(&bus);
        if (r < 0)
                return EXIT_FAILURE;
        r = sandbox_running(bus, name, &running);
        if (r < 0)
                return EXIT_FAILURE;
        if (running) {
                r = load_running_policy(name, &running_policy);
                if (r < 0)
                        return EXIT_FAILURE;
                diag_list_done(&d);
                r = policy_check_reload(running_policy, candidate, &d);
                log_diag_list(&d);
                if (r == -EBADMSG) {
                        log_error("%s changes what only a new sandbox can change; the policy of sandbox '%s' is "
                                  "unchanged.",
                                  file, name);
                        return EXIT_FAILURE;
                }
                if (r < 0) {
                        log_error_errno(r, "Failed to compare %s with the policy in force: %m", file);
                        return EXIT_FAILURE;
                }
        }

        /* The sandbox's own copy: another sandbox that shares the file the spec named keeps it. */
        if (sandbox_policy_copy_path(name, &dest) < 0)
                return log_oom();
        r = write_file_atomic(dest, text, size, 0644, WRITE_FILE_MKDIR);
        if (r < 0) {
                log_error_errno(r, "Failed to store the policy as %s: %m", dest);
                return EXIT_FAILURE;
        }
        r = spec_set_policy(name, spec, dest);
        if (r < 0)
                return EXIT_FAILURE;

        if (!running) {
                printf("Policy stored as %s; sandbox '%s' is not running: it takes effect at the next start.\n",
                       dest, name);
                return EXIT_SUCCESS;
        }

        /* What the supervisor reported last, to tell its next report from it. */
        if (read_policy_status(name, &before, &ino) < 0)
                ino = 0;
        if (sandbox_supervisor_unit(name, &unit) < 0)
                return log_oom();
        /* The reload job is not waited for: --wait waits for the supervisor's report, with its timeout. */
        r = sd_bus_call_method(bus, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE, "ReloadUnit",
                               &error, NULL, "ss", unit, "replace");
        if (r < 0) {
                log_error("Failed to reload %s: %s", unit, bus_error_message(&error, r));
                return EXIT_FAILURE;
        }
        if (!wait) {
                printf("Policy stored as %s and sent to sandbox '%s' (hash %.12s); 'openshell policy get %s' shows "
                       "whether it is loaded.\n",
                       dest, name, hash, name);
                return EXIT_SUCCESS;
        }
        return wait_policy_status(name, hash, ino, (usec_t) timeout * USEC_PER_SEC);
}

static const Verb policy_get_verb = {
        .name = "get",
        .summary = "Show the policy in force of a sandbox",
        .synopsis = "NAME [--full] [-o table|json]",
        .description =
                "Show which policy sandbox NAME runs under: its SHA-256 hash, its status and the file its spec "
                "names. Status 'loaded': the policy is in force; 'failed': the last reload was refused (the "
                "message says why) and the previous policy stays in force; 'stopped': the sandbox is not running "
                "and the file is what its next start reads. The policy in force is the one the supervisor "
                "accepted last, which differs from the file when the file changed since.\n"
                "\n"
                "With --full, the policy YAML itself, nothing else, so that it can be edited and given back:\n"
                "  openshell policy get NAME --full > p.yaml\n"
                "  openshell policy set NAME --policy p.yaml --wait\n",
        .options =
                (const VerbItem[]) {
                        { "-f, --full",
                          "Print the policy in force as YAML (with -o json: as the field 'policy')." },
                        { "-o, --output table|json",
                          "table (the default): NAME HASH STATUS SOURCE, and the error of a "
                          "failed reload. json: one object, the full hash, for programs." },
                        {},
                },
        .exit_status =
                (const VerbItem[]) {
                        { "0", "The policy was printed." },
                        { "1", "No such sandbox, or its files cannot be read (its runtime files need root)." },
                        VERB_EXIT_USAGE,
                        {},
                },
        .files =
                (const VerbItem[]) {
                        { SANDBOX_RUNTIME_DIR "/NAME/" POLICY_STATUS_FILE,
                          "The supervisor's report on its last policy load: 'loaded HASH' or 'failed HASH MESSAGE'." },
                        { SANDBOX_RUNTIME_DIR "/NAME/" PROXY_POLICY_COPY,
                          "The policy in force of a running sandbox." },
                        {},
                },
        .examples = "  openshell policy get agent1\n"
                    "  openshell policy get agent1 --full > p.yaml\n",
        .see_also = "openshell policy set, openshell sandbox get.\n",
        .run = policy_get_run,
        .getopt = get_options,
};

static const Verb policy_set_verb = {
        .name = "set",
        .summary = "Change the policy of a sandbox, live",
        .synopsis = "NAME --policy FILE [--wait] [--timeout SECONDS]",
        .description =
                "Give sandbox NAME the policy in FILE without recreating it. FILE is validated first (every "
                "problem printed as FILE:LINE:COLUMN; an invalid FILE changes nothing). For a running sandbox it "
                "is then checked against the policy in force: network_policies may change, the rest is applied "
                "when the sandbox starts and cannot change on a live sandbox (upstream's messages, e.g. "
                "'landlock policy cannot be changed on a live sandbox (applied at startup)'); such a FILE changes "
                "nothing either.\n"
                "\n"
                "FILE is stored as " POLICIES_DIR "/sandbox-NAME.yaml, the sandbox's own copy (the one 'sandbox "
                "create --policy' makes), and the spec's 'policy:' line is pointed at it, every other line kept: "
                "other sandboxes that named the same file keep their policy. Then systemd reloads "
                "openshell-sandbox@NAME.service: the supervisor checks the policy again and hands it to the "
                "sandbox's egress proxy, which decides new connections with it and closes the open ones it now "
                "denies (each logged). A stopped sandbox gets the policy at its next start.\n",
        .options =
                (const VerbItem[]) {
                        { "--policy FILE", "The new policy, in upstream OpenShell's policy format (required)." },
                        { "--wait", "Wait until the sandbox reports the policy loaded or refused." },
                        { "--timeout SECONDS", "How long --wait waits (default 60)." },
                        {},
                },
        .exit_status =
                (const VerbItem[]) {
                        { "0", "The policy is stored; with --wait, the sandbox loaded it (or it is not running and will "
                               "at its next start)." },
                        { "1",
                          "FILE is invalid or changes what a live sandbox cannot change, no such sandbox, a file "
                          "cannot be written (run as root), or with --wait the sandbox refused the policy (the "
                          "message says why)." },
                        VERB_EXIT_USAGE,
                        { "124", "--wait timed out; the policy is stored and the reload may still happen." },
                        {},
                },
        .examples = "  openshell policy get agent1 --full > p.yaml\n"
                    "  $EDITOR p.yaml\n"
                    "  openshell policy set agent1 --policy p.yaml --wait\n",
        .see_also = "openshell policy get, openshell policy validate, systemctl(1) reload, openshell logs.\n",
        .run = policy_set_run,
        .getopt = set_options,
};

static const Verb policy_validate_verb = {
        .name = "validate",
        .summary = "Check policy files and print every problem",
        .synopsis = "[--quiet] FILE...",
        .description =
                "Check sandbox policy files, in upstream OpenShell's policy format, with upstream's rules and "
                "messages. Every error and warning of every FILE is printed to standard error as "
                "FILE:LINE:COLUMN: path.to.key: message, and 'FILE: valid' (or 'valid (with warnings)') to "
                "standard output. A key upstream defines but this implementation does not enforce yet is an error "
                "that says so, never ignored. Reads only the files; needs neither root nor systemd.\n",
        .options = (const VerbItem[]) {
                { "-q, --quiet", "Do not print the 'FILE: valid' lines: only problems." },
                {},
        },
        .exit_status = (const VerbItem[]) {
                { "0", "Every FILE is valid (warnings do not count)." },
                { "1", "A FILE is invalid or cannot be read." },
                VERB_EXIT_USAGE,
                {},
        },
        .examples = "  openshell policy validate my-policy.yaml\n"
                    "  openshell policy validate -q /etc/openshell/policies/*.yaml\n",
        .see_also = "openshell policy compile, openshell sandbox create --policy; the policy format in "
                    "policy/README.md of openshell-systemd.\n",
        .run = policy_validate_run,
        .getopt = validate_options,
};

static const Verb policy_compile_verb = {
        .name = "compile",
        .summary = "Print the systemd, Landlock, seccomp and egress settings of a policy",
        .synopsis = "[--format=unit|json] FILE",
        .description =
                "Validate FILE, as 'policy validate' does, and print what it becomes for a sandbox's agent unit, "
                "so that a person can review it before granting access: the unit's settings (User=, "
                "ProtectSystem=, BindPaths=, SystemCallFilter=, MemoryMax=, ...), the Landlock ruleset "
                "openshell-exec applies, the seccomp filter systemd's SystemCallFilter= cannot express, and the "
                "egress table (endpoints, ports, binaries, decision). The supervisor adds a fixed floor of "
                "restrictions after these settings, which no policy can lift. Needs neither root nor systemd.\n",
        .options = (const VerbItem[]) {
                { "--format=unit|json",
                  "unit (the default): a drop-in for the agent unit, with the Landlock ruleset, the seccomp "
                  "filter and the egress table as comments. json: all four as one JSON object, for programs." },
                {},
        },
        .exit_status = (const VerbItem[]) {
                { "0", "The compiled policy was printed." },
                { "1", "FILE is invalid or cannot be read (the problems are on standard error), or the output "
                       "cannot be written." },
                VERB_EXIT_USAGE,
                {},
        },
        .examples = "  openshell policy compile my-policy.yaml\n"
                    "  openshell policy compile --format=json my-policy.yaml | jq .unit\n",
        .see_also = "systemd.exec(5), systemd.resource-control(5), landlock(7), systemd-analyze(1) security, "
                    "openshell policy validate.\n",
        .run = policy_compile_run,
        .getopt = compile_options,
};

const Verb policy_verb = {
        .name = "policy",
        .summary = "Validate and compile sandbox policies; show and change a sandbox's",
        .description =
                "Sandbox policies are upstream OpenShell's policy YAML (filesystem_policy, landlock, process, "
                "network_policies), with this project's extensions under the key x-openshell. 'validate' and "
                "'compile' check a policy and show what it becomes; they read files only. A sandbox gets its "
                "policy with 'openshell sandbox create --policy FILE'; 'get' shows the policy in force of a "
                "sandbox and 'set' changes it on the running sandbox.\n",
        .see_also = "openshell sandbox create, the policy format in policy/README.md of openshell-systemd.\n",
        .verbs =
                (const Verb *const[]) {
                        &policy_validate_verb,
                        &policy_compile_verb,
                        &policy_get_verb,
                        &policy_set_verb,
                        NULL,
                },
};
