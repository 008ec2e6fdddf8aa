/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The supervisor's side of the sandbox's egress proxy (openshell-proxy@NAME.service, its own unit: see
 * units/openshell-proxy@.service). Before the agent starts, the supervisor
 *  - makes SANDBOX_RUNTIME_DIR/NAME/proxy/ (root's, 0755, below the supervisor's 0700 runtime
 *    directory: no one else can reach it), which the proxy unit bind-mounts read-only at
 *    /run/openshell/proxy (its only view of /run/openshell);
 *  - copies the sandbox's policy there as policy.yaml (atomically replaced, so that a reload of the
 *    proxy reads a whole file);
 *  - serves the identify socket there (identify.sock, sandbox-identify.h), answering only peers that
 *    run in openshell-proxy@NAME.service.
 * The agent unit then Requires=/After= the proxy unit, which systemd starts first, its listening
 * sockets bound inside the sandbox's network namespace by openshell-proxy@NAME.socket. */

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "sandbox-identify.h"

#define SANDBOX_PROXY_DIR "proxy"
#define SANDBOX_PROXY_POLICY "policy.yaml"
#define SANDBOX_IDENTIFY_SOCKET "identify.sock"
#define SANDBOX_PROXY_POLICY_SIZE_MAX (4U * 1024 * 1024)
#define SANDBOX_PROXY_UNIT_PREFIX "openshell-proxy@"
/* The proxy opens one connection per lookup and may run as many lookups as it has connections
 * (--max-connections, 512 by default); more are refused. */
#define SANDBOX_IDENTIFY_CONNECTIONS_MAX 512

typedef struct SandboxProxy {
        const char *sandbox;
        char *unit;       /* openshell-proxy@NAME.service: the only peer answered */
        char *slice_unit; /* openshell-NAME.slice: the agent and exec sessions run below it */
        sd_bus *bus;      /* borrowed */
        int listen_fd;
        sd_event_source *listen_source;
        unsigned n_connections;
        struct IdentifyConnection *connections[SANDBOX_IDENTIFY_CONNECTIONS_MAX];
        IdentifyContext ctx; /* cgroup_fd resolved at the first request (the slice exists by then) */
} SandboxProxy;

#define SANDBOX_PROXY_NULL                                                                              \
        ((SandboxProxy) { .listen_fd = -EBADF,                                                          \
                          .ctx = { .tcp_fd = -EBADF, .tcp6_fd = -EBADF, .cgroup_fd = -EBADF,            \
                                   .proc_fd = -EBADF } })

/* Everything above, for sandbox NAME whose policy is the file POLICY_PATH; logs its errors. */
int sandbox_proxy_prepare(SandboxProxy *p, sd_event *e, sd_bus *bus, const char *name, const char *policy_path);
void sandbox_proxy_done(SandboxProxy *p);
/* Replaces the proxy's copy of the policy (atomically) with TEXT; logs its errors. */
int sandbox_proxy_install_policy(SandboxProxy *p, const void *text, size_t size);

/* The proxy's program: without it the sandbox keeps its namespace and has no network at all (the proxy
 * units are skipped, ConditionFileIsExecutable=). */
#define SANDBOX_PROXY_BINARY LIBEXECDIR "/openshell-proxy"
