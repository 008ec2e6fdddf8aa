/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <string.h>

#include "check-util.h"
#include "diag.h"
#include "policy.h"
#include "proxy-decide.h"
#include "string-util.h"

static const char policy_yaml[] =
        "version: 1\n"
        "network_policies:\n"
        "  github:\n"
        "    endpoints:\n"
        "      - host: api.github.com\n"
        "        port: 443\n"
        "      - host: \"*.github.com\"\n"
        "        port: 443\n"
        "    binaries:\n"
        "      - path: /usr/bin/curl\n"
        "  internal:\n"
        "    endpoints:\n"
        "      - host: db.corp.example\n"
        "        port: 5432\n"
        "      - host: \"*.corp.example\"\n"
        "        port: 80\n"
        "      - host: ranged.corp.example\n"
        "        port: 8080\n"
        "        allowed_ips: [\"10.1.0.0/16\"]\n"
        "    binaries:\n"
        "      - path: /usr/bin/*\n";

typedef struct Fixture {
        Policy *policy;
        PolicyEgress egress;
} Fixture;

static void load(Fixture *f) {
        DiagList d = {};

        ck_assert_int_eq(policy_load_buffer("test.yaml", policy_yaml, strlen(policy_yaml), &f->policy, &d), 0);
        diag_list_done(&d);
        ck_assert_int_eq(policy_egress_build(f->policy, &f->egress), 0);
}

static void unload(Fixture *f) {
        free(f->egress.entries);
        policy_free(f->policy);
}

static const PolicyEndpoint *endpoint_for(Fixture *f, const char *host, uint16_t port) {
        EgressMatch m;

        ck_assert_int_eq(policy_egress_match(&f->egress, host, port, "/usr/bin/curl", NULL, &m), 0);
        ck_assert_int_eq(m.decision, EGRESS_ALLOW);
        return m.entry->endpoint;
}

static int check_addr(const PolicyEndpoint *e, const char *host, const char *ip, char **reason) {
        unsigned char a[16];

        if (inet_pton(AF_INET, ip, a) == 1)
                return proxy_address_check(e, host, AF_INET, a, reason);
        ck_assert_int_eq(inet_pton(AF_INET6, ip, a), 1);
        return proxy_address_check(e, host, AF_INET6, a, reason);
}

START_TEST(test_address_check) {
        Fixture f;
        const PolicyEndpoint *exact, *glob, *ranged;
        char *reason = NULL;

        load(&f);
        exact = endpoint_for(&f, "db.corp.example", 5432);
        glob = endpoint_for(&f, "web.corp.example", 80);
        ranged = endpoint_for(&f, "ranged.corp.example", 8080);

        /* public addresses pass everywhere without allowed_ips */
        ck_assert_int_eq(check_addr(glob, "web.corp.example", "93.184.216.34", &reason), 0);
        ck_assert_ptr_null(reason);

        /* always blocked, whatever the endpoint */
        static const char *const blocked[] = { "127.0.0.1", "::1", "169.254.169.254", "0.0.0.0", "fe80::1",
                                               "::ffff:127.0.0.1", "224.0.0.1" };
        for (size_t i = 0; i < ELEMENTSOF(blocked); i++) {
                ck_assert_int_eq(check_addr(exact, "db.corp.example", blocked[i], &reason), -EPERM);
                ck_assert_str_eq(reason, "resolves to always-blocked address");
                reason = mfree(reason);
        }

        /* private: an exactly declared name may, a wildcard may not */
        ck_assert_int_eq(check_addr(exact, "db.corp.example", "10.2.3.4", &reason), 0);
        ck_assert_int_eq(check_addr(glob, "web.corp.example", "10.2.3.4", &reason), -EPERM);
        ck_assert_str_eq(reason, "web.corp.example resolves to internal address 10.2.3.4, connection rejected");
        reason = mfree(reason);
        ck_assert_int_eq(check_addr(glob, "web.corp.example", "fd00::5", &reason), -EPERM);
        reason = mfree(reason);

        /* allowed_ips: every address must be inside, public ones too */
        ck_assert_int_eq(check_addr(ranged, "ranged.corp.example", "10.1.9.9", &reason), 0);
        ck_assert_int_eq(check_addr(ranged, "ranged.corp.example", "10.2.0.1", &reason), -EPERM);
        ck_assert_str_eq(reason, "resolves to 10.2.0.1 which is not in allowed_ips, connection rejected");
        reason = mfree(reason);
        ck_assert_int_eq(check_addr(ranged, "ranged.corp.example", "8.8.8.8", &reason), -EPERM);
        reason = mfree(reason);
        ck_assert_int_eq(check_addr(ranged, "ranged.corp.example", "127.0.0.1", &reason), -EPERM);
        ck_assert_str_eq(reason, "resolves to always-blocked address");
        reason = mfree(reason);
        unload(&f);
}
END_TEST

START_TEST(test_decision_and_body) {
        _cleanup_free_ char *reason = NULL, *body = NULL, *resp = NULL;
        char *const ancestors[] = { (char *) "/usr/bin/bash", NULL };
        Fixture f;
        EgressMatch m;

        load(&f);
        ck_assert_int_eq(policy_egress_match(&f.egress, "api.github.com", 443, "/usr/bin/curl", NULL, &m), 0);
        ck_assert_int_eq(m.decision, EGRESS_ALLOW);
        ck_assert_str_eq(m.rule, "github");

        ck_assert_int_eq(policy_egress_match(&f.egress, "httpbin.org", 443, "/usr/bin/curl", NULL, &m), 0);
        ck_assert_int_eq(m.decision, EGRESS_DENY);
        ck_assert_int_eq(policy_egress_reason(&f.egress, &m, "httpbin.org", 443, "/usr/bin/curl", NULL, &reason), 0);
        ck_assert_str_eq(reason, "endpoint httpbin.org:443 is not allowed by any policy");
        reason = mfree(reason);

        ck_assert_int_eq(policy_egress_match(&f.egress, "API.GitHub.com", 443, "/opt/node", ancestors, &m), 0);
        ck_assert_int_eq(m.decision, EGRESS_DENY);
        ck_assert_int_eq(policy_egress_reason(&f.egress, &m, "API.GitHub.com", 443, "/opt/node", ancestors, &reason),
                         0);
        ck_assert_str_eq(reason, "binary '/opt/node' not allowed in policy 'github' (ancestors: [/usr/bin/bash])");

        ck_assert_int_eq(proxy_json_body("policy_denied", "CONNECT api.github.com:443 not permitted by policy",
                                         reason, &body),
                         0);
        ck_assert_str_eq(body, "{\"error\":\"policy_denied\",\"detail\":\"CONNECT api.github.com:443 not permitted by "
                               "policy\",\"reason\":\"binary '/opt/node' not allowed in policy 'github' (ancestors: "
                               "[/usr/bin/bash])\"}");
        ck_assert_int_eq(proxy_json_response(403, body, &resp), 0);
        ck_assert(startswith(resp, "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n"));
        ck_assert(strstr(resp, "\r\nConnection: close\r\n\r\n{\"error\""));
        ck_assert(endswith(resp, body));
        unload(&f);
}
END_TEST

START_TEST(test_json_escaping) {
        _cleanup_free_ char *body = NULL;

        ck_assert_int_eq(proxy_json_body("e", "a\"b\\c\n\x01", NULL, &body), 0);
        ck_assert_str_eq(body, "{\"error\":\"e\",\"detail\":\"a\\\"b\\\\c\\u000a\\u0001\"}");
}
END_TEST

START_TEST(test_message_shorthand) {
        _cleanup_free_ char *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL;
        ProxyEvent deny = {
                .decision = PROXY_DENY,
                .engine = PROXY_ENGINE_POLICY,
                .binary = "/usr/bin/curl",
                .pid = 64,
                .host = "httpbin.org",
                .port = 443,
                .reason = "no matching policy",
        };
        ProxyEvent allow = {
                .forward = true,
                .method = "GET",
                .url = "http://api.github.com/zen?token=secret",
                .decision = PROXY_ALLOW,
                .engine = PROXY_ENGINE_POLICY,
                .binary = "/usr/bin/curl",
                .pid = 58,
                .host = "api.github.com",
                .port = 80,
                .rule = "github_api",
        };
        ProxyEvent v6 = { .decision = PROXY_DENY, .engine = PROXY_ENGINE_SSRF, .host = "::1", .port = 80 };
        ProxyEvent bad = { .decision = _PROXY_DECISION_MAX };

        ck_assert_int_eq(proxy_event_message(&deny, &m1), 0);
        ck_assert_str_eq(m1, "NET:OPEN [MED] DENIED /usr/bin/curl(64) -> httpbin.org:443 [policy:- engine:policy] "
                             "[reason:no matching policy]");
        ck_assert_int_eq(proxy_event_message(&allow, &m2), 0);
        ck_assert_str_eq(m2, "HTTP:GET [INFO] ALLOWED /usr/bin/curl(58) -> GET http://api.github.com/zen "
                             "[policy:github_api engine:policy]");
        ck_assert_int_eq(proxy_event_message(&v6, &m3), 0);
        ck_assert_str_eq(m3, "NET:OPEN [MED] DENIED - -> [::1]:80 [policy:- engine:ssrf]");
        ck_assert_int_eq(proxy_event_message(&bad, &m4), -EINVAL);
        ck_assert_ptr_null(m4);
}
END_TEST

START_TEST(test_event_fields) {
        _cleanup_strv_free_ char **f = NULL, **g = NULL;
        ProxyEvent ev = {
                .forward = true,
                .method = "POST",
                .url = "http://h.example/p?secret=1",
                .decision = PROXY_DENY,
                .engine = PROXY_ENGINE_POLICY,
                .host = "h.example",
                .port = 80,
                .reason = "endpoint h.example:80 is not allowed by any policy",
        };

        ck_assert_int_eq(proxy_event_fields(&ev, "demo", &f), 0);
        ck_assert(startswith(f[0], "MESSAGE=HTTP:POST [MED] DENIED - -> POST http://h.example/p [policy:-"));
        ck_assert(strv_contains(f, "MESSAGE_ID=" PROXY_DECISION_MESSAGE_ID));
        ck_assert(strv_contains(f, "OPENSHELL_SANDBOX=demo"));
        ck_assert(strv_contains(f, "OPENSHELL_EVENT=network"));
        ck_assert(strv_contains(f, "OPENSHELL_DECISION=deny"));
        ck_assert(strv_contains(f, "OPENSHELL_HOST=h.example"));
        ck_assert(strv_contains(f, "OPENSHELL_PORT=80"));
        ck_assert(strv_contains(f, "OPENSHELL_BINARY=-"));
        ck_assert(strv_contains(f, "OPENSHELL_POLICY=-"));
        ck_assert(strv_contains(f, "OPENSHELL_REASON=endpoint h.example:80 is not allowed by any policy"));
        ck_assert(strv_contains(f, "OPENSHELL_URL=http://h.example/p"));
        STRV_FOREACH(s, f) {
                ck_assert(!startswith(*s, "OPENSHELL_PID=")); /* unknown: left out */
                ck_assert(!strstr(*s, "secret"));
        }

        ev.forward = false;
        ev.decision = PROXY_ALLOW;
        ev.reason = NULL;
        ev.binary = "/usr/bin/curl";
        ev.pid = 7;
        ev.rule = "r";
        ck_assert_int_eq(proxy_event_fields(&ev, "demo", &g), 0);
        ck_assert(strv_contains(g, "OPENSHELL_PID=7"));
        ck_assert(strv_contains(g, "OPENSHELL_POLICY=r"));
        ck_assert(strv_contains(g, "OPENSHELL_DECISION=allow"));
        STRV_FOREACH(s, g)
                ck_assert(!startswith(*s, "OPENSHELL_REASON="));
}
END_TEST

START_TEST(test_blocked_ports) {
        static const uint16_t blocked[] = { 2379, 2380, 6443, 10250, 10255 };

        for (size_t i = 0; i < ELEMENTSOF(blocked); i++)
                ck_assert(proxy_port_blocked(blocked[i]));
        ck_assert(!proxy_port_blocked(443));
        ck_assert(!proxy_port_blocked(80));
        ck_assert(!proxy_port_blocked(10251));
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("proxy-decide");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_address_check);
        tcase_add_test(tc, test_decision_and_body);
        tcase_add_test(tc, test_json_escaping);
        tcase_add_test(tc, test_message_shorthand);
        tcase_add_test(tc, test_event_fields);
        tcase_add_test(tc, test_blocked_ports);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}
