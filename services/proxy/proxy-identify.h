/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The line protocol between openshell-proxy and the root side that names the binary behind a client
 * connection (services/proxy/README.md "Identifying the calling binary"), one request per
 * SOCK_SEQPACKET connection:
 *   request  "IDENTIFY <4|6> <client-address> <client-port>\n"
 *   reply    "OK <pid> <exe-path> [<ancestor-exe-path>...]\n"  or  "ERR <reason>\n"
 * Pure: formatting and parsing only. */

#include <stdint.h>
#include <sys/socket.h>

#include "macro.h"

#define PROXY_IDENTIFY_REPLY_MAX 8192U
#define PROXY_IDENTIFY_ANCESTORS_MAX 64U

typedef struct ProxyIdentity {
        uint64_t pid;
        char *exe;
        char **ancestors; /* nearest first; NULL if none */
} ProxyIdentity;

void proxy_identity_done(ProxyIdentity *i);

/* The request for a client socket address as accept() returned it (AF_INET or AF_INET6). */
int proxy_identify_request(const struct sockaddr *sa, socklen_t len, char **ret);
/* Parses one reply. 0 and *ret for OK; -EREMOTEIO with *ret_error (the reason, sanitised) for ERR;
 * -EBADMSG for a malformed reply (no trailing newline, bad pid, a path that is not absolute or has
 * control characters, too many ancestors). */
int proxy_identify_reply_parse(const char *data, size_t size, ProxyIdentity *ret, char **ret_error);
