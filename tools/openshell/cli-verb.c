/* SPDX-License-Identifier: Apache-2.0 */
/* Dispatching the command tree, and printing its manual pages. */

#include <errno.h>
#include <string.h>

#include "cli-verb.h"
#include "string-util.h"

/* Like man(1) on a terminal of 80 columns. */
#define PAGE_WIDTH 80U
#define SECTION_INDENT 7U
#define ITEM_INDENT (SECTION_INDENT + 4U)
#define VERB_CHILDREN_MAX 64U

/* The command being run, for verb_help() and verb_usage(): set by verb_dispatch() for the time of its
 * run function, like program_invocation_name for the whole program. */
static const Verb *running_verb;
static const char *running_path;

static bool verb_is_group(const Verb *v) {
        return v->verbs;
}

/* ---- text layout ---- */

/* Length of the next word of s[0..n): up to a space outside square brackets, so that a synopsis
 * never breaks inside "[--policy FILE]". */
static size_t word_length(const char *s, size_t n) {
        size_t i = 0;
        int depth = 0;

        for (; i < n; i++) {
                if (s[i] == '[')
                        depth++;
                else if (s[i] == ']' && depth > 0)
                        depth--;
                else if (s[i] == ' ' && depth == 0)
                        break;
        }
        return i;
}

/* Prints s[0..n) from column col, wrapped at PAGE_WIDTH, continuation lines at indent; ends the line. */
static void print_wrapped(FILE *f, const char *s, size_t n, size_t col, size_t indent) {
        bool line_empty = true;

        for (size_t i = 0; i < n;) {
                size_t w;

                if (s[i] == ' ') {
                        i++;
                        continue;
                }
                w = word_length(s + i, n - i);
                if (!line_empty && col + 1 + w > PAGE_WIDTH) {
                        fprintf(f, "\n%*s", (int) indent, "");
                        col = indent;
                        line_empty = true;
                }
                if (!line_empty) {
                        fputc(' ', f);
                        col++;
                }
                fwrite(s + i, 1, w, f);
                col += w;
                line_empty = false;
                i += w;
        }
        fputc('\n', f);
}

/* Prints a text of the Verb's format (see cli-verb.h) at indent. */
static void print_text(FILE *f, const char *text, size_t indent) {
        for (const char *p = text; p && *p;) {
                size_t n = strcspn(p, "\n");

                if (n == 0)
                        fputc('\n', f);
                else if (startswith(p, "  "))
                        fprintf(f, "%*s%.*s\n", (int) indent + 4, "", (int) n - 2, p + 2);
                else {
                        fprintf(f, "%*s", (int) indent, "");
                        print_wrapped(f, p, n, indent, indent);
                }
                p += n;
                if (*p)
                        p++;
        }
}

static void print_section(FILE *f, const char *title) {
        fprintf(f, "\n%s\n", title);
}

/* term and text side by side, the text wrapped in a column right of the widest term. */
static void print_columns(FILE *f, const char *term, size_t term_width, const char *text) {
        fprintf(f, "%*s%-*s  ", (int) SECTION_INDENT, "", (int) term_width, term);
        print_wrapped(f, text, strlen(text), SECTION_INDENT + term_width + 2, SECTION_INDENT + term_width + 2);
}

/* ---- manual pages ---- */

const char *verb_synopsis(const Verb *v) {
        return v->synopsis ?: verb_is_group(v) ? "COMMAND [OPTIONS] [ARGS...]" : "";
}

static void print_synopsis(FILE *f, const Verb *v, const char *path) {
        for (const char *p = verb_synopsis(v);;) {
                size_t n = strcspn(p, "\n");

                fprintf(f, "%*s%s%s", (int) SECTION_INDENT, "", path, n > 0 ? " " : "");
                print_wrapped(f, p, n, SECTION_INDENT + strlen(path) + 1, SECTION_INDENT + strlen(path) + 1);
                p += n;
                if (!*p || !*++p)
                        break;
        }
}

size_t command_rows(const Verb *group, CommandRow *rows, size_t max) {
        size_t n = 0;

        for (const Verb *const *c = group->verbs; *c; c++) {
                if (group != &openshell_verb || !verb_is_group(*c)) {
                        if (n < max) {
                                snprintf(rows[n].term, sizeof rows[n].term, "%s", (*c)->name);
                                rows[n++].summary = (*c)->summary;
                        }
                        continue;
                }
                for (const Verb *const *g = (*c)->verbs; *g && n < max; g++) {
                        snprintf(rows[n].term, sizeof rows[n].term, "%s %s", (*c)->name, (*g)->name);
                        rows[n++].summary = (*g)->summary;
                }
        }
        return n;
}

static void print_commands(FILE *f, const Verb *group) {
        CommandRow rows[COMMAND_ROWS_MAX];
        size_t n = command_rows(group, rows, ELEMENTSOF(rows)), width = 0;

        for (size_t i = 0; i < n; i++)
                width = MAX(width, strlen(rows[i].term));
        for (size_t i = 0; i < n; i++)
                print_columns(f, rows[i].term, width, rows[i].summary);
}

/* Each term on a line of its own, its text indented below it (terms are long: options, paths). */
static void print_items(FILE *f, const VerbItem *items) {
        for (const VerbItem *i = items; i && i->term; i++) {
                fprintf(f, "%*s%s\n", (int) SECTION_INDENT, "", i->term);
                print_text(f, i->text, ITEM_INDENT);
        }
}

static void print_exit_status(FILE *f, const Verb *v) {
        size_t width = 0;

        for (const VerbItem *e = v->exit_status; e->term; e++)
                width = MAX(width, strlen(e->term));
        for (const VerbItem *e = v->exit_status; e->term; e++)
                print_columns(f, e->term, width, e->text);
}

void verb_help_print(const Verb *v, const char *path, FILE *f) {
        fprintf(f, "NAME\n%*s%s - ", (int) SECTION_INDENT, "", path);
        print_wrapped(f, v->summary, strlen(v->summary), SECTION_INDENT + strlen(path) + 3, SECTION_INDENT);
        print_section(f, "SYNOPSIS");
        print_synopsis(f, v, path);
        if (v->description) {
                print_section(f, "DESCRIPTION");
                print_text(f, v->description, SECTION_INDENT);
        }
        if (verb_is_group(v)) {
                print_section(f, "COMMANDS");
                print_commands(f, v);
                fprintf(f, "\n%*sRun '%s COMMAND --help' for the manual of a command.\n", (int) SECTION_INDENT, "",
                        path);
        }
        print_section(f, "OPTIONS");
        print_items(f, v->options);
        print_items(f, (const VerbItem[]) { { "-h, --help", "Show this help and exit." }, {} });
        if (v->exit_status) {
                print_section(f, "EXIT STATUS");
                print_exit_status(f, v);
        }
        if (v->files) {
                print_section(f, "FILES");
                print_items(f, v->files);
        }
        if (v->examples) {
                print_section(f, "EXAMPLES");
                print_text(f, v->examples, SECTION_INDENT);
        }
        if (v->see_also) {
                print_section(f, "SEE ALSO");
                print_text(f, v->see_also, SECTION_INDENT);
        }
}

int verb_help_show(const Verb *v, const char *path) {
        verb_help_print(v, path, stdout);
        if (fflush(stdout) != 0)
                return log_error_errno(errno, "Failed to write the help: %m");
        return EXIT_SUCCESS;
}

int verb_help(void) {
        return verb_help_show(running_verb ?: &openshell_verb, running_path ?: "openshell");
}

static int usage_hint(const char *path) {
        fprintf(stderr, "Try '%s --help'.\n", path);
        return EXIT_USAGE;
}

int verb_usage(void) {
        return usage_hint(running_path ?: "openshell");
}

const struct option verb_no_options[] = {
        { "help", no_argument, NULL, 'h' },
        {},
};

bool verb_parse_no_options(int argc, char *argv[], int *ret_status) {
        int c;

        /* getopt permutes: its first answer is the first option anywhere before "--", if any. */
        optind = 0;
        c = getopt_long(argc, argv, "h", verb_no_options, NULL);
        if (c < 0)
                return true;
        *ret_status = c == 'h' ? verb_help() : verb_usage();
        return false;
}

/* ---- lookup and dispatch ---- */

static const Verb *verb_child(const Verb *group, const char *path, const char *name) {
        const char *names[VERB_CHILDREN_MAX + 1] = {};
        const char *hint;
        size_t n = 0;

        for (const Verb *const *c = group->verbs; *c; c++) {
                if (streq((*c)->name, name))
                        return *c;
                if (n < VERB_CHILDREN_MAX)
                        names[n++] = (*c)->name;
        }
        hint = string_suggest(name, names);
        if (hint)
                log_error("unknown command '%s %s' (did you mean '%s'?)", path, name, hint);
        else
                log_error("unknown command '%s %s'", path, name);
        return NULL;
}

static int missing_command(const Verb *group, const char *path) {
        _cleanup_free_ char *list = NULL;
        size_t n = 0;

        for (const Verb *const *c = group->verbs; *c; c++)
                n += strlen((*c)->name) + 2;
        list = calloc(1, n + 1);
        if (!list)
                return log_oom();
        for (const Verb *const *c = group->verbs; *c; c++) {
                if (c != group->verbs)
                        strcat(list, ", ");
                strcat(list, (*c)->name);
        }
        log_error("'%s' needs a command: %s", path, list);
        return usage_hint(path);
}

const Verb *verb_find(char *const *names, size_t n, char **ret_path) {
        _cleanup_free_ char *path = strdup("openshell");
        const Verb *v = &openshell_verb;

        if (!path) {
                log_oom();
                return NULL;
        }
        for (size_t i = 0; i < n; i++) {
                char *longer;

                if (!verb_is_group(v)) {
                        log_error("'%s' has no command '%s'", path, names[i]);
                        return NULL;
                }
                v = verb_child(v, path, names[i]);
                if (!v)
                        return NULL;
                if (asprintf_safe(&longer, "%s %s", path, v->name) < 0) {
                        log_oom();
                        return NULL;
                }
                free(path);
                path = longer;
        }
        *ret_path = TAKE_PTR(path);
        return v;
}

static int run_verb(const Verb *v, const char *path, int argc, char *argv[]) {
        int r;

        running_verb = v;
        running_path = path;
        argv[0] = (char *) path;
        r = v->run(argc, argv);
        running_verb = NULL;
        running_path = NULL;
        return r;
}

int verb_dispatch(const Verb *group, const char *path, int argc, char *argv[]) {
        _cleanup_free_ char *child_path = NULL;
        const Verb *v;

        if (argc < 1)
                return missing_command(group, path);
        if (streq(argv[0], "--help") || streq(argv[0], "-h"))
                return verb_help_show(group, path);
        if (argv[0][0] == '-') {
                log_error("unrecognized option '%s' (the command comes first: %s COMMAND [OPTIONS])", argv[0], path);
                return usage_hint(path);
        }
        v = verb_child(group, path, argv[0]);
        if (!v)
                return usage_hint(path);
        if (asprintf_safe(&child_path, "%s %s", path, v->name) < 0)
                return log_oom();
        if (verb_is_group(v))
                return verb_dispatch(v, child_path, argc - 1, argv + 1);
        return run_verb(v, child_path, argc, argv);
}
