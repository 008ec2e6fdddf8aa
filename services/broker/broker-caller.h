/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Who calls (the supervisor contract, README.md), and how many requests each caller has in flight. */

#include <stdbool.h>
#include <sys/types.h>

#include "http-parser.h"
#include "macro.h"

/* Only a peer on the unix socket whose SO_PEERCRED uid is 0 (a supervisor) may name the calling
 * sandbox with X-OpenShell-Sandbox; from anyone else the header is ignored and the caller is
 * "host:UID" (or "host:tcp" on the TCP listener, where no credentials exist). Returns -EBADMSG if a
 * trusted peer sends the header more than once or with an invalid sandbox name. */
#define BROKER_SANDBOX_HEADER "X-OpenShell-Sandbox"
int broker_caller_identity(bool have_peer_uid, uid_t peer_uid, const HttpRequest *req, char **ret_identity,
                           bool *ret_is_sandbox);

/* In-flight requests per caller, for max_concurrency_per_sandbox. */
#define CALLERS_MAX 4096U
typedef struct CallerCount {
        char *identity;
        unsigned n;
} CallerCount;
typedef struct CallerTable {
        CallerCount *items;
        size_t n_items;
} CallerTable;
void caller_table_done(CallerTable *t);
/* Counts one more request of identity unless that would exceed max (0: unlimited): -EBUSY then. */
int caller_acquire(CallerTable *t, const char *identity, unsigned max);
void caller_release(CallerTable *t, const char *identity);
unsigned caller_count(const CallerTable *t, const char *identity) _pure_;
