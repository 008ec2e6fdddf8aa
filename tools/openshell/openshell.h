/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "cli-verb.h"
#include "macro.h"
#include "sandbox-name.h"

/* The commands and groups of openshell_verb (cli-verb.h), each defined next to its implementation. */
extern const Verb sandbox_verb;
extern const Verb sandbox_exec_verb, sandbox_connect_verb;     /* openshell-sandbox-exec.c */
extern const Verb sandbox_upload_verb, sandbox_download_verb; /* openshell-sandbox-files.c */
extern const Verb status_verb;
extern const Verb policy_verb;
extern const Verb provider_verb;  /* openshell-provider.c */
extern const Verb inference_verb; /* openshell-inference.c */
extern const Verb logs_verb;      /* openshell-logs.c */

/* Where `sandbox create` finds profiles (--from) and puts the copy of a --policy file. */
#define PROFILES_DIR SANDBOX_PROFILES_DIR
#define POLICIES_DIR SANDBOX_POLICIES_DIR

/* main(): global options, then the command. */
int openshell_run(int argc, char *argv[]);

/* The index of the first "--" in argv (options and positional arguments come before it, a command
 * after it), or argc. */
int split_at_double_dash(int argc, char *argv[]);
