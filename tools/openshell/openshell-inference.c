/* SPDX-License-Identifier: Apache-2.0 */
/* openshell inference set|update|get|delete: the route behind https://inference.local/v1.
 * Command lines follow upstream OpenShell (openshell/SPEC.md §3, §2.9). `set` and `update` probe the
 * model server with a minimal request (one-token chat completion, or /messages for Anthropic) unless
 * --no-verify, and explain a failure in terms of what to fix. The route goes to
 * /etc/openshell/inference.yaml; a running broker is told to reload. */

#include <curl/curl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "bus-util.h"
#include "inference-files.h"
#include "log.h"
#include "openshell.h"
#include "provider-cli.h"
#include "string-util.h"

#define BROKER_UNIT "openshell-broker.service"
#define VERIFY_TIMEOUT_MAX_SEC 30U
#define VERIFY_CONNECT_TIMEOUT_MS 5000L
#define VERIFY_BODY_MAX (64U * 1024U)
#define MODEL_NAME_MAX 512U

static inline bool isdigit_char(char c) {
        return c >= '0' && c <= '9';
}

static inline void json_object_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

void broker_notify(BrokerNotify what) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *method = what == BROKER_RESTART ? "TryRestartUnit" : "ReloadOrTryRestartUnit";
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0) {
                log_debug_errno(r, "No system bus, not notifying %s: %m", BROKER_UNIT);
                return;
        }
        r = sd_bus_call_method(bus, SYSTEMD_BUS_NAME, SYSTEMD_BUS_PATH, SYSTEMD_MANAGER_IFACE, method,
                               &error, NULL, "ss", BROKER_UNIT, "replace");
        if (r < 0)
                log_debug("Not notifying %s: %s", BROKER_UNIT, bus_error_message(&error, r));
}

typedef struct Probe {
        char *body;
        size_t size;
} Probe;

static size_t probe_write(char *data, size_t size, size_t n, void *userdata) {
        Probe *p = userdata;
        size_t len = size * n, take = MIN(len, VERIFY_BODY_MAX - p->size);

        if (take > 0) {
                char *b = realloc(p->body, p->size + take + 1);
                if (!b)
                        return 0;
                p->body = b;
                memcpy(p->body + p->size, data, take);
                p->size += take;
                p->body[p->size] = 0;
        }
        return len;
}

/* The server's own words from an error body: OpenAI/Anthropic error.message, FastAPI (vLLM) detail,
 * Ollama error; control characters removed, at most 300 characters. */
static char *error_message_of(const char *body) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *e, *m;
        const char *s = NULL;
        char *out;

        if (!body)
                return NULL;
        o = json_tokener_parse(body);
        if (o && json_object_object_get_ex(o, "error", &e)) {
                if (json_object_is_type(e, json_type_string))
                        s = json_object_get_string(e);
                else if (json_object_object_get_ex(e, "message", &m))
                        s = json_object_get_string(m);
        }
        if (!s && o && json_object_object_get_ex(o, "detail", &m))
                s = json_object_get_string(m);
        if (!s && o && json_object_object_get_ex(o, "message", &m))
                s = json_object_get_string(m);
        if (!s)
                s = o ? NULL : body;
        if (isempty(s))
                return NULL;
        out = strndup(s, 300);
        if (!out)
                return NULL;
        for (char *p = out; *p; p++)
                if ((unsigned char) *p < ' ' || *p == 0x7f)
                        *p = ' ';
        return out;
}

static bool mentions_model(const char *msg) {
        return msg && (strcasestr(msg, "model") != NULL);
}

/* Sends the minimal request to one backend. Returns 0 if it answered 2xx; otherwise logs what went
 * wrong and what to do, and returns -EIO (or -ENOMEM). */
static int verify_backend(const char *provider, ProviderType type, const char *base, const char *model,
                          const char *api_key, const char *api_key_name, unsigned timeout_sec) {
        _cleanup_free_ char *url = NULL, *auth = NULL, *msg = NULL;
        struct curl_slist *headers = NULL;
        json_object *req, *msgs, *m;
        Probe probe = {};
        CURL *curl;
        CURLcode cc;
        long status = 0;
        double secs = 0;
        int r = -EIO;
        char errbuf[CURL_ERROR_SIZE] = "";
        const char *hint_key = api_key_name ?: provider_type_api_key(type);

        if (asprintf_safe(&url, "%s%s", base,
                          type == PROVIDER_ANTHROPIC ? "/messages" : "/chat/completions") < 0)
                return log_oom();

        req = json_object_new_object();
        msgs = json_object_new_array();
        m = json_object_new_object();
        json_object_object_add(m, "role", json_object_new_string("user"));
        json_object_object_add(m, "content", json_object_new_string("ping"));
        json_object_array_add(msgs, m);
        json_object_object_add(req, "model", json_object_new_string(model));
        json_object_object_add(req, "messages", msgs);
        json_object_object_add(req, "max_tokens", json_object_new_int(1));
        json_object_object_add(req, "stream", json_object_new_boolean(false));

        headers = curl_slist_append(headers, "Content-Type: application/json");
        headers = curl_slist_append(headers, "Accept: application/json");
        if (api_key) {
                if (type == PROVIDER_ANTHROPIC)
                        r = asprintf_safe(&auth, "x-api-key: %s", api_key);
                else
                        r = asprintf_safe(&auth, "Authorization: Bearer %s", api_key);
                if (r < 0) {
                        json_object_put(req);
                        curl_slist_free_all(headers);
                        return log_oom();
                }
                headers = curl_slist_append(headers, auth);
                r = -EIO;
        }
        if (type == PROVIDER_ANTHROPIC)
                headers = curl_slist_append(headers, "anthropic-version: 2023-06-01");

        curl = curl_easy_init();
        if (!curl || !headers) {
                json_object_put(req);
                curl_slist_free_all(headers);
                if (curl)
                        curl_easy_cleanup(curl);
                return log_oom();
        }
        (void) curl_easy_setopt(curl, CURLOPT_URL, url);
        (void) curl_easy_setopt(curl, CURLOPT_POSTFIELDS,
                                json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
        (void) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        (void) curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long) timeout_sec * 1000L);
        (void) curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                                MIN(VERIFY_CONNECT_TIMEOUT_MS, (long) timeout_sec * 1000L));
        (void) curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(curl, CURLOPT_PROXY, ""); /* the broker ignores proxy variables too */
        (void) curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
        (void) curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
        (void) curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, probe_write);
        (void) curl_easy_setopt(curl, CURLOPT_WRITEDATA, &probe);
        (void) curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
        (void) curl_easy_setopt(curl, CURLOPT_USERAGENT, "openshell/" PROJECT_VERSION " (inference verify)");

        cc = curl_easy_perform(curl);
        (void) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        (void) curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME, &secs);
        curl_easy_cleanup(curl);
        curl_slist_free_all(headers);
        json_object_put(req);
        if (auth)
                explicit_bzero(auth, strlen(auth));

        msg = error_message_of(probe.body);
        free(probe.body);

        switch (cc) {
        case CURLE_OK:
                break;
        case CURLE_COULDNT_CONNECT:
                log_error(
                        "Cannot connect to %s: connection refused. Is the server running at %s?\n"
                        "  (start vLLM or Ollama, or fix the URL: 'openshell provider update %s --config %s=URL')",
                        url, base, provider, provider_type_base_url_key(type));
                return -EIO;
        case CURLE_COULDNT_RESOLVE_HOST:
                log_error("Cannot resolve the host of %s: check the base URL ('openshell provider get %s')",
                          base, provider);
                return -EIO;
        case CURLE_OPERATION_TIMEDOUT:
                log_error(
                        "No answer from %s within %us: the server may still be loading the model or be overloaded.\n"
                        "  Retry, raise --timeout, or save the route anyway with --no-verify.",
                        url, timeout_sec);
                return -EIO;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
                log_error("TLS error talking to %s: %s", base, errbuf[0] ? errbuf : curl_easy_strerror(cc));
                return -EIO;
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_PARTIAL_FILE:
                log_error(
                        "%s closed the connection without a complete answer (%s): is it an HTTP inference server, "
                        "and is the port right?",
                        url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
                return -EIO;
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
                log_error("Invalid base URL %s: %s", base, errbuf[0] ? errbuf : curl_easy_strerror(cc));
                return -EIO;
        default:
                log_error("Request to %s failed: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
                return -EIO;
        }

        if (status >= 200 && status < 300) {
                log_info("Verified %s: HTTP %ld in %.0f ms", base, status, secs * 1000);
                return 0;
        }
        switch (status) {
        case 401:
        case 403:
                if (api_key)
                        log_error(
                                "%s refused the credential (HTTP %ld%s%s). Check %s: 'openshell provider update %s "
                                "--credential %s=...'",
                                base, status, msg ? ": " : "", strempty(msg), hint_key, provider, hint_key);
                else
                        log_error(
                                "%s needs a credential (HTTP %ld%s%s) and provider '%s' has none: 'openshell "
                                "provider update %s --credential %s=...'",
                                base, status, msg ? ": " : "", strempty(msg), provider, provider, hint_key);
                break;
        case 404:
                if (mentions_model(msg))
                        log_error(
                                "Model '%s' not found at %s (HTTP 404: %s).\n  Check the name the server serves: curl "
                                "%s/models",
                                model, base, msg, base);
                else
                        log_error(
                                "%s not found (HTTP 404%s%s): is the base URL right? It usually ends in /v1 "
                                "(e.g. http://127.0.0.1:8000/v1)",
                                url, msg ? ": " : "", strempty(msg));
                break;
        case 400:
        case 422:
                log_error("%s rejected the test request (HTTP %ld%s%s)%s", base, status, msg ? ": " : "",
                          strempty(msg), mentions_model(msg) ? "; check the model name" : "");
                break;
        case 429:
                log_error(
                        "%s is rate limiting (HTTP 429%s%s): the credential was accepted; retry later or use "
                        "--no-verify",
                        base, msg ? ": " : "", strempty(msg));
                break;
        default:
                log_error("%s answered HTTP %ld%s%s%s", base, status, msg ? ": " : "", strempty(msg),
                          status >= 500 ? " (a server error: is the model loaded? see the server's log)"
                                        : "");
        }
        return r;
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
                char *e;
                unsigned long w;
                *comma = 0;
                if (!startswith(comma + 1, "weight=")) {
                        log_error("--backend %s: expected URL or URL,weight=N", arg);
                        return -EINVAL;
                }
                errno = 0;
                w = strtoul(comma + 1 + 7, &e, 10);
                if (errno || *e || w < 1 || w > 1000 || !isdigit_char(comma[8])) {
                        log_error("--backend %s: weight must be an integer from 1 to 1000", arg);
                        return -EINVAL;
                }
                weight = (unsigned) w;
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
                case ARG_TIMEOUT: {
                        char *e;
                        unsigned long t;
                        errno = 0;
                        t = strtoul(optarg, &e, 10);
                        if (errno || *e || isempty(optarg) || !isdigit_char(optarg[0]) || t < 1 ||
                            t > INFERENCE_TIMEOUT_MAX) {
                                log_error("--timeout expects seconds from 1 to %u, got '%s'",
                                          INFERENCE_TIMEOUT_MAX, optarg);
                                return -EINVAL;
                        }
                        a->timeout = (unsigned) t;
                        break;
                }
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
        if (a->provider && check_provider_name(a->provider) < 0)
                return -EINVAL;
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
                diag_list_print(&d, stderr);
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
        STRV_FOREACH(s, creds)
                explicit_bzero(*s, strlen(*s));
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
                diag_list_print(&d, stderr);
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
                unsigned vt = MIN(route.timeout_seconds, VERIFY_TIMEOUT_MAX_SEC);
                bool failed = false;

                if (route.n_backends == 0) {
                        const char *u = kv_get(p.config, provider_type_base_url_key(p.type));
                        _cleanup_free_ char *err = NULL;
                        r = base_url_normalize(u ?: provider_type_default_base_url(p.type), &base, &err);
                        if (r < 0)
                                return r == -ENOMEM ? log_oom()
                                                    : log_error_errno(r, "provider '%s': %s", p.name, err);
                        failed = verify_backend(p.name, p.type, base, route.model, key, key_name, vt) < 0;
                } else
                        for (size_t i = 0; i < route.n_backends; i++)
                                if (verify_backend(p.name, p.type, route.backends[i].url, route.model, key,
                                                   key_name, vt) < 0)
                                        failed = true;
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
                diag_list_print(&d, stderr);
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
                diag_list_print(&d, stderr);
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
                       VERIFY_TIMEOUT_MAX_SEC == 30,
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
