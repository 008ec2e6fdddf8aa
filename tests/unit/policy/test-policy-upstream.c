/* SPDX-License-Identifier: Apache-2.0 */
/* The real upstream policies (../shared/openshell/policies, read from there, never copied): each one
 * either validates and compiles, or is refused with a clear "not supported yet" error naming the key
 * of the feature this project does not implement. Every file of the directory must be listed here, so
 * a new upstream file cannot slip through untested. Skipped (77) where the folder is absent, as in a
 * user's clone. */

#include <dirent.h>

#include "policy-test-util.h"

typedef struct Expectation {
        const char *file;
        const char *error; /* NULL: must validate and compile; else the one error, after "FILE:" */
} Expectation;

static const Expectation expectations[] = {
        { "community-base.yaml" },
        { "community-droid.yaml" },
        { "community-gemini.yaml" },
        { "community-openclaw.yaml" },
        { "openshell-local-inference.yaml" },
        { "openshell-middleware-content-guard.yaml",
          "6:1: network_middlewares: supervisor middleware (network_middlewares) is not supported yet by openshell-systemd (remove the key)" },
        { "openshell-quickstart.yaml" },
        { "openshell-supervisor-network-testdata.yaml" },
        { "openshell-transparent-tcp-redis.yaml",
          "19:19: network_policies.redis.endpoints[0].protocol: protocol 'tcp' (transparent TCP capture through policy DNS) is not supported yet by openshell-systemd (remove 'protocol: tcp' to use the proxy, which covers TLS and HTTP clients)" },
};

static const Expectation *find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(expectations); i++)
                if (streq(expectations[i].file, name))
                        return &expectations[i];
        return NULL;
}

START_TEST(test_every_upstream_file) {
        const char *dir = test_upstream_policies_dir();
        _cleanup_(closedirp) DIR *d = opendir(dir);
        size_t seen = 0;

        ck_assert_msg(d, "cannot open %s", dir);
        for (struct dirent *de; (de = readdir(d));) {
                _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL;
                _cleanup_(policy_freep) Policy *p = NULL;
                _cleanup_(diag_list_done) DiagList dl = {};
                _cleanup_strv_free_ char **got = NULL;
                _cleanup_free_ char *path = NULL, *want = NULL;
                const Expectation *e;
                int r;

                if (!endswith(de->d_name, ".yaml"))
                        continue;
                e = find(de->d_name);
                ck_assert_msg(e, "upstream file %s has no expectation in this test: add one", de->d_name);
                seen++;

                ck_assert_int_ge(asprintf_safe(&path, "%s/%s", dir, de->d_name), 0);
                r = policy_load_file(path, &p, &dl);
                got = diags_format(&dl);
                if (!e->error) {
                        if (r != 0)
                                dump_strv(got);
                        ck_assert_msg(r == 0, "%s must validate, got %d", de->d_name, r);
                        ck_assert_uint_eq(dl.n_errors, 0);
                        ck_assert_int_eq(policy_compile(p, NULL, &c), 0);
                        ck_assert_ptr_nonnull(c->unit);
                        ck_assert_uint_gt(c->landlock.n_paths, 0);
                        ck_assert_uint_gt(c->egress.n_entries, 0);
                        continue;
                }
                ck_assert_int_eq(r, -EBADMSG);
                ck_assert_ptr_null(p);
                ck_assert_int_ge(asprintf_safe(&want, "%s:%s", path, e->error), 0);
                if (!strv_contains(got, want))
                        dump_strv(got);
                ck_assert_msg(strv_contains(got, want), "%s: missing %s", de->d_name, want);
                /* The refusal is the only error: the rest of the file is fine. */
                ck_assert_uint_eq(dl.n_errors, 1);
        }
        ck_assert_uint_eq(seen, ELEMENTSOF(expectations));
}
END_TEST

/* What upstream's semantics make of a real policy, checked through the egress matcher. */
START_TEST(test_upstream_semantics) {
        _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_(diag_list_done) DiagList dl = {};
        char *ancestors[] = { (char *) "/usr/local/bin/claude", NULL };
        _cleanup_free_ char *path = NULL;
        EgressMatch m;

        ck_assert_int_ge(asprintf_safe(&path, "%s/community-base.yaml", test_upstream_policies_dir()), 0);
        ck_assert_int_eq(policy_load_file(path, &p, &dl), 0);
        ck_assert_int_eq(policy_compile(p, NULL, &c), 0);

        /* github.com:443 is in copilot, github_ssh_over_https and pypi: git is only in the second */
        ck_assert_int_eq(policy_egress_match(&c->egress, "github.com", 443, "/usr/bin/git", NULL, &m), 0);
        ck_assert_int_eq(m.decision, EGRESS_ALLOW);
        ck_assert_str_eq(m.rule, "github_ssh_over_https");
        /* uv may reach github.com through pypi; copilot does not list it */
        ck_assert_int_eq(policy_egress_match(&c->egress, "GitHub.com", 443, "/usr/local/bin/uv", NULL, &m), 0);
        ck_assert_int_eq(m.decision, EGRESS_ALLOW);
        ck_assert_str_eq(m.rule, "pypi");
        /* node spawned by claude: the ancestor counts */
        ck_assert_int_eq(policy_egress_match(&c->egress, "sentry.io", 443, "/usr/bin/python3", ancestors, &m), 0);
        ck_assert_int_eq(m.decision, EGRESS_ALLOW);
        ck_assert_str_eq(m.rule, "claude_code");
        /* glob binary with '**' */
        ck_assert_int_eq(policy_egress_match(&c->egress, "pypi.org", 443, "/sandbox/.uv/python/cpython-3.12/bin/python3",
                                             NULL, &m),
                         0);
        ck_assert_int_eq(m.decision, EGRESS_ALLOW);
        /* wrong port, unknown host, wrong binary */
        ck_assert_int_eq(policy_egress_match(&c->egress, "pypi.org", 80, "/usr/local/bin/uv", NULL, &m), 0);
        ck_assert_int_eq(m.decision, EGRESS_DENY);
        ck_assert_int_eq(m.reason, EGRESS_REASON_NO_ENDPOINT);
        ck_assert_int_eq(policy_egress_match(&c->egress, "pypi.org", 443, "/usr/bin/wget", NULL, &m), 0);
        ck_assert_int_eq(m.decision, EGRESS_DENY);
        ck_assert_int_eq(m.reason, EGRESS_REASON_BINARY);
        ck_assert_ptr_null(m.rule);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("policy-upstream");
        TCase *tc = tcase_create("upstream");

        tcase_add_test(tc, test_every_upstream_file);
        tcase_add_test(tc, test_upstream_semantics);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        test_require_upstream_policies();
        return check_run_suite(suite());
}
