/* SPDX-License-Identifier: Apache-2.0 */
/* openshell inference set|update|get|delete: the route behind https://inference.local/v1.
 * Command lines follow upstream OpenShell (openshell/SPEC.md §3, §2.9). `set` and `update` probe the
 * model server with a minimal request (one-token chat completion, or /messages for Anthropic) unless
 * --no-verify, and explain a failure in terms of what to fix. The route goes to
 * /etc/openshell/inference.yaml; a running broker is told to reload. */

#include <getopt.h>
#include <json-c/json.h>
#include <string.h>

#include "cli-bus.h"
#include "cli-output.h"
#include "inference-files.h"
#include "inference-probe.h"
#include "log.h"
#include "openshell.h"
#include "parse-util.h"
#include "provider-edit.h"
#include "string-util.h"

#define MODEL_NAME_MAX 512U
#define BACKEND_WEIGHT_MAX 1000U

/* Tries one backend (inference-probe.h) and logs what came of it. 0 if it answered 2xx, else -EIO. */
static int verify_backend(const InferenceProbeRequest *req) {
        _cleanup_(inference_probe_result_done) InferenceProbeResult res = {};
        _cleanup_free_ char *text = NULL;
        int r;

        r = inference_probe(req, &res);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "Cannot verify %s: %m", strna(req->base_url));
        if (inference_probe_explain(req, &res, &text) < 0)
                return log_oom();
        if (res.outcome != INFERENCE_PROBE_OK) {
                log_error("%s", text);
                return -EIO;
        }
        log_info("%s", text);
        return 0;
}

typedef struct RouteArgs {
        const char *provider, *model;
        unsigned timeout; /* 0: unset */
        bool no_verify, system, clear_backends;
        InferenceBackend *backends;
        size_t n_backends;
        OutputFormat fmt;
} RouteArgs;

static void route_args_done(RouteArgs *a) {
        for (size_t i = 0; i < a->n_backends; i++)
                free(a->backends[i].url);
        free(a->backends);
}

/* --backend URL[,weight=N] */
static int parse_backend(RouteArgs *a, const char *arg) {
        _cleanup_free_ char *s = strdup(arg), *norm = NULL, *err = NULL;
        InferenceBackend *b;
        unsigned weight = 1;
        char *comma;
        int r;

        if (!s)
                return log_oom();
        comma = strrchr(s, ',');
        if (comma) {
                *comma = 0;
                if (!startswith(comma + 1, "weight=")) {
                        log_error("--backend %s: expected URL or URL,weight=N", arg);
                        return -EINVAL;
                }
                if (safe_atou(comma + 1 + strlen("weight="), &weight) < 0 || weight < 1 ||
                    weight > BACKEND_WEIGHT_MAX) {
                        log_error("--backend %s: weight must be an integer from 1 to %u", arg, BACKEND_WEIGHT_MAX);
                        return -EINVAL;
                }
        }
        r = base_url_normalize(s, &norm, &err);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                log_error("--backend: %s", err);
                return -EINVAL;
        }
        for (size_t i = 0; i < a->n_backends; i++)
                if (streq(a->backends[i].url, norm)) {
                        log_error("--backend %s given twice", norm);
                        return -EINVAL;
                }
        if (a->n_backends >= BROKER_BACKENDS_MAX) {
                log_error("too many --backend (at most %u)", BROKER_BACKENDS_MAX);
                return -EINVAL;
        }
        b = reallocarray(a->backends, a->n_backends + 1, sizeof(InferenceBackend));
        if (!b)
                return log_oom();
        a->backends = b;
        a->backends[a->n_backends++] = (InferenceBackend) { .url = TAKE_PTR(norm), .weight = weight };
        return 0;
}

enum {
        ARG_PROVIDER = 0x100,
        ARG_MODEL,
        ARG_TIMEOUT,
        ARG_NO_VERIFY,
        ARG_SYSTEM,
        ARG_BACKEND,
        ARG_CLEAR,
};

/* set takes the options of update but --clear-backends, which therefore comes first. */
static const struct option update_options[] = {
        { "clear-backends", no_argument, NULL, ARG_CLEAR },
        { "help", no_argument, NULL, 'h' },
        { "provider", required_argument, NULL, ARG_PROVIDER },
        { "model", required_argument, NULL, ARG_MODEL },
        { "timeout", required_argument, NULL, ARG_TIMEOUT },
        { "no-verify", no_argument, NULL, ARG_NO_VERIFY },
        { "system", no_argument, NULL, ARG_SYSTEM },
        { "backend", required_argument, NULL, ARG_BACKEND },
        {},
};
#define set_options (update_options + 1)

/* Returns 1 to go on, 0 when the help was printed, -EINVAL after a usage error's message. */
static int parse_route_args(int argc, char *argv[], const char *verb, RouteArgs *a) {
        const struct option *options = streq(verb, "set") ? set_options : update_options;
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return verb_help();
                case ARG_PROVIDER:
                        a->provider = optarg;
                        break;
                case ARG_MODEL:
                        a->model = optarg;
                        break;
                case ARG_TIMEOUT:
                        if (safe_atou(optarg, &a->timeout) < 0 || a->timeout < 1 ||
                            a->timeout > INFERENCE_TIMEOUT_MAX) {
                                log_error("--timeout expects seconds from 1 to %u, got '%s'",
                                          INFERENCE_TIMEOUT_MAX, optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_NO_VERIFY:
                        a->no_verify = true;
                        break;
                case ARG_SYSTEM:
                        a->system = true;
                        break;
                case ARG_BACKEND:
                        if (parse_backend(a, optarg) < 0)
                                return -EINVAL;
                        break;
                case ARG_CLEAR:
                        a->clear_backends = true;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                log_error("inference %s takes no positional arguments, got '%s'", verb, argv[optind]);
                return -EINVAL;
        }
        if (a->provider) {
                _cleanup_free_ char *error = NULL;
                int r = provider_name_check(a->provider, &error);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0) {
                        log_error("%s", error);
                        return -EINVAL;
                }
        }
        if (a->model) {
                if (isempty(a->model)) {
                        log_error("--model must not be empty");
                        return -EINVAL;
                }
                if (strlen(a->model) > MODEL_NAME_MAX || string_has_cc(a->model)) {
                        log_error("--model: not a model name (at most %u characters, no control characters)",
                                  MODEL_NAME_MAX);
                        return -EINVAL;
                }
        }
        return 1;
}

/* Loads the provider and its API key (the type's key, else the first credential; NULL if none). */
static int load_provider_for_route(const char *name, ProviderFile *p, char **ret_key, char **ret_key_name,
                                   bool need_key) {
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_strv_free_ char **creds = NULL;
        const char *v;
        int r;

        r = provider_file_load(name, p, &d);
        if (r == -ENOENT) {
                log_error(
                        "provider '%s' not found: create it first, e.g. 'openshell provider create --name %s "
                        "--type openai --config OPENAI_BASE_URL=http://127.0.0.1:8000/v1' (see 'openshell provider "
                        "list')",
                        name, name);
                return r;
        }
        if (r < 0) {
                log_diag_list(&d);
                return log_error_errno(r, "Cannot load provider '%s'%s", name,
                                       r == -EBADMSG ? " (fix its file or re-create it)" : ": %m");
        }
        *ret_key = *ret_key_name = NULL;
        if (!need_key)
                return 0;
        r = credentials_load(name, &creds);
        if (r == -ENOENT)
                return 0;
        if (r == -EACCES || r == -EPERM)
                return log_error_errno(
                        r,
                        "Cannot read the credentials of provider '%s' to verify the route: permission "
                        "denied (run as root, or use --no-verify)",
                        name);
        if (r < 0)
                return log_error_errno(r, "Cannot read the credentials of provider '%s': %s", name,
                                       r == -EBADMSG ? "a line is not KEY=VALUE" : strerror(-r));
        v = kv_get(creds, provider_type_api_key(p->type));
        if (v) {
                *ret_key_name = strdup(provider_type_api_key(p->type));
                *ret_key = strdup(v);
        } else
                STRV_FOREACH(k, p->credential_keys)
                        if ((v = kv_get(creds, *k))) {
                                *ret_key_name = strdup(*k);
                                *ret_key = strdup(v);
                                break;
                        }
        credentials_erase(creds);
        if (v && (!*ret_key || !*ret_key_name))
                return log_oom();
        return 0;
}

static void print_route(const InferenceRoute *r, const ProviderFile *p) {
        printf("  Route:    %s\n", r->name);
        printf("  Provider: %s\n", r->provider);
        printf("  Model:    %s\n", r->model);
        printf("  Timeout:  %us\n", r->timeout_seconds ?: BROKER_TIMEOUT_DEFAULT_SEC);
        if (r->n_backends > 0)
                for (size_t i = 0; i < r->n_backends; i++)
                        printf("  %s %s (weight %u)\n", i == 0 ? "Backends:" : "         ",
                               r->backends[i].url, r->backends[i].weight);
        else if (p) {
                const char *u = kv_get(p->config, provider_type_base_url_key(p->type));
                printf("  Backend:  %s%s\n", u ?: provider_type_default_base_url(p->type),
                       u ? "" : " (the provider type's default)");
        }
}

/* set and update: builds the route, verifies it, writes it. */
static int route_apply(const char *verb, RouteArgs *a) {
        _cleanup_(inference_file_done) InferenceFile f = {};
        _cleanup_(inference_route_done) InferenceRoute route = {};
        _cleanup_(provider_file_done) ProviderFile p = { .type = _PROVIDER_TYPE_INVALID };
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_free_ char *key = NULL, *key_name = NULL, *base = NULL;
        const char *route_name = a->system ? INFERENCE_ROUTE_SYSTEM : INFERENCE_ROUTE_DEFAULT;
        InferenceRoute *old;
        int r;

        r = inference_file_load(&f, &d);
        if (r < 0) {
                log_diag_list(&d);
                if (streq(verb, "update") || r != -EBADMSG)
                        return log_error_errno(r, "Cannot read the inference routes%s",
                                               r == -EBADMSG ? "" : ": %m");
                /* set replaces a broken file: nothing in it could be used anyway */
                log_warning(
                        "warning: the inference routes file is invalid (above); 'inference set' replaces it");
                inference_file_done(&f);
        }
        old = inference_file_find(&f, route_name);
        if (streq(verb, "update")) {
                if (!old) {
                        log_error(
                                "no inference route '%s' to update: use 'openshell inference set --provider P --model M'",
                                route_name);
                        return -ENOENT;
                }
                if (!a->provider && !a->model && !a->timeout && !a->n_backends && !a->clear_backends) {
                        log_error("inference update needs --provider, --model, --timeout or --backend");
                        return -EINVAL;
                }
        }

        route.name = strdup(route_name);
        route.provider = strdup(a->provider ?: old->provider);
        route.model = strdup(a->model ?: old->model);
        if (!route.name || !route.provider || !route.model)
                return log_oom();
        route.timeout_seconds = a->timeout ?: old ? old->timeout_seconds : BROKER_TIMEOUT_DEFAULT_SEC;
        if (streq(verb, "set") && !a->timeout)
                route.timeout_seconds = BROKER_TIMEOUT_DEFAULT_SEC;
        route.max_concurrency_per_sandbox = old ? old->max_concurrency_per_sandbox : 0;
        if (a->n_backends > 0) {
                route.backends = TAKE_PTR(a->backends);
                route.n_backends = a->n_backends;
                a->n_backends = 0;
        } else if (old && streq(verb, "update") && !a->clear_backends &&
                   (!a->provider || streq(a->provider, old->provider))) {
                /* keep the servers of the route unless the provider changes */
                route.backends = calloc(MAX(old->n_backends, (size_t) 1), sizeof(InferenceBackend));
                if (!route.backends)
                        return log_oom();
                for (size_t i = 0; i < old->n_backends; i++) {
                        route.backends[i] = (InferenceBackend) { .url = strdup(old->backends[i].url),
                                                                 .weight = old->backends[i].weight };
                        if (!route.backends[i].url)
                                return log_oom();
                        route.n_backends++;
                }
        }

        r = load_provider_for_route(route.provider, &p, &key, &key_name, !a->no_verify);
        if (r < 0)
                return r;

        if (!a->no_verify) {
                InferenceProbeRequest req = {
                        .provider = p.name,
                        .type = p.type,
                        .model = route.model,
                        .api_key = key,
                        .api_key_name = key_name,
                        .timeout_sec = MIN(route.timeout_seconds, INFERENCE_PROBE_TIMEOUT_MAX_SEC),
                };
                bool failed = false;

                if (route.n_backends == 0) {
                        const char *u = kv_get(p.config, provider_type_base_url_key(p.type));
                        _cleanup_free_ char *err = NULL;
                        r = base_url_normalize(u ?: provider_type_default_base_url(p.type), &base, &err);
                        if (r < 0)
                                return r == -ENOMEM ? log_oom()
                                                    : log_error_errno(r, "provider '%s': %s", p.name, err);
                        req.base_url = base;
                        failed = verify_backend(&req) < 0;
                } else
                        for (size_t i = 0; i < route.n_backends; i++) {
                                req.base_url = route.backends[i].url;
                                if (verify_backend(&req) < 0)
                                        failed = true;
                        }
                if (key)
                        explicit_bzero(key, strlen(key));
                if (failed) {
                        log_error("Route not saved. Fix the above, or save it anyway with --no-verify.");
                        return -EIO;
                }
        }

        r = inference_file_put(&f, &route);
        if (r < 0)
                return log_oom();
        r = inference_file_save(&f);
        if (r < 0) {
                _cleanup_free_ char *path = NULL;
                (void) openshell_etc_path("inference.yaml", &path);
                if (r == -EACCES || r == -EPERM)
                        return log_error_errno(r, "Cannot write %s: permission denied (run as root)",
                                               strna(path));
                return log_error_errno(r, "Cannot write %s: %m", strna(path));
        }
        printf("Gateway inference configured:\n");
        print_route(inference_file_find(&f, route_name), &p);
        if (a->no_verify)
                printf("  (not verified: --no-verify)\n");
        broker_notify(BROKER_RELOAD);
        return 0;
}

static int inference_set(int argc, char *argv[]) {
        _cleanup_(route_args_done) RouteArgs a = {};
        int r;

        r = parse_route_args(argc, argv, "set", &a);
        if (r <= 0)
                return r == -EINVAL ? verb_usage() : r;
        if (!a.provider || !a.model)
                return usage_error("inference set needs --provider NAME and --model MODEL");
        r = route_apply("set", &a);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int inference_update(int argc, char *argv[]) {
        _cleanup_(route_args_done) RouteArgs a = {};
        int r;

        r = parse_route_args(argc, argv, "update", &a);
        if (r <= 0)
                return r == -EINVAL ? verb_usage() : r;
        r = route_apply("update", &a);
        return r == -EINVAL ? verb_usage() : r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* delete takes the options of get but --output, which therefore comes first. */
static const struct option get_options[] = {
        { "output", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { "system", no_argument, NULL, 's' },
        {},
};
#define delete_options (get_options + 1)

/* get (fmt non-NULL) and delete. Returns 1 to go on, 0 when the help was printed, -EINVAL after a
 * usage error's message. */
static int parse_simple(int argc, char *argv[], const char *verb, bool *system, OutputFormat *fmt) {
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, fmt ? "ho:" : "h", fmt ? get_options : delete_options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return verb_help();
                case 's':
                        *system = true;
                        break;
                case 'o':
                        if (parse_output_format(optarg, fmt) < 0)
                                return -EINVAL;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                log_error("inference %s takes no arguments, got '%s'", verb, argv[optind]);
                return -EINVAL;
        }
        return 1;
}

static int inference_get(int argc, char *argv[]) {
        _cleanup_(inference_file_done) InferenceFile f = {};
        _cleanup_(diag_list_done) DiagList d = {};
        OutputFormat fmt = OUTPUT_TABLE;
        bool system = false;
        const InferenceRoute *route;
        int r;

        r = parse_simple(argc, argv, "get", &system, &fmt);
        if (r <= 0)
                return r == -EINVAL ? verb_usage() : r;
        r = inference_file_load(&f, &d);
        if (r < 0) {
                log_diag_list(&d);
                return log_error_errno(r, "Cannot read the inference routes%s", r == -EBADMSG ? "" : ": %m");
        }
        route = inference_file_find(&f, system ? INFERENCE_ROUTE_SYSTEM : INFERENCE_ROUTE_DEFAULT);

        if (fmt == OUTPUT_JSON) {
                json_object *o = json_object_new_object(), *b;
                if (route) {
                        json_object_object_add(o, "name", json_object_new_string(route->name));
                        json_object_object_add(o, "provider", json_object_new_string(route->provider));
                        json_object_object_add(o, "model", json_object_new_string(route->model));
                        json_object_object_add(
                                o, "timeout_seconds",
                                json_object_new_int(
                                        (int) (route->timeout_seconds ?: BROKER_TIMEOUT_DEFAULT_SEC)));
                        b = json_object_new_array();
                        for (size_t i = 0; i < route->n_backends; i++) {
                                json_object *e = json_object_new_object();
                                json_object_object_add(e, "url",
                                                       json_object_new_string(route->backends[i].url));
                                json_object_object_add(e, "weight",
                                                       json_object_new_int((int) route->backends[i].weight));
                                json_object_array_add(b, e);
                        }
                        json_object_object_add(o, "backends", b);
                }
                printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
                return EXIT_SUCCESS;
        }
        if (fmt == OUTPUT_YAML) {
                _cleanup_free_ char *text = NULL;
                InferenceFile one = { .routes = (InferenceRoute *) route, .n_routes = route ? 1 : 0 };
                if (inference_file_format(&one, &text) < 0)
                        return log_oom();
                fputs(text, stdout);
                return EXIT_SUCCESS;
        }
        printf("%s inference:\n", system ? "System" : "Gateway");
        if (!route) {
                printf("  Not configured. Set it with 'openshell inference set --provider NAME --model MODEL'.\n");
                return EXIT_SUCCESS;
        }
        {
                _cleanup_(provider_file_done) ProviderFile p = { .type = _PROVIDER_TYPE_INVALID };
                _cleanup_(diag_list_done) DiagList pd = {};
                r = provider_file_load(route->provider, &p, &pd);
                print_route(route, r >= 0 ? &p : NULL);
                if (r == -ENOENT)
                        printf("  Warning: provider '%s' does not exist: requests fail until it is created.\n",
                               route->provider);
                else if (r < 0)
                        printf("  Warning: provider '%s' cannot be loaded: requests fail until it is fixed.\n",
                               route->provider);
        }
        return EXIT_SUCCESS;
}

static int inference_delete(int argc, char *argv[]) {
        _cleanup_(inference_file_done) InferenceFile f = {};
        _cleanup_(diag_list_done) DiagList d = {};
        bool system = false;
        const char *name;
        int r;

        r = parse_simple(argc, argv, "delete", &system, NULL);
        if (r <= 0)
                return r == -EINVAL ? verb_usage() : r;
        name = system ? INFERENCE_ROUTE_SYSTEM : INFERENCE_ROUTE_DEFAULT;
        r = inference_file_load(&f, &d);
        if (r < 0) {
                log_diag_list(&d);
                return log_error_errno(r, "Cannot read the inference routes%s", r == -EBADMSG ? "" : ": %m");
        }
        if (inference_file_remove(&f, name) == 0) {
                log_error("no inference route '%s' is configured", name);
                return EXIT_FAILURE;
        }
        r = inference_file_save(&f);
        if (r < 0)
                return log_error_errno(r, "Cannot write the inference routes: %m%s",
                                       r == -EACCES ? " (run as root)" : "");
        printf("Deleted inference route '%s'.\n", name);
        broker_notify(BROKER_RELOAD);
        return EXIT_SUCCESS;
}

#define ROUTE_FILE "/etc/openshell/inference.yaml"

_Static_assert(BROKER_TIMEOUT_DEFAULT_SEC == 60 && INFERENCE_TIMEOUT_MAX == 3600 && BROKER_BACKENDS_MAX == 64 &&
                       INFERENCE_PROBE_TIMEOUT_MAX_SEC == 30,
               "the manual of inference set and update states these numbers");

/* What the manuals of set and update share. */
#define ROUTE_VERIFY_TEXT                                                                                       \
        "Unless --no-verify is given, the route is tried first: a one-token chat completion (POST "             \
        "BASE/chat/completions, or BASE/messages for anthropic) with the provider's credential to each "        \
        "backend, or to the provider's base URL, waiting at most 30 seconds (the --timeout if shorter). A "     \
        "failure is explained in terms of what to fix (server not running, wrong URL or model, credential "     \
        "refused) and saves nothing; reading the credential needs root.\n"

#define ROUTE_OPTIONS                                                                                           \
        { "--timeout SECS",                                                                                     \
          "How long the broker waits for the first byte of an answer, 1 to 3600 seconds (a new route: 60)." },  \
        { "--no-verify", "Save the route without trying it." },                                                 \
        { "--system",                                                                                           \
          "The route named 'system' (upstream's system inference) instead of 'inference.local': the broker "   \
          "takes it for requests whose model, or Host, is 'system'." },                                         \
        { "--backend URL[,weight=N]",                                                                           \
          "A model server of the route, a base URL like the provider's, e.g. http://10.0.0.7:8000/v1 "          \
          "(repeatable, at most 64): the broker shares the load among them in "                                 \
          "proportion to their weights (1 to 1000, default 1) and fails over before the first byte. Default: "  \
          "the provider's base URL." }

#define ROUTE_SEE_ALSO                                                                                          \
        "The route by hand: edit " ROUTE_FILE ", then 'systemctl reload openshell-broker.service'. "             \
        "journalctl -u openshell-broker shows each request; openshell provider --help.\n"

static const Verb inference_set_verb = {
        .name = "set",
        .summary = "Route inference.local to a provider and model (verified)",
        .synopsis = "--provider NAME --model MODEL [--timeout SECS] [--no-verify] [--system] "
                    "[--backend URL[,weight=N]]...",
        .description =
                "Set the route of inference.local: every request to the broker's http://inference.local/v1 goes "
                "to the provider NAME, with its \"model\" replaced by MODEL and the provider's credential added. "
                "The route replaces the previous one in " ROUTE_FILE ", and a running openshell-broker.service is "
                "told to reload it (as 'systemctl try-reload-or-restart' does).\n"
                "\n" ROUTE_VERIFY_TEXT,
        .options = (const VerbItem[]) {
                { "--provider NAME", "A provider from 'openshell provider list'." },
                { "--model MODEL", "The model every request is sent to, as the server names it." },
                ROUTE_OPTIONS,
                {},
        },
        .exit_status = (const VerbItem[]) {
                { "0", "The route was saved." },
                { "1", "The provider does not exist or is invalid, its credential cannot be read, the route did "
                       "not work (nothing saved), or " ROUTE_FILE " cannot be written (run as root)." },
                { "2", "Usage error: an unknown option, no --provider or --model, a malformed name, timeout or "
                       "URL." },
                {},
        },
        .examples = "  openshell inference set --provider vllm --model meta-llama/Llama-3.1-8B-Instruct\n"
                    "  openshell inference set --provider vllm --model llama --no-verify \\\n"
                    "      --backend http://gpu1:8000/v1 --backend http://gpu2:8000/v1,weight=2\n",
        .see_also = ROUTE_SEE_ALSO,
        .run = inference_set,
        .getopt = set_options,
};

static const Verb inference_update_verb = {
        .name = "update",
        .summary = "Change the provider, model, timeout or backends of the route",
        .synopsis = "[--provider NAME] [--model MODEL] [--timeout SECS] [--no-verify] [--system] "
                    "[--backend URL[,weight=N]]... [--clear-backends]",
        .description =
                "Change the existing route of inference.local in " ROUTE_FILE ": options not given keep their "
                "values, and the backends stay unless --backend or --clear-backends is given or the provider "
                "changes. A running openshell-broker.service is told to reload.\n"
                "\n" ROUTE_VERIFY_TEXT,
        .options = (const VerbItem[]) {
                { "--provider NAME", "Another provider from 'openshell provider list'." },
                { "--model MODEL", "Another model." },
                ROUTE_OPTIONS,
                { "--clear-backends", "Forget the route's backends: back to the provider's base URL." },
                {},
        },
        .exit_status = (const VerbItem[]) {
                { "0", "The route was changed." },
                { "1", "There is no route to change (use 'inference set'), the provider does not exist or cannot "
                       "be read, the route did not work (nothing saved), or " ROUTE_FILE " cannot be written." },
                { "2", "Usage error: an unknown option, none of --provider, --model, --timeout, --backend and "
                       "--clear-backends, a malformed value." },
                {},
        },
        .examples = "  openshell inference update --model meta-llama/Llama-3.1-70B-Instruct\n"
                    "  openshell inference update --clear-backends\n",
        .see_also = ROUTE_SEE_ALSO,
        .run = inference_update,
        .getopt = update_options,
};

static const Verb inference_get_verb = {
        .name = "get",
        .summary = "Show the route",
        .synopsis = "[--system] [-o table|json|yaml]",
        .description =
                "Show the route of inference.local from " ROUTE_FILE ": provider, model, timeout, and the backends "
                "(or the provider's base URL), under upstream's heading 'Gateway inference:'; 'Not configured.' "
                "when there is none, and a warning when its provider does not exist.\n",
        .options = (const VerbItem[]) {
                { "--system", "The route named 'system' instead." },
                { "-o, --output table|json|yaml",
                  "table (the default); json, one object ({} without a route); yaml, the route as " ROUTE_FILE
                  " holds it." },
                {},
        },
        .exit_status = (const VerbItem[]) {
                { "0", "The route was shown, or that there is none." },
                { "1", ROUTE_FILE " is invalid or cannot be read." },
                VERB_EXIT_USAGE,
                {},
        },
        .examples = "  openshell inference get\n"
                    "  openshell inference get -o json\n",
        .see_also = "cat " ROUTE_FILE "; openshell provider get.\n",
        .run = inference_get,
        .getopt = get_options,
};

static const Verb inference_delete_verb = {
        .name = "delete",
        .summary = "Remove the route",
        .synopsis = "[--system]",
        .description =
                "Remove the route of inference.local from " ROUTE_FILE " and tell a running "
                "openshell-broker.service to reload: requests then get 400 'no inference route configured'. The "
                "provider stays.\n",
        .options = (const VerbItem[]) {
                { "--system", "The route named 'system' instead." },
                {},
        },
        .exit_status = (const VerbItem[]) {
                { "0", "The route was removed." },
                { "1", "There is no such route, or " ROUTE_FILE " cannot be read or written (run as root)." },
                VERB_EXIT_USAGE,
                {},
        },
        .examples = "  openshell inference delete\n",
        .see_also = ROUTE_SEE_ALSO,
        .run = inference_delete,
        .getopt = delete_options,
};

const Verb inference_verb = {
        .name = "inference",
        .summary = "Set and show the route of inference.local",
        .description =
                "The inference broker, openshell-broker.service, started by openshell-broker.socket on the first "
                "connection to /run/openshell/broker.sock, answers OpenAI-compatible requests to "
                "http://inference.local/v1 there and sends them to the provider and model of a route: upstream's "
                "'gateway inference'. Sandboxes are to reach it as https://inference.local/v1 through their "
                "egress proxy, which is not there yet. The routes are in " ROUTE_FILE ", which the broker re-reads "
                "when it changes; providers and their credentials come from 'openshell provider'.\n",
        .see_also = "openshell provider --help, systemctl status openshell-broker.socket, journalctl -u "
                    "openshell-broker.\n",
        .verbs = (const Verb *const[]) {
                &inference_set_verb,
                &inference_update_verb,
                &inference_get_verb,
                &inference_delete_verb,
                NULL,
        },
};
