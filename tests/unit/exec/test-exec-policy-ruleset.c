/* SPDX-License-Identifier: Apache-2.0 */
/* The Landlock ruleset crosses a process boundary as text: the supervisor prints the compiled policy's
 * rules with policy_landlock_serialize() and hands the file to openshell-exec (LoadCredential=), which
 * reads it with its own libc-only parser. This test compiles real policies (the shipped ones, the test
 * data and, when present, upstream's) and a few made for the corners of the format, prints each
 * ruleset, parses it with openshell-exec's parser (openshell-exec.c compiled in, as in
 * test-exec-ruleset) and compares every path, right and port with what the compiler produced. */
#define OPENSHELL_EXEC_NO_MAIN 1
#include "openshell-exec.c"

#include <dirent.h>

#include "check-util.h"
#include "policy-compile.h"
#include "policy.h"
#include "string-util.h"

/* Prints l, parses the text with openshell-exec's parser and compares field by field. */
static void assert_round_trip(const char *what, const PolicyLandlock *l) {
        static Ruleset rs; /* large (its arrays are fixed); points into text */
        _cleanup_free_ char *text = NULL;
        unsigned line = 0;
        size_t size = 0;
        FILE *f;
        int r;

        f = open_memstream(&text, &size);
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(policy_landlock_serialize(l, f), 0);
        ck_assert_int_eq(fclose(f), 0);

        r = exec_parse_ruleset(text, &rs, &line);
        ck_assert_msg(r == 0, "%s: openshell-exec refuses line %u of the printed ruleset", what, line);
        ck_assert_msg(rs.hard_requirement == (l->compatibility == POLICY_LANDLOCK_HARD_REQUIREMENT),
                      "%s: compatibility", what);
        ck_assert_msg(rs.handled_fs == l->handled_fs, "%s: handled_fs", what);
        ck_assert_msg(rs.handled_net == l->handled_net, "%s: handled_net", what);
        ck_assert_msg(rs.scoped == l->scoped, "%s: scoped", what);

        ck_assert_msg(rs.n_paths == l->n_paths, "%s: %zu paths read, %zu compiled", what, rs.n_paths, l->n_paths);
        for (size_t i = 0; i < l->n_paths; i++) {
                ck_assert_msg(streq(rs.paths[i].path, l->paths[i].path), "%s: path %zu read as '%s', compiled '%s'",
                              what, i, rs.paths[i].path, l->paths[i].path);
                ck_assert_msg(rs.paths[i].access == l->paths[i].access, "%s: rights of %s", what, l->paths[i].path);
        }
        ck_assert_msg(rs.n_ports == l->n_ports, "%s: %zu ports read, %zu compiled", what, rs.n_ports, l->n_ports);
        for (size_t i = 0; i < l->n_ports; i++) {
                ck_assert_msg(rs.ports[i].port == l->ports[i].port, "%s: port %zu read as %" PRIu64 ", compiled %u",
                              what, i, rs.ports[i].port, (unsigned) l->ports[i].port);
                ck_assert_msg(rs.ports[i].access == l->ports[i].access, "%s: rights of port %u", what,
                              (unsigned) l->ports[i].port);
        }
}

/* Compiles the policy in path and round-trips its ruleset. Returns false if the policy is refused
 * (only allowed where must_load is false). */
static bool round_trip_file(const char *path, bool must_load) {
        _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_(diag_list_done) DiagList dl = {};
        int r;

        r = policy_load_file(path, &p, &dl);
        if (r < 0 && !must_load)
                return false;
        ck_assert_msg(r == 0, "%s does not load: %d", path, r);
        ck_assert_msg(policy_compile(p, NULL, &c) == 0, "%s does not compile", path);
        ck_assert_msg(c->landlock.n_paths > 0, "%s: no Landlock path rule compiled", path);
        assert_round_trip(path, &c->landlock);
        return true;
}

/* Every *.yaml of dir; returns how many were round-tripped. */
static unsigned round_trip_dir(const char *dir, bool must_load) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        unsigned n = 0;

        ck_assert_msg(d, "cannot open %s", dir);
        for (struct dirent *de; (de = readdir(d));) {
                _cleanup_free_ char *path = NULL;

                if (!endswith(de->d_name, ".yaml"))
                        continue;
                ck_assert_int_ge(asprintf_safe(&path, "%s/%s", dir, de->d_name), 0);
                n += round_trip_file(path, must_load);
        }
        return n;
}

static char *in_tree(const char *rel) {
        char *p;

        ck_assert_int_ge(asprintf_safe(&p, "%s/%s", test_source_root(), rel), 0);
        return p;
}

START_TEST(test_shipped_and_test_policies) {
        static const char *const dirs[] = { "policies", "tests/data/policies/valid", "tests/data/policies/golden" };
        _cleanup_free_ char *openclaw = in_tree("policies/profiles/openclaw/policy.yaml");
        unsigned n = 0;

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *dir = in_tree(dirs[i]);
                n += round_trip_dir(dir, true);
        }
        n += round_trip_file(openclaw, true);
        /* default.yaml, the openclaw profile, 3 valid, 3 golden: a moved folder must not empty the test */
        ck_assert_uint_ge(n, 8);
}
END_TEST

/* Upstream's policies (test-policy-upstream says which ones are refused). */
START_TEST(test_upstream_policies) {
        ck_assert_uint_gt(round_trip_dir(test_upstream_policies_dir(), false), 0);
}
END_TEST

static void round_trip_string(const char *what, const char *yaml) {
        _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_(diag_list_done) DiagList dl = {};

        if (policy_load_buffer("t.yaml", yaml, strlen(yaml), &p, &dl) < 0)
                for (size_t i = 0; i < dl.n_items; i++) {
                        _cleanup_free_ char *line = NULL;
                        if (diag_format(&dl.items[i], &line) >= 0)
                                fprintf(stderr, "%s\n", line);
                }
        ck_assert_msg(p, "%s does not load", what);
        ck_assert_int_eq(policy_compile(p, NULL, &c), 0);
        assert_round_trip(what, &c->landlock);
}

/* The corners of the line format: '#' and number-like paths, hard_requirement, ports of both kinds,
 * read-write and read-only rights side by side. (Paths with spaces are refused by the validator.) */
START_TEST(test_format_corners) {
        round_trip_string("corners",
                          "version: 1\n"
                          "landlock: { compatibility: hard_requirement }\n"
                          "filesystem_policy:\n"
                          "  read_only: [\"/opt/my#tools\", /opt/trailing.]\n"
                          "  read_write: [/srv/0x10, /srv/end]\n"
                          "x-openshell: { network: { tcp_bind_ports: [8080, 1], tcp_connect_ports: [65535, 5432] } }\n");
        round_trip_string("best effort, defaults", "version: 1\n");
}
END_TEST

/* Many rules: as many paths and ports as the validator accepts (POLICY_PORTS_MAX connect and bind
 * ports), which with the proxy's port make the most openshell-exec reads (RULESET_PORTS_MAX). */
START_TEST(test_many_rules) {
        _cleanup_free_ char *yaml = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&yaml, &size);
        ck_assert_ptr_nonnull(f);
        fputs("version: 1\nfilesystem_policy:\n  read_only:\n", f);
        for (unsigned i = 0; i < POLICY_PATHS_MAX / 2; i++)
                fprintf(f, "    - /ro/%u\n", i);
        fputs("  read_write:\n", f);
        for (unsigned i = 0; i < POLICY_PATHS_MAX / 2; i++)
                fprintf(f, "    - /rw/%u\n", i);
        fputs("x-openshell:\n  network:\n    tcp_connect_ports:\n", f);
        for (unsigned i = 0; i < POLICY_PORTS_MAX; i++)
                fprintf(f, "      - %u\n", 10000 + i);
        fputs("    tcp_bind_ports:\n", f);
        for (unsigned i = 0; i < POLICY_PORTS_MAX; i++)
                fprintf(f, "      - %u\n", 20000 + i);
        ck_assert_uint_eq(2 * POLICY_PORTS_MAX + 1, RULESET_PORTS_MAX);
        ck_assert_int_eq(fclose(f), 0);
        round_trip_string("many rules", yaml);
}
END_TEST

static Suite *suite(bool upstream) {
        Suite *s = suite_create("exec-policy-ruleset");
        TCase *tc = tcase_create("round-trip");

        if (upstream)
                tcase_add_test(tc, test_upstream_policies);
        else {
                tcase_add_test(tc, test_shipped_and_test_policies);
                tcase_add_test(tc, test_format_corners);
                tcase_add_test(tc, test_many_rules);
        }
        suite_add_tcase(s, tc);
        return s;
}

/* With the argument "upstream": upstream's policies only (skipped when absent); else the rest. */
int main(int argc, char *argv[]) {
        bool upstream = argc > 1 && streq(argv[1], "upstream");

        /* referenced so the file builds without openshell-exec's main(); applied in the testbed only */
        (void) apply_landlock;
        (void) apply_seccomp;
        (void) read_seccomp;
        (void) die_status;
        if (upstream)
                test_require_upstream_policies();
        return check_run_suite(suite(upstream));
}
