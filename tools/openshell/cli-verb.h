/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The command tree of `openshell` and its manual: every command is a Verb that carries its getopt
 * table and its help text side by side, so that `--help`, `openshell help`, the dispatcher and the
 * tests all read the same table (tests/unit/tools/test-openshell-help.c checks that each option the
 * getopt table accepts is documented, and each documented option exists). */

#include <getopt.h>
#include <stdio.h>

#include "log.h"
#include "macro.h"

/* Exit statuses of the CLI: 0 success, 1 the operation failed or the input is invalid, 2 usage error. */
#define EXIT_USAGE 2

/* One entry of a definition list: an option as typed ("-n, --name NAME") or an exit status ("128+N"),
 * and what it means. */
typedef struct VerbItem {
        const char *term;
        const char *text;
} VerbItem;

/* The exit status every command shares; run functions return it through usage_error()/verb_usage(). */
#define VERB_EXIT_USAGE                                                                                 \
        { "2", "Usage error: an unknown option, a missing or malformed argument; the message names it." }

/* A command ("sandbox create") or a group of commands ("sandbox").
 *
 * Texts are paragraphs, one per line, wrapped to the terminal page on output; an empty line leaves a
 * blank line, and a line that starts with two spaces is printed as it is (a command or a file). */
typedef struct Verb {
        const char *name;
        const char *summary;     /* a short line: the NAME section and command lists */
        const char *synopsis;    /* what follows the command's full name; one form per line */
        const char *description;
        const VerbItem *options; /* ending with {}; "-h, --help" is added */
        const VerbItem *exit_status;
        const VerbItem *files;   /* path, what it is */
        const char *examples;
        const char *see_also;

        /* A command: run() gets argv[0] set to its full name ("openshell sandbox create"), so that
         * getopt's messages name it; getopt is the table run() passes to getopt_long(). */
        int (*run)(int argc, char *argv[]);
        const struct option *getopt;

        /* A group: its commands, NULL-terminated. */
        const struct Verb *const *verbs;
} Verb;

/* The root of the tree (openshell.c). */
extern const Verb openshell_verb;

/* Runs the command of group named by argv[0] (argv[1]... are its arguments); path is the group's
 * full name ("openshell", "openshell sandbox"). Returns an exit status, or a negative errno the
 * command has already reported. */
int verb_dispatch(const Verb *group, const char *path, int argc, char *argv[]);

/* A row of a group's COMMANDS section: "create", or from the root "sandbox create". */
typedef struct CommandRow {
        char term[64];
        const char *summary;
} CommandRow;
#define COMMAND_ROWS_MAX 128U

/* Fills rows (at most max) with the commands of group and returns their number. The root expands its
 * groups ("sandbox create"), so that `openshell --help` lists every command. Shared by --help and the
 * manual pages (openshell-man.c). */
size_t command_rows(const Verb *group, CommandRow *rows, size_t max);

/* What follows v's full name in its SYNOPSIS: v->synopsis, or for a group without one its default. */
const char *verb_synopsis(const Verb *v);

/* Prints the manual of v, whose full name is path. */
void verb_help_print(const Verb *v, const char *path, FILE *f);

/* Prints the manual of v to stdout; returns EXIT_SUCCESS, or a negative errno if stdout cannot be
 * written. */
int verb_help_show(const Verb *v, const char *path);
/* For run functions: prints the manual of the running command to stdout and returns EXIT_SUCCESS
 * (or a negative errno if stdout cannot be written). */
int verb_help(void);

/* For run functions, after a usage error's message: points to --help and returns EXIT_USAGE. */
int verb_usage(void);
#define usage_error(...) (log_error(__VA_ARGS__), verb_usage())

/* For commands that take no options: the getopt table, and a parser that handles -h/--help and
 * refuses any other option. Returns false when the command must end now with *ret_status (help
 * printed, or a usage error); true with optind at the first argument. */
extern const struct option verb_no_options[];
bool verb_parse_no_options(int argc, char *argv[], int *ret_status);

/* The Verb a list of names ("sandbox", "create") leads to from openshell_verb, and its full name;
 * NULL, after a message, when a name is unknown. */
const Verb *verb_find(char *const *names, size_t n, char **ret_path);
