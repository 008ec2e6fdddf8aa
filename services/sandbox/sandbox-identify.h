/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* "Which binary opened this connection?", answered for the sandbox's proxy by the supervisor (root).
 *
 * The proxy (openshell-proxy@NAME.service, unprivileged, in the host's network namespace) accepts the
 * agent's connections on 127.0.0.1:3128 or [::1]:3128 inside the sandbox's namespace and cannot look
 * into the agent's processes. For each connection it asks over a unix SOCK_SEQPACKET socket
 * (SANDBOX_IDENTIFY_SOCKET in the proxy's folder, see sandbox-proxy.h), one request per datagram:
 *
 *     IDENTIFY <4|6> <client-address> <client-port>\n
 *
 * where client-address and client-port are the peer of the accepted connection (as getpeername() gives
 * them, the address in inet_ntop() form). The answer is one datagram:
 *
 *     OK <pid> <exe-path> [<ancestor-exe-path>...]\n
 *     ERR <reason>\n
 *
 * pid owns the client's socket (the lowest such pid when several processes share it); exe-path is its
 * /proc/PID/exe, the kernel's path of the binary (symbolic links resolved; " (deleted)" removed when the
 * binary is gone); the ancestors follow, parent first, up to the first process of the unit it runs in
 * (the agent's main process, or an exec session's), at most IDENTIFY_ANCESTORS_MAX of them. A path
 * byte that is not printable ASCII (0x21-0x7e), and '\', is written as \xHH (two lower-case hex
 * digits), so that fields never contain a space and a reply is always one line. Reasons are single
 * words: bad-request, not-found (no such connection in the sandbox), ambiguous (processes with
 * different binaries share the socket), too-large (a table or a process beyond the limits below),
 * internal (the supervisor failed; see its log).
 *
 * The request comes from the proxy, which parses what the agent sends and may be compromised: it is
 * parsed strictly (bounded, each field validated, nothing after the newline). Everything else comes
 * from the kernel (/proc of the sandbox's namespace and processes): nothing the agent writes is parsed. */

#include <netinet/in.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

#define IDENTIFY_REQUEST_MAX 96
#define IDENTIFY_REPLY_MAX 8192 /* the proxy's bound (services/proxy/proxy-identify.h) */
#define IDENTIFY_ANCESTORS_MAX 64
/* Bounds of the work one request may cause. */
#define IDENTIFY_TCP_TABLE_MAX (16U * 1024 * 1024)
#define IDENTIFY_FDS_MAX 1048576U
#define IDENTIFY_PIDS_MAX 65536U

typedef struct IdentifyRequest {
        int family; /* AF_INET or AF_INET6 */
        union {
                struct in_addr in;
                struct in6_addr in6;
        } address;
        uint16_t port;
} IdentifyRequest;

/* Parses one datagram of SIZE bytes. -EBADMSG for anything but a well-formed request. */
int identify_request_parse(const void *buf, size_t size, IdentifyRequest *ret);

/* The inode of the client's socket in the text of /proc/net/tcp (v6 = false) or /proc/net/tcp6: the
 * line whose local end is the request's address and port and whose remote port is REMOTE_PORT (the
 * proxy's), in a connected state. In tcp6, an IPv4 request also matches its v4-mapped form (a dual-stack
 * socket). -ENOENT if there is none, -EBADMSG if the text is not such a table. */
int proc_net_tcp_find_inode(const char *text, bool v6, const IdentifyRequest *req, uint16_t remote_port,
                            uint64_t *ret_inode);
/* The inode N of a /proc/PID/fd link "socket:[N]"; -ENOENT for any other link. */
int socket_link_inode(const char *link, uint64_t *ret);
/* The "PPid:" of the text of /proc/PID/status. */
int proc_status_ppid(const char *text, pid_t *ret);

/* PATH with the escaping described above. */
int identify_escape_path(const char *path, char **ret);
/* The OK reply: pid, its exe, the ancestors' exes (escaped here). */
int identify_format_ok(pid_t pid, const char *exe, char *const *ancestors, char **ret);

/* What a lookup needs: the sandbox's TCP tables (netns_open_tcp_tables()), the cgroup of its processes
 * (a directory fd: every cgroup.procs below it is searched), the proxy's port, and PROC_FD, /proc. */
typedef struct IdentifyContext {
        int tcp_fd;
        int tcp6_fd; /* -EBADF without IPv6 */
        int cgroup_fd;
        int proc_fd;
        uint16_t proxy_port;
} IdentifyContext;

/* Answers one request datagram with a reply line (OK or ERR, newline-terminated). Fails only for
 * lack of memory; *ret_error is the error behind an ERR that is the sandbox's or our fault (ambiguous,
 * too-large, internal: worth a log line), 0 otherwise. */
int identify_answer(const IdentifyContext *ctx, const void *request, size_t size, char **ret_reply,
                    int *ret_error);
