/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Shared by policy-parse.c and policy-validate.c: how a problem is reported. */

#include "policy.h"

typedef struct PolicyReporter {
        const char *file;
        DiagList *diags;
        int r; /* first non-validation failure (-ENOMEM): stops the work, returned as is */
} PolicyReporter;

void policy_report(PolicyReporter *rep, DiagLevel level, unsigned line, unsigned column, const char *path,
                   const char *fmt, ...) _printf_(6, 7);

#define policy_error_at(rep, place, path, ...)                                                          \
        policy_report(rep, DIAG_ERROR, (place).line, (place).column, path, __VA_ARGS__)
#define policy_warning_at(rep, place, path, ...)                                                        \
        policy_report(rep, DIAG_WARNING, (place).line, (place).column, path, __VA_ARGS__)

static inline PolicyPlace place_of(const YamlNode *n) {
        return n ? (PolicyPlace) { n->line, n->column } : (PolicyPlace) {};
}

/* "parent.key" / "parent[i]" / "key"; NULL on allocation failure (recorded in rep->r). */
char *policy_path_key(PolicyReporter *rep, const char *parent, const char *key);
char *policy_path_index(PolicyReporter *rep, const char *parent, size_t i);

/* The default extra deny set: what no policy can allow, and what x-openshell.syscalls.allow may take out. */
extern const char *const policy_mandatory_denied_syscalls[];
extern const char *const policy_allowable_denied_syscalls[];
