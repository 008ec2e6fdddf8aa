/* SPDX-License-Identifier: Apache-2.0 */
/* `openshell provider ...` and `openshell inference ...` as a user runs them: exit statuses (0 ok, 1
 * failed, 2 usage), messages, files written under a temporary OPENSHELL_ROOT_DIR, secrets never
 * printed, and `inference set` verifying against tests/fake/openshell-fake-gpu. */

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "check-util.h"
#include "cli-run.h"
#include "string-util.h"

#define SECRET "sk-very-secret-0123456789"

static char root[] = "/tmp/openshell-test-cli-XXXXXX";
static pid_t fake_pid = -1;
static unsigned fake_port;

typedef CliRun Run;

/* Runs the CLI with the arguments (NULL-terminated) and extra environment "K=V" strings. */
static void run_env(Run *r, char *const *env_extra, ...) {
        char *args[64] = {};
        size_t n = 0;
        va_list ap;

        va_start(ap, env_extra);
        for (char *a; (a = va_arg(ap, char *)) && n < ELEMENTSOF(args) - 1;)
                args[n++] = a;
        va_end(ap);
        args[n] = NULL;
        cli_run(r, root, env_extra, args);
        ck_assert_msg(!strstr(r->out, SECRET) && !strstr(r->err, SECRET), "secret printed by %s %s %s", args[0],
                      strna(args[1]), strna(args[2]));
}

#define RUN(r, ...) run_env(r, NULL, __VA_ARGS__, NULL)

static void expect(const Run *r, int status, const char *in_err) {
        ck_assert_msg(r->status == status, "exit %d, expected %d\nstdout: %s\nstderr: %s", r->status, status,
                      r->out, r->err);
        if (in_err)
                ck_assert_msg(strstr(r->err, in_err) || strstr(r->out, in_err), "'%s' not in output:\n%s%s",
                              in_err, r->out, r->err);
}

static void start_fake(const char *extra) {
        const char *fake = secure_getenv("OPENSHELL_FAKE_GPU");

        /* meson always sets it: without the mock server these tests would test nothing */
        ck_assert_msg(fake && access(fake, X_OK) == 0, "OPENSHELL_FAKE_GPU (%s) is not an executable", strna(fake));
        fake_gpu_start(SECRET, extra, &fake_pid, &fake_port);
}

static void setup(void) {
        ck_assert_ptr_nonnull(mkdtemp(root));
}

static void teardown(void) {
        char cmd[512];
        fake_gpu_stop(&fake_pid);
        fake_port = 0;
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        (void) !system(cmd);
        strcpy(root, "/tmp/openshell-test-cli-XXXXXX");
}

static void read_file(const char *rel, char *buf, size_t size) {
        char p[512];
        int fd;
        snprintf(p, sizeof p, "%s/etc/openshell/%s", root, rel);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        ck_assert_msg(fd >= 0, "cannot open %s", p);
        cli_read_fd(fd, buf, size);
        close(fd);
}

START_TEST(test_usage_errors) {
        Run r;

        RUN(&r, "provider");
        expect(&r, 2, "'openshell provider' needs a command");
        RUN(&r, "provider", "crate");
        expect(&r, 2, "did you mean 'create'");
        RUN(&r, "provider", "create", "--type", "openai");
        expect(&r, 2, "--name");
        RUN(&r, "provider", "create", "--name", "p");
        expect(&r, 2, "--type");
        RUN(&r, "provider", "create", "--name", "p", "--type", "opneai");
        expect(&r, 2, "did you mean 'openai'");
        RUN(&r, "provider", "create", "--name", "p", "--type", "github");
        expect(&r, 2, "not supported yet");
        RUN(&r, "provider", "create", "--name", "../x", "--type", "openai");
        expect(&r, 2, "invalid provider name");
        RUN(&r, "provider", "create", "--name", "p", "--type", "openai", "--config", "OPENAI_BASE_URL");
        expect(&r, 2, "KEY=VALUE");
        RUN(&r, "provider", "create", "--name", "p", "--type", "openai", "--config",
            "OPENAI_BASE_URL=localhost:8000");
        expect(&r, 2, "http://");
        RUN(&r, "provider", "create", "--name", "p", "--type", "nvidia", "--config",
            "NVIDIA_BASEURL=http://x/v1");
        expect(&r, 2, "did you mean 'NVIDIA_BASE_URL'");
        RUN(&r, "provider", "create", "--name", "p", "--type", "openai", "--credential", "OPENAI_API_KEY=");
        expect(&r, 2, "empty value");
        RUN(&r, "provider", "create", "--name", "p", "--type", "openai", "--credential", "A=1",
            "--credential", "A=2");
        expect(&r, 2, "given twice");
        RUN(&r, "provider", "create", "--name", "p", "--type", "openai", "--from-gcloud-adc");
        expect(&r, 2, "not supported yet");
        RUN(&r, "provider", "get");
        expect(&r, 2, "NAME");
        RUN(&r, "provider", "get", "nope");
        expect(&r, 1, "not found");
        RUN(&r, "provider", "list", "-o", "jsn");
        expect(&r, 2, "did you mean 'json'");
        RUN(&r, "inference", "set", "--provider", "p");
        expect(&r, 2, "--model");
        RUN(&r, "inference", "set", "--provider", "p", "--model", "m", "--timeout", "0");
        expect(&r, 2, "--timeout");
        RUN(&r, "inference", "set", "--provider", "p", "--model", "m", "--backend", "tcp://x");
        expect(&r, 2, "http://");
        RUN(&r, "inference", "set", "--provider", "nope", "--model", "m");
        expect(&r, 1, "provider 'nope' not found");
        RUN(&r, "inference", "update", "--model", "m");
        expect(&r, 1, "no inference route");
        RUN(&r, "inference", "delete");
        expect(&r, 1, "no inference route");
        RUN(&r, "inference", "get");
        expect(&r, 0, "Not configured");
}
END_TEST

START_TEST(test_provider_lifecycle) {
        char buf[8192], envs[] = "MY_KEY_FROM_ENV=" SECRET "-env", *env[] = { envs, NULL };
        struct stat st;
        char p[512];
        Run r;

        RUN(&r, "provider", "create", "--name", "local-vllm", "--type", "openai", "--credential",
            "OPENAI_API_KEY=" SECRET, "--config", "OPENAI_BASE_URL=http://127.0.0.1:8000/v1/");
        expect(&r, 0, "Created provider 'local-vllm'");

        read_file("providers/local-vllm.yaml", buf, sizeof buf);
        ck_assert_ptr_nonnull(strstr(buf, "type: openai"));
        ck_assert_ptr_nonnull(
                strstr(buf, "OPENAI_BASE_URL: \"http://127.0.0.1:8000/v1\"")); /* slash dropped */
        ck_assert_ptr_nonnull(strstr(buf, "- OPENAI_API_KEY"));
        ck_assert_ptr_null(strstr(buf, SECRET));
        read_file("credentials/local-vllm", buf, sizeof buf);
        ck_assert_str_eq(buf, "OPENAI_API_KEY=" SECRET "\n");
        snprintf(p, sizeof p, "%s/etc/openshell/credentials/local-vllm", root);
        ck_assert_int_eq(stat(p, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0600);
        snprintf(p, sizeof p, "%s/etc/openshell/credentials", root);
        ck_assert_int_eq(stat(p, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0700);

        RUN(&r, "provider", "create", "--name", "local-vllm", "--type", "openai");
        expect(&r, 1, "already exists");

        RUN(&r, "provider", "get", "local-vllm");
        expect(&r, 0, "OPENAI_API_KEY: <set>");
        RUN(&r, "provider", "get", "local-vllm", "-o", "json");
        expect(&r, 0, "\"OPENAI_API_KEY\":\"set\"");
        RUN(&r, "provider", "get", "local-vllm", "-o", "yaml");
        expect(&r, 0, "type: openai");
        RUN(&r, "provider", "list");
        expect(&r, 0, "local-vllm");
        ck_assert_ptr_nonnull(strstr(r.out, "NAME"));
        RUN(&r, "provider", "list", "-o", "json");
        expect(&r, 0, "\"name\":\"local-vllm\"");
        RUN(&r, "provider", "list", "--names");
        expect(&r, 0, NULL);
        ck_assert_str_eq(r.out, "local-vllm\n");

        /* bare KEY: from the environment */
        run_env(&r, env, "provider", "create", "--name", "nv", "--type", "nvidia", "--credential",
                "MY_KEY_FROM_ENV", NULL);
        expect(&r, 0, "MY_KEY_FROM_ENV is used only when NVIDIA_API_KEY is absent");
        read_file("credentials/nv", buf, sizeof buf);
        ck_assert_str_eq(buf, "MY_KEY_FROM_ENV=" SECRET "-env\n");

        /* update: add one, remove one, change config */
        RUN(&r, "provider", "update", "nv", "--credential", "NVIDIA_API_KEY=" SECRET "-2", "--credential",
            "MY_KEY_FROM_ENV=", "--config", "NVIDIA_BASE_URL=https://nim.example/v1");
        expect(&r, 0, "Updated provider 'nv'");
        read_file("credentials/nv", buf, sizeof buf);
        ck_assert_str_eq(buf, "NVIDIA_API_KEY=" SECRET "-2\n");
        read_file("providers/nv.yaml", buf, sizeof buf);
        ck_assert_ptr_nonnull(strstr(buf, "- NVIDIA_API_KEY"));
        ck_assert_ptr_null(strstr(buf, "MY_KEY_FROM_ENV"));
        ck_assert_ptr_nonnull(strstr(buf, "https://nim.example/v1"));
        RUN(&r, "provider", "update", "nv");
        expect(&r, 2, "needs --credential");
        RUN(&r, "provider", "update", "nope", "--config", "NVIDIA_BASE_URL=http://x");
        expect(&r, 1, "not found");

        /* a provider without credentials (a local server needs none) */
        RUN(&r, "provider", "create", "--name", "anth", "--type", "anthropic");
        expect(&r, 0, "Created provider 'anth'");
        RUN(&r, "provider", "get", "anth");
        expect(&r, 0, "https://api.anthropic.com/v1 (default)");

        RUN(&r, "provider", "delete", "nv", "anth");
        expect(&r, 0, "Deleted provider 'anth'");
        snprintf(p, sizeof p, "%s/etc/openshell/credentials/nv", root);
        ck_assert_int_eq(access(p, F_OK), -1);
        RUN(&r, "provider", "delete", "nv");
        expect(&r, 1, "not found");
}
END_TEST

START_TEST(test_inference_set_verify) {
        char url[128], url_cfg[160], bad_url[160], buf[8192];
        Run r;

        start_fake(NULL);
        snprintf(url, sizeof url, "http://127.0.0.1:%u/v1", fake_port);
        snprintf(url_cfg, sizeof url_cfg, "OPENAI_BASE_URL=%s", url);
        RUN(&r, "provider", "create", "--name", "gpu", "--type", "openai", "--credential",
            "OPENAI_API_KEY=" SECRET, "--config", url_cfg);
        expect(&r, 0, NULL);

        RUN(&r, "inference", "set", "--provider", "gpu", "--model", "served-model");
        expect(&r, 0, "Gateway inference configured");
        ck_assert_ptr_nonnull(strstr(r.out, "Model:    served-model"));
        read_file("inference.yaml", buf, sizeof buf);
        ck_assert_ptr_nonnull(strstr(buf, "name: inference.local"));
        ck_assert_ptr_nonnull(strstr(buf, "provider: gpu"));
        ck_assert_ptr_nonnull(strstr(buf, "model: served-model"));
        ck_assert_ptr_nonnull(strstr(buf, "timeout_seconds: 60"));

        RUN(&r, "inference", "get");
        expect(&r, 0, "Provider: gpu");
        ck_assert_ptr_nonnull(strstr(r.out, "Timeout:  60s"));
        RUN(&r, "inference", "get", "-o", "json");
        expect(&r, 0, "\"model\":\"served-model\"");

        /* the troubleshooting cases: model not found, credential refused, server down, timeout */
        RUN(&r, "inference", "set", "--provider", "gpu", "--model", "other-model");
        expect(&r, 1, "Model 'other-model' not found");
        ck_assert_ptr_nonnull(strstr(r.err, "--no-verify"));
        read_file("inference.yaml", buf, sizeof buf);
        ck_assert_ptr_nonnull(strstr(buf, "model: served-model")); /* unchanged */

        RUN(&r, "inference", "set", "--provider", "gpu", "--model", "other-model", "--no-verify",
            "--timeout", "90");
        expect(&r, 0, "not verified");
        read_file("inference.yaml", buf, sizeof buf);
        ck_assert_ptr_nonnull(strstr(buf, "model: other-model"));
        ck_assert_ptr_nonnull(strstr(buf, "timeout_seconds: 90"));

        RUN(&r, "provider", "update", "gpu", "--credential", "OPENAI_API_KEY=wrong");
        expect(&r, 0, NULL);
        RUN(&r, "inference", "set", "--provider", "gpu", "--model", "served-model");
        expect(&r, 1, "refused the credential");
        RUN(&r, "provider", "update", "gpu", "--credential", "OPENAI_API_KEY=" SECRET);
        expect(&r, 0, NULL);

        RUN(&r, "inference", "set", "--provider", "gpu", "--model", "served-model", "--backend", url,
            "--backend", "http://127.0.0.1:1/v1,weight=2");
        expect(&r, 1, "Is the server running at http://127.0.0.1:1/v1?");

        RUN(&r, "inference", "set", "--provider", "gpu", "--model", "served-model", "--backend", url,
            "--backend", "http://127.0.0.1:1/v1,weight=2", "--no-verify");
        expect(&r, 0, NULL);
        read_file("inference.yaml", buf, sizeof buf);
        ck_assert_ptr_nonnull(strstr(buf, "weight: 2"));
        RUN(&r, "inference", "update", "--model", "served-model", "--clear-backends");
        expect(&r, 0, NULL);
        read_file("inference.yaml", buf, sizeof buf);
        ck_assert_ptr_null(strstr(buf, "backends"));

        snprintf(bad_url, sizeof bad_url, "OPENAI_BASE_URL=http://127.0.0.1:%u", fake_port);
        RUN(&r, "provider", "update", "gpu", "--config", bad_url);
        expect(&r, 0, NULL);
        RUN(&r, "inference", "set", "--provider", "gpu", "--model", "served-model");
        expect(&r, 1, "usually ends in /v1");
        RUN(&r, "provider", "update", "gpu", "--config", url_cfg);
        expect(&r, 0, NULL);

        {
                /* a slow server: the verify request times out */
                char cfg[256];
                snprintf(
                        cfg, sizeof cfg,
                        "curl -s -o /dev/null -X POST http://127.0.0.1:%u/fake/config -d '{\"latency_ms\":3000}'",
                        fake_port);
                ck_assert_int_eq(system(cfg), 0);
                RUN(&r, "inference", "set", "--provider", "gpu", "--model", "served-model", "--timeout",
                    "1");
                expect(&r, 1, "within 1s");
                snprintf(
                        cfg, sizeof cfg,
                        "curl -s -o /dev/null -X POST http://127.0.0.1:%u/fake/config -d '{\"latency_ms\":0,\"fail\":\"503\"}'",
                        fake_port);
                ck_assert_int_eq(system(cfg), 0);
                RUN(&r, "inference", "set", "--provider", "gpu", "--model", "served-model");
                expect(&r, 1, "HTTP 503");
        }

        RUN(&r, "provider", "delete", "gpu");
        expect(&r, 1, "used by inference route 'inference.local'");
        RUN(&r, "inference", "delete");
        expect(&r, 0, "Deleted inference route 'inference.local'");
        RUN(&r, "provider", "delete", "gpu");
        expect(&r, 0, NULL);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("openshell-cli");
        TCase *tc = tcase_create("core");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_usage_errors);
        tcase_add_test(tc, test_provider_lifecycle);
        tcase_add_test(tc, test_inference_set_verify);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        if (access(cli_path(), X_OK) < 0) {
                fprintf(stderr, "OPENSHELL_CLI (%s) not executable, skipping\n", cli_path());
                return EXIT_TEST_SKIP;
        }
        return check_run_suite(suite());
}
