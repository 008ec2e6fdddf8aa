/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "broker-audit.h"
#include "broker-backend.h"
#include "broker-body.h"
#include "broker-caller.h"
#include "broker-endpoint.h"
#include "broker-route.h"
#include "broker-upstream.h"
#include "broker-usage.h"
#include "check-util.h"
#include "json-util.h"
#include "string-util.h"

static void parse_request(HttpParser *p, const char *s) {
        size_t consumed;

        http_parser_init(p);
        ck_assert_int_eq(http_parser_feed(p, s, strlen(s), &consumed), 1);
}

START_TEST(test_classify) {
        static const struct {
                const char *method, *path;
                int r;
                InferenceProtocol p;
        } cases[] = {
                { "POST", "/v1/chat/completions", 0, PROTOCOL_CHAT_COMPLETIONS },
                { "POST", "/v1/chat/completions?x=1", 0, PROTOCOL_CHAT_COMPLETIONS },
                { "POST", "/v1/completions", 0, PROTOCOL_COMPLETIONS },
                { "POST", "/v1/responses", 0, PROTOCOL_RESPONSES },
                { "POST", "/v1/embeddings", 0, PROTOCOL_EMBEDDINGS },
                { "POST", "/v1/messages", 0, PROTOCOL_MESSAGES },
                { "GET", "/v1/models", 0, PROTOCOL_MODELS },
                { "GET", "/v1/models/llama-3", 0, PROTOCOL_MODELS },
                { "GET", "/v1/models/a/b", -ENOENT, 0 },
                { "GET", "/v1/models/..", -ENOENT, 0 },
                { "GET", "/v1/models/", -ENOENT, 0 },
                { "GET", "/v1/chat/completions", -ENOENT, 0 },
                { "POST", "/v1/models", -ENOENT, 0 },
                { "POST", "/v1/chat/completionsX", -ENOENT, 0 },
                { "POST", "/v1/chat/completions/", -ENOENT, 0 },
                { "POST", "/v2/chat/completions", -ENOENT, 0 },
                { "PUT", "/v1/chat/completions", -ENOENT, 0 },
                { "POST", "/model/x/invoke", -ENOENT, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                InferenceProtocol p = _PROTOCOL_INVALID;
                int r = inference_classify(cases[i].method, cases[i].path, &p);

                ck_assert_msg(r == cases[i].r, "%s %s: %d", cases[i].method, cases[i].path, r);
                if (r == 0)
                        ck_assert_int_eq(p, cases[i].p);
                else
                        ck_assert_int_eq(p, _PROTOCOL_INVALID); /* untouched on failure */
        }
        ck_assert_str_eq(inference_protocol_to_string(PROTOCOL_MESSAGES), "anthropic_messages");
        ck_assert_ptr_null(inference_protocol_to_string(_PROTOCOL_MAX));
}
END_TEST

START_TEST(test_provider_supports) {
        for (InferenceProtocol p = 0; p < _PROTOCOL_MAX; p++)
                ck_assert(provider_supports(PROVIDER_OPENAI, p));
        ck_assert(!provider_supports(PROVIDER_NVIDIA, PROTOCOL_MESSAGES));
        ck_assert(provider_supports(PROVIDER_NVIDIA, PROTOCOL_EMBEDDINGS));
        ck_assert(provider_supports(PROVIDER_ANTHROPIC, PROTOCOL_MESSAGES));
        ck_assert(provider_supports(PROVIDER_ANTHROPIC, PROTOCOL_MODELS));
        ck_assert(!provider_supports(PROVIDER_ANTHROPIC, PROTOCOL_CHAT_COMPLETIONS));
        ck_assert(!provider_supports(_PROVIDER_TYPE_INVALID, PROTOCOL_MODELS));
}
END_TEST

START_TEST(test_upstream_url) {
        _cleanup_free_ char *u = NULL;
        char *untouched = (char *) "x";

        ck_assert_int_eq(upstream_url("http://127.0.0.1:8000/v1", "/v1/chat/completions?a=b", &u), 0);
        ck_assert_str_eq(u, "http://127.0.0.1:8000/v1/chat/completions?a=b");
        ck_assert_int_eq(upstream_url("http://h/v1", "/healthz", &untouched), -EINVAL);
        ck_assert_str_eq(untouched, "x");
}
END_TEST

/* The users nss-systemd would show while the proxies of sandboxes "demo", "other" and a long-named one
 * run; "broken" stands for a failing lookup. Counts calls, so a test can see none was made. */
static unsigned n_lookups;
static int fake_lookup(const char *user, uid_t *ret_uid) {
        static const struct {
                const char *user;
                uid_t uid;
        } users[] = {
                { "openshell-proxy-demo", 61000 },
                { "openshell-proxy-other", 61001 },
                { "openshell-prox_01be46c9b8906cfb", 61002 }, /* egress-with-a-rather-long-name */
        };

        n_lookups++;
        if (streq(user, "openshell-proxy-broken"))
                return -EIO;
        for (size_t i = 0; i < ELEMENTSOF(users); i++)
                if (streq(users[i].user, user)) {
                        *ret_uid = users[i].uid;
                        return 0;
                }
        return -ESRCH;
}

static void check_identity(const char *request, uid_t peer, const char *want, bool want_sandbox) {
        HttpParser p;
        char *id = NULL;
        bool sb = !want_sandbox;

        parse_request(&p, request);
        ck_assert_int_eq(broker_caller_identity(true, peer, &p.req, fake_lookup, &id, &sb), 0);
        ck_assert_str_eq(id, want);
        ck_assert(sb == want_sandbox);
        free(id);
        http_parser_done(&p);
}

START_TEST(test_identity_proxy) {
        HttpParser p;
        char *id = (char *) "untouched";
        bool sb = false;

        /* The proxy of sandbox demo (the uid of its dynamic user) speaks for demo... */
        n_lookups = 0;
        check_identity("POST /v1/responses HTTP/1.1\r\nHost: inference.local\r\nX-OpenShell-Sandbox: demo\r\n\r\n",
                       61000, "demo", true);
        ck_assert_uint_eq(n_lookups, 1);
        check_identity("GET / HTTP/1.1\r\nHost: x\r\nX-OpenShell-Sandbox: egress-with-a-rather-long-name\r\n\r\n",
                       61002, "egress-with-a-rather-long-name", true);
        /* ... and for no other sandbox, whose user has another uid or does not exist (its proxy is not
         * running), nor can a plain user or a failing lookup make a caller a sandbox. */
        check_identity("GET / HTTP/1.1\r\nHost: x\r\nX-OpenShell-Sandbox: other\r\n\r\n", 61000,
                       "host:61000", false);
        check_identity("GET / HTTP/1.1\r\nHost: x\r\nX-OpenShell-Sandbox: gone\r\n\r\n", 61000, "host:61000",
                       false);
        check_identity("GET / HTTP/1.1\r\nHost: x\r\nX-OpenShell-Sandbox: demo\r\n\r\n", 1000, "host:1000",
                       false);
        check_identity("GET / HTTP/1.1\r\nHost: x\r\nX-OpenShell-Sandbox: broken\r\n\r\n", 61000,
                       "host:61000", false);
        /* An invalid name is ignored before any lookup: it names no unit. */
        n_lookups = 0;
        check_identity("GET / HTTP/1.1\r\nHost: x\r\nX-OpenShell-Sandbox: ../demo\r\n\r\n", 61000,
                       "host:61000", false);
        check_identity("GET / HTTP/1.1\r\nHost: x\r\nX-OpenShell-Sandbox:\r\n\r\n", 61000, "host:61000",
                       false);
        ck_assert_uint_eq(n_lookups, 0);
        /* No lookup without the header, nor for root. */
        check_identity("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 61000, "host:61000", false);
        check_identity("GET / HTTP/1.1\r\nHost: x\r\nX-OpenShell-Sandbox: demo\r\n\r\n", 0, "demo", true);
        ck_assert_uint_eq(n_lookups, 0);

        /* The trusted proxy sending the header twice is refused, as root would be... */
        parse_request(
                &p,
                "GET / HTTP/1.1\r\nHost: x\r\nX-OpenShell-Sandbox: demo\r\nX-OpenShell-Sandbox: other\r\n\r\n");
        ck_assert_int_eq(broker_caller_identity(true, 61000, &p.req, fake_lookup, &id, &sb), -EBADMSG);
        ck_assert_str_eq(id, "untouched");
        /* ... while another peer's pair is just ignored, and the second value never counts. */
        ck_assert_int_eq(broker_caller_identity(true, 61001, &p.req, fake_lookup, &id, &sb), 0);
        ck_assert_str_eq(id, "host:61001");
        ck_assert(!sb);
        free(id);
        /* Without a lookup (the TCP listener, the fuzzer), only root counts. */
        ck_assert_int_eq(broker_caller_identity(true, 61000, &p.req, NULL, &id, &sb), 0);
        ck_assert_str_eq(id, "host:61000");
        free(id);
        ck_assert_int_eq(broker_caller_identity(false, 61000, &p.req, fake_lookup, &id, &sb), 0);
        ck_assert_str_eq(id, "host:tcp");
        free(id);
        http_parser_done(&p);
}
END_TEST

START_TEST(test_userdb_reply) {
        uid_t uid = 7;

        ck_assert_int_eq(broker_userdb_reply_parse("{\"parameters\":{\"record\":{\"userName\":\"openshell-proxy-demo\","
                                                   "\"uid\":61234,\"gid\":61234,\"disposition\":\"dynamic\"},"
                                                   "\"incomplete\":false}}",
                                                   "openshell-proxy-demo", &uid),
                         0);
        ck_assert_uint_eq(uid, 61234);
        uid = 7;
        ck_assert_int_eq(broker_userdb_reply_parse(
                                 "{\"error\":\"io.systemd.UserDatabase.NoRecordFound\",\"parameters\":{}}",
                                 "openshell-proxy-demo", &uid),
                         -ESRCH);
        ck_assert_int_eq(broker_userdb_reply_parse("{\"error\":\"io.systemd.UserDatabase.BadService\"}", "u",
                                                   &uid),
                         -EIO);
        /* Another name's record, a uid that is no uid, or garbage is never an answer. */
        ck_assert_int_eq(broker_userdb_reply_parse(
                                 "{\"parameters\":{\"record\":{\"userName\":\"other\",\"uid\":61234}}}",
                                 "openshell-proxy-demo", &uid),
                         -EBADMSG);
        ck_assert_int_eq(broker_userdb_reply_parse("{\"parameters\":{\"record\":{\"userName\":\"u\",\"uid\":0}}}",
                                                   "u", &uid),
                         -EBADMSG);
        ck_assert_int_eq(
                broker_userdb_reply_parse("{\"parameters\":{\"record\":{\"userName\":\"u\",\"uid\":\"5\"}}}",
                                          "u", &uid),
                -EBADMSG);
        ck_assert_int_eq(broker_userdb_reply_parse("{\"parameters\":{}}", "u", &uid), -EBADMSG);
        ck_assert_int_eq(broker_userdb_reply_parse("not json", "u", &uid), -EBADMSG);
        ck_assert_int_eq(broker_userdb_reply_parse("[1]", "u", &uid), -EBADMSG);
        ck_assert_uint_eq(uid, 7);
}
END_TEST

START_TEST(test_identity) {
        HttpParser p;
        char *id = (char *) "untouched";
        bool sb = false;

        /* A supervisor (uid 0 on the unix socket) names the sandbox. */
        parse_request(&p, "GET / HTTP/1.1\r\nHost: x\r\nX-OpenShell-Sandbox: demo-1\r\n\r\n");
        ck_assert_int_eq(broker_caller_identity(true, 0, &p.req, NULL, &id, &sb), 0);
        ck_assert_str_eq(id, "demo-1");
        ck_assert(sb);
        free(id);

        /* Anyone else's header is ignored: the caller is the host user. */
        ck_assert_int_eq(broker_caller_identity(true, 1000, &p.req, fake_lookup, &id, &sb), 0);
        ck_assert_str_eq(id, "host:1000");
        ck_assert(!sb);
        free(id);

        /* No peer credentials (TCP listener): never trusted. */
        ck_assert_int_eq(broker_caller_identity(false, 0, &p.req, fake_lookup, &id, &sb), 0);
        ck_assert_str_eq(id, "host:tcp");
        ck_assert(!sb);
        free(id);
        http_parser_done(&p);

        /* Root without the header is a host caller. */
        parse_request(&p, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        ck_assert_int_eq(broker_caller_identity(true, 0, &p.req, NULL, &id, &sb), 0);
        ck_assert_str_eq(id, "host:0");
        free(id);
        http_parser_done(&p);

        /* A supervisor sending a bad or repeated name is refused, output untouched. */
        id = (char *) "untouched";
        parse_request(&p, "GET / HTTP/1.1\r\nHost: x\r\nX-OpenShell-Sandbox: ../etc\r\n\r\n");
        ck_assert_int_eq(broker_caller_identity(true, 0, &p.req, NULL, &id, &sb), -EBADMSG);
        ck_assert_str_eq(id, "untouched");
        /* ... while from a non-root peer the same header is just ignored. */
        ck_assert_int_eq(broker_caller_identity(true, 1000, &p.req, fake_lookup, &id, &sb), 0);
        ck_assert_str_eq(id, "host:1000");
        free(id);
        http_parser_done(&p);

        id = (char *) "untouched";
        parse_request(&p, "GET / HTTP/1.1\r\nHost: x\r\nX-OpenShell-Sandbox: a\r\nx-openshell-sandbox: b\r\n\r\n");
        ck_assert_int_eq(broker_caller_identity(true, 0, &p.req, NULL, &id, &sb), -EBADMSG);
        http_parser_done(&p);

        parse_request(&p, "GET / HTTP/1.1\r\nHost: x\r\nX-OpenShell-Sandbox:\r\n\r\n");
        ck_assert_int_eq(broker_caller_identity(true, 0, &p.req, NULL, &id, &sb), -EBADMSG);
        http_parser_done(&p);
}
END_TEST

static bool has_line(char **l, const char *s) {
        return strv_contains(l, s);
}

static bool has_prefix_ci(char **l, const char *prefix) {
        STRV_FOREACH(s, l)
                if (strncasecmp(*s, prefix, strlen(prefix)) == 0)
                        return true;
        return false;
}

START_TEST(test_upstream_headers_openai) {
        HttpParser p;
        _cleanup_strv_free_ char **l = NULL;
        Provider prov = { .name = (char *) "local", .type = PROVIDER_OPENAI, .api_key = (char *) "sk-secret" };

        parse_request(&p, "POST /v1/chat/completions HTTP/1.1\r\nHost: inference.local\r\n"
                          "Authorization: Bearer sk-client\r\nX-Api-Key: client\r\nCookie: a=b\r\n"
                          "X-OpenShell-Sandbox: demo\r\nOpenAI-Organization: org-1\r\nanthropic-beta: x\r\n"
                          "Accept: text/event-stream\r\nConnection: keep-alive\r\nProxy-Authorization: x\r\n"
                          "Content-Length: 2\r\n\r\n{}");
        ck_assert_int_eq(upstream_headers(&prov, &p.req, &l), 0);
        ck_assert(has_line(l, "Authorization: Bearer sk-secret"));
        ck_assert(has_line(l, "OpenAI-Organization: org-1"));
        ck_assert(has_line(l, "Accept: text/event-stream"));
        ck_assert(has_line(l, "Content-Type: application/json"));
        ck_assert(has_line(l, "Expect:"));
        ck_assert(!has_line(l, "Authorization: Bearer sk-client"));
        ck_assert(!has_prefix_ci(l, "x-api-key"));
        ck_assert(!has_prefix_ci(l, "cookie"));
        ck_assert(!has_prefix_ci(l, "host"));
        ck_assert(!has_prefix_ci(l, "x-openshell-sandbox"));
        ck_assert(!has_prefix_ci(l, "anthropic-beta"));
        ck_assert(!has_prefix_ci(l, "connection"));
        ck_assert(!has_prefix_ci(l, "proxy-authorization"));
        ck_assert(!has_prefix_ci(l, "content-length"));
        ck_assert_uint_eq(strv_length(l), 5);
        strv_free(l);
        l = NULL;

        /* Without a credential nothing is injected (a local vLLM needs none), and the client's is still dropped. */
        prov.api_key = NULL;
        ck_assert_int_eq(upstream_headers(&prov, &p.req, &l), 0);
        ck_assert(!has_prefix_ci(l, "authorization"));
        http_parser_done(&p);
}
END_TEST

START_TEST(test_upstream_headers_anthropic) {
        HttpParser p;
        _cleanup_strv_free_ char **l = NULL;
        Provider prov = { .name = (char *) "claude", .type = PROVIDER_ANTHROPIC, .api_key = (char *) "ak" };

        parse_request(&p, "POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: client\r\nanthropic-beta: tools\r\n"
                          "OpenAI-Organization: org\r\nContent-Length: 2\r\n\r\n{}");
        ck_assert_int_eq(upstream_headers(&prov, &p.req, &l), 0);
        ck_assert(has_line(l, "x-api-key: ak"));
        ck_assert(has_line(l, "anthropic-version: 2023-06-01"));
        ck_assert(has_line(l, "anthropic-beta: tools"));
        ck_assert(!has_line(l, "x-api-key: client"));
        ck_assert(!has_prefix_ci(l, "openai-organization"));
        ck_assert(!has_prefix_ci(l, "authorization"));
        http_parser_done(&p);
        strv_free(l);
        l = NULL;

        /* The client's anthropic-version wins over the default. */
        parse_request(&p, "POST /v1/messages HTTP/1.1\r\nHost: x\r\nanthropic-version: 2024-01-01\r\n\r\n");
        ck_assert_int_eq(upstream_headers(&prov, &p.req, &l), 0);
        ck_assert(has_line(l, "anthropic-version: 2024-01-01"));
        ck_assert(!has_line(l, "anthropic-version: 2023-06-01"));
        ck_assert(!has_prefix_ci(l, "content-type")); /* no body */
        http_parser_done(&p);
}
END_TEST

START_TEST(test_rewrite_model) {
        _cleanup_free_ char *out = NULL;
        char *untouched = (char *) "u";
        size_t n = 0;
        const char *in = "{\"model\":\"gpt-4\",\"messages\":[{\"role\":\"user\",\"content\":\"a/b\"}],"
                         "\"stream\":true}";

        ck_assert_int_eq(rewrite_model(in, strlen(in), "llama", &out, &n), 0);
        ck_assert_str_eq(out, "{\"model\":\"llama\",\"messages\":[{\"role\":\"user\",\"content\":\"a/b\"}],"
                              "\"stream\":true}");
        ck_assert_uint_eq(n, strlen(out));
        free(out);
        out = NULL;

        ck_assert_int_eq(rewrite_model("{\"input\":\"x\"}\n", 14, "emb", &out, &n), 0);
        ck_assert_str_eq(out, "{\"input\":\"x\",\"model\":\"emb\"}");

        static const char *const bad[] = {
                "", "[]", "\"x\"", "{", "{\"a\":1} x", "{\"a\":1}{}", "nul", "{\"a\":01}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(rewrite_model(bad[i], strlen(bad[i]), "m", &untouched, &n) == -EBADMSG, "%s",
                              bad[i]);
        ck_assert_str_eq(untouched, "u");

        /* Nesting beyond the limit is refused, not recursed into. */
        {
                _cleanup_free_ char *deep = malloc(2 * 200 + 16);
                size_t l = 0;

                deep[l++] = '{';
                memcpy(deep + l, "\"a\":", 4), l += 4;
                for (int i = 0; i < 200; i++)
                        deep[l++] = '[';
                for (int i = 0; i < 200; i++)
                        deep[l++] = ']';
                deep[l++] = '}';
                ck_assert_int_eq(rewrite_model(deep, l, "m", &untouched, &n), -EBADMSG);
        }
}
END_TEST

START_TEST(test_body_model) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *untouched = (json_object *) 0x1;

        ck_assert_int_eq(request_body_parse("{\"model\":\"claude\",\"x\":1}", 24, &o), 0);
        ck_assert_str_eq(request_body_model(o), "claude");
        json_object_put(o);
        o = NULL;
        ck_assert_int_eq(request_body_parse("{\"model\":7}", 11, &o), 0);
        ck_assert_ptr_null(request_body_model(o));
        ck_assert_int_eq(request_body_parse("[]", 2, &untouched), -EBADMSG);
        ck_assert_ptr_eq(untouched, (json_object *) 0x1);
}
END_TEST

static Route *add_route(BrokerConfig *c, const char *name) {
        Route *r = &c->routes[c->n_routes++];
        *r = (Route) { .name = strdup(name) };
        return r;
}

START_TEST(test_route_choose) {
        BrokerConfig *c = calloc(1, sizeof(BrokerConfig));
        const Route *local, *claude, *lab;

        c->n_ref = 1;
        c->routes = calloc(3, sizeof(Route));
        ck_assert_ptr_null(route_choose(c, "inference.local", "m"));
        local = add_route(c, "inference.local");
        claude = add_route(c, "claude");
        lab = add_route(c, "gpu.lab");

        ck_assert_ptr_eq(route_choose(c, "inference.local", "gpt-4"), local);
        ck_assert_ptr_eq(route_choose(c, "inference.local", NULL), local);
        ck_assert_ptr_eq(route_choose(c, NULL, NULL), local);
        /* A model naming a route picks it, whatever the host. */
        ck_assert_ptr_eq(route_choose(c, "inference.local", "claude"), claude);
        ck_assert_ptr_eq(route_choose(c, "gpu.lab", "claude"), claude);
        /* Else the host, with or without port. */
        ck_assert_ptr_eq(route_choose(c, "gpu.lab", "llama"), lab);
        ck_assert_ptr_eq(route_choose(c, "gpu.lab:8080", NULL), lab);
        ck_assert_ptr_eq(route_choose(c, "gpu.la", NULL), local);
        ck_assert_ptr_eq(route_choose(c, "127.0.0.1:11435", NULL), local);
        broker_config_unref(c);
}
END_TEST

START_TEST(test_usage_json) {
        TokenUsage u = TOKEN_USAGE_UNKNOWN;
        const char *openai = "{\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":34}}";
        const char *responses = "{\"type\":\"response.completed\","
                                "\"response\":{\"usage\":{\"input_tokens\":5,\"output_tokens\":6}}}";

        ck_assert_int_eq(usage_parse_json(openai, strlen(openai), &u), 0);
        ck_assert_int_eq(u.in, 12);
        ck_assert_int_eq(u.out, 34);

        u = TOKEN_USAGE_UNKNOWN;
        ck_assert_int_eq(usage_parse_json(responses, strlen(responses), &u), 0);
        ck_assert_int_eq(u.in, 5);
        ck_assert_int_eq(u.out, 6);

        u = TOKEN_USAGE_UNKNOWN;
        ck_assert_int_eq(usage_parse_json("{\"usage\":{\"prompt_tokens\":\"7\"}}", 31, &u), 0);
        ck_assert_int_eq(u.in, -1); /* not a number: not counted */
        ck_assert_int_eq(usage_parse_json("not json", 8, &u), -EBADMSG);

        /* Only the answer's own usage counts: not a "usage" inside a string (a completion quoting JSON),
         * not one nested elsewhere; strings with escaped quotes and brackets are stepped over. */
        {
                const char *quoted = "{\"choices\":[{\"message\":{\"content\":"
                                     "\"say \\\"usage\\\":{\\\"prompt_tokens\\\":99} ]}\"}}],"
                                     "\"x\":{\"usage\":{\"prompt_tokens\":98}},\"n\":-1.5e3,\"t\":true,"
                                     "\"usage\" : { \"prompt_tokens\" : 4 , \"completion_tokens\":5 } }\n";

                u = TOKEN_USAGE_UNKNOWN;
                ck_assert_int_eq(usage_parse_json(quoted, strlen(quoted), &u), 0);
                ck_assert_int_eq(u.in, 4);
                ck_assert_int_eq(u.out, 5);
        }

        /* A string ending in an escaped backslash ends at the quote after it. */
        {
                const char *b = "{\"a\":\"x\\\\\",\"usage\":{\"prompt_tokens\":3},\"b\":\"\\\"\\\\\"}";

                u = TOKEN_USAGE_UNKNOWN;
                ck_assert_int_eq(usage_parse_json(b, strlen(b), &u), 0);
                ck_assert_int_eq(u.in, 3);
        }

        /* Anthropic's message_start: usage inside "message". Numbers that are not integers, or too large,
         * are not counts. */
        {
                const char *m = "{\"message\":{\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}";

                u = TOKEN_USAGE_UNKNOWN;
                ck_assert_int_eq(usage_parse_json(m, strlen(m), &u), 0);
                ck_assert_int_eq(u.in, 25);
                ck_assert_int_eq(u.out, 1);
        }
        u = TOKEN_USAGE_UNKNOWN;
        {
                const char *odd = "{\"usage\":{\"prompt_tokens\":1.0,\"completion_tokens\":99999999999999999999}}";
                ck_assert_int_eq(usage_parse_json(odd, strlen(odd), &u), 0);
                ck_assert_int_eq(u.in, -1);
                ck_assert_int_eq(u.out, -1);
        }

        /* Truncated or unbalanced text is refused, and nothing is read beyond its end. */
        {
                static const char *const bad[] = {
                        "", "{", "{\"usage\"", "{\"usage\":", "{\"usage\":{\"prompt_tokens\":1}", "{\"a\":\"x}",
                        "{\"a\":1,}", "{\"a\" 1}", "{\"a\":1} x", "[1]", "{\"a\":[1,{]}",
                };
                for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                        _cleanup_free_ char *copy = strdup(bad[i]); /* exactly as long as its text */

                        u = TOKEN_USAGE_UNKNOWN;
                        ck_assert_msg(usage_parse_json(copy, strlen(copy), &u) == -EBADMSG, "%s", bad[i]);
                }
        }
}
END_TEST

START_TEST(test_body_unchanged) {
        static const struct {
                const char *body;
                bool unchanged;
        } cases[] = {
                { "{\"model\":\"llama\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", true },
                { " {\"messages\" : [] , \"model\" : \"llama\" }\n", true },
                { "{\"model\":\"gpt-4\",\"messages\":[]}", false },             /* another model: rewritten */
                { "{\"messages\":[]}", false },                                  /* none: added */
                { "{\"model\":7}", false },
                { "{\"model\":\"gpt-4\",\"model\":\"llama\"}", false },           /* twice: json-c takes the last */
                { "{\"mod\\u0065l\":\"gpt-4\",\"model\":\"llama\"}", false },   /* the same key, escaped */
                { "{\"model\":\"llama\",\"x\":{\"model\":\"a\",\"model\":\"b\"}}", true }, /* nested: not a route */
                { "{\"model\":\"llama\\u0000x\"}", false },                     /* NUL in the name */
                /* What json-c takes beyond standard JSON, other parsers may read otherwise: rewritten. */
                { "{\"model\":\"llama\",'x':1}", false },
                { "{\"model\":\"llama\",\"x\":NaN}", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(json_object_putp) json_object *o = NULL;

                ck_assert_int_eq(request_body_parse(cases[i].body, strlen(cases[i].body), &o), 0);
                ck_assert_msg(request_body_unchanged(o, cases[i].body, strlen(cases[i].body), "llama") ==
                                      cases[i].unchanged,
                              "%s", cases[i].body);
        }
}
END_TEST

START_TEST(test_usage_sse) {
        static const char stream[] =
                "data: {\"choices\":[{\"delta\":{\"content\":\"hel\"}}]}\n\n"
                "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\r\n\r\n"
                "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n"
                "data: [DONE]\n\n";
        static const char anthropic[] =
                "event: message_start\n"
                "data: {\"type\":\"message_start\","
                "\"message\":{\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n"
                "event: message_delta\n"
                "data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}\n\n";

        /* Any split of the stream gives the same counts. */
        for (size_t step = 1; step <= sizeof(stream); step += 7) {
                SseScanner s;

                sse_scanner_init(&s);
                for (size_t off = 0; off < sizeof(stream) - 1; off += step)
                        sse_scanner_feed(&s, stream + off, MIN(step, sizeof(stream) - 1 - off));
                ck_assert_int_eq(s.usage.in, 3);
                ck_assert_int_eq(s.usage.out, 2);
                sse_scanner_done(&s);
        }
        {
                SseScanner s;

                sse_scanner_init(&s);
                sse_scanner_feed(&s, anthropic, sizeof(anthropic) - 1);
                ck_assert_int_eq(s.usage.in, 25);
                ck_assert_int_eq(s.usage.out, 15);
                sse_scanner_done(&s);
        }
}
END_TEST

START_TEST(test_usage_sse_long_line) {
        SseScanner s;
        _cleanup_free_ char *junk = malloc(SSE_LINE_MAX + 10);
        const char *tail = "\ndata: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":9}}\n";

        memset(junk, 'x', SSE_LINE_MAX + 10);
        sse_scanner_init(&s);
        sse_scanner_feed(&s, "data: ", 6);
        sse_scanner_feed(&s, junk, SSE_LINE_MAX + 10); /* dropped, bounded */
        ck_assert_uint_le(s.line.allocated, SSE_LINE_MAX + 1);
        sse_scanner_feed(&s, tail, strlen(tail));
        ck_assert_int_eq(s.usage.in, 1);
        ck_assert_int_eq(s.usage.out, 9);
        sse_scanner_done(&s);
}
END_TEST

/* A route with n backends and fresh state. */
typedef struct Fixture {
        Router router;
        BrokerConfig *config;
        Route *route;
} Fixture;

static void fixture_init(Fixture *f, size_t n, const unsigned *weights) {
        *f = (Fixture) {};
        f->config = calloc(1, sizeof(BrokerConfig));
        f->config->n_ref = 1;
        f->config->routes = calloc(1, sizeof(Route));
        f->config->n_routes = 1;
        f->route = &f->config->routes[0];
        f->route->name = strdup("inference.local");
        f->route->backends = calloc(n, sizeof(RouteBackend));
        f->route->n_backends = n;
        for (size_t i = 0; i < n; i++) {
                ck_assert_int_ge(asprintf_safe(&f->route->backends[i].url, "http://127.0.0.1:%zu/v1", 8000 + i), 0);
                f->route->backends[i].weight = weights ? weights[i] : 1;
        }
        ck_assert_int_eq(router_attach(&f->router, f->config), 0);
}

static void fixture_done(Fixture *f) {
        broker_config_unref(f->config);
        router_done(&f->router);
}

static BackendState *st(Fixture *f, size_t i) {
        return f->route->backends[i].state;
}

START_TEST(test_pick_least_outstanding) {
        Fixture f;
        size_t i = 99, counts[3] = {};

        fixture_init(&f, 3, NULL);
        backend_begin(st(&f, 0), 0);
        backend_begin(st(&f, 0), 0);
        backend_begin(st(&f, 1), 0);
        ck_assert_int_eq(route_pick_backend(&f.router, f.route, 0, NULL, &i), 0);
        ck_assert_uint_eq(i, 2);
        backend_begin(st(&f, 2), 0);
        ck_assert_int_eq(route_pick_backend(&f.router, f.route, 0, NULL, &i), 0);
        ck_assert(i == 1 || i == 2);

        /* Ties rotate among equally loaded backends. */
        backend_end(st(&f, 0), true, 0);
        backend_end(st(&f, 0), true, 0);
        backend_end(st(&f, 1), true, 0);
        backend_end(st(&f, 2), true, 0);
        for (int k = 0; k < 30; k++) {
                ck_assert_int_eq(route_pick_backend(&f.router, f.route, 0, NULL, &i), 0);
                counts[i]++;
        }
        ck_assert_uint_gt(counts[0], 0);
        ck_assert_uint_gt(counts[1], 0);
        ck_assert_uint_gt(counts[2], 0);
        fixture_done(&f);
}
END_TEST

START_TEST(test_pick_weights_and_tried) {
        Fixture f;
        const unsigned w[] = { 1, 4 };
        bool tried[2] = { false, true };
        size_t i = 99;

        fixture_init(&f, 2, w);
        /* 3 outstanding on weight 4 (0.75) is less loaded than 1 on weight 1. */
        backend_begin(st(&f, 0), 0);
        for (int k = 0; k < 3; k++)
                backend_begin(st(&f, 1), 0);
        ck_assert_int_eq(route_pick_backend(&f.router, f.route, 0, NULL, &i), 0);
        ck_assert_uint_eq(i, 1);
        /* A backend already tried for this request is skipped. */
        ck_assert_int_eq(route_pick_backend(&f.router, f.route, 0, tried, &i), 0);
        ck_assert_uint_eq(i, 0);
        tried[0] = true;
        i = 99;
        ck_assert_int_eq(route_pick_backend(&f.router, f.route, 0, tried, &i), -EHOSTUNREACH);
        ck_assert_uint_eq(i, 99);
        fixture_done(&f);
}
END_TEST

START_TEST(test_circuit_breaker) {
        Fixture f;
        size_t i = 99;
        usec_t t = 1000 * USEC_PER_SEC;

        fixture_init(&f, 2, NULL);
        for (unsigned k = 0; k < BREAKER_FAILURES; k++) {
                ck_assert(!backend_circuit_open(st(&f, 0), t));
                backend_begin(st(&f, 0), t);
                backend_end(st(&f, 0), false, t);
        }
        ck_assert(backend_circuit_open(st(&f, 0), t));
        ck_assert_uint_eq(st(&f, 0)->n_failures, BREAKER_FAILURES);
        /* Open: never picked, even though idle and backend 1 is busy. */
        backend_begin(st(&f, 1), t);
        ck_assert_int_eq(route_pick_backend(&f.router, f.route, t + 1, NULL, &i), 0);
        ck_assert_uint_eq(i, 1);

        /* After the open period one trial goes through (half-open)... */
        t += BREAKER_OPEN_MIN;
        ck_assert(!backend_circuit_open(st(&f, 0), t));
        ck_assert_int_eq(route_pick_backend(&f.router, f.route, t, NULL, &i), 0);
        ck_assert_uint_eq(i, 0);
        backend_begin(st(&f, 0), t);
        /* ... and only one. */
        ck_assert(backend_circuit_open(st(&f, 0), t));
        /* A failed trial opens it again for twice as long. */
        backend_end(st(&f, 0), false, t);
        ck_assert(backend_circuit_open(st(&f, 0), t + 2 * BREAKER_OPEN_MIN - 1));
        ck_assert(!backend_circuit_open(st(&f, 0), t + 2 * BREAKER_OPEN_MIN));

        /* A successful trial closes it. */
        t += 2 * BREAKER_OPEN_MIN;
        backend_begin(st(&f, 0), t);
        backend_end(st(&f, 0), true, t);
        ck_assert(!backend_circuit_open(st(&f, 0), t));
        ck_assert_uint_eq(st(&f, 0)->consecutive_failures, 0);
        ck_assert_uint_eq(st(&f, 0)->outstanding, 0);

        /* Both open: nothing to pick. */
        for (size_t b = 0; b < 2; b++)
                for (unsigned k = 0; k < BREAKER_FAILURES; k++) {
                        backend_begin(st(&f, b), t);
                        backend_end(st(&f, b), false, t);
                }
        ck_assert_int_eq(route_pick_backend(&f.router, f.route, t, NULL, &i), -EHOSTUNREACH);
        fixture_done(&f);
}
END_TEST

START_TEST(test_breaker_backoff_capped) {
        Fixture f;
        usec_t t = 0;

        fixture_init(&f, 1, NULL);
        for (int k = 0; k < 20; k++) {
                backend_begin(st(&f, 0), t);
                backend_end(st(&f, 0), false, t);
                t = st(&f, 0)->open_until;
        }
        ck_assert_uint_eq(st(&f, 0)->open_for, BREAKER_OPEN_MAX);
        fixture_done(&f);
}
END_TEST

START_TEST(test_health_probe) {
        Fixture f;
        usec_t t = 100 * USEC_PER_SEC;

        fixture_init(&f, 1, NULL);
        ck_assert(!backend_wants_probe(st(&f, 0))); /* closed: nothing to probe */
        for (unsigned k = 0; k < BREAKER_FAILURES; k++) {
                backend_begin(st(&f, 0), t);
                backend_end(st(&f, 0), false, t);
        }
        ck_assert(backend_wants_probe(st(&f, 0)));
        st(&f, 0)->probing = true;
        ck_assert(!backend_wants_probe(st(&f, 0))); /* one probe at a time */

        /* A failed probe keeps the circuit open for another period from now. */
        backend_probe_result(st(&f, 0), false, t + 3 * USEC_PER_SEC);
        ck_assert(!st(&f, 0)->probing);
        ck_assert_uint_eq(st(&f, 0)->open_until, t + 3 * USEC_PER_SEC + BREAKER_OPEN_MIN);
        ck_assert(backend_circuit_open(st(&f, 0), t + 3 * USEC_PER_SEC + BREAKER_OPEN_MIN - 1));

        /* A live backend's circuit closes at once, before its open period ends. */
        backend_probe_result(st(&f, 0), true, t + 4 * USEC_PER_SEC);
        ck_assert(!backend_circuit_open(st(&f, 0), t + 4 * USEC_PER_SEC));
        ck_assert_uint_eq(st(&f, 0)->consecutive_failures, 0);
        ck_assert_uint_eq(st(&f, 0)->n_probes, 2);
        ck_assert(!backend_wants_probe(st(&f, 0)));
        fixture_done(&f);
}
END_TEST

START_TEST(test_state_shared_across_reload) {
        Fixture f;
        BackendState *before;

        fixture_init(&f, 2, NULL);
        before = st(&f, 1);
        backend_begin(before, 0);
        /* A new configuration generation naming the same URL sees the same state. */
        ck_assert_int_eq(router_attach(&f.router, f.config), 0);
        ck_assert_ptr_eq(st(&f, 1), before);
        ck_assert_uint_eq(st(&f, 1)->outstanding, 1);
        ck_assert_uint_eq(f.router.n_backends, 2);
        fixture_done(&f);
}
END_TEST

START_TEST(test_caller_limits) {
        CallerTable t = {};

        ck_assert_int_eq(caller_acquire(&t, "demo", 2), 0);
        ck_assert_int_eq(caller_acquire(&t, "demo", 2), 0);
        ck_assert_int_eq(caller_acquire(&t, "demo", 2), -EBUSY);
        ck_assert_uint_eq(caller_count(&t, "demo"), 2);
        /* Another sandbox has its own allowance. */
        ck_assert_int_eq(caller_acquire(&t, "other", 2), 0);
        caller_release(&t, "demo");
        ck_assert_int_eq(caller_acquire(&t, "demo", 2), 0);
        /* 0 is unlimited. */
        for (int i = 0; i < 100; i++)
                ck_assert_int_eq(caller_acquire(&t, "host:1000", 0), 0);
        ck_assert_uint_eq(caller_count(&t, "host:1000"), 100);
        for (int i = 0; i < 100; i++)
                caller_release(&t, "host:1000");
        ck_assert_uint_eq(caller_count(&t, "host:1000"), 0);
        caller_release(&t, "nobody"); /* harmless */
        ck_assert_uint_eq(t.n_items, 2);
        caller_table_done(&t);
}
END_TEST

static bool entry_has(const AuditEntry *e, const char *field) {
        for (size_t i = 0; i < e->n_fields; i++)
                if (e->iov[i].iov_len == strlen(field) && memcmp(e->iov[i].iov_base, field, strlen(field)) == 0)
                        return true;
        return false;
}

static bool entry_has_prefix(const AuditEntry *e, const char *prefix) {
        for (size_t i = 0; i < e->n_fields; i++)
                if (e->iov[i].iov_len >= strlen(prefix) && memcmp(e->iov[i].iov_base, prefix, strlen(prefix)) == 0)
                        return true;
        return false;
}

START_TEST(test_audit_format) {
        _cleanup_(audit_entry_done) AuditEntry e = AUDIT_ENTRY_INIT;
        AuditRecord a = {
                .caller = "demo",
                .is_sandbox = true,
                .method = "POST",
                .path = "/v1/chat/completions",
                .route = "inference.local",
                .provider = "local",
                .model = "llama",
                .backend = "http://127.0.0.1:8000/v1",
                .status = 200,
                .usage = { 10, 20 },
                .latency = 1500,
                .ttfb = 700,
        };

        ck_assert_int_eq(audit_format(&a, &e), 0);
        ck_assert(entry_has(&e, "MESSAGE_ID=" BROKER_AUDIT_MESSAGE_ID));
        ck_assert(entry_has(&e, "MESSAGE=API:INFERENCE [INFO] Success llama via http://127.0.0.1:8000/v1 1ms "
                                "[POST /v1/chat/completions] [caller:demo status:200]"));
        ck_assert(entry_has(&e, "OPENSHELL_EVENT=inference"));
        ck_assert(entry_has(&e, "OPENSHELL_DECISION=allow"));
        ck_assert(entry_has(&e, "OPENSHELL_SANDBOX=demo"));
        ck_assert(entry_has(&e, "OPENSHELL_ROUTE=inference.local"));
        ck_assert(entry_has(&e, "OPENSHELL_PROVIDER=local"));
        ck_assert(entry_has(&e, "OPENSHELL_MODEL=llama"));
        ck_assert(entry_has(&e, "OPENSHELL_BACKEND=http://127.0.0.1:8000/v1"));
        ck_assert(entry_has(&e, "OPENSHELL_STATUS=200"));
        ck_assert(entry_has(&e, "OPENSHELL_METHOD=POST"));
        ck_assert(entry_has(&e, "OPENSHELL_PATH=/v1/chat/completions"));
        ck_assert(entry_has(&e, "OPENSHELL_TOKENS_IN=10"));
        ck_assert(entry_has(&e, "OPENSHELL_TOKENS_OUT=20"));
        ck_assert(entry_has(&e, "OPENSHELL_LATENCY_US=1500"));
        ck_assert(entry_has(&e, "OPENSHELL_TTFB_US=700"));
        ck_assert(entry_has(&e, "PRIORITY=6"));
        ck_assert(!entry_has_prefix(&e, "OPENSHELL_REASON="));
        ck_assert_uint_eq(e.n_fields, 17);

        /* A refusal: no backend, unknown usage fields left out, the reason given; the entry is reused
         * and holds nothing of the one before; the query is not part of the path. */
        a = (AuditRecord) { .caller = "host:1000", .method = "POST", .path = "/v1/chat/completions?x=secret",
                            .status = 400, .usage = TOKEN_USAGE_UNKNOWN, .reason = "no inference route configured" };
        ck_assert_int_eq(audit_format(&a, &e), 0);
        ck_assert(entry_has(&e, "OPENSHELL_DECISION=deny"));
        ck_assert(entry_has(&e, "OPENSHELL_SANDBOX=host:1000"));
        ck_assert(entry_has(&e, "OPENSHELL_REASON=no inference route configured"));
        ck_assert(entry_has(&e, "OPENSHELL_PATH=/v1/chat/completions"));
        ck_assert(entry_has(&e, "MESSAGE=API:INFERENCE [MED] Failure n/a via n/a 0ms [POST /v1/chat/completions] "
                                "[caller:host:1000 status:400 reason:no inference route configured]"));
        ck_assert(entry_has(&e, "PRIORITY=6"));
        ck_assert(!entry_has_prefix(&e, "OPENSHELL_TOKENS_"));
        ck_assert(!entry_has_prefix(&e, "OPENSHELL_BACKEND="));
        ck_assert(!entry_has_prefix(&e, "OPENSHELL_TTFB_US="));
        ck_assert(!entry_has_prefix(&e, "OPENSHELL_MODEL="));
        ck_assert(!entry_has_prefix(&e, "OPENSHELL_ROUTE="));

        /* An error of the broker's own: decision error, priority warning. */
        a = (AuditRecord) { .caller = "host:tcp", .method = "POST", .path = "/v1/chat/completions", .status = 502,
                            .usage = TOKEN_USAGE_UNKNOWN };
        ck_assert_int_eq(audit_format(&a, &e), 0);
        ck_assert(entry_has(&e, "OPENSHELL_DECISION=error"));
        ck_assert(entry_has(&e, "PRIORITY=4"));

        /* Beyond the ceiling: an error, and no field left to send. */
        {
                _cleanup_free_ char *path = malloc(AUDIT_ENTRY_SIZE_MAX + 2);

                ck_assert_ptr_nonnull(path);
                path[0] = '/';
                memset(path + 1, 'a', AUDIT_ENTRY_SIZE_MAX);
                path[AUDIT_ENTRY_SIZE_MAX + 1] = 0;
                a.path = path;
                ck_assert_int_eq(audit_format(&a, &e), -ENOBUFS);
                ck_assert_uint_eq(e.n_fields, 0);
        }
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("broker-route");
        TCase *tc = tcase_create("route");

        tcase_add_test(tc, test_classify);
        tcase_add_test(tc, test_provider_supports);
        tcase_add_test(tc, test_upstream_url);
        tcase_add_test(tc, test_identity);
        tcase_add_test(tc, test_identity_proxy);
        tcase_add_test(tc, test_userdb_reply);
        tcase_add_test(tc, test_upstream_headers_openai);
        tcase_add_test(tc, test_upstream_headers_anthropic);
        tcase_add_test(tc, test_rewrite_model);
        tcase_add_test(tc, test_body_model);
        tcase_add_test(tc, test_route_choose);
        tcase_add_test(tc, test_usage_json);
        tcase_add_test(tc, test_body_unchanged);
        tcase_add_test(tc, test_usage_sse);
        tcase_add_test(tc, test_usage_sse_long_line);
        tcase_add_test(tc, test_pick_least_outstanding);
        tcase_add_test(tc, test_pick_weights_and_tried);
        tcase_add_test(tc, test_circuit_breaker);
        tcase_add_test(tc, test_breaker_backoff_capped);
        tcase_add_test(tc, test_health_probe);
        tcase_add_test(tc, test_state_shared_across_reload);
        tcase_add_test(tc, test_caller_limits);
        tcase_add_test(tc, test_audit_format);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}
