/* SPDX-License-Identifier: Apache-2.0 */
/* openshell provider create|list|get|update|delete: the providers the inference broker routes to.
 * Command lines follow upstream OpenShell (openshell/SPEC.md §3, keys §5.1). Config goes to
 * /etc/openshell/providers/NAME.yaml, secrets to /etc/openshell/credentials/NAME (root only, 0600);
 * no command ever prints a secret. */

#include <getopt.h>
#include <json-c/json.h>
#include <string.h>

#include "cli-bus.h"
#include "cli-output.h"
#include "inference-files.h"
#include "log.h"
#include "openshell.h"
#include "parse-util.h"
#include "provider-edit.h"
#include "string-util.h"

/* The library's refusals and warnings are the command's messages: logged here, once. */
static int log_refusal(int r, char *error) {
        _cleanup_free_ char *e = error;

        if (r == -ENOMEM)
                return log_oom();
        log_error("%s", strna(e));
        return r;
}

static void log_warnings(char **warnings) {
        STRV_FOREACH(w, warnings)
                log_warning("warning: %s", *w);
}

static int check_provider_name(const char *name) {
        char *error = NULL;
        int r;

        r = provider_name_check(name, &error);
        return r < 0 ? log_refusal(r, error) : 0;
}

static int parse_provider_type(const char *s, ProviderType *ret) {
        char *error = NULL;
        int r;

        r = provider_type_parse(s, ret, &error);
        return r < 0 ? log_refusal(r, error) : 0;
}

static int edit_add_credential(ProviderEdit *e, const char *arg, bool update) {
        char *error = NULL;
        int r;

        r = provider_edit_add_credential(e, arg, update, &error);
        return r < 0 ? log_refusal(r, error) : 0;
}

static int edit_add_config(ProviderEdit *e, const char *arg, bool update) {
        char *error = NULL;
        int r;

        r = provider_edit_add_config(e, arg, update, &error);
        return r < 0 ? log_refusal(r, error) : 0;
}

static int apply_edit(const ProviderEdit *e, ProviderFile *p, char ***creds) {
        _cleanup_strv_free_ char **warnings = NULL;
        char *error = NULL;
        int r;

        r = provider_edit_apply(e, p, creds, &warnings, &error);
        log_warnings(warnings);
        return r < 0 ? log_refusal(r, error) : 0;
}

/* The broker loads a provider only for the routes that name it, and its secrets only when it starts
 * (LoadCredential=): a running broker needs a restart for new secrets of a provider in use, a reload
 * for new config, and nothing for a provider no route uses. */
static void notify_broker_of(const char *name, bool secrets_changed) {
        _cleanup_strv_free_ char **routes = NULL;

        if (provider_routes_using(name, &routes) < 0 || !routes)
                return;
        broker_notify(secrets_changed ? BROKER_RESTART : BROKER_RELOAD);
}

static int report_write_error(int r, const char *what) {
        _cleanup_free_ char *dir = NULL;

        (void) openshell_etc_path(NULL, &dir);
        if (r == -EACCES || r == -EPERM)
                return log_error_errno(r, "Cannot write %s under %s: permission denied (run as root)", what,
                                       strna(dir));
        if (r == -EILSEQ)
                return log_error_errno(r, "Cannot write %s: a value is not valid UTF-8", what);
        return log_error_errno(r, "Cannot write %s under %s: %m", what, strna(dir));
}

static int report_load_error(int r, const char *name, DiagList *d) {
        if (r == -ENOENT) {
                log_error("provider '%s' not found (see 'openshell provider list')", name);
                return -ENOENT;
        }
        log_diag_list(d);
        if (r == -EBADMSG)
                return log_error_errno(r, "provider '%s' is invalid (fix or delete its file)", name);
        if (r == -EACCES)
                return log_error_errno(r, "Cannot read provider '%s': permission denied", name);
        return log_error_errno(r, "Cannot read provider '%s': %m", name);
}

enum {
        ARG_NAME = 0x100,
        ARG_TYPE,
        ARG_CREDENTIAL,
        ARG_CONFIG,
        ARG_FROM_EXISTING,
        ARG_UNSUPPORTED,
        ARG_NAMES,
        ARG_LIMIT,
        ARG_OFFSET,
        ARG_ALL_WS,
};

static const struct option create_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "name", required_argument, NULL, ARG_NAME },
        { "type", required_argument, NULL, ARG_TYPE },
        { "credential", required_argument, NULL, ARG_CREDENTIAL },
        { "config", required_argument, NULL, ARG_CONFIG },
        { "from-existing", no_argument, NULL, ARG_FROM_EXISTING },
        { "from-gcloud-adc", no_argument, NULL, ARG_UNSUPPORTED },
        { "runtime-credentials", no_argument, NULL, ARG_UNSUPPORTED },
        { "global-profile", no_argument, NULL, ARG_UNSUPPORTED },
        {},
};

static int provider_create(int argc, char *argv[]) {
        _cleanup_(provider_edit_done) ProviderEdit e = {};
        _cleanup_(provider_file_done) ProviderFile p = { .type = _PROVIDER_TYPE_INVALID };
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_strv_free_ char **creds = NULL;
        const char *name = NULL, *type = NULL;
        ProviderFile existing = {};
        int c, r, idx;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", create_options, &idx)) >= 0)
                switch (c) {
                case 'h':
                        return verb_help();
                case ARG_NAME:
                        name = optarg;
                        break;
                case ARG_TYPE:
                        type = optarg;
                        break;
                case ARG_CREDENTIAL:
                        if (edit_add_credential(&e, optarg, false) < 0)
                                return verb_usage();
                        break;
                case ARG_CONFIG:
                        if (edit_add_config(&e, optarg, false) < 0)
                                return verb_usage();
                        break;
                case ARG_FROM_EXISTING:
                        e.from_existing = true;
                        break;
                case ARG_UNSUPPORTED:
                        return usage_error("--%s is not supported yet", create_options[idx].name);
                default:
                        return verb_usage();
                }
        if (optind < argc)
                return usage_error("provider create takes no positional arguments, got '%s' (use --name)",
                                   argv[optind]);
        if (!name)
                return usage_error("provider create needs --name NAME");
        if (!type)
                return usage_error("provider create needs --type openai|nvidia|anthropic");
        if (check_provider_name(name) < 0)
                return verb_usage();
        if (parse_provider_type(type, &p.type) < 0)
                return verb_usage();

        r = provider_file_load(name, &existing, &d);
        provider_file_done(&existing);
        if (r >= 0 || r == -EBADMSG) {
                log_error(
                        "provider '%s' already exists (change it with 'openshell provider update %s', or delete it "
                        "first)",
                        name, name);
                return EXIT_FAILURE;
        }
        if (r != -ENOENT)
                return report_load_error(r, name, &d);

        p.name = strdup(name);
        if (!p.name)
                return log_oom();
        r = apply_edit(&e, &p, &creds);
        if (r < 0)
                return r == -EINVAL ? verb_usage() : r;

        /* secrets first: a provider file never names credentials that are not there */
        if (creds) {
                r = credentials_save(name, creds);
                if (r < 0) {
                        credentials_erase(creds);
                        return report_write_error(r, "the credentials");
                }
        }
        credentials_erase(creds);
        r = provider_file_save(&p);
        if (r < 0)
                return report_write_error(r, "the provider file");

        printf("Created provider '%s' (type %s", name, provider_type_to_string(p.type));
        if (p.credential_keys) {
                printf(", credentials:");
                STRV_FOREACH(k, p.credential_keys)
                        printf(" %s", *k);
        }
        printf(").\n");
        notify_broker_of(name, creds != NULL);
        return EXIT_SUCCESS;
}

static const struct option update_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "credential", required_argument, NULL, ARG_CREDENTIAL },
        { "config", required_argument, NULL, ARG_CONFIG },
        { "from-existing", no_argument, NULL, ARG_FROM_EXISTING },
        { "credential-expires-at", required_argument, NULL, ARG_UNSUPPORTED },
        {},
};

static int provider_update(int argc, char *argv[]) {
        _cleanup_(provider_edit_done) ProviderEdit e = {};
        _cleanup_(provider_file_done) ProviderFile p = { .type = _PROVIDER_TYPE_INVALID };
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_strv_free_ char **creds = NULL;
        const char *name;
        int c, r, idx;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", update_options, &idx)) >= 0)
                switch (c) {
                case 'h':
                        return verb_help();
                case ARG_CREDENTIAL:
                        if (edit_add_credential(&e, optarg, true) < 0)
                                return verb_usage();
                        break;
                case ARG_CONFIG:
                        if (edit_add_config(&e, optarg, true) < 0)
                                return verb_usage();
                        break;
                case ARG_FROM_EXISTING:
                        e.from_existing = true;
                        break;
                case ARG_UNSUPPORTED:
                        return usage_error("--%s is not supported yet", update_options[idx].name);
                default:
                        return verb_usage();
                }
        if (optind + 1 != argc)
                return usage_error(optind >= argc ? "provider update needs a provider NAME"
                                                  : "provider update takes one NAME");
        name = argv[optind];
        if (check_provider_name(name) < 0)
                return verb_usage();
        if (!e.credentials && !e.config && !e.from_existing)
                return usage_error("provider update needs --credential, --config or --from-existing");
        r = provider_file_load(name, &p, &d);
        if (r < 0)
                return report_load_error(r, name, &d);

        r = credentials_load(name, &creds);
        if (r == -EACCES)
                return log_error_errno(
                        r, "Cannot read the credentials of '%s': permission denied (run as root)", name);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "Cannot read the credentials of '%s': %s", name,
                                       r == -EBADMSG ? "a line is not KEY=VALUE" : strerror(-r));

        r = apply_edit(&e, &p, &creds);
        if (r < 0)
                return r == -EINVAL ? verb_usage() : r;
        if (e.credentials || e.from_existing) {
                r = credentials_save(name, creds);
                credentials_erase(creds);
                if (r < 0)
                        return report_write_error(r, "the credentials");
        }
        r = provider_file_save(&p);
        if (r < 0)
                return report_write_error(r, "the provider file");
        printf("Updated provider '%s'.\n", name);
        notify_broker_of(name, e.credentials || e.from_existing);
        return EXIT_SUCCESS;
}

/* "set", "missing" (named in the provider file, absent from the credentials), or "unknown" when the
 * credentials cannot be read (not root). */
static const char *credential_state(char *const *creds, int creds_r, const char *key) {
        if (creds_r == -EACCES || creds_r == -EPERM)
                return "unknown";
        if (creds_r < 0)
                return "missing";
        return kv_get(creds, key) ? "set" : "missing";
}

static json_object *provider_to_json(const ProviderFile *p, char *const *creds, int creds_r) {
        json_object *o = json_object_new_object(), *cfg = json_object_new_object(),
                    *keys = json_object_new_array(), *state = json_object_new_object();
        const char *bk = provider_type_base_url_key(p->type);

        json_object_object_add(o, "name", json_object_new_string(p->name));
        json_object_object_add(o, "type", json_object_new_string(provider_type_to_string(p->type)));
        json_object_object_add(
                o, "base_url",
                json_object_new_string(kv_get(p->config, bk) ?: provider_type_default_base_url(p->type)));
        STRV_FOREACH(e, p->config) {
                _cleanup_free_ char *k = strndup(*e, strcspn(*e, "="));
                if (k)
                        json_object_object_add(cfg, k, json_object_new_string(*e + strlen(k) + 1));
        }
        json_object_object_add(o, "config", cfg);
        STRV_FOREACH(k, p->credential_keys) {
                json_object_array_add(keys, json_object_new_string(*k));
                json_object_object_add(state, *k,
                                       json_object_new_string(credential_state(creds, creds_r, *k)));
        }
        json_object_object_add(o, "credential_keys", keys);
        json_object_object_add(o, "credentials", state);
        return o;
}

static const struct option get_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "output", required_argument, NULL, 'o' },
        {},
};

static int provider_get(int argc, char *argv[]) {
        _cleanup_(provider_file_done) ProviderFile p = { .type = _PROVIDER_TYPE_INVALID };
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_strv_free_ char **creds = NULL, **routes = NULL;
        OutputFormat fmt = OUTPUT_TABLE;
        const char *name, *bk;
        int c, r, creds_r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "ho:", get_options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return verb_help();
                case 'o':
                        if (parse_output_format(optarg, &fmt) < 0)
                                return verb_usage();
                        break;
                default:
                        return verb_usage();
                }
        if (optind + 1 != argc)
                return usage_error(optind >= argc ? "provider get needs a provider NAME"
                                                  : "provider get takes one NAME");
        name = argv[optind];
        if (check_provider_name(name) < 0)
                return verb_usage();
        r = provider_file_load(name, &p, &d);
        if (r < 0)
                return report_load_error(r, name, &d);
        creds_r = credentials_load(name, &creds);
        (void) provider_routes_using(name, &routes);

        if (fmt == OUTPUT_JSON) {
                json_object *o = provider_to_json(&p, creds, creds_r);
                json_object *ro = json_object_new_array();
                STRV_FOREACH(s, routes)
                        json_object_array_add(ro, json_object_new_string(*s));
                json_object_object_add(o, "routes", ro);
                printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        } else if (fmt == OUTPUT_YAML) {
                _cleanup_free_ char *text = NULL;
                if (provider_file_format(&p, &text) < 0)
                        return log_oom();
                fputs(text, stdout);
        } else {
                bk = provider_type_base_url_key(p.type);
                printf("Name:            %s\n", p.name);
                printf("Type:            %s\n", provider_type_to_string(p.type));
                printf("Base URL:        %s%s\n",
                       kv_get(p.config, bk) ?: provider_type_default_base_url(p.type),
                       kv_get(p.config, bk) ? "" : " (default)");
                printf("Credential keys:%s\n", p.credential_keys ? "" : " none");
                STRV_FOREACH(k, p.credential_keys)
                        printf("  %s: <%s>\n", *k, credential_state(creds, creds_r, *k));
                printf("Config:%s\n", p.config ? "" : "          none");
                STRV_FOREACH(e, p.config) {
                        size_t kl = strcspn(*e, "=");
                        printf("  %.*s: %s\n", (int) kl, *e, *e + kl + 1);
                }
                if (routes) {
                        printf("Routes:         ");
                        STRV_FOREACH(s, routes)
                                printf(" %s", *s);
                        printf("\n");
                }
                if (creds_r == -EACCES || creds_r == -EPERM)
                        printf("(run as root to see which credentials are set)\n");
        }
        credentials_erase(creds);
        return EXIT_SUCCESS;
}

static const struct option list_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "output", required_argument, NULL, 'o' },
        { "names", no_argument, NULL, ARG_NAMES },
        { "limit", required_argument, NULL, ARG_LIMIT },
        { "offset", required_argument, NULL, ARG_OFFSET },
        { "all-workspaces", no_argument, NULL, ARG_ALL_WS },
        {},
};

static int provider_list(int argc, char *argv[]) {
        _cleanup_strv_free_ char **names = NULL;
        OutputFormat fmt = OUTPUT_TABLE;
        bool names_only = false;
        uint64_t limit = 100, offset = 0;
        json_object *arr = NULL;
        size_t wn = strlen("NAME"), n_shown = 0;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "ho:", list_options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        return verb_help();
                case 'o':
                        if (parse_output_format(optarg, &fmt) < 0)
                                return verb_usage();
                        break;
                case ARG_NAMES:
                        names_only = true;
                        break;
                case ARG_LIMIT:
                case ARG_OFFSET:
                        if (safe_atou64(optarg, c == ARG_LIMIT ? &limit : &offset) < 0)
                                return usage_error("--%s expects a number, got '%s'",
                                                   c == ARG_LIMIT ? "limit" : "offset", optarg);
                        break;
                case ARG_ALL_WS:
                        break; /* one host, one workspace */
                default:
                        return verb_usage();
                }
        if (optind < argc)
                return usage_error("provider list takes no arguments, got '%s'", argv[optind]);
        r = provider_list_names(&names);
        if (r < 0)
                return log_error_errno(r, "Cannot list providers: %m");

        if (fmt == OUTPUT_JSON)
                arr = json_object_new_array();
        else if (fmt == OUTPUT_TABLE && !names_only) {
                if (!names || offset >= strv_length(names)) {
                        printf("No providers.\n");
                        return EXIT_SUCCESS;
                }
                STRV_FOREACH(n, names)
                        wn = MAX(wn, strlen(*n));
                printf("%-*s  %-9s  %-30s  %s\n", (int) wn, "NAME", "TYPE", "CREDENTIAL_KEYS",
                       "CONFIG_KEYS");
        }
        for (size_t i = offset; names && i < strv_length(names) && n_shown < limit; i++, n_shown++) {
                _cleanup_(provider_file_done) ProviderFile p = { .type = _PROVIDER_TYPE_INVALID };
                _cleanup_(diag_list_done) DiagList d = {};
                _cleanup_strv_free_ char **creds = NULL;
                _cleanup_free_ char *ck = NULL, *cfg = NULL;
                int creds_r;

                if (names_only && fmt == OUTPUT_TABLE) {
                        printf("%s\n", names[i]);
                        continue;
                }
                r = provider_file_load(names[i], &p, &d);
                if (r < 0) {
                        log_diag_list(&d);
                        if (d.n_items == 0)
                                log_warning_errno(r, "warning: cannot read provider '%s': %m", names[i]);
                        if (fmt == OUTPUT_TABLE)
                                printf("%-*s  %-9s  %-30s  %s\n", (int) wn, names[i], "<invalid>", "-", "-");
                        continue;
                }
                if (fmt == OUTPUT_JSON) {
                        creds_r = credentials_load(names[i], &creds);
                        json_object_array_add(arr, provider_to_json(&p, creds, creds_r));
                        credentials_erase(creds);
                        continue;
                }
                if (fmt == OUTPUT_YAML) {
                        _cleanup_free_ char *text = NULL;
                        if (provider_file_format(&p, &text) < 0)
                                return log_oom();
                        const char *body = text;
                        /* one document per provider: its name first, without the file's comment header */
                        while (body[0] == '#' && strchr(body, '\n'))
                                body = strchr(body, '\n') + 1;
                        printf("---\nname: %s\n%s", p.name, body);
                        continue;
                }
                {
                        char *buf = NULL;
                        size_t sz = 0;
                        FILE *f = open_memstream(&buf, &sz);
                        if (!f)
                                return log_oom();
                        STRV_FOREACH(k, p.credential_keys)
                                fprintf(f, "%s%s", k == p.credential_keys ? "" : ",", *k);
                        fclose(f);
                        ck = buf;
                        buf = NULL;
                        sz = 0;
                        f = open_memstream(&buf, &sz);
                        if (!f)
                                return log_oom();
                        STRV_FOREACH(e, p.config)
                                fprintf(f, "%s%.*s", e == p.config ? "" : ",", (int) strcspn(*e, "="), *e);
                        fclose(f);
                        cfg = buf;
                }
                printf("%-*s  %-9s  %-30s  %s\n", (int) wn, p.name, provider_type_to_string(p.type),
                       isempty(ck) ? "-" : ck, isempty(cfg) ? "-" : cfg);
        }
        if (arr) {
                printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
                                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(arr);
        }
        /* an invalid provider is listed as <invalid>, with the reasons on stderr: the listing succeeded */
        return EXIT_SUCCESS;
}

static int provider_delete(int argc, char *argv[]) {
        int ret = EXIT_SUCCESS;

        if (!verb_parse_no_options(argc, argv, &ret))
                return ret;
        if (optind >= argc)
                return usage_error("provider delete needs at least one NAME");
        for (int i = optind; i < argc; i++)
                if (check_provider_name(argv[i]) < 0)
                        return verb_usage();

        for (int i = optind; i < argc; i++) {
                _cleanup_free_ char *rel = NULL, *path = NULL, *crel = NULL, *cpath = NULL;
                _cleanup_strv_free_ char **routes = NULL;
                bool had_yaml, had_creds;

                if (provider_routes_using(argv[i], &routes) >= 0 && routes) {
                        log_error(
                                "provider '%s' is used by inference route '%s'; point the route elsewhere first "
                                "('openshell inference set --provider OTHER ...' or 'openshell inference delete')",
                                argv[i], routes[0]);
                        ret = EXIT_FAILURE;
                        continue;
                }
                if (asprintf_safe(&rel, "providers/%s.yaml", argv[i]) < 0 ||
                    openshell_etc_path(rel, &path) < 0 ||
                    asprintf_safe(&crel, "credentials/%s", argv[i]) < 0 ||
                    openshell_etc_path(crel, &cpath) < 0)
                        return log_oom();
                had_yaml = unlink(path) >= 0;
                if (!had_yaml && errno != ENOENT) {
                        log_error_errno(errno, "Cannot delete %s: %m%s", path,
                                        errno == EACCES ? " (run as root)" : "");
                        ret = EXIT_FAILURE;
                        continue;
                }
                had_creds = unlink(cpath) >= 0;
                if (!had_creds && errno != ENOENT) {
                        log_error_errno(errno, "Cannot delete %s: %m%s", cpath,
                                        errno == EACCES ? " (run as root)" : "");
                        ret = EXIT_FAILURE;
                        continue;
                }
                if (!had_yaml && !had_creds) {
                        log_error("provider '%s' not found", argv[i]);
                        ret = EXIT_FAILURE;
                        continue;
                }
                printf("Deleted provider '%s'.\n", argv[i]);
        }
        return ret;
}

#define PROVIDER_FILE "/etc/openshell/providers/NAME.yaml"
#define CREDENTIALS_FILE "/etc/openshell/credentials/NAME"

static const Verb provider_create_verb = {
        .name = "create",
        .summary = "Create a provider (type, credentials, config)",
        .synopsis = "--name NAME --type openai|nvidia|anthropic [--credential KEY[=VALUE]]... [--from-existing] "
                    "[--config KEY=VALUE]...",
        .description =
                "Create a provider: a model server the inference broker can route inference.local to. Its type and "
                "configuration go to " PROVIDER_FILE " (mode 0644, no secrets), its secrets to " CREDENTIALS_FILE
                " (mode 0600, root only), which openshell-broker.service loads with LoadCredential= when it "
                "starts. Secrets are written first, so a provider file never names credentials that are not "
                "there, and no command ever prints one. If an inference route already names NAME, a running "
                "broker is restarted (new secrets) or reloaded.\n"
                "\n"
                "The types: openai, any OpenAI-compatible server (vLLM, Ollama, NIM, LM Studio, ...), base URL "
                "OPENAI_BASE_URL (default https://api.openai.com/v1), key OPENAI_API_KEY; nvidia, NVIDIA_BASE_URL "
                "(default https://integrate.api.nvidia.com/v1), NVIDIA_API_KEY; anthropic, ANTHROPIC_BASE_URL "
                "(default https://api.anthropic.com/v1), ANTHROPIC_API_KEY. Upstream's other types (claude, "
                "codex, github, ...) are refused with 'not supported yet'.\n",
        .options = (const VerbItem[]) {
                { "--name NAME",
                  "The provider's name: 1 to 63 letters, digits, '-' and '_', starting with a letter or digit." },
                { "--type TYPE", "openai, nvidia or anthropic, as above." },
                { "--credential KEY[=VALUE]",
                  "A secret, e.g. OPENAI_API_KEY=sk-... (repeatable); a bare KEY takes its value from openshell's "
                  "environment, which keeps it out of the shell's history. The broker sends the type's key to the "
                  "server; another KEY only when that one is absent (with a warning here)." },
                { "--from-existing", "Take the type's key (OPENAI_API_KEY, ...) from openshell's environment." },
                { "--config KEY=VALUE",
                  "A setting (repeatable): the type's base URL, an http:// or https:// URL such as "
                  "OPENAI_BASE_URL=http://127.0.0.1:8000/v1. Default: the type's public endpoint. A misspelt key "
                  "is an error with a suggestion; a key the type does not use is stored with a warning." },
                { "--from-gcloud-adc, --runtime-credentials, --global-profile",
                  "Upstream's; refused: not supported yet." },
                {},
        },
        .exit_status = (const VerbItem[]) {
                { "0", "The provider was created." },
                { "1", "A provider NAME exists already, or a file cannot be written (run as root)." },
                { "2", "Usage error: an unknown option or type, no --name or --type, a malformed NAME, URL or "
                       "KEY=VALUE, a key to take from the environment that is not set there." },
                {},
        },
        .examples = "A local vLLM, which needs no key; NVIDIA's cloud, the key from the environment:\n"
                    "\n"
                    "  openshell provider create --name vllm --type openai \\\n"
                    "      --config OPENAI_BASE_URL=http://127.0.0.1:8000/v1\n"
                    "  NVIDIA_API_KEY=nvapi-... openshell provider create --name nvidia --type nvidia \\\n"
                    "      --credential NVIDIA_API_KEY\n",
        .see_also = "openshell provider update, openshell inference set, systemd.exec(5) (LoadCredential=), "
                    "systemctl restart openshell-broker.service.\n",
        .run = provider_create,
        .getopt = create_options,
};

static const Verb provider_update_verb = {
        .name = "update",
        .summary = "Change a provider's credentials or config",
        .synopsis = "NAME [--credential KEY[=VALUE]]... [--from-existing] [--config KEY=VALUE]...",
        .description =
                "Change the provider NAME: each --credential and --config replaces the value of its key, and an "
                "empty VALUE removes the key; keys not given stay, and the type cannot change. If an inference "
                "route uses the provider, a running openshell-broker.service is restarted when credentials "
                "changed (it loads secrets only when it starts), else reloaded.\n",
        .options = (const VerbItem[]) {
                { "--credential KEY[=VALUE]",
                  "Set a secret (repeatable); a bare KEY takes its value from openshell's environment, "
                  "KEY= removes it." },
                { "--from-existing", "Take the type's key (OPENAI_API_KEY, ...) from openshell's environment." },
                { "--config KEY=VALUE", "Set a setting such as the base URL (repeatable); KEY= removes it." },
                { "--credential-expires-at KEY=TIME", "Upstream's; refused: not supported yet." },
                {},
        },
        .exit_status = (const VerbItem[]) {
                { "0", "The provider was changed." },
                { "1", "There is no such provider, its files are invalid, or they cannot be read or written (run "
                       "as root)." },
                { "2", "Usage error: an unknown option, no NAME, none of --credential, --config and "
                       "--from-existing, a malformed value." },
                {},
        },
        .examples = "  openshell provider update vllm --config OPENAI_BASE_URL=http://gpu1:8000/v1\n"
                    "  openshell provider update nvidia --credential NVIDIA_API_KEY=nvapi-...\n",
        .see_also = "openshell provider get, systemctl restart openshell-broker.service.\n",
        .run = provider_update,
        .getopt = update_options,
};

#define OUTPUT_OPTION_TERM "-o, --output table|json|yaml"

static const Verb provider_get_verb = {
        .name = "get",
        .summary = "Show a provider (never its secrets)",
        .synopsis = "NAME [-o table|json|yaml]",
        .description =
                "Show the provider NAME: its type, its base URL (or the type's default), the names of its "
                "credentials and whether each is set (<set>, <missing>, or <unknown> when not run as root), its "
                "config, and the inference routes that use it. Secrets are never printed.\n",
        .options = (const VerbItem[]) {
                { OUTPUT_OPTION_TERM,
                  "table (the default) for people; json, one object with the same content; yaml, the provider "
                  "file " PROVIDER_FILE " as it is stored." },
                {},
        },
        .exit_status = (const VerbItem[]) {
                { "0", "The provider was shown." },
                { "1", "There is no such provider, or its file is invalid or cannot be read." },
                VERB_EXIT_USAGE,
                {},
        },
        .examples = "  openshell provider get vllm\n"
                    "  openshell provider get vllm -o json\n",
        .see_also = "cat " PROVIDER_FILE "; openshell provider list.\n",
        .run = provider_get,
        .getopt = get_options,
};

static const Verb provider_list_verb = {
        .name = "list",
        .summary = "List providers",
        .synopsis = "[--names] [--limit N] [--offset N] [-o table|json|yaml]",
        .description =
                "List the providers in /etc/openshell/providers, sorted by name, with upstream's columns NAME TYPE "
                "CREDENTIAL_KEYS CONFIG_KEYS, or 'No providers.'. A provider whose file is invalid is listed as "
                "<invalid>, with its problems on standard error.\n",
        .options = (const VerbItem[]) {
                { OUTPUT_OPTION_TERM,
                  "table (the default); json, an array of the objects 'provider get -o json' prints; yaml, one "
                  "document per provider." },
                { "--names", "Only the names, one per line (table output)." },
                { "--limit N", "Show at most N providers. Default: 100." },
                { "--offset N", "Skip the first N providers. Default: 0." },
                { "--all-workspaces", "Upstream's; accepted and ignored: a machine is one workspace." },
                {},
        },
        .exit_status = (const VerbItem[]) {
                { "0", "The list was printed, invalid providers included." },
                { "1", "/etc/openshell/providers cannot be read." },
                VERB_EXIT_USAGE,
                {},
        },
        .examples = "  openshell provider list\n"
                    "  openshell provider list --names\n",
        .see_also = "ls /etc/openshell/providers; openshell provider get.\n",
        .run = provider_list,
        .getopt = list_options,
};

static const Verb provider_delete_verb = {
        .name = "delete",
        .summary = "Delete providers and their credentials",
        .synopsis = "NAME...",
        .description =
                "Delete each provider NAME: its file " PROVIDER_FILE " and its secrets " CREDENTIALS_FILE ". A "
                "provider an inference route uses is refused: point the route elsewhere first ('openshell "
                "inference set --provider OTHER ...') or remove it ('openshell inference delete'). The broker needs "
                "no notice, since no route uses a deleted provider.\n",
        .exit_status = (const VerbItem[]) {
                { "0", "Every provider was deleted." },
                { "1", "A provider does not exist, is in use, or cannot be deleted (run as root); the others were "
                       "deleted." },
                VERB_EXIT_USAGE,
                {},
        },
        .examples = "  openshell provider delete vllm\n",
        .see_also = "openshell inference get.\n",
        .run = provider_delete,
        .getopt = verb_no_options,
};

const Verb provider_verb = {
        .name = "provider",
        .summary = "Create and manage inference providers (credentials, endpoints)",
        .description =
                "Providers are the model servers the inference broker routes to: openshell-broker.socket, on "
                "/run/openshell/broker.sock (and inside sandboxes, once they have their egress proxy, at "
                "https://inference.local/v1). A provider's "
                "type and configuration are in " PROVIDER_FILE ", its secrets root-only in " CREDENTIALS_FILE
                ", which only the broker reads (LoadCredential=): no sandbox ever sees them. 'openshell inference "
                "set' chooses the provider and model requests go to.\n",
        .see_also = "openshell inference --help, systemctl status openshell-broker.socket, journalctl -u "
                    "openshell-broker.\n",
        .verbs = (const Verb *const[]) {
                &provider_create_verb,
                &provider_list_verb,
                &provider_get_verb,
                &provider_update_verb,
                &provider_delete_verb,
                NULL,
        },
};
