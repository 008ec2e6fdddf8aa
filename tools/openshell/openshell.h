/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "macro.h"

/* Exit statuses of the CLI: 0 success, 1 the operation failed or the input is invalid, 2 usage error. */
#define EXIT_USAGE 2

typedef struct Verb {
        const char *name;
        const char *summary;
        int (*dispatch)(int argc, char *argv[]); /* argv[0] is the verb */
} Verb;

/* Runs the verb named by argv[0] from table, or prints usage. group names the command group
 * ("sandbox", "policy", ...) for messages. */
int verb_dispatch(const char *group, const Verb *table, size_t n, int argc, char *argv[]);
void verb_print_table(const Verb *table, size_t n, FILE *f);

int verb_sandbox(int argc, char *argv[]);
int verb_status(int argc, char *argv[]);

/* The index of the first "--" in argv (options and positional arguments come before it, a command
 * after it), or argc. */
int split_at_double_dash(int argc, char *argv[]);

/* openshell sandbox exec|connect|upload|download */
int sandbox_exec(int argc, char *argv[]);
int sandbox_connect(int argc, char *argv[]);
int sandbox_upload(int argc, char *argv[]);
int sandbox_download(int argc, char *argv[]);
int verb_policy(int argc, char *argv[]);

/* openshell provider|inference (openshell-provider.c, openshell-inference.c) */
int verb_provider(int argc, char *argv[]);
int verb_inference(int argc, char *argv[]);
