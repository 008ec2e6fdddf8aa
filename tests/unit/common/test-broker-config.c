/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "broker-config.h"
#include "check-util.h"
#include "fs-util.h"
#include "string-util.h"

static char tmpdir[] = "/tmp/test-broker-config-XXXXXX";

static void write_file(const char *rel, const char *content) {
        _cleanup_free_ char *path = NULL;
        FILE *f;

        ck_assert_int_ge(asprintf_safe(&path, "%s/%s", tmpdir, rel), 0);
        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fputs(content, f);
        fclose(f);
}

static void setup(void) {
        _cleanup_free_ char *p = NULL, *c = NULL;

        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        ck_assert_int_ge(asprintf_safe(&p, "%s/providers", tmpdir), 0);
        ck_assert_int_ge(asprintf_safe(&c, "%s/credentials", tmpdir), 0);
        ck_assert_int_eq(mkdir(p, 0755), 0);
        ck_assert_int_eq(mkdir(c, 0700), 0);
}

static void teardown(void) {
        _cleanup_close_ int tmp = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        ck_assert_int_ge(tmp, 0);
        ck_assert_int_eq(rm_rf_at(tmp, tmpdir + strlen("/tmp/")), 0);
        strcpy(tmpdir, "/tmp/test-broker-config-XXXXXX");
}

/* Loads tmpdir; returns r and the diagnostics joined by newlines. */
static int load(BrokerConfig **ret, char **ret_diags, const char *prefix) {
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_free_ char *creds = NULL, *all = NULL;
        int r;

        ck_assert_int_ge(asprintf_safe(&creds, "%s/credentials", tmpdir), 0);
        r = broker_config_load(tmpdir, creds, prefix, ret, &d);
        all = strdup("");
        for (size_t i = 0; i < d.n_items; i++) {
                _cleanup_free_ char *line = NULL;
                char *n;

                ck_assert_int_ge(diag_format(&d.items[i], &line), 0);
                ck_assert_int_ge(asprintf_safe(&n, "%s%s\n", all, line + strlen(tmpdir) + 1), 0);
                free(all);
                all = n;
        }
        *ret_diags = TAKE_PTR(all);
        return r;
}

START_TEST(test_no_file_no_routes) {
        _cleanup_(broker_config_unrefp) BrokerConfig *c = NULL;
        _cleanup_free_ char *d = NULL;

        ck_assert_int_eq(load(&c, &d, ""), 0);
        ck_assert_uint_eq(c->n_routes, 0);
        ck_assert_ptr_null(broker_config_find_route(c, "inference.local"));
        ck_assert_str_eq(d, "");
}
END_TEST

START_TEST(test_full_config) {
        _cleanup_(broker_config_unrefp) BrokerConfig *c = NULL;
        _cleanup_free_ char *d = NULL;
        const Route *r;

        write_file("providers/local.yaml", "type: openai\nconfig:\n  OPENAI_BASE_URL: http://127.0.0.1:8000/v1/\n"
                                           "credential_keys: [OPENAI_API_KEY]\n");
        write_file("providers/claude.yaml", "type: anthropic\n");
        write_file("credentials/local", "# comment\nOTHER=1\nOPENAI_API_KEY=sk-local=x\n");
        write_file("inference.yaml",
                   "routes:\n"
                   "  - provider: local\n"
                   "    model: llama-3\n"
                   "    timeout_seconds: 30\n"
                   "    max_concurrency_per_sandbox: 4\n"
                   "    backends:\n"
                   "      - {url: 'http://127.0.0.1:8001/v1', weight: 2}\n"
                   "      - http://127.0.0.1:8002/v1/\n"
                   "  - name: claude\n"
                   "    provider: claude\n"
                   "    model: claude-haiku\n");
        ck_assert_int_eq(load(&c, &d, ""), 0);
        ck_assert_str_eq(d, "");
        ck_assert_uint_eq(c->n_routes, 2);

        r = broker_config_find_route(c, "inference.local");
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r->model, "llama-3");
        ck_assert_uint_eq(r->timeout_sec, 30);
        ck_assert_uint_eq(r->max_concurrency_per_sandbox, 4);
        ck_assert_str_eq(r->provider->name, "local");
        ck_assert_int_eq(r->provider->type, PROVIDER_OPENAI);
        ck_assert_str_eq(r->provider->base_url, "http://127.0.0.1:8000/v1");
        ck_assert_str_eq(r->provider->api_key, "sk-local=x");
        ck_assert_uint_eq(r->n_backends, 2);
        ck_assert_str_eq(r->backends[0].url, "http://127.0.0.1:8001/v1");
        ck_assert_uint_eq(r->backends[0].weight, 2);
        ck_assert_str_eq(r->backends[1].url, "http://127.0.0.1:8002/v1");
        ck_assert_uint_eq(r->backends[1].weight, 1);

        r = broker_config_find_route(c, "claude");
        ck_assert_ptr_nonnull(r);
        ck_assert_uint_eq(r->timeout_sec, BROKER_TIMEOUT_DEFAULT_SEC);
        ck_assert_uint_eq(r->max_concurrency_per_sandbox, 0);
        ck_assert_ptr_null(r->provider->api_key);
        /* No backends: the provider's (default) base URL. */
        ck_assert_uint_eq(r->n_backends, 1);
        ck_assert_str_eq(r->backends[0].url, "https://api.anthropic.com/v1");
}
END_TEST

START_TEST(test_systemd_credential_prefix) {
        _cleanup_(broker_config_unrefp) BrokerConfig *c = NULL;
        _cleanup_free_ char *d = NULL;

        write_file("providers/nim.yaml", "type: nvidia\n");
        write_file("credentials/providers_nim", "NVIDIA_API_KEY=nv-1\n");
        write_file("credentials/nim", "NVIDIA_API_KEY=wrong\n");
        write_file("inference.yaml", "routes: [{provider: nim, model: m}]\n");
        ck_assert_int_eq(load(&c, &d, BROKER_CREDENTIAL_PREFIX), 0);
        ck_assert_str_eq(c->routes[0].provider->api_key, "nv-1");
        ck_assert_str_eq(c->routes[0].backends[0].url, "https://integrate.api.nvidia.com/v1");
}
END_TEST

START_TEST(test_missing_credentials_warns) {
        _cleanup_(broker_config_unrefp) BrokerConfig *c = NULL;
        _cleanup_free_ char *d = NULL;

        write_file("providers/p.yaml", "type: openai\ncredential_keys: [OPENAI_API_KEY]\n");
        write_file("inference.yaml", "routes: [{provider: p, model: m}]\n");
        ck_assert_int_eq(load(&c, &d, ""), 0);
        ck_assert_ptr_nonnull(strstr(d, "warning: provider 'p' lists credential keys but"));
        ck_assert_ptr_null(c->routes[0].provider->api_key);
}
END_TEST

static void expect_invalid(const char *inference, const char *provider, const char *expected) {
        _cleanup_(broker_config_unrefp) BrokerConfig *c = NULL;
        BrokerConfig *untouched = (BrokerConfig *) 0x1;
        _cleanup_free_ char *d = NULL;

        if (provider)
                write_file("providers/p.yaml", provider);
        write_file("inference.yaml", inference);
        ck_assert_int_eq(load(&untouched, &d, ""), -EBADMSG);
        ck_assert_ptr_eq(untouched, (BrokerConfig *) 0x1);
        ck_assert_msg(strstr(d, expected), "expected '%s' in:\n%s", expected, d);
}

START_TEST(test_errors) {
        expect_invalid("routes: [{provider: p, model: m, modl: x}]\n", "type: openai\n",
                       "inference.yaml:1:34: routes[0].modl: unknown key (did you mean 'model'?)");
        expect_invalid("routes: [{provider: p}]\n", "type: openai\n",
                       "inference.yaml:1:10: routes[0]: missing required key 'model'");
        expect_invalid("routes: [{model: m}]\n", NULL, "routes[0]: missing required key 'provider'");
        expect_invalid("routes: [{provider: nope, model: m}]\n", NULL,
                       "inference.yaml:1:21: routes[0].provider: unknown provider 'nope' (no ");
        expect_invalid("routes: [{provider: ../x, model: m}]\n", NULL,
                       "routes[0].provider: invalid provider name '../x'");
        expect_invalid("routes: [{provider: p, model: m}]\n", "type: bedrock\n",
                       "providers/p.yaml:1:7: type: unknown provider type 'bedrock' "
                       "(inference routing supports: openai, nvidia, anthropic)");
        expect_invalid("routes: [{provider: p, model: m}]\n", "type: openai\nconfig: {OPENAI_BASE_URL: ftp://x}\n",
                       "providers/p.yaml:2:27: config.OPENAI_BASE_URL: 'ftp://x' is not an http:// or https:// URL");
        expect_invalid("routes: [{provider: p, model: m}]\n", "typ: openai\n", "unknown key (did you mean 'type'?)");
        expect_invalid("routes: [{provider: p, model: m}]\n", "config: {}\n", "missing required key 'type'");
        expect_invalid("routes: [{provider: p, model: m}]\n", "type: openai\nname: q\n",
                       "name: 'q' does not match the file name 'p'");
        expect_invalid("routes: [{provider: p, model: m, timeout_seconds: 0}]\n", "type: openai\n",
                       "routes[0].timeout_seconds: expected a number of seconds from 1 to 3600, got a number");
        expect_invalid("routes: [{provider: p, model: m, backends: []}]\n", "type: openai\n",
                       "routes[0].backends: expected a non-empty list");
        expect_invalid("routes: [{provider: p, model: m, backends: [{url: 'unix:/x'}]}]\n", "type: openai\n",
                       "routes[0].backends[0].url: 'unix:/x' is not an http:// or https:// URL");
        expect_invalid("routes: [{provider: p, model: m, backends: [{url: 'http://a', weight: 0}]}]\n",
                       "type: openai\n",
                       "routes[0].backends[0].weight: expected an integer from 1 to 1000");
        expect_invalid("routes: [{provider: p, model: m}, {provider: p, model: n}]\n", "type: openai\n",
                       "routes[1]: duplicate route name 'inference.local'");
        expect_invalid("route: []\n", NULL, "route: unknown key (did you mean 'routes'?)");
        expect_invalid("routes: {a: 1}\n", NULL, "routes: expected a list of routes, got a mapping");
        expect_invalid("- a\n", NULL, "expected a mapping with 'routes:', got a list");
}
END_TEST

START_TEST(test_credentials_parse) {
        char *v = (char *) "untouched";

        ck_assert_int_eq(credentials_parse("A=1\nB=two=2\r\n", 13, "B", &v), 0);
        ck_assert_str_eq(v, "two=2");
        free(v);
        ck_assert_int_eq(credentials_parse("A=1\n", 4, "B", &v), 0);
        ck_assert_ptr_null(v);
        v = (char *) "untouched";
        ck_assert_int_eq(credentials_parse("A=1\njunk\n", 9, "A", &v), -EBADMSG);
        ck_assert_int_eq(credentials_parse("=x\n", 3, "A", &v), -EBADMSG);
        ck_assert_str_eq(v, "untouched");
        /* The last assignment wins, as in a shell. */
        ck_assert_int_eq(credentials_parse("K=1\nK=2", 7, "K", &v), 0);
        ck_assert_str_eq(v, "2");
        free(v);
}
END_TEST

START_TEST(test_provider_types) {
        ck_assert_int_eq(provider_type_from_string("openai"), PROVIDER_OPENAI);
        ck_assert_int_eq(provider_type_from_string("OpenAI"), _PROVIDER_TYPE_INVALID);
        ck_assert_str_eq(provider_type_api_key(PROVIDER_ANTHROPIC), "ANTHROPIC_API_KEY");
        ck_assert_str_eq(provider_type_base_url_key(PROVIDER_NVIDIA), "NVIDIA_BASE_URL");
        ck_assert_str_eq(provider_type_default_base_url(PROVIDER_OPENAI), "https://api.openai.com/v1");
        ck_assert(provider_name_is_valid("my-vllm_2.a"));
        ck_assert(!provider_name_is_valid("../x"));
        ck_assert(!provider_name_is_valid(".hidden"));
        ck_assert(!provider_name_is_valid(""));
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("broker-config");
        TCase *tc = tcase_create("config");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_no_file_no_routes);
        tcase_add_test(tc, test_full_config);
        tcase_add_test(tc, test_systemd_credential_prefix);
        tcase_add_test(tc, test_missing_credentials_warns);
        tcase_add_test(tc, test_errors);
        tcase_add_test(tc, test_credentials_parse);
        tcase_add_test(tc, test_provider_types);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}
