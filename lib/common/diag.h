/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Diagnostics for YAML documents a person wrote (policies, sandbox specs). Library code never logs:
 * it collects every problem it finds here, each with the place it refers to, and the caller prints
 * them all. The printed form is "FILE:LINE:COLUMN: path.to.key: what is wrong (what would be right)". */

#include <stdarg.h>

#include "macro.h"

typedef enum DiagLevel {
        DIAG_ERROR,
        DIAG_WARNING,
        _DIAG_LEVEL_MAX,
        _DIAG_LEVEL_INVALID = -EINVAL,
} DiagLevel;

typedef struct Diag {
        DiagLevel level;
        char *file;
        unsigned line, column; /* 1-based; 0 when the problem has no place (e.g. the file is unreadable) */
        char *path;            /* dotted key path, e.g. "network_policies.github.endpoints[0].port"; may be NULL */
        char *message;
} Diag;

/* Beyond this many entries, further ones are counted but not stored: a garbage file must not turn
 * into unbounded memory. */
#define DIAG_LIST_MAX 200

typedef struct DiagList {
        Diag *items;
        size_t n_items;
        size_t n_errors, n_warnings; /* including those dropped beyond DIAG_LIST_MAX */
} DiagList;

int diag_add(DiagList *l, DiagLevel level, const char *file, unsigned line, unsigned column, const char *path,
             const char *fmt, ...) _printf_(7, 8);
int diag_addv(DiagList *l, DiagLevel level, const char *file, unsigned line, unsigned column, const char *path,
              const char *fmt, va_list ap) _printf_(7, 0);
void diag_list_done(DiagList *l);
/* "FILE:LINE:COLUMN: PATH: MESSAGE", with "warning: " before MESSAGE for warnings; parts without a
 * value are left out ("FILE: PATH: MESSAGE" for a problem with no place in the file). */
int diag_format(const Diag *d, char **ret);
/* What a parser reports through: the file it reads, the list, and the first failure that is not a
 * finding (-ENOMEM), which stops the work and is returned as is. Every parser of a document a person
 * wrote (policies, sandbox specs, the inference configuration) reports through one of these. */
typedef struct DiagReporter {
        const char *file;
        DiagList *diags;
        int r;
} DiagReporter;

void diag_report(DiagReporter *rep, DiagLevel level, unsigned line, unsigned column, const char *path,
                 const char *fmt, ...) _printf_(6, 7);
/* Dotted key paths for messages: "parent.key" (or "key" without a parent) and "parent[i]". NULL on
 * allocation failure, which is recorded in rep->r. */
char *diag_path_key(DiagReporter *rep, const char *parent, const char *key);
char *diag_path_index(DiagReporter *rep, const char *parent, size_t i);

/* Writes every entry, one per line, and a line "N more problems not shown" if any were dropped. */
void diag_list_print(const DiagList *l, FILE *f);
