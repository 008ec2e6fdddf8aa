/* SPDX-License-Identifier: Apache-2.0 */
/* The backend probe of `openshell inference set|update` (tools/openshell/inference-probe.c), against
 * tests/fake/openshell-fake-gpu on loopback: each outcome, and the explanation a person gets for it. */

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check-util.h"
#include "cli-run.h"
#include "inference-probe.h"
#include "string-util.h"

#define KEY "sk-probe-test-key"

static pid_t fake_pid = -1;
static unsigned fake_port;
static char base[64];

static void start(const char *extra) {
        fake_gpu_start(KEY, extra, &fake_pid, &fake_port);
        snprintf(base, sizeof base, "http://127.0.0.1:%u/v1", fake_port);
}

static void teardown(void) {
        fake_gpu_stop(&fake_pid);
}

static InferenceProbeRequest request(ProviderType type, const char *model, const char *key) {
        return (InferenceProbeRequest) {
                .provider = "local",
                .type = type,
                .base_url = base,
                .model = model,
                .api_key = key,
                .timeout_sec = 10,
        };
}

/* Probes req; checks the outcome and HTTP status, and that the explanation contains want. */
static void expect(const InferenceProbeRequest *req, InferenceProbeOutcome outcome, long status, const char *want) {
        _cleanup_(inference_probe_result_done) InferenceProbeResult res = {};
        _cleanup_free_ char *text = NULL;

        ck_assert_int_eq(inference_probe(req, &res), 0);
        ck_assert_msg(res.outcome == outcome, "outcome %d, expected %d (HTTP %ld, %s)", res.outcome, outcome,
                      res.http_status, strna(res.transport_error));
        ck_assert_int_eq(res.http_status, status);
        ck_assert_int_eq(inference_probe_explain(req, &res, &text), 0);
        ck_assert_msg(strstr(text, want), "'%s' not in '%s'", want, text);
        if (req->api_key)
                ck_assert_msg(!strstr(text, req->api_key), "the key is in '%s'", text);
}

START_TEST(test_ok) {
        InferenceProbeRequest req;

        start(NULL);
        req = request(PROVIDER_OPENAI, "served-model", KEY);
        expect(&req, INFERENCE_PROBE_OK, 200, "Verified http://127.0.0.1:");
        /* Anthropic: POST /messages with x-api-key */
        req = request(PROVIDER_ANTHROPIC, "served-model", KEY);
        expect(&req, INFERENCE_PROBE_OK, 200, "Verified ");
}
END_TEST

START_TEST(test_credential) {
        InferenceProbeRequest req;

        start(NULL);
        req = request(PROVIDER_OPENAI, "served-model", "sk-wrong");
        expect(&req, INFERENCE_PROBE_HTTP_ERROR, 401, "refused the credential (HTTP 401");
        req = request(PROVIDER_NVIDIA, "served-model", NULL);
        expect(&req, INFERENCE_PROBE_HTTP_ERROR, 401, "--credential NVIDIA_API_KEY=...");
        req.api_key_name = "MY_KEY";
        expect(&req, INFERENCE_PROBE_HTTP_ERROR, 401, "provider 'local' has none");
        expect(&req, INFERENCE_PROBE_HTTP_ERROR, 401, "--credential MY_KEY=...");
}
END_TEST

START_TEST(test_not_found) {
        InferenceProbeRequest req;

        start(NULL);
        req = request(PROVIDER_OPENAI, "other-model", KEY);
        expect(&req, INFERENCE_PROBE_HTTP_ERROR, 404, "Model 'other-model' not found at");
        /* the base URL without /v1: the path is unknown */
        snprintf(base, sizeof base, "http://127.0.0.1:%u", fake_port);
        req = request(PROVIDER_OPENAI, "served-model", KEY);
        expect(&req, INFERENCE_PROBE_HTTP_ERROR, 404, "is the base URL right?");
}
END_TEST

START_TEST(test_server_error) {
        InferenceProbeRequest req;

        start("--fail 503");
        req = request(PROVIDER_OPENAI, "served-model", KEY);
        expect(&req, INFERENCE_PROBE_HTTP_ERROR, 503, "a server error");
}
END_TEST

START_TEST(test_reset) {
        InferenceProbeRequest req;

        start("--fail reset");
        req = request(PROVIDER_OPENAI, "served-model", KEY);
        expect(&req, INFERENCE_PROBE_CLOSED, 0, "closed the connection without a complete answer");
}
END_TEST

START_TEST(test_timeout) {
        InferenceProbeRequest req;

        /* the answer comes long after the probe gives up: the outcome, not the time, is checked */
        start("--latency 30000");
        req = request(PROVIDER_OPENAI, "served-model", KEY);
        req.timeout_sec = 1;
        expect(&req, INFERENCE_PROBE_TIMEOUT, 0, "No answer from ");
}
END_TEST

START_TEST(test_refused) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof sa;
        InferenceProbeRequest req;
        int fd;

        /* a port bound but not listening: connecting to it is refused, and nobody else can take it */
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        snprintf(base, sizeof base, "http://127.0.0.1:%u/v1", ntohs(sa.sin_port));
        req = request(PROVIDER_OPENAI, "served-model", KEY);
        expect(&req, INFERENCE_PROBE_REFUSED, 0, "--config OPENAI_BASE_URL=URL");
        close(fd);

        snprintf(base, sizeof base, "ftp://127.0.0.1:%u/v1", ntohs(sa.sin_port));
        expect(&req, INFERENCE_PROBE_BAD_URL, 0, "Invalid base URL ftp://");
}
END_TEST

START_TEST(test_invalid_request) {
        InferenceProbeResult res = { .http_status = 7 };
        InferenceProbeRequest req = request(PROVIDER_OPENAI, "served-model", NULL);

        strcpy(base, "http://127.0.0.1:1/v1");
        req.timeout_sec = 0;
        ck_assert_int_eq(inference_probe(&req, &res), -EINVAL);
        req = request(PROVIDER_OPENAI, "", NULL);
        ck_assert_int_eq(inference_probe(&req, &res), -EINVAL);
        req = request(PROVIDER_OPENAI, "m", NULL);
        req.base_url = NULL;
        ck_assert_int_eq(inference_probe(&req, &res), -EINVAL);
        ck_assert_int_eq(res.http_status, 7); /* unchanged */
}
END_TEST

START_TEST(test_server_message) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL, *f = NULL;
        char big[1000];

        a = inference_probe_server_message("{\"error\":{\"message\":\"model x does not exist\"}}");
        ck_assert_str_eq(a, "model x does not exist");
        b = inference_probe_server_message("{\"error\":\"ollama says\\nno\"}");
        ck_assert_str_eq(b, "ollama says no"); /* control characters blanked */
        c = inference_probe_server_message("{\"detail\":\"fastapi\"}");
        ck_assert_str_eq(c, "fastapi");
        d = inference_probe_server_message("plain text");
        ck_assert_str_eq(d, "plain text");
        ck_assert_ptr_null(inference_probe_server_message("{\"other\":1}"));
        ck_assert_ptr_null(inference_probe_server_message(NULL));
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = 0;
        e = inference_probe_server_message(big);
        ck_assert_int_eq(strlen(e), 300);
        f = inference_probe_server_message("{\"message\":\"top-level\"}");
        ck_assert_str_eq(f, "top-level");
}
END_TEST

int main(void) {
        Suite *s = suite_create("inference-probe");
        TCase *tc = tcase_create("fake-gpu");

        if (!secure_getenv("OPENSHELL_FAKE_GPU")) {
                fprintf(stderr, "OPENSHELL_FAKE_GPU not set, skipping\n");
                return EXIT_TEST_SKIP;
        }
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_add_test(tc, test_ok);
        tcase_add_test(tc, test_credential);
        tcase_add_test(tc, test_not_found);
        tcase_add_test(tc, test_server_error);
        tcase_add_test(tc, test_reset);
        tcase_add_test(tc, test_timeout);
        tcase_add_test(tc, test_refused);
        tcase_add_test(tc, test_invalid_request);
        tcase_add_test(tc, test_server_message);
        suite_add_tcase(s, tc);
        return check_run_suite(s);
}
