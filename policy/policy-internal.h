/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Shared by the parser, the validator and the compiler: how a problem is reported (lib/common/diag.h),
 * and the system call tables. */

#include "policy.h"

#define policy_error_at(rep, place, path, ...)                                                          \
        diag_report(rep, DIAG_ERROR, (place).line, (place).column, path, __VA_ARGS__)
#define policy_warning_at(rep, place, path, ...)                                                        \
        diag_report(rep, DIAG_WARNING, (place).line, (place).column, path, __VA_ARGS__)

static inline PolicyPlace place_of(const YamlNode *n) {
        return n ? (PolicyPlace) { n->line, n->column } : (PolicyPlace) {};
}


/* The default extra deny set (policy-syscalls.c): what no policy can allow, and what
 * x-openshell.syscalls.allow may take out. */
extern const char *const policy_mandatory_denied_syscalls[];
extern const char *const policy_allowable_denied_syscalls[];
bool policy_syscall_is_mandatory(const char *name) _pure_;
bool policy_syscall_is_allowable(const char *name) _pure_;
