/* SPDX-License-Identifier: Apache-2.0 */
/* The files of `openshell provider` and `openshell inference` (lib/common/inference-files.c):
 * quoting, KEY=VALUE parsing, URL checks, and round trips through a temporary OPENSHELL_ROOT_DIR,
 * read back with the broker's own parser. */

#include <check.h>
#include <string.h>
#include <sys/stat.h>

#include "broker-config.h"
#include "check-util.h"
#include "fileio.h"
#include "inference-files.h"
#include "string-util.h"
#include "yaml-node.h"

static char root[] = "/tmp/openshell-test-files-XXXXXX";

static void setup(void) {
        ck_assert_ptr_nonnull(mkdtemp(root));
        ck_assert_int_eq(setenv("OPENSHELL_ROOT_DIR", root, 1), 0);
}

static void teardown(void) {
        _cleanup_free_ char *cmd = NULL;
        ck_assert_int_ge(asprintf_safe(&cmd, "rm -rf '%s'", root), 0);
        (void) !system(cmd);
        strcpy(root, "/tmp/openshell-test-files-XXXXXX");
}

static char *etc(const char *rel) {
        char *p = NULL;
        ck_assert_int_ge(openshell_etc_path(rel, &p), 0);
        return p;
}

/* Every string, printed as a YAML scalar, reads back as itself. */
START_TEST(test_yaml_print_roundtrip) {
        static const char *const cases[] = {
                "plain",
                "meta-llama/Llama-3.1-8B-Instruct",
                "llama3:latest",
                "http://127.0.0.1:8000/v1",
                "true",
                "False",
                "null",
                "~",
                "y",
                "NO",
                "123",
                "1.5",
                "0x10",
                "-",
                "- item",
                "a: b",
                "a #b",
                "#x",
                "\"quoted\"",
                "back\\slash",
                "tab\there",
                "new\nline",
                "ctl\x01\x7f",
                "ünïcödé ✓",
                " lead",
                "trail ",
                "[x]",
                "{y}",
                "&anchor",
                "*alias",
                "!tag",
                "%dir",
                "@at",
                "`tick`",
                "|",
                ">",
                "'single'",
                ":",
                "?",
                "",
                NULL,
        };
        for (size_t i = 0; cases[i]; i++) {
                _cleanup_(yaml_node_freep) YamlNode *n = NULL;
                _cleanup_(diag_list_done) DiagList d = {};
                char *buf = NULL;
                size_t size = 0;
                FILE *f = open_memstream(&buf, &size);
                YamlNode *v;

                ck_assert_ptr_nonnull(f);
                fputs("k: ", f);
                yaml_print_string(f, cases[i]);
                fputc('\n', f);
                fclose(f);
                ck_assert_msg(yaml_load_buffer("t", buf, size, &n, &d) >= 0, "case %zu: %s", i, buf);
                v = yaml_mapping_get(n, "k");
                ck_assert_ptr_nonnull(v);
                ck_assert_msg(v->type == YAML_NODE_SCALAR && streq(v->value, cases[i]),
                              "case %zu: wrote <%s>, read <%s>", i, buf, v->value);
                /* what the broker would call a string: no plain "true"/"null" slipping through */
                if (v->plain)
                        ck_assert_msg(yaml_node_get_string(v) && !yaml_node_is_null(v), "case %zu", i);
                free(buf);
        }
}
END_TEST

START_TEST(test_parse_key_value) {
        _cleanup_free_ char *k = NULL, *v = NULL, *e = NULL;

        ck_assert_int_eq(parse_key_value("OPENAI_API_KEY=sk-1=2", false, &k, &v, &e), 0);
        ck_assert_str_eq(k, "OPENAI_API_KEY");
        ck_assert_str_eq(v, "sk-1=2");
        free(k), free(v), k = v = NULL;

        ck_assert_int_eq(parse_key_value("EMPTY=", false, &k, &v, &e), 0);
        ck_assert_str_eq(v, "");
        free(k), free(v), k = v = NULL;

        ck_assert_int_eq(parse_key_value("BARE", true, &k, &v, &e), 0);
        ck_assert_str_eq(k, "BARE");
        ck_assert_ptr_null(v);
        free(k), k = NULL;

        ck_assert_int_eq(parse_key_value("BARE", false, &k, &v, &e), -EINVAL);
        ck_assert_ptr_nonnull(strstr(e, "KEY=VALUE"));
        free(e), e = NULL;
        ck_assert_int_eq(parse_key_value("=x", false, &k, &v, &e), -EINVAL);
        free(e), e = NULL;
        ck_assert_int_eq(parse_key_value("1ABC=x", false, &k, &v, &e), -EINVAL);
        free(e), e = NULL;
        ck_assert_int_eq(parse_key_value("A-B=x", false, &k, &v, &e), -EINVAL);
        free(e), e = NULL;
        ck_assert_int_eq(parse_key_value("A B=x", false, &k, &v, &e), -EINVAL);
        free(e), e = NULL;
        /* a secret never appears in the error message */
        ck_assert_int_eq(parse_key_value("KEY=sk-secret\nmore", false, &k, &v, &e), -EINVAL);
        ck_assert_ptr_null(strstr(e, "sk-secret"));
        free(e), e = NULL;
}
END_TEST

START_TEST(test_base_url) {
        _cleanup_free_ char *u = NULL, *e = NULL;

        ck_assert_int_eq(base_url_normalize("http://127.0.0.1:8000/v1///", &u, &e), 0);
        ck_assert_str_eq(u, "http://127.0.0.1:8000/v1");
        free(u), u = NULL;
        ck_assert_int_eq(base_url_normalize("https://api.openai.com/v1", &u, &e), 0);
        free(u), u = NULL;
        static const char *const bad[] = {
                "ftp://x",         "127.0.0.1:8000",         "http://",     "http:///v1", "http://a b",
                "http://x/v1?q=1", "http://user:pw@host/v1", "http://x/\"", "",           NULL,
        };
        for (size_t i = 0; bad[i]; i++) {
                ck_assert_msg(base_url_normalize(bad[i], &u, &e) == -EINVAL, "accepted %s", bad[i]);
                ck_assert_ptr_nonnull(e);
                free(e), e = NULL;
        }
}
END_TEST

START_TEST(test_kv) {
        _cleanup_strv_free_ char **l = NULL;

        ck_assert_int_ge(kv_set(&l, "A", "1"), 0);
        ck_assert_int_ge(kv_set(&l, "B", "2"), 0);
        ck_assert_int_ge(kv_set(&l, "A", "3"), 0);
        ck_assert_str_eq(kv_get(l, "A"), "3");
        ck_assert_str_eq(kv_get(l, "B"), "2");
        ck_assert_ptr_null(kv_get(l, "AB"));
        ck_assert_int_eq(strv_length(l), 2);
        ck_assert_int_eq(kv_unset(l, "A"), 1);
        ck_assert_int_eq(kv_unset(l, "A"), 0);
        ck_assert_int_eq(strv_length(l), 1);
}
END_TEST

START_TEST(test_root_dir_prefix) {
        _cleanup_free_ char *p = etc("inference.yaml"), *d = NULL;
        ck_assert_ptr_nonnull(startswith(p, root) ? p : NULL);
        ck_assert_ptr_nonnull(endswith(p, "/etc/openshell/inference.yaml") ? p : NULL);
        ck_assert_int_eq(unsetenv("OPENSHELL_ROOT_DIR"), 0);
        ck_assert_int_ge(openshell_etc_path(NULL, &d), 0);
        ck_assert_str_eq(d, "/etc/openshell");
}
END_TEST

START_TEST(test_provider_roundtrip) {
        _cleanup_(provider_file_done) ProviderFile back = { .type = _PROVIDER_TYPE_INVALID };
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_strv_free_ char **creds = NULL, **creds_back = NULL, **names = NULL;
        _cleanup_free_ char *ypath = etc("providers/local-vllm.yaml"),
                            *cpath = etc("credentials/local-vllm"), *cdir = etc("credentials");
        ProviderFile p = { .name = (char *) "local-vllm", .type = PROVIDER_OPENAI };
        struct stat st;

        ck_assert_int_ge(kv_set(&p.config, "OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"), 0);
        ck_assert_int_ge(kv_set(&p.config, "ODD_VALUE", "true: \"x\" # y"), 0);
        ck_assert_int_ge(strv_extend(&p.credential_keys, "OPENAI_API_KEY"), 0);
        ck_assert_int_ge(kv_set(&creds, "OPENAI_API_KEY", "sk-test=with=equals"), 0);

        ck_assert_int_eq(credentials_save("local-vllm", creds), 0);
        ck_assert_int_eq(provider_file_save(&p), 0);

        ck_assert_int_eq(stat(ypath, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0644);
        ck_assert_int_eq(stat(cpath, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0600);
        ck_assert_int_eq(stat(cdir, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0700);
        if (geteuid() == 0)
                ck_assert_int_eq(st.st_uid, 0);

        ck_assert_int_eq(provider_file_load("local-vllm", &back, &d), 0);
        ck_assert_int_eq(back.type, PROVIDER_OPENAI);
        ck_assert_str_eq(kv_get(back.config, "OPENAI_BASE_URL"), "http://127.0.0.1:8000/v1");
        ck_assert_str_eq(kv_get(back.config, "ODD_VALUE"), "true: \"x\" # y");
        ck_assert_int_eq(strv_length(back.credential_keys), 1);
        ck_assert_str_eq(back.credential_keys[0], "OPENAI_API_KEY");

        ck_assert_int_eq(credentials_load("local-vllm", &creds_back), 0);
        ck_assert_str_eq(kv_get(creds_back, "OPENAI_API_KEY"), "sk-test=with=equals");

        /* the provider file never holds the secret */
        {
                char buf[4096] = "";
                FILE *f = fopen(ypath, "re");
                ck_assert_ptr_nonnull(f);
                buf[fread(buf, 1, sizeof buf - 1, f)] = 0;
                fclose(f);
                ck_assert_ptr_null(strstr(buf, "sk-test"));
        }

        ck_assert_int_eq(provider_list_names(&names), 0);
        ck_assert_int_eq(strv_length(names), 1);
        ck_assert_str_eq(names[0], "local-vllm");

        strv_free(p.config);
        strv_free(p.credential_keys);
}
END_TEST

START_TEST(test_credentials_dir_tightened) {
        _cleanup_free_ char *cdir = etc("credentials");
        _cleanup_strv_free_ char **creds = NULL;
        struct stat st;

        /* a directory someone created too open is brought back to 0700 */
        ck_assert_int_eq(system(NULL) != 0, 1);
        {
                _cleanup_free_ char *cmd = NULL;
                ck_assert_int_ge(asprintf_safe(&cmd, "mkdir -p '%s' && chmod 0755 '%s'", cdir, cdir), 0);
                ck_assert_int_eq(system(cmd), 0);
        }
        ck_assert_int_ge(kv_set(&creds, "K", "v"), 0);
        ck_assert_int_eq(credentials_save("p", creds), 0);
        ck_assert_int_eq(stat(cdir, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0700);
}
END_TEST

START_TEST(test_provider_invalid_file) {
        _cleanup_(provider_file_done) ProviderFile p = { .type = _PROVIDER_TYPE_INVALID };
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_free_ char *path = etc("providers/bad.yaml");

        ck_assert_int_eq(write_file_atomic(path, "type: openai\ncofig: {}\n", 23, 0644, WRITE_FILE_MKDIR), 0);
        ck_assert_int_eq(provider_file_load("bad", &p, &d), -EBADMSG);
        ck_assert_int_ge(d.n_errors, 1);
        ck_assert_uint_eq(d.items[0].line, 2);
        ck_assert_int_eq(provider_file_load("missing", &p, &d), -ENOENT);
        ck_assert_int_eq(provider_file_load("../etc", &p, &d), -EINVAL);
}
END_TEST

START_TEST(test_inference_roundtrip_broker_accepts) {
        _cleanup_(inference_file_done) InferenceFile f = {}, back = {};
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_(broker_config_unrefp) BrokerConfig *bc = NULL;
        _cleanup_free_ char *etcdir = etc(NULL), *creds = etc("credentials");
        _cleanup_strv_free_ char **kv = NULL;
        ProviderFile p = { .name = (char *) "gpu", .type = PROVIDER_OPENAI };
        InferenceRoute r = {}, s = {};
        const Route *br;

        ck_assert_int_ge(kv_set(&p.config, "OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"), 0);
        ck_assert_int_ge(strv_extend(&p.credential_keys, "OPENAI_API_KEY"), 0);
        ck_assert_int_ge(kv_set(&kv, "OPENAI_API_KEY", "sk-x"), 0);
        ck_assert_int_eq(provider_file_save(&p), 0);
        ck_assert_int_eq(credentials_save("gpu", kv), 0);
        strv_free(p.config);
        strv_free(p.credential_keys);

        s = (InferenceRoute) { .name = strdup("system"),
                               .provider = strdup("gpu"),
                               .model = strdup("small") };
        ck_assert_int_eq(inference_file_put(&f, &s), 0);
        r = (InferenceRoute) {
                .name = strdup("inference.local"),
                .provider = strdup("gpu"),
                .model = strdup("meta-llama/Llama-3.1-8B-Instruct"),
                .timeout_seconds = 45,
                .backends = calloc(2, sizeof(InferenceBackend)),
                .n_backends = 2,
        };
        r.backends[0] = (InferenceBackend) { .url = strdup("http://127.0.0.1:8000/v1"), .weight = 1 };
        r.backends[1] = (InferenceBackend) { .url = strdup("http://10.0.0.7:8000/v1"), .weight = 3 };
        ck_assert_int_eq(inference_file_put(&f, &r), 0);
        ck_assert_str_eq(f.routes[0].name, "inference.local"); /* the default route first */
        ck_assert_int_eq(inference_file_save(&f), 0);

        ck_assert_int_eq(inference_file_load(&back, &d), 0);
        ck_assert_int_eq(back.n_routes, 2);
        ck_assert_str_eq(back.routes[0].model, "meta-llama/Llama-3.1-8B-Instruct");
        ck_assert_int_eq(back.routes[0].timeout_seconds, 45);
        ck_assert_int_eq(back.routes[0].n_backends, 2);
        ck_assert_int_eq(back.routes[0].backends[1].weight, 3);

        /* the broker reads the same file the same way */
        ck_assert_int_eq(broker_config_load(etcdir, creds, "", &bc, &d), 0);
        br = broker_config_find_route(bc, "inference.local");
        ck_assert_ptr_nonnull(br);
        ck_assert_str_eq(br->model, "meta-llama/Llama-3.1-8B-Instruct");
        ck_assert_int_eq(br->n_backends, 2);
        ck_assert_int_eq(br->timeout_sec, 45);
        ck_assert_str_eq(br->provider->api_key, "sk-x");
        br = broker_config_find_route(bc, "system");
        ck_assert_ptr_nonnull(br);
        ck_assert_str_eq(br->backends[0].url, "http://127.0.0.1:8000/v1");

        ck_assert_int_eq(inference_file_remove(&back, "system"), 1);
        ck_assert_int_eq(inference_file_remove(&back, "system"), 0);
        ck_assert_int_eq(back.n_routes, 1);
}
END_TEST

START_TEST(test_inference_parse_errors) {
        static const struct {
                const char *text;
                unsigned line;
        } cases[] = {
                { "routes:\n  - provider: p\n    model: m\n    timout_seconds: 5\n", 4 },
                { "routes:\n  - provider: p\n", 2 },
                { "routes:\n  - provider: p\n    model: m\n    timeout_seconds: 0\n", 4 },
                { "routes:\n  - provider: p\n    model: m\n    backends: [{url: http://x, weight: 0}]\n",
                  4 },
                { "routes:\n  - provider: p\n    model: m\n    backends: [{weight: 1}]\n", 4 },
                { "route: []\n", 1 },
                { "routes: {}\n", 1 },
                { "- x\n", 1 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(inference_file_done) InferenceFile f = {};
                _cleanup_(diag_list_done) DiagList d = {};
                ck_assert_msg(inference_file_parse("inference.yaml", cases[i].text, strlen(cases[i].text),
                                                   &f, &d) == -EBADMSG,
                              "case %zu accepted", i);
                ck_assert_int_ge(d.n_errors, 1);
                ck_assert_msg(d.items[0].line == cases[i].line, "case %zu: line %u, expected %u", i,
                              d.items[0].line, cases[i].line);
        }
        {
                _cleanup_(inference_file_done) InferenceFile f = {};
                _cleanup_(diag_list_done) DiagList d = {};
                ck_assert_int_eq(inference_file_parse("e", "", 0, &f, &d), 0);
                ck_assert_int_eq(f.n_routes, 0);
        }
}
END_TEST

/* Mutated copies of a valid file: every one is either accepted or refused with diagnostics, never a
 * crash or a leak (the sanitizer build checks that); accepted ones format and parse back the same. */
START_TEST(test_inference_parse_mutations) {
        static const char valid[] = "routes:\n"
                                    "  - name: inference.local\n"
                                    "    provider: gpu\n"
                                    "    model: \"org/model:tag\"\n"
                                    "    backends:\n"
                                    "      - {url: \"http://127.0.0.1:8000/v1\", weight: 2}\n"
                                    "    timeout_seconds: 30\n";
        unsigned seed = 4;

        for (unsigned i = 0; i < 3000; i++) {
                _cleanup_(inference_file_done) InferenceFile f = {}, g = {};
                _cleanup_(diag_list_done) DiagList d = {};
                _cleanup_free_ char *text = NULL;
                char buf[sizeof valid];
                unsigned n = 1 + rand_r(&seed) % 4;
                int r;

                memcpy(buf, valid, sizeof valid);
                for (unsigned k = 0; k < n; k++)
                        buf[rand_r(&seed) % (sizeof valid - 1)] =
                                "x:-{}[]\"' \n#&*!0\x01\xff"[rand_r(&seed) % 19];
                r = inference_file_parse("m", buf, sizeof valid - 1, &f, &d);
                if (r < 0) {
                        ck_assert_int_eq(r, -EBADMSG);
                        ck_assert_int_ge(d.n_errors, 1);
                        continue;
                }
                ck_assert_int_eq(inference_file_format(&f, &text), 0);
                ck_assert_msg(inference_file_parse("m2", text, strlen(text), &g, &d) == 0,
                              "reformatted:\n%s", text);
                ck_assert_int_eq(g.n_routes, f.n_routes);
                for (size_t j = 0; j < f.n_routes; j++) {
                        ck_assert_str_eq(g.routes[j].model, f.routes[j].model);
                        ck_assert_str_eq(g.routes[j].provider, f.routes[j].provider);
                        ck_assert_int_eq(g.routes[j].n_backends, f.routes[j].n_backends);
                }
        }
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("inference-files");
        TCase *tc = tcase_create("core");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_yaml_print_roundtrip);
        tcase_add_test(tc, test_parse_key_value);
        tcase_add_test(tc, test_base_url);
        tcase_add_test(tc, test_kv);
        tcase_add_test(tc, test_root_dir_prefix);
        tcase_add_test(tc, test_provider_roundtrip);
        tcase_add_test(tc, test_credentials_dir_tightened);
        tcase_add_test(tc, test_provider_invalid_file);
        tcase_add_test(tc, test_inference_roundtrip_broker_accepts);
        tcase_add_test(tc, test_inference_parse_errors);
        tcase_add_test(tc, test_inference_parse_mutations);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}
