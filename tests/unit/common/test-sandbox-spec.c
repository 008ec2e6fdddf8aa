/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "check-util.h"
#include "sandbox-spec.h"
#include "string-util.h"

static int parse(const char *text, SandboxSpec **ret, DiagList *d) {
        _cleanup_(yaml_node_freep) YamlNode *root = NULL;
        int r;

        r = yaml_load_buffer("s.yaml", text, strlen(text), &root, d);
        if (r < 0)
                return r;
        return sandbox_spec_parse("s.yaml", root, ret, d);
}

/* All errors of an invalid spec, one per line. */
static char *errors_of(const char *text) {
        _cleanup_(diag_list_done) DiagList d = {};
        SandboxSpec *s = (SandboxSpec *) 0x1;
        char *all = strdup("");

        ck_assert_int_eq(parse(text, &s, &d), -EBADMSG);
        ck_assert_ptr_eq(s, (SandboxSpec *) 0x1);
        for (size_t i = 0; i < d.n_items; i++) {
                _cleanup_free_ char *line = NULL;
                char *n;
                ck_assert_int_eq(diag_format(&d.items[i], &line), 0);
                ck_assert_int_eq(asprintf_safe(&n, "%s%s\n", all, line), 0);
                free(all);
                all = n;
        }
        return all;
}

START_TEST(test_valid) {
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_(sandbox_spec_freep) SandboxSpec *s = NULL;

        ck_assert_int_eq(parse("command: [\"/usr/bin/agent\", --serve, 8080]\n"
                               "environment:\n"
                               "  LOG_LEVEL: info\n"
                               "  EMPTY:\n"
                               "  _X1: 'a b'\n",
                               &s, &d),
                         0);
        ck_assert_uint_eq(strv_length(s->command), 3);
        ck_assert_str_eq(s->command[0], "/usr/bin/agent");
        ck_assert_str_eq(s->command[2], "8080");
        ck_assert_uint_eq(strv_length(s->environment), 3);
        ck_assert_str_eq(s->environment[0], "LOG_LEVEL=info");
        ck_assert_str_eq(s->environment[1], "EMPTY=");
        ck_assert_str_eq(s->environment[2], "_X1=a b");
        sandbox_spec_free(TAKE_PTR(s));

        /* a bare program name is looked up by systemd */
        ck_assert_int_eq(parse("command: [sleep, infinity]\n", &s, &d), 0);
        ck_assert_str_eq(s->command[0], "sleep");
}
END_TEST

START_TEST(test_invalid) {
        static const struct {
                const char *text, *errors;
        } cases[] = {
                { "", "s.yaml: file is empty (a sandbox spec needs at least 'command:')\n" },
                { "- a\n", "s.yaml:1:1: expected a mapping of keys such as 'command:', got a list\n" },
                { "comand: [x]\n",
                  "s.yaml:1:1: comand: unknown key (did you mean 'command'?)\n"
                  "s.yaml:1:1: missing required key 'command' (the program to run and its arguments)\n" },
                { "command: [x]\nfoo: 1\n",
                  "s.yaml:2:1: foo: unknown key (expected one of: command, environment, policy, profile, providers, "
                  "forward, keep)\n" },
                { "command: /bin/true\n",
                  "s.yaml:1:10: command: expected a list of strings, got a string (write e.g. [\"/usr/bin/agent\", \"--flag\"])\n" },
                { "command: []\n", "s.yaml:1:10: command: must not be empty (name the program to run)\n" },
                { "command: [[a]]\n", "s.yaml:1:11: command[0]: expected a string, got a list\n" },
                { "command: [~]\n", "s.yaml:1:11: command[0]: expected a string, got null\n" },
                { "command: ['']\n", "s.yaml:1:11: command[0]: program must not be empty\n" },
                { "command: [bin/agent]\n",
                  "s.yaml:1:11: command[0]: program 'bin/agent' must be an absolute path or a bare name looked up in the system PATH\n" },
                { "command: [x]\nenvironment: [A=b]\n",
                  "s.yaml:2:14: environment: expected a mapping of NAME: value, got a list\n" },
                { "command: [x]\nenvironment:\n  1A: x\n  B-C: y\n  D: {e: f}\n  E: \"a\\nb\"\n",
                  "s.yaml:3:3: environment.1A: invalid variable name (letters, digits and '_', not starting with a digit)\n"
                  "s.yaml:4:3: environment.B-C: invalid variable name (letters, digits and '_', not starting with a digit)\n"
                  "s.yaml:5:6: environment.D: expected a string value, got a mapping\n"
                  "s.yaml:6:6: environment.E: value contains control characters\n" },
                { "command: [x]\npolicy: policies/p.yaml\n",
                  "s.yaml:2:9: policy: path must be absolute (start with '/'): policies/p.yaml\n" },
                { "command: [x]\npolicy: [a]\n", "s.yaml:2:9: policy: expected the path of a policy file, got a list\n" },
                { "command: [x]\nprofile: ../x\n",
                  "s.yaml:2:10: profile: invalid profile name '../x' (letters, digits, '-' and '_')\n" },
                { "command: [x]\nproviders: github\n",
                  "s.yaml:2:12: providers: expected a list of provider names, got a string\n" },
                { "command: [x]\nproviders: [gh, 'a b', gh, [x]]\n",
                  "s.yaml:2:17: providers[1]: invalid provider name 'a b' (letters, digits, '-' and '_')\n"
                  "s.yaml:2:24: providers[2]: provider 'gh' is listed twice\n"
                  "s.yaml:2:28: providers[3]: expected a provider name, got a list\n" },
                { "command: [x]\nforward: [0, 65536, 80, 80, http, -1]\n",
                  "s.yaml:2:11: forward[0]: invalid port 0; expected 1..=65535\n"
                  "s.yaml:2:14: forward[1]: invalid port 65536; expected 1..=65535\n"
                  "s.yaml:2:25: forward[3]: port 80 is listed twice\n"
                  "s.yaml:2:29: forward[4]: expected a port number, got a string\n"
                  "s.yaml:2:35: forward[5]: invalid port -1; expected 1..=65535\n" },
                { "command: [x]\nkeep: nope\n", "s.yaml:2:7: keep: expected true or false, got a string\n" },
                { "command: [x]\nkeep: 'true'\n", "s.yaml:2:7: keep: expected true or false, got a string\n" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *e = errors_of(cases[i].text);
                ck_assert_str_eq(e, cases[i].errors);
        }
}
END_TEST

START_TEST(test_all_keys_and_roundtrip) {
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_(sandbox_spec_freep) SandboxSpec *s = NULL, *again = NULL;
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;

        ck_assert_int_eq(parse("command: [\"/usr/bin/agent\", \"say \\\"hi\\\"\", 'back\\slash']\n"
                               "policy: /etc/openshell/policies/mine.yaml\n"
                               "profile: openclaw\n"
                               "environment: {LOG_LEVEL: info, EMPTY: ''}\n"
                               "providers: [my-github, nvidia]\n"
                               "forward: [18789, 8080]\n"
                               "keep: false\n",
                               &s, &d),
                         0);
        ck_assert_str_eq(s->command[1], "say \"hi\"");
        ck_assert_str_eq(s->command[2], "back\\slash");
        ck_assert_str_eq(s->policy, "/etc/openshell/policies/mine.yaml");
        ck_assert_str_eq(s->profile, "openclaw");
        ck_assert_str_eq(s->providers[1], "nvidia");
        ck_assert_uint_eq(s->n_forward, 2);
        ck_assert_uint_eq(s->forward[0], 18789);
        ck_assert_uint_eq(s->forward[1], 8080);
        ck_assert(!s->keep);

        f = open_memstream(&text, &size);
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(sandbox_spec_write(s, f), 0);
        fclose(f);
        ck_assert_int_eq(parse(text, &again, &d), 0);
        ck_assert_uint_eq(strv_length(again->command), 3);
        for (size_t i = 0; i < 3; i++)
                ck_assert_str_eq(again->command[i], s->command[i]);
        ck_assert_str_eq(again->environment[0], "LOG_LEVEL=info");
        ck_assert_str_eq(again->environment[1], "EMPTY=");
        ck_assert_str_eq(again->policy, s->policy);
        ck_assert_str_eq(again->profile, s->profile);
        ck_assert_str_eq(again->providers[0], "my-github");
        ck_assert_uint_eq(again->n_forward, 2);
        ck_assert_uint_eq(again->forward[1], 8080);
        ck_assert(!again->keep);
}
END_TEST

START_TEST(test_profile_without_command) {
        _cleanup_(diag_list_done) DiagList d = {};
        _cleanup_(sandbox_spec_freep) SandboxSpec *s = NULL;

        /* the profile's own sandbox.yaml gives the command */
        ck_assert_int_eq(parse("profile: openclaw\n", &s, &d), 0);
        ck_assert_ptr_null(s->command);
        ck_assert(s->keep);
}
END_TEST

START_TEST(test_environment_name) {
        ck_assert(environment_name_is_valid("PATH"));
        ck_assert(environment_name_is_valid("_a1"));
        ck_assert(!environment_name_is_valid(""));
        ck_assert(!environment_name_is_valid("1A"));
        ck_assert(!environment_name_is_valid("A=B"));
        ck_assert(!environment_name_is_valid("A B"));
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("sandbox-spec");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_valid);
        tcase_add_test(tc, test_invalid);
        tcase_add_test(tc, test_environment_name);
        tcase_add_test(tc, test_all_keys_and_roundtrip);
        tcase_add_test(tc, test_profile_without_command);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}
