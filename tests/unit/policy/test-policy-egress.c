/* SPDX-License-Identifier: Apache-2.0 */
/* The egress matcher (upstream's Rego semantics), glob matching and host normalisation. */

#include "policy-test-util.h"

START_TEST(test_glob_host) {
        /* '.' is the delimiter: '*' stays within one label, '**' crosses labels */
        ck_assert(policy_glob_match("*.example.com", "api.example.com", '.'));
        ck_assert(!policy_glob_match("*.example.com", "a.b.example.com", '.'));
        ck_assert(!policy_glob_match("*.example.com", "example.com", '.'));
        ck_assert(policy_glob_match("**.example.com", "a.b.example.com", '.'));
        ck_assert(policy_glob_match("**.example.com", "b.example.com", '.'));
        ck_assert(!policy_glob_match("**.example.com", "example.com", '.'));
        ck_assert(policy_glob_match("*-aiplatform.googleapis.com", "us-central1-aiplatform.googleapis.com", '.'));
        ck_assert(!policy_glob_match("*-aiplatform.googleapis.com", "x.y-aiplatform.googleapis.com", '.'));
        ck_assert(policy_glob_match("*.s3.*.amazonaws.com", "bucket.s3.eu-west-1.amazonaws.com", '.'));
        ck_assert(!policy_glob_match("*.s3.*.amazonaws.com", "bucket.s3.a.b.amazonaws.com", '.'));
        ck_assert(policy_glob_match("api.github.com", "api.github.com", '.'));
        ck_assert(!policy_glob_match("api.github.com", "api.github.com.evil.com", '.'));
        ck_assert(!policy_glob_match("api.github.com", "xapi.github.com", '.'));
}
END_TEST

START_TEST(test_glob_path) {
        ck_assert(policy_glob_match("/usr/bin/*", "/usr/bin/curl", '/'));
        ck_assert(!policy_glob_match("/usr/bin/*", "/usr/bin/x/curl", '/'));
        ck_assert(policy_glob_match("/usr/lib/node_modules/**", "/usr/lib/node_modules/a/b/c", '/'));
        ck_assert(policy_glob_match("/usr/lib/node_modules/@github/copilot/node_modules/@github/**/copilot",
                                    "/usr/lib/node_modules/@github/copilot/node_modules/@github/x/y/copilot", '/'));
        /* a later '*' failing must not hide an earlier '**' that could take more (mixed stars) */
        ck_assert(policy_glob_match("/usr/**/bin/*", "/usr/a/bin/c/bin/d", '/'));
        ck_assert(policy_glob_match("/**", "/anything/at/all", '/'));
        ck_assert(policy_glob_match("/usr/bin/python3.1?", "/usr/bin/python3.11", '/'));
        ck_assert(!policy_glob_match("/usr/bin/python3.1?", "/usr/bin/python3.1/", '/'));
        ck_assert(policy_glob_match("/usr/bin/python3.[0-9]", "/usr/bin/python3.9", '/'));
        ck_assert(!policy_glob_match("/usr/bin/python3.[!0-9]", "/usr/bin/python3.9", '/'));
        ck_assert(policy_glob_match("/x/[", "/x/[", '/'));
        ck_assert(policy_glob_match("", "", '/'));
        ck_assert(!policy_glob_match("", "/a", '/'));
        /* no exponential blow-up on hostile patterns */
        ck_assert(!policy_glob_match("/*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
                                     "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", '/'));
}
END_TEST

START_TEST(test_host_normalize) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "API.GitHub.COM", "api.github.com" },
                { "example.com.", "example.com" },
                { "bücher.example", "xn--bcher-kva.example" },
                { "BÜCHER.example", "xn--bcher-kva.example" },
                { "münchen.de", "xn--mnchen-3ya.de" },
                { "例え.jp", "xn--r8jz45g.jp" },
                { "*.Example.com", "*.example.com" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = NULL;
                ck_assert_int_eq(policy_host_normalize(cases[i].in, &s), 0);
                ck_assert_str_eq(s, cases[i].out);
        }
        {
                char *s = (char *) "untouched";
                ck_assert_int_eq(policy_host_normalize("bad\xff.com", &s), -EINVAL);
                ck_assert_str_eq(s, "untouched");
        }
}
END_TEST

START_TEST(test_path_normalize) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

        ck_assert_int_eq(policy_path_normalize("//usr///lib/", &a), 0);
        ck_assert_str_eq(a, "/usr/lib");
        ck_assert_int_eq(policy_path_normalize("///", &b), 0);
        ck_assert_str_eq(b, "/");
        ck_assert_int_eq(policy_path_normalize("/sandbox", &c), 0);
        ck_assert_str_eq(c, "/sandbox");
}
END_TEST

static const char matcher_policy[] =
        "version: 1\n"
        "network_policies:\n"
        "  zeta:\n"
        "    endpoints: [ { host: \"*.example.com\", port: 443 } ]\n"
        "    binaries: [ { path: /usr/bin/curl } ]\n"
        "  alpha:\n"
        "    endpoints: [ { host: \"**.example.com\", ports: [443, 8443] } ]\n"
        "    binaries: [ { path: \"/usr/bin/*\" } ]\n"
        "  node:\n"
        "    endpoints: [ { host: API.Node.Example.org, port: 443 } ]\n"
        "    binaries: [ { path: /usr/bin/node } ]\n"
        "  python:\n"
        "    endpoints: [ { host: api.node.example.org, port: 443 } ]\n"
        "    binaries: [ { path: /usr/bin/python3 } ]\n"
        "  internal:\n"
        "    endpoints: [ { port: 5432, allowed_ips: [10.1.0.0/16] } ]\n"
        "    binaries: [ { path: /usr/bin/psql } ]\n"
        "  idn:\n"
        "    endpoints: [ { host: bücher.example, port: 443 } ]\n"
        "    binaries: [ { path: /usr/bin/curl } ]\n"
        "  nobody:\n"
        "    endpoints: [ { host: nobody.example.net, port: 443 } ]\n";

START_TEST(test_matcher) {
        _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_free_ char *reason = NULL;
        char *ancestors[] = { (char *) "/usr/bin/bash", (char *) "/usr/bin/node", NULL };
        EgressMatch m;

        ck_assert_int_eq(load_string(matcher_policy, &p, NULL), 0);
        ck_assert_int_eq(policy_compile(p, NULL, &c), 0);

        /* both zeta and alpha match: the lexicographically smallest key wins */
        ck_assert_int_eq(policy_egress_match(&c->egress, "api.example.com", 443, "/usr/bin/curl", NULL, &m), 0);
        ck_assert_int_eq(m.decision, EGRESS_ALLOW);
        ck_assert_str_eq(m.rule, "alpha");
        /* only alpha has 8443 and '**' */
        ck_assert_int_eq(policy_egress_match(&c->egress, "a.b.example.com", 8443, "/usr/bin/wget", NULL, &m), 0);
        ck_assert_str_eq(m.rule, "alpha");
        /* '*' in binaries does not cross '/' */
        ck_assert_int_eq(policy_egress_match(&c->egress, "a.example.com", 443, "/usr/bin/x/wget", NULL, &m), 0);
        ck_assert_int_eq(m.decision, EGRESS_DENY);
        ck_assert_int_eq(m.reason, EGRESS_REASON_BINARY);
        ck_assert_int_eq(policy_egress_reason(&c->egress, &m, "a.example.com", 443, "/usr/bin/x/wget", NULL, &reason), 0);
        ck_assert_str_eq(reason, "binary '/usr/bin/x/wget' not allowed in policy 'alpha'; binary '/usr/bin/x/wget' not allowed in policy 'zeta'");
        free(reason);
        reason = NULL;

        /* hosts are compared lowercased, in the policy and in the request */
        ck_assert_int_eq(policy_egress_match(&c->egress, "api.NODE.example.org", 443, "/usr/bin/node", NULL, &m), 0);
        ck_assert_int_eq(m.decision, EGRESS_ALLOW);
        ck_assert_str_eq(m.rule, "node");
        /* the ancestor (bash spawned by node) counts */
        ck_assert_int_eq(policy_egress_match(&c->egress, "api.node.example.org", 443, "/usr/bin/curl", ancestors, &m), 0);
        ck_assert_int_eq(m.decision, EGRESS_ALLOW);
        ck_assert_str_eq(m.rule, "node");
        ck_assert_int_eq(policy_egress_match(&c->egress, "api.node.example.org", 443, "/usr/bin/python3", NULL, &m), 0);
        ck_assert_str_eq(m.rule, "python");

        /* host-less endpoint: matched by IP literal within allowed_ips only */
        ck_assert_int_eq(policy_egress_match(&c->egress, "10.1.2.3", 5432, "/usr/bin/psql", NULL, &m), 0);
        ck_assert_int_eq(m.decision, EGRESS_ALLOW);
        ck_assert_str_eq(m.rule, "internal");
        ck_assert_int_eq(policy_egress_match(&c->egress, "10.2.0.1", 5432, "/usr/bin/psql", NULL, &m), 0);
        ck_assert_int_eq(m.decision, EGRESS_DENY);
        /* an IP literal matched by the host-less endpoint, the binary not: the reason names the rule */
        ck_assert_int_eq(policy_egress_match(&c->egress, "10.1.2.3", 5432, "/usr/bin/curl", NULL, &m), 0);
        ck_assert_int_eq(m.reason, EGRESS_REASON_BINARY);
        ck_assert_int_eq(policy_egress_reason(&c->egress, &m, "10.1.2.3", 5432, "/usr/bin/curl", NULL, &reason), 0);
        ck_assert_str_eq(reason, "binary '/usr/bin/curl' not allowed in policy 'internal'");
        reason = mfree(reason);
        ck_assert_int_eq(policy_egress_match(&c->egress, "db.example.com", 5432, "/usr/bin/psql", NULL, &m), 0);
        ck_assert_int_eq(m.decision, EGRESS_DENY);

        /* IDN: the request's Unicode name matches the policy's */
        ck_assert_int_eq(policy_egress_match(&c->egress, "BÜCHER.example", 443, "/usr/bin/curl", NULL, &m), 0);
        ck_assert_int_eq(m.decision, EGRESS_ALLOW);
        ck_assert_str_eq(m.rule, "idn");
        ck_assert_int_eq(policy_egress_match(&c->egress, "xn--bcher-kva.example", 443, "/usr/bin/curl", NULL, &m), 0);
        ck_assert_str_eq(m.rule, "idn");

        /* a rule without binaries denies everything */
        ck_assert_int_eq(policy_egress_match(&c->egress, "nobody.example.net", 443, "/usr/bin/curl", NULL, &m), 0);
        ck_assert_int_eq(m.decision, EGRESS_DENY);
        ck_assert_int_eq(m.reason, EGRESS_REASON_BINARY);
        free(reason);
        reason = NULL;
        ck_assert_int_eq(policy_egress_match(&c->egress, "nobody.example.net", 443, "/usr/bin/curl", ancestors, &m), 0);
        ck_assert_int_eq(policy_egress_reason(&c->egress, &m, "nobody.example.net", 443, "/usr/bin/curl", ancestors, &reason), 0);
        ck_assert_str_eq(reason, "binary '/usr/bin/curl' not allowed in policy 'nobody' (ancestors: [/usr/bin/bash -> /usr/bin/node])");
        free(reason);
        reason = NULL;

        /* default deny, with upstream's reason */
        ck_assert_int_eq(policy_egress_match(&c->egress, "evil.org", 443, "/usr/bin/curl", NULL, &m), 0);
        ck_assert_int_eq(m.decision, EGRESS_DENY);
        ck_assert_int_eq(m.reason, EGRESS_REASON_NO_ENDPOINT);
        ck_assert_ptr_null(m.rule);
        ck_assert_int_eq(policy_egress_reason(&c->egress, &m, "evil.org", 443, "/usr/bin/curl", NULL, &reason), 0);
        ck_assert_str_eq(reason, "endpoint evil.org:443 is not allowed by any policy");
        /* garbage host names deny, never crash */
        ck_assert_int_eq(policy_egress_match(&c->egress, "\xff\xfe", 443, "/usr/bin/curl", NULL, &m), 0);
        ck_assert_int_eq(m.decision, EGRESS_DENY);
        ck_assert_int_eq(policy_egress_match(&c->egress, NULL, 443, "/usr/bin/curl", NULL, &m), -EINVAL);
}
END_TEST

START_TEST(test_matcher_empty) {
        _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_free_ char *reason = NULL;
        EgressMatch m;

        ck_assert_int_eq(load_string("version: 1\n", &p, NULL), 0);
        ck_assert_int_eq(policy_compile(p, NULL, &c), 0);
        ck_assert_uint_eq(c->egress.n_entries, 0);
        ck_assert_int_eq(policy_egress_match(&c->egress, "api.github.com", 443, "/usr/bin/curl", NULL, &m), 0);
        ck_assert_int_eq(m.decision, EGRESS_DENY);
        ck_assert_int_eq(m.reason, EGRESS_REASON_NO_POLICIES);
        ck_assert_int_eq(policy_egress_reason(&c->egress, &m, "api.github.com", 443, "/usr/bin/curl", NULL, &reason), 0);
        ck_assert_str_eq(reason, "network connections not allowed by policy");
}
END_TEST

START_TEST(test_access_presets) {
        _cleanup_(policy_freep) Policy *p = NULL;
        static const char yaml[] =
                "version: 1\n"
                "network_policies:\n"
                "  r:\n"
                "    endpoints:\n"
                "      - { host: a.example.com, port: 443, protocol: rest, enforcement: enforce, access: read-only }\n"
                "      - { host: b.example.com, port: 443, protocol: rest, enforcement: enforce, access: read-write }\n"
                "      - { host: c.example.com, port: 443, protocol: rest, enforcement: enforce, access: full }\n"
                "      - { host: d.example.com, port: 443, protocol: websocket, enforcement: enforce, access: read-only }\n"
                "      - { host: e.example.com, port: 443, protocol: websocket, enforcement: enforce, access: read-write }\n"
                "      - { host: f.example.com, port: 443, protocol: rest, enforcement: enforce, rules: [ { allow: { method: get } } ] }\n"
                "    binaries: [ { path: /usr/bin/curl } ]\n";
        static const char *const want[][7] = {
                { "GET", "HEAD", "OPTIONS" },
                { "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH" },
                { "*" },
                { "GET" },
                { "GET", "WEBSOCKET_TEXT" },
                { "GET" },
        };

        ck_assert_int_eq(load_string(yaml, &p, NULL), 0);
        ck_assert_uint_eq(p->rules[0].n_endpoints, ELEMENTSOF(want));
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                const PolicyEndpoint *e = &p->rules[0].endpoints[i];
                size_t n = 0;
                while (n < ELEMENTSOF(want[i]) && want[i][n])
                        n++;
                ck_assert_uint_eq(e->n_rules, n);
                for (size_t k = 0; k < n; k++) {
                        ck_assert_str_eq(e->rules[k].method, want[i][k]);
                        ck_assert_str_eq(e->rules[k].path, "**");
                }
        }
}
END_TEST

START_TEST(test_port_normalised) {
        _cleanup_(policy_freep) Policy *p = NULL;

        ck_assert_int_eq(load_string("version: 1\nnetwork_policies:\n  a:\n    endpoints:\n"
                                     "      - { host: a.example.com, port: 443 }\n"
                                     "      - { host: b.example.com, ports: [8443, 443, 8443] }\n"
                                     "    binaries: [ { path: /usr/bin/curl } ]\n",
                                     &p, NULL),
                         0);
        ck_assert_uint_eq(p->rules[0].endpoints[0].n_ports, 1);
        ck_assert_uint_eq(p->rules[0].endpoints[0].ports[0], 443);
        ck_assert_uint_eq(p->rules[0].endpoints[1].n_ports, 2);
        ck_assert_uint_eq(p->rules[0].endpoints[1].ports[0], 443);
        ck_assert_uint_eq(p->rules[0].endpoints[1].ports[1], 8443);
}
END_TEST

START_TEST(test_l7_decide) {
        _cleanup_(policy_freep) Policy *p = NULL;
        static const char yaml[] =
                "version: 1\n"
                "network_policies:\n"
                "  gh:\n"
                "    endpoints:\n"
                "      - host: github.com\n"
                "        port: 443\n"
                "        protocol: rest\n"
                "        enforcement: enforce\n"
                "        rules:\n"
                "          - allow: { method: GET, path: \"/**/info/refs*\" }\n"
                "          - allow: { method: POST, path: \"/**/git-upload-pack\" }\n"
                "          - allow: { method: GET, path: /search, query: { q: \"*\", lang: { any: [en, de] } } }\n"
                "        deny_rules:\n"
                "          - { method: GET, path: /search, query: { debug: \"1\" } }\n"
                "      - { host: api.github.com, port: 443, protocol: rest, enforcement: enforce, access: read-only }\n"
                "      - { host: ws.github.com, port: 443, protocol: websocket, enforcement: enforce, access: read-write }\n"
                "    binaries: [ { path: /usr/bin/git } ]\n";
        const PolicyEndpoint *e, *ro, *ws;
        L7QueryParam q_ok[] = { { "q", "x" }, { "lang", "en" } }, q_bad_lang[] = { { "q", "x" }, { "lang", "fr" } },
                     q_two_lang[] = { { "q", "x" }, { "lang", "en" }, { "lang", "fr" } }, q_missing[] = { { "q", "x" } },
                     q_debug[] = { { "q", "x" }, { "lang", "en" }, { "debug", "1" } },
                     q_debug0[] = { { "q", "x" }, { "lang", "en" }, { "debug", "0" } };

        ck_assert_int_eq(load_string(yaml, &p, NULL), 0);
        e = &p->rules[0].endpoints[0];
        ro = &p->rules[0].endpoints[1];
        ws = &p->rules[0].endpoints[2];

        /* '**' and '*' cross '/' in L7 paths; the query string is part of the path as upstream */
        ck_assert_int_eq(policy_l7_decide(e, "GET", "/org/repo.git/info/refs?service=git-upload-pack", NULL, 0), L7_ALLOW);
        ck_assert_int_eq(policy_l7_decide(e, "POST", "/org/repo.git/git-upload-pack", NULL, 0), L7_ALLOW);
        ck_assert_int_eq(policy_l7_decide(e, "POST", "/org/repo.git/git-receive-pack", NULL, 0), L7_DENY_NOT_PERMITTED);
        ck_assert_int_eq(policy_l7_decide(e, "PUT", "/org/repo.git/git-upload-pack", NULL, 0), L7_DENY_NOT_PERMITTED);
        /* allow with query conditions: every value must match; a missing parameter does not */
        ck_assert_int_eq(policy_l7_decide(e, "GET", "/search", q_ok, ELEMENTSOF(q_ok)), L7_ALLOW);
        ck_assert_int_eq(policy_l7_decide(e, "GET", "/search", q_bad_lang, ELEMENTSOF(q_bad_lang)), L7_DENY_NOT_PERMITTED);
        ck_assert_int_eq(policy_l7_decide(e, "GET", "/search", q_two_lang, ELEMENTSOF(q_two_lang)), L7_DENY_NOT_PERMITTED);
        ck_assert_int_eq(policy_l7_decide(e, "GET", "/search", q_missing, ELEMENTSOF(q_missing)), L7_DENY_NOT_PERMITTED);
        /* deny rules win; any matching value triggers; absent parameter: the deny rule does not apply */
        ck_assert_int_eq(policy_l7_decide(e, "GET", "/search", q_debug, ELEMENTSOF(q_debug)), L7_DENY_RULE);
        ck_assert_int_eq(policy_l7_decide(e, "GET", "/search", q_debug0, ELEMENTSOF(q_debug0)), L7_ALLOW);
        /* presets */
        ck_assert_int_eq(policy_l7_decide(ro, "HEAD", "/repos/a/b", NULL, 0), L7_ALLOW);
        ck_assert_int_eq(policy_l7_decide(ro, "DELETE", "/repos/a/b", NULL, 0), L7_DENY_NOT_PERMITTED);
        ck_assert_int_eq(policy_l7_decide(ws, "WEBSOCKET_TEXT", "/socket", NULL, 0), L7_ALLOW);
        ck_assert_int_eq(policy_l7_decide(ws, "POST", "/socket", NULL, 0), L7_DENY_NOT_PERMITTED);
        ck_assert_int_eq(policy_l7_decide(ws, NULL, "/socket", NULL, 0), L7_DENY_NOT_PERMITTED);
        ck_assert(policy_l7_path_match("/v1/**", "/v1/a/b/c"));
        ck_assert(policy_l7_path_match("**", "/anything"));
        ck_assert(!policy_l7_path_match("/v1/*", "/v2/a"));
        ck_assert_str_eq(l7_decision_to_string(L7_DENY_RULE), "deny-rule");
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("policy-egress");
        TCase *tc = tcase_create("egress");

        tcase_add_test(tc, test_glob_host);
        tcase_add_test(tc, test_glob_path);
        tcase_add_test(tc, test_host_normalize);
        tcase_add_test(tc, test_path_normalize);
        tcase_add_test(tc, test_matcher);
        tcase_add_test(tc, test_matcher_empty);
        tcase_add_test(tc, test_access_presets);
        tcase_add_test(tc, test_port_normalised);
        tcase_add_test(tc, test_l7_decide);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}
