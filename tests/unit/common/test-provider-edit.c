/* SPDX-License-Identifier: Apache-2.0 */
/* What `openshell provider create|update` change (lib/common/provider-edit.c): names, types, the
 * --credential and --config options, applying them to a provider and its credentials, and which
 * routes use a provider. Every refusal carries its message; nothing is written on failure. */

#include <check.h>
#include <string.h>

#include "check-util.h"
#include "inference-files.h"
#include "provider-edit.h"
#include "sandbox-name.h"
#include "string-util.h"

static char root[] = "/tmp/openshell-test-provider-edit-XXXXXX";

static void setup(void) {
        ck_assert_ptr_nonnull(mkdtemp(root));
        ck_assert_int_eq(setenv("OPENSHELL_ROOT_DIR", root, 1), 0);
        ck_assert_int_eq(unsetenv("OPENAI_API_KEY"), 0);
}

static void teardown(void) {
        _cleanup_free_ char *cmd = NULL;
        ck_assert_int_ge(asprintf_safe(&cmd, "rm -rf '%s'", root), 0);
        (void) !system(cmd);
        strcpy(root, "/tmp/openshell-test-provider-edit-XXXXXX");
}

/* r is the expected error and the message *error contains want; *error is freed and reset. */
static void expect_refused(int r, int expected, char **error, const char *want) {
        _cleanup_free_ char *e = TAKE_PTR(*error);

        ck_assert_int_eq(r, expected);
        ck_assert_ptr_nonnull(e);
        ck_assert_msg(strstr(e, want), "'%s' not in '%s'", want, e);
}

START_TEST(test_name_check) {
        char long_name[SANDBOX_NAME_MAX + 2], *error = NULL;

        ck_assert_int_eq(provider_name_check("local-vllm", &error), 0);
        ck_assert_int_eq(provider_name_check("a", &error), 0);
        ck_assert_ptr_null(error);
        expect_refused(provider_name_check("", &error), -EINVAL, &error, "must not be empty");
        expect_refused(provider_name_check("../x", &error), -EINVAL, &error, "invalid provider name '../x'");
        expect_refused(provider_name_check("-x", &error), -EINVAL, &error, "starting with a letter");
        memset(long_name, 'a', sizeof long_name - 1);
        long_name[sizeof long_name - 1] = 0;
        expect_refused(provider_name_check(long_name, &error), -EINVAL, &error, "is too long");
}
END_TEST

START_TEST(test_type_parse) {
        ProviderType t = _PROVIDER_TYPE_INVALID;
        char *error = NULL;

        ck_assert_int_eq(provider_type_parse("openai", &t, &error), 0);
        ck_assert_int_eq(t, PROVIDER_OPENAI);
        ck_assert_int_eq(provider_type_parse("anthropic", &t, &error), 0);
        ck_assert_int_eq(t, PROVIDER_ANTHROPIC);
        ck_assert_ptr_null(error);

        t = PROVIDER_NVIDIA; /* unchanged on failure */
        expect_refused(provider_type_parse("github", &t, &error), -EOPNOTSUPP, &error, "not supported yet");
        expect_refused(provider_type_parse("opneai", &t, &error), -EINVAL, &error, "did you mean 'openai'");
        expect_refused(provider_type_parse("zzz", &t, &error), -EINVAL, &error,
                       "supported: openai, nvidia, anthropic");
        ck_assert_int_eq(t, PROVIDER_NVIDIA);

        ck_assert_str_eq(provider_type_config_keys(PROVIDER_NVIDIA)[0], "NVIDIA_BASE_URL");
        ck_assert_ptr_null(provider_type_config_keys(_PROVIDER_TYPE_INVALID));
}
END_TEST

START_TEST(test_add_credential) {
        _cleanup_(provider_edit_done) ProviderEdit e = {};
        char *error = NULL;

        ck_assert_int_eq(provider_edit_add_credential(&e, "OPENAI_API_KEY=sk-1", false, &error), 0);
        ck_assert_str_eq(kv_get(e.credentials, "OPENAI_API_KEY"), "sk-1");
        expect_refused(provider_edit_add_credential(&e, "OPENAI_API_KEY=sk-2", false, &error), -EINVAL,
                       &error, "given twice");
        ck_assert_str_eq(kv_get(e.credentials, "OPENAI_API_KEY"), "sk-1");
        expect_refused(provider_edit_add_credential(&e, "X=", false, &error), -EINVAL, &error,
                       "empty value");
        ck_assert_int_eq(provider_edit_add_credential(&e, "X=", true, &error), 0); /* update: removes X */
        ck_assert_str_eq(kv_get(e.credentials, "X"), "");
        expect_refused(provider_edit_add_credential(&e, "1BAD=v", false, &error), -EINVAL, &error,
                       "--credential: ");

        /* a bare KEY comes from the environment, on one line */
        expect_refused(provider_edit_add_credential(&e, "FROM_ENV", false, &error), -EINVAL, &error,
                       "FROM_ENV is not set in the environment");
        ck_assert_int_eq(setenv("FROM_ENV", "two\nlines", 1), 0);
        expect_refused(provider_edit_add_credential(&e, "FROM_ENV", false, &error), -EINVAL, &error,
                       "single line");
        ck_assert_int_eq(setenv("FROM_ENV", "secret", 1), 0);
        ck_assert_int_eq(provider_edit_add_credential(&e, "FROM_ENV", false, &error), 0);
        ck_assert_str_eq(kv_get(e.credentials, "FROM_ENV"), "secret");
        ck_assert_int_eq(unsetenv("FROM_ENV"), 0);
        ck_assert_ptr_null(error);
}
END_TEST

START_TEST(test_add_config) {
        _cleanup_(provider_edit_done) ProviderEdit e = {};
        char *error = NULL;

        ck_assert_int_eq(provider_edit_add_config(&e, "OPENAI_BASE_URL=http://127.0.0.1:8000/v1/", false, &error), 0);
        ck_assert_str_eq(kv_get(e.config, "OPENAI_BASE_URL"), "http://127.0.0.1:8000/v1"); /* normalized */
        expect_refused(provider_edit_add_config(&e, "OPENAI_BASE_URL=http://x/v1", false, &error), -EINVAL,
                       &error, "given twice");
        expect_refused(provider_edit_add_config(&e, "NVIDIA_BASE_URL=localhost:8000", false, &error), -EINVAL,
                       &error, "--config NVIDIA_BASE_URL: ");
        expect_refused(provider_edit_add_config(&e, "OTHER", false, &error), -EINVAL, &error, "--config: ");
        expect_refused(provider_edit_add_config(&e, "OTHER=", false, &error), -EINVAL, &error, "empty value");
        ck_assert_int_eq(provider_edit_add_config(&e, "OTHER=", true, &error), 0);
        ck_assert_ptr_null(error);
}
END_TEST

START_TEST(test_apply) {
        _cleanup_(provider_file_done) ProviderFile p = { .type = PROVIDER_OPENAI };
        _cleanup_(provider_edit_done) ProviderEdit e = {};
        _cleanup_strv_free_ char **creds = NULL, **warnings = NULL;
        char *error = NULL;

        ck_assert_int_eq(provider_edit_add_credential(&e, "OPENAI_API_KEY=sk-1", false, &error), 0);
        ck_assert_int_eq(provider_edit_add_credential(&e, "OTHER_KEY=o", false, &error), 0);
        ck_assert_int_eq(provider_edit_add_config(&e, "OPENAI_BASE_URL=http://h:1/v1", false, &error), 0);
        ck_assert_int_eq(provider_edit_add_config(&e, "EXTRA=1", false, &error), 0);
        ck_assert_int_eq(provider_edit_apply(&e, &p, &creds, &warnings, &error), 0);
        ck_assert_ptr_null(error);
        ck_assert_str_eq(kv_get(p.config, "OPENAI_BASE_URL"), "http://h:1/v1");
        ck_assert_str_eq(kv_get(p.config, "EXTRA"), "1");
        ck_assert_str_eq(kv_get(creds, "OPENAI_API_KEY"), "sk-1");
        ck_assert_int_eq(strv_length(p.credential_keys), 2);
        ck_assert(strv_contains(p.credential_keys, "OTHER_KEY"));
        /* one warning for the unused config key, one for the credential the broker does not inject */
        ck_assert_int_eq(strv_length(warnings), 2);
        ck_assert_ptr_nonnull(strstr(warnings[0], "--config EXTRA: not used by openai providers"));
        ck_assert_ptr_nonnull(strstr(warnings[1], "--credential OTHER_KEY: the broker injects OPENAI_API_KEY"));

        /* an update: "KEY=" removes the key; credential_keys follow the credentials */
        provider_edit_done(&e);
        warnings = strv_free(warnings);
        ck_assert_int_eq(provider_edit_add_credential(&e, "OTHER_KEY=", true, &error), 0);
        ck_assert_int_eq(provider_edit_add_config(&e, "EXTRA=", true, &error), 0);
        ck_assert_int_eq(provider_edit_apply(&e, &p, &creds, &warnings, &error), 0);
        ck_assert_ptr_null(kv_get(p.config, "EXTRA"));
        ck_assert_ptr_null(kv_get(creds, "OTHER_KEY"));
        ck_assert_int_eq(strv_length(p.credential_keys), 1);
        ck_assert_str_eq(p.credential_keys[0], "OPENAI_API_KEY");

        credentials_erase(creds);
        ck_assert_str_eq(creds[0], "");
}
END_TEST

START_TEST(test_apply_refused) {
        _cleanup_(provider_file_done) ProviderFile p = { .type = PROVIDER_NVIDIA };
        _cleanup_(provider_edit_done) ProviderEdit e = {};
        _cleanup_strv_free_ char **creds = NULL, **warnings = NULL;
        char *error = NULL;

        /* a misspelt key of the type is an error, and nothing is changed */
        ck_assert_int_eq(provider_edit_add_config(&e, "NVIDIA_BASEURL=http://x/v1", false, &error), 0);
        expect_refused(provider_edit_apply(&e, &p, &creds, &warnings, &error), -EINVAL, &error,
                       "did you mean 'NVIDIA_BASE_URL'");
        ck_assert_ptr_null(p.config);
        ck_assert_ptr_null(creds);

        /* --from-existing takes the type's key from the environment, unless --credential gives it */
        provider_edit_done(&e);
        e.from_existing = true;
        expect_refused(provider_edit_apply(&e, &p, &creds, &warnings, &error), -EINVAL, &error,
                       "--from-existing: NVIDIA_API_KEY is not set");
        ck_assert_int_eq(setenv("NVIDIA_API_KEY", "nvapi-env", 1), 0);
        ck_assert_int_eq(provider_edit_apply(&e, &p, &creds, &warnings, &error), 0);
        ck_assert_str_eq(kv_get(creds, "NVIDIA_API_KEY"), "nvapi-env");
        ck_assert_int_eq(provider_edit_add_credential(&e, "NVIDIA_API_KEY=nvapi-arg", false, &error), 0);
        ck_assert_int_eq(provider_edit_apply(&e, &p, &creds, &warnings, &error), 0);
        ck_assert_str_eq(kv_get(creds, "NVIDIA_API_KEY"), "nvapi-arg");
        ck_assert_int_eq(unsetenv("NVIDIA_API_KEY"), 0);
        ck_assert_ptr_null(warnings);
}
END_TEST

START_TEST(test_routes_using) {
        _cleanup_(inference_file_done) InferenceFile f = {};
        _cleanup_strv_free_ char **routes = NULL;
        const char *names[] = { INFERENCE_ROUTE_DEFAULT, INFERENCE_ROUTE_SYSTEM }, *providers[] = { "a", "b" };

        ck_assert_int_eq(provider_routes_using("a", &routes), 0); /* no inference.yaml: no routes */
        ck_assert_ptr_null(routes);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                InferenceRoute r = { .name = strdup(names[i]), .provider = strdup(providers[i]), .model = strdup("m") };
                ck_assert_int_eq(inference_file_put(&f, &r), 0);
        }
        ck_assert_int_eq(inference_file_save(&f), 0);
        ck_assert_int_eq(provider_routes_using("b", &routes), 0);
        ck_assert_int_eq(strv_length(routes), 1);
        ck_assert_str_eq(routes[0], INFERENCE_ROUTE_SYSTEM);
        routes = strv_free(routes);
        ck_assert_int_eq(provider_routes_using("c", &routes), 0);
        ck_assert_ptr_null(routes);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("provider-edit");
        TCase *tc = tcase_create("core");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_name_check);
        tcase_add_test(tc, test_type_parse);
        tcase_add_test(tc, test_add_credential);
        tcase_add_test(tc, test_add_config);
        tcase_add_test(tc, test_apply);
        tcase_add_test(tc, test_apply_refused);
        tcase_add_test(tc, test_routes_using);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}
