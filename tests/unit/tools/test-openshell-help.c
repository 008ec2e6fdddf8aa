/* SPDX-License-Identifier: Apache-2.0 */
/* The manual of every command. `openshell [GROUP [COMMAND]] --help`, `-h` and `openshell help [GROUP
 * [COMMAND]]` print the same page to standard output and exit 0; the OPTIONS section names every option
 * the command's getopt table accepts, and the table accepts every option the section names; an unknown
 * option, or an option without its argument, exits 2 with a message naming it on standard error and
 * a pointer to --help. The commands are found by walking the CLI's own command tree (openshell_verb),
 * so a command or option added without its manual fails here without touching this file. */

#include <check.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check-util.h"
#include "cli-run.h"
#include "cli-verb.h"
#include "string-util.h"

#define NODES_MAX 128U
#define DEPTH_MAX 4U
#define PAGE_WIDTH 80U

typedef struct Node {
        const Verb *verb;
        char *names[DEPTH_MAX]; /* from the root: "sandbox", "create" */
        size_t n_names;
        char path[128];         /* "openshell sandbox create" */
} Node;

static Node nodes[NODES_MAX];
static size_t n_nodes;
static char root[] = "/tmp/openshell-test-help-XXXXXX";

static void collect(const Verb *v, const Node *parent) {
        Node *n;

        if (n_nodes >= NODES_MAX || (parent && parent->n_names >= DEPTH_MAX))
                abort();
        n = &nodes[n_nodes++];
        *n = (Node) { .verb = v };
        if (parent) {
                memcpy(n->names, parent->names, sizeof n->names);
                n->n_names = parent->n_names;
                n->names[n->n_names++] = (char *) v->name;
                if (snprintf(n->path, sizeof n->path, "%s %s", parent->path, v->name) >= (int) sizeof n->path)
                        abort();
        } else
                snprintf(n->path, sizeof n->path, "openshell");
        for (const Verb *const *c = v->verbs; c && *c; c++)
                collect(*c, n);
}

static bool is_command(const Node *n) {
        return n->verb->run;
}

/* Runs openshell with the node's names, then extra (NULL-terminated). */
static void run_node(CliRun *r, const Node *n, const char *prefix, char *const *extra) {
        char *args[16] = {};
        size_t k = 0;

        if (prefix)
                args[k++] = (char *) prefix;
        for (size_t i = 0; i < n->n_names; i++)
                args[k++] = n->names[i];
        for (size_t i = 0; extra && extra[i]; i++) {
                ck_assert_uint_lt(k, ELEMENTSOF(args) - 1);
                args[k++] = extra[i];
        }
        cli_run(r, root, NULL, args);
}

static char *render(const Node *n) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        ck_assert_ptr_nonnull(f);
        verb_help_print(n->verb, n->path, f);
        ck_assert_int_eq(fclose(f), 0);
        return buf;
}

/* The body of a section: from the line after its heading to the next heading (a line that does not
 * start with a space), or NULL if the page has no such section. */
static char *section(const char *page, const char *title) {
        const char *start = NULL, *end;
        size_t tl = strlen(title);

        for (const char *l = page; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, title, tl) == 0 && l[tl] == '\n') {
                        start = l + tl + 1;
                        break;
                }
        if (!start)
                return NULL;
        for (end = start; *end; end = strchr(end, '\n') ? strchr(end, '\n') + 1 : end + strlen(end))
                if (*end != ' ' && *end != '\n')
                        break;
        return strndup(start, (size_t) (end - start));
}

/* Whether text holds word as a word of its own: "--keep" is in "--keep, --x" but not in "--keep-all". */
static bool has_word(const char *text, const char *word) {
        size_t wl = strlen(word);

        for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
                char after = p[wl];
                bool starts = p == text || strchr(" \n,|[", p[-1]);
                if (starts && !(after == '-' || after == '_' || (after >= 'a' && after <= 'z') ||
                                (after >= '0' && after <= '9')))
                        return true;
        }
        return false;
}

/* The option lines of OPTIONS ("-n, --name NAME"), one per line: the terms are indented by exactly
 * seven columns and start with '-'; their explanations are indented further. */
static char *option_terms(const char *page) {
        _cleanup_free_ char *body = section(page, "OPTIONS");
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        ck_assert_msg(body, "no OPTIONS section");
        f = open_memstream(&buf, &size);
        ck_assert_ptr_nonnull(f);
        for (const char *l = body; *l; l = strchr(l, '\n') + 1)
                if (startswith(l, "       -"))
                        fprintf(f, "%.*s\n", (int) strcspn(l + 7, "\n"), l + 7);
        ck_assert_int_eq(fclose(f), 0);
        return buf;
}

static const struct option *getopt_find(const struct option *table, const char *name, size_t len) {
        for (const struct option *o = table; o->name; o++)
                if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
                        return o;
        return NULL;
}

static void expect_page(const CliRun *r, const char *page, const char *path, const char *how) {
        ck_assert_msg(r->status == 0, "%s %s: exit %d\n%.500s", path, how, r->status, r->err);
        ck_assert_msg(streq(r->err, ""), "%s %s: wrote to stderr:\n%.500s", path, how, r->err);
        ck_assert_msg(streq(r->out, page), "%s %s: stdout is not the manual page:\n%.500s", path, how, r->out);
}

START_TEST(test_help_page) {
        const Node *n = &nodes[_i];
        _cleanup_free_ char *page = render(n), *name = NULL, *exit_status = NULL;
        char expect_name[256];
        CliRun r;

        /* the sections of a manual page */
        name = section(page, "NAME");
        snprintf(expect_name, sizeof expect_name, "       %s - ", n->path);
        ck_assert_msg(name && startswith(name, expect_name), "%s: NAME is '%s'", n->path, strna(name));
        for (const char *const *s = (const char *const[]) { "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SEE ALSO", NULL };
             *s; s++) {
                _cleanup_free_ char *body = section(page, *s);
                ck_assert_msg(body && strlen(body) > 1, "%s: no %s section", n->path, *s);
        }
        if (is_command(n)) {
                _cleanup_free_ char *examples = section(page, "EXAMPLES");
                ck_assert_msg(examples && strstr(examples, "openshell"), "%s: no EXAMPLES", n->path);
                /* every command documents its usage-error status */
                exit_status = section(page, "EXIT STATUS");
                ck_assert_msg(exit_status && strstr(exit_status, "\n       2  "), "%s: EXIT STATUS lacks 2:\n%s",
                              n->path, strna(exit_status));
                ck_assert_msg(startswith(exit_status, "       0  ") || startswith(exit_status, "       N  "),
                              "%s: EXIT STATUS does not start with success:\n%s", n->path, exit_status);
        } else {
                _cleanup_free_ char *commands = section(page, "COMMANDS");
                ck_assert_msg(commands, "%s: no COMMANDS", n->path);
                for (const Verb *const *c = n->verb->verbs; *c; c++)
                        ck_assert_msg(has_word(commands, (*c)->name), "%s: COMMANDS lacks %s", n->path, (*c)->name);
        }

        /* --help, -h and `help`: that page, on stdout, exit 0 */
        run_node(&r, n, NULL, (char *const[]) { (char *) "--help", NULL });
        expect_page(&r, page, n->path, "--help");
        run_node(&r, n, NULL, (char *const[]) { (char *) "-h", NULL });
        expect_page(&r, page, n->path, "-h");
        run_node(&r, n, "help", NULL);
        expect_page(&r, page, n->path, "(by openshell help)");
}
END_TEST

START_TEST(test_options_documented) {
        const Node *n = &nodes[_i];
        _cleanup_free_ char *page = render(n), *terms = option_terms(page);
        const struct option *table = n->verb->getopt;

        ck_assert_msg(table, "%s has no getopt table in its Verb", n->path);
        ck_assert_msg(getopt_find(table, "help", 4), "%s does not accept --help", n->path);

        /* every option the command accepts is documented */
        for (const struct option *o = table; o->name; o++) {
                char word[64];
                snprintf(word, sizeof word, "--%s", o->name);
                ck_assert_msg(has_word(terms, word), "%s accepts %s, but its OPTIONS do not name it:\n%s", n->path,
                              word, terms);
        }

        /* every documented option is accepted; "-x, --long" is the short form of --long */
        for (const char *l = terms; *l; l = strchr(l, '\n') + 1)
                for (const char *p = strstr(l, "--"); p && p < strchr(l, '\n'); p = strstr(p + 2, "--")) {
                        size_t len = strspn(p + 2, "abcdefghijklmnopqrstuvwxyz0123456789-");
                        const struct option *o = getopt_find(table, p + 2, len);

                        ck_assert_msg(o, "%s documents --%.*s, which it does not accept", n->path, (int) len, p + 2);
                        if (l[0] == '-' && l[1] != '-' && l[2] == ',' && p == l + 4)
                                ck_assert_msg(o->val == l[1], "%s documents -%c for --%s", n->path, l[1], o->name);
                }
}
END_TEST

static void expect_usage_error(const CliRun *r, const char *path, const char *what, const char *in_err) {
        char hint[256];

        snprintf(hint, sizeof hint, "Try '%s --help'.\n", path);
        ck_assert_msg(r->status == 2, "%s: exit %d, expected 2\nstdout: %s\nstderr: %s", what, r->status, r->out,
                      r->err);
        ck_assert_msg(streq(r->out, ""), "%s: wrote to stdout: %s", what, r->out);
        ck_assert_msg(strstr(r->err, in_err), "%s: '%s' not on stderr:\n%s", what, in_err, r->err);
        ck_assert_msg(endswith(r->err, hint), "%s: stderr does not end with the hint \"%s\":\n%s", what, hint,
                      r->err);
}

START_TEST(test_unknown_option) {
        const Node *n = &nodes[_i];
        CliRun r;

        run_node(&r, n, NULL, (char *const[]) { (char *) "--no-such-option", NULL });
        expect_usage_error(&r, n->path, n->path, "'--no-such-option'");
}
END_TEST

START_TEST(test_missing_argument) {
        const Node *n = &nodes[_i];

        for (const struct option *o = n->verb->getopt; o && o->name; o++) {
                char word[64], what[256];
                CliRun r;

                if (o->has_arg != required_argument)
                        continue;
                snprintf(word, sizeof word, "--%s", o->name);
                snprintf(what, sizeof what, "%s %s", n->path, word);
                run_node(&r, n, NULL, (char *const[]) { word, NULL });
                expect_usage_error(&r, n->path, what, word);
        }
}
END_TEST

/* Lines wider than the page are only the literal ones (commands, paths) a text holds verbatim: in the
 * text they start with two spaces, on the page at the section's indentation plus four. */
START_TEST(test_page_width) {
        const Node *n = &nodes[_i];
        _cleanup_free_ char *page = render(n);
        const Verb *v = n->verb;
        const char *texts[] = { v->description, v->examples, v->see_also };
        const size_t literal_indent = 7 + 4;

        for (const char *l = page; *l; l = strchr(l, '\n') + 1) {
                size_t len = strcspn(l, "\n");
                bool literal = false;

                if (len <= PAGE_WIDTH)
                        continue;
                for (size_t i = 0; i < ELEMENTSOF(texts) && !literal && strspn(l, " ") >= literal_indent; i++) {
                        _cleanup_free_ char *needle = NULL;
                        ck_assert_int_ge(asprintf(&needle, "\n  %.*s\n", (int) (len - literal_indent),
                                                  l + literal_indent),
                                         0);
                        literal = texts[i] && (strstr(texts[i], needle) || startswith(texts[i], needle + 1));
                }
                ck_assert_msg(literal, "%s: line of %zu columns:\n%.*s", n->path, len, (int) len, l);
        }
}
END_TEST

START_TEST(test_usage_errors) {
        CliRun r;

        cli_run(&r, root, NULL, NULL);
        expect_usage_error(&r, "openshell", "openshell", "'openshell' needs a command: sandbox, status");
        cli_run(&r, root, NULL, (char *const[]) { (char *) "sandbox", NULL });
        expect_usage_error(&r, "openshell sandbox", "sandbox", "needs a command: create, list");
        cli_run(&r, root, NULL, (char *const[]) { (char *) "sandbox", (char *) "crate", NULL });
        expect_usage_error(&r, "openshell sandbox", "sandbox crate", "did you mean 'create'?");
        cli_run(&r, root, NULL, (char *const[]) { (char *) "help", (char *) "sandbox", (char *) "nope", NULL });
        expect_usage_error(&r, "openshell help", "help sandbox nope", "unknown command 'openshell sandbox nope'");
        cli_run(&r, root, NULL, (char *const[]) { (char *) "help", (char *) "status", (char *) "x", NULL });
        expect_usage_error(&r, "openshell help", "help status x", "'openshell status' has no command 'x'");
        cli_run(&r, root, NULL, (char *const[]) { (char *) "sandbox", (char *) "get", NULL });
        expect_usage_error(&r, "openshell sandbox get", "sandbox get", "one sandbox NAME");
        cli_run(&r, root, NULL, (char *const[]) { (char *) "sandbox", (char *) "get", (char *) "../x", NULL });
        expect_usage_error(&r, "openshell sandbox get", "sandbox get ../x", "invalid sandbox name '../x'");
        cli_run(&r, root, NULL, (char *const[]) { (char *) "sandbox", (char *) "upload", (char *) "x", NULL });
        expect_usage_error(&r, "openshell sandbox upload", "sandbox upload x", "NAME SRC [DST]");
        cli_run(&r, root, NULL, (char *const[]) { (char *) "sandbox", (char *) "exec", (char *) "x", NULL });
        expect_usage_error(&r, "openshell sandbox exec", "sandbox exec x", "no command given");
        cli_run(&r, root, NULL, (char *const[]) { (char *) "sandbox", (char *) "create", (char *) "--forward",
                                                 (char *) "0", NULL });
        expect_usage_error(&r, "openshell sandbox create", "create --forward 0", "--forward 0: invalid port");
        cli_run(&r, root, NULL, (char *const[]) { (char *) "policy", (char *) "validate", NULL });
        expect_usage_error(&r, "openshell policy validate", "policy validate", "at least one FILE");
        cli_run(&r, root, NULL, (char *const[]) { (char *) "inference", (char *) "set", (char *) "--clear-backends",
                                                 NULL });
        expect_usage_error(&r, "openshell inference set", "inference set --clear-backends", "'--clear-backends'");
        cli_run(&r, root, NULL,
                (char *const[]) { (char *) "inference", (char *) "delete", (char *) "-o", (char *) "json", NULL });
        expect_usage_error(&r, "openshell inference delete", "inference delete -o", "-- 'o'");
        cli_run(&r, root, NULL, (char *const[]) { (char *) "sandbox", (char *) "--bogus", NULL });
        expect_usage_error(&r, "openshell sandbox", "sandbox --bogus", "unrecognized option '--bogus'");

        /* --version is no usage error */
        cli_run(&r, root, NULL, (char *const[]) { (char *) "--version", NULL });
        ck_assert_int_eq(r.status, 0);
        ck_assert(startswith(r.out, "openshell "));
}
END_TEST

static void setup(void) {
        ck_assert_ptr_nonnull(mkdtemp(root));
}

static void teardown(void) {
        (void) rmdir(root);
        strcpy(root, "/tmp/openshell-test-help-XXXXXX");
}

static Suite *suite(void) {
        Suite *s = suite_create("openshell-help");
        TCase *tc = tcase_create("pages");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, test_help_page, 0, (int) n_nodes);
        tcase_add_loop_test(tc, test_unknown_option, 0, (int) n_nodes);
        tcase_add_loop_test(tc, test_page_width, 0, (int) n_nodes);
        /* options: the root's and every command's (a group takes none but --help, handled for all) */
        for (size_t i = 0; i < n_nodes; i++)
                if (i == 0 || is_command(&nodes[i])) {
                        tcase_add_loop_test(tc, test_options_documented, (int) i, (int) i + 1);
                        tcase_add_loop_test(tc, test_missing_argument, (int) i, (int) i + 1);
                }
        tcase_add_test(tc, test_usage_errors);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        size_t n_commands = 0;

        if (access(cli_path(), X_OK) < 0) {
                fprintf(stderr, "OPENSHELL_CLI (%s) not executable, skipping\n", cli_path());
                return EXIT_TEST_SKIP;
        }
        collect(&openshell_verb, NULL);
        for (size_t i = 0; i < n_nodes; i++)
                n_commands += is_command(&nodes[i]);
        /* a walk that finds next to nothing would make every check above pass vacuously */
        if (n_commands < 20) {
                fprintf(stderr, "only %zu commands in the tree\n", n_commands);
                return EXIT_FAILURE;
        }
        return check_run_suite(suite());
}
