/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Who calls (the supervisor contract, README.md), and how many requests each caller has in flight. */

#include <stdbool.h>
#include <sys/types.h>

#include "http-parser.h"
#include "macro.h"

/* Who may name the calling sandbox with X-OpenShell-Sandbox (README.md, "Who may name a sandbox"): a
 * peer on the unix socket whose SO_PEERCRED uid is 0 (a supervisor), or whose uid is that of the user
 * sandbox_proxy_user_name() gives for the NAME in the header, as LOOKUP resolves it (the dynamic user
 * of openshell-proxy@NAME.service exists only while that unit runs). From anyone else the header is
 * ignored and the caller is "host:UID" (or "host:tcp" on the TCP listener, where no credentials
 * exist). Returns -EBADMSG if a trusted peer sends the header more than once or (root) with an invalid
 * sandbox name. */
#define BROKER_SANDBOX_HEADER "X-OpenShell-Sandbox"

/* Resolves a user name to its uid: 0, -ESRCH if there is no such user, another negative errno if the
 * lookup failed. Injected so that the rule is tested without systemd. */
typedef int (*BrokerUserLookup)(const char *user, uid_t *ret_uid);
/* The real one: asks PID 1's user database of dynamic users (varlink, what nss-systemd asks too, but
 * without depending on nsswitch.conf or a package), so only a dynamic user of a running unit counts. */
#define BROKER_USERDB_DYNAMIC_USER "/run/systemd/userdb/io.systemd.DynamicUser"
int broker_user_lookup_dynamic(const char *user, uid_t *ret_uid);
/* Its reply (one NUL-terminated varlink message) for USER: the uid, -ESRCH for NoRecordFound. */
int broker_userdb_reply_parse(const char *reply, const char *user, uid_t *ret_uid);

/* LOOKUP NULL trusts root only. */
int broker_caller_identity(bool have_peer_uid, uid_t peer_uid, const HttpRequest *req,
                           BrokerUserLookup lookup, char **ret_identity, bool *ret_is_sandbox);

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
