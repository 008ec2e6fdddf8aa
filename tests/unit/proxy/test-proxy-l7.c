/* SPDX-License-Identifier: Apache-2.0 */
/* The pure parts of inspection: upstream's inference.local pattern table, tunnel classification, the
 * path and query a request is decided on, the authority check, and the journal text of L7 and
 * inference decisions. */
#include <string.h>

#include "check-util.h"
#include "proxy-decide.h"
#include "proxy-inference.h"
#include "proxy-l7.h"
#include "string-util.h"

START_TEST(test_inference_match) {
        ck_assert_str_eq(proxy_inference_match("POST", "/v1/chat/completions"), "openai_chat_completions");
        ck_assert_str_eq(proxy_inference_match("POST", "/v1/completions"), "openai_completions");
        ck_assert_str_eq(proxy_inference_match("POST", "/v1/responses"), "openai_responses");
        ck_assert_str_eq(proxy_inference_match("POST", "/v1/embeddings"), "openai_embeddings");
        ck_assert_str_eq(proxy_inference_match("POST", "/v1/messages"), "anthropic_messages");
        ck_assert_str_eq(proxy_inference_match("GET", "/v1/models"), "model_discovery");
        ck_assert_str_eq(proxy_inference_match("GET", "/v1/models/gpt-4o"), "model_discovery");
        ck_assert_str_eq(proxy_inference_match("POST", "/model/anthropic.claude-v2/invoke"),
                         "aws_bedrock_invoke");

        ck_assert_ptr_null(proxy_inference_match("GET", "/v1/chat/completions"));   /* method */
        ck_assert_ptr_null(proxy_inference_match("POST", "/v1/chat/completions/")); /* exact path */
        ck_assert_ptr_null(proxy_inference_match("POST", "/v1/models"));
        ck_assert_ptr_null(proxy_inference_match("GET", "/v1/models/"));
        ck_assert_ptr_null(proxy_inference_match("POST", "/model//invoke"));    /* empty segment */
        ck_assert_ptr_null(proxy_inference_match("POST", "/model/a/b/invoke")); /* one segment only */
        ck_assert_ptr_null(proxy_inference_match("POST", "/model/a/invoke/x"));
        ck_assert_ptr_null(proxy_inference_match("post", "/v1/messages")); /* methods are case-sensitive */
        ck_assert_ptr_null(proxy_inference_match("POST", "/v1/secrets"));
        ck_assert_ptr_null(proxy_inference_match(NULL, "/v1/messages"));
        ck_assert_ptr_null(proxy_inference_match("POST", NULL));
}
END_TEST

START_TEST(test_tunnel_classify) {
        ck_assert_int_eq(proxy_tunnel_classify("\x16\x03\x01", 3, false), PROXY_TUNNEL_TLS);
        ck_assert_int_eq(proxy_tunnel_classify("GET / HTTP/1.1\r\n", 16, false), PROXY_TUNNEL_HTTP1);
        ck_assert_int_eq(proxy_tunnel_classify("GE", 2, false), -EAGAIN);
        ck_assert_int_eq(proxy_tunnel_classify("GE", 2, true), PROXY_TUNNEL_OTHER);
        ck_assert_int_eq(proxy_tunnel_classify("PR", 2, false), -EAGAIN);
        ck_assert_int_eq(proxy_tunnel_classify("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24, false),
                         PROXY_TUNNEL_H2C);
        ck_assert_int_eq(proxy_tunnel_classify("PRI ", 4, false), PROXY_TUNNEL_H2C);
        ck_assert_int_eq(proxy_tunnel_classify("SSH-2.0-OpenSSH\r\n", 17, false), PROXY_TUNNEL_OTHER);
        ck_assert_int_eq(proxy_tunnel_classify("\0\0\0", 3, false), PROXY_TUNNEL_OTHER);
        ck_assert_int_eq(proxy_tunnel_classify(" GET", 4, false), PROXY_TUNNEL_OTHER);
        ck_assert_int_eq(proxy_tunnel_classify("", 0, false), -EAGAIN);
        ck_assert_int_eq(proxy_tunnel_classify("", 0, true), PROXY_TUNNEL_OTHER);
        ck_assert_int_eq(proxy_tunnel_classify("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 36, false),
                         PROXY_TUNNEL_OTHER);
}
END_TEST

static void check_path(const char *target, bool slash_ok, int want, const char *path, const char *query) {
        _cleanup_free_ char *p = NULL, *q = NULL;

        ck_assert_int_eq(proxy_l7_path(target, slash_ok, &p, &q), want);
        if (want < 0) {
                ck_assert_ptr_null(p);
                return;
        }
        ck_assert_str_eq(p, path);
        if (query)
                ck_assert_str_eq(q, query);
        else
                ck_assert_ptr_null(q);
}

START_TEST(test_path) {
        check_path("/a/b", false, 0, "/a/b", NULL);
        check_path("/a%20b?x=1&y", false, 0, "/a b", "x=1&y");
        check_path("/repos/%7Euser", false, 0, "/repos/~user", NULL);
        check_path("/", false, 0, "/", NULL);
        check_path("/a?", false, 0, "/a", "");
        check_path("/@scope%2Fpkg", false, -EPERM, NULL, NULL);
        check_path("/@scope%2fpkg", true, 0, "/@scope%2fpkg", NULL);
        check_path("/a/../admin", false, -EINVAL, NULL, NULL);
        check_path("/a/%2E%2E/admin", false, -EINVAL, NULL, NULL);
        check_path("/a/./b", false, -EINVAL, NULL, NULL);
        check_path("/a/..", false, -EINVAL, NULL, NULL);
        check_path("/a/...", false, 0, "/a/...", NULL); /* not a dot segment */
        check_path("/a%00b", false, -EINVAL, NULL, NULL);
        check_path("/a%0Ab", false, -EINVAL, NULL, NULL);
        check_path("/a%zz", false, -EINVAL, NULL, NULL);
        check_path("/a%2", false, -EINVAL, NULL, NULL);
        check_path("/a%", false, -EINVAL, NULL, NULL);
        check_path("a", false, -EINVAL, NULL, NULL);
        check_path("*", false, -EINVAL, NULL, NULL);
}
END_TEST

START_TEST(test_query) {
        L7QueryParam *q = NULL;
        size_t n = 99;
        char many[PROXY_L7_QUERY_MAX * 4 + 8] = "";

        ck_assert_int_eq(proxy_l7_query_parse(NULL, &q, &n), 0);
        ck_assert_uint_eq(n, 0);
        ck_assert_int_eq(proxy_l7_query_parse("q=a+b%21&flag&&lang=en&q=2", &q, &n), 0);
        ck_assert_uint_eq(n, 4);
        ck_assert_str_eq(q[0].name, "q");
        ck_assert_str_eq(q[0].value, "a b!");
        ck_assert_str_eq(q[1].name, "flag");
        ck_assert_str_eq(q[1].value, "");
        ck_assert_str_eq(q[2].name, "lang");
        ck_assert_str_eq(q[3].value, "2");
        proxy_l7_query_free(q, n);

        q = NULL;
        n = 99;
        ck_assert_int_eq(proxy_l7_query_parse("a=%G0", &q, &n), -EINVAL);
        ck_assert_ptr_null(q);
        ck_assert_uint_eq(n, 99);
        for (unsigned i = 0; i <= PROXY_L7_QUERY_MAX; i++)
                strcat(many, "a=1&");
        ck_assert_int_eq(proxy_l7_query_parse(many, &q, &n), -E2BIG);
        ck_assert_ptr_null(q);
}
END_TEST

START_TEST(test_authority) {
        ck_assert(proxy_l7_authority_matches("api.example.com", "api.example.com", 443, 443));
        ck_assert(proxy_l7_authority_matches("API.example.com:443", "api.example.com", 443, 443));
        ck_assert(proxy_l7_authority_matches("10.0.0.1:8443", "10.0.0.1", 8443, 443));
        ck_assert(proxy_l7_authority_matches("[2001:db8::1]:8443", "2001:db8::1", 8443, 443));
        ck_assert(!proxy_l7_authority_matches("10.0.0.1", "10.0.0.1", 8443, 443)); /* 443 is meant */
        ck_assert(!proxy_l7_authority_matches("evil.example.com", "api.example.com", 443, 443));
        ck_assert(!proxy_l7_authority_matches("api.example.com:80", "api.example.com", 443, 443));
        ck_assert(!proxy_l7_authority_matches("user@api.example.com", "api.example.com", 443, 443));
        ck_assert(!proxy_l7_authority_matches("", "api.example.com", 443, 443));
        ck_assert(!proxy_l7_authority_matches(NULL, "api.example.com", 443, 443));
}
END_TEST

START_TEST(test_messages) {
        _cleanup_free_ char *m1 = NULL, *m2 = NULL, *m3 = NULL, *json = NULL;
        _cleanup_strv_free_ char **f = NULL;
        ProxyEvent deny = {
                .forward = true,
                .method = "DELETE",
                .url = "http://api.example.com/repos/x?token=1",
                .decision = PROXY_DENY,
                .engine = PROXY_ENGINE_L7,
                .binary = "/usr/bin/curl",
                .pid = 7,
                .host = "api.example.com",
                .port = 443,
                .rule = "github",
                .reason = "DELETE /repos/x not permitted by policy",
        };
        ProxyEvent audit = deny, inf = {
                .forward = true,
                .method = "POST",
                .url = "http://inference.local/v1/chat/completions",
                .decision = PROXY_INSPECT_INFERENCE,
                .engine = PROXY_ENGINE_INFERENCE,
                .host = "inference.local",
                .port = 443,
                .status = 200,
        };

        audit.decision = PROXY_AUDIT;
        ck_assert_int_eq(proxy_event_message(&deny, &m1), 0);
        ck_assert_str_eq(m1, "HTTP:DELETE [MED] DENIED /usr/bin/curl(7) -> DELETE http://api.example.com/repos/x "
                             "[policy:github engine:l7] [reason:DELETE /repos/x not permitted by policy]");
        ck_assert_int_eq(proxy_event_message(&audit, &m2), 0);
        ck_assert_str_eq(m2, "HTTP:DELETE [MED] AUDITED /usr/bin/curl(7) -> DELETE http://api.example.com/repos/x "
                             "[policy:github engine:l7] [reason:DELETE /repos/x not permitted by policy]");
        ck_assert_int_eq(proxy_event_message(&inf, &m3), 0);
        ck_assert_str_eq(m3, "HTTP:POST [INFO] ROUTED - -> POST http://inference.local/v1/chat/completions "
                             "[policy:- engine:inference] [status:200]");
        ck_assert_int_eq(proxy_event_fields(&inf, "sb", &f), 0);
        ck_assert(strv_contains(f, "OPENSHELL_DECISION=inspect_for_inference"));
        ck_assert(strv_contains(f, "OPENSHELL_STATUS=200"));
        ck_assert(strv_contains(f, "OPENSHELL_URL=http://inference.local/v1/chat/completions"));
        ck_assert(strv_contains(f, "OPENSHELL_ENGINE=inference"));

        ck_assert_int_eq(proxy_json_body_l7("DELETE http://api.example.com/repos/x not permitted by policy",
                                            "DELETE /repos/x not permitted by policy", "DELETE",
                                            "/repos/\"x", &json),
                         0);
        ck_assert_str_eq(json,
                         "{\"error\":\"policy_denied\",\"detail\":\"DELETE http://api.example.com/repos/x not "
                         "permitted by policy\",\"reason\":\"DELETE /repos/x not permitted by policy\","
                         "\"method\":\"DELETE\",\"path\":\"/repos/\\\"x\"}");
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("proxy-l7");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_inference_match);
        tcase_add_test(tc, test_tunnel_classify);
        tcase_add_test(tc, test_path);
        tcase_add_test(tc, test_query);
        tcase_add_test(tc, test_authority);
        tcase_add_test(tc, test_messages);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}
