/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The sandbox's network namespace: a namespace with loopback up and nothing else, kept alive by a bind
 * mount on SANDBOX_NETNS_DIR/NAME (as `ip netns add` does with /run/netns). The agent unit joins it
 * with NetworkNamespacePath=, and openshell-proxy@NAME.socket binds 127.0.0.1:3128 and [::1]:3128 in
 * it; the proxy itself runs in the host's namespace, so the only way out of the sandbox is its port.
 *
 * The bind mount must be made in PID 1's mount namespace, where systemd opens the path: the
 * supervisor's own process runs in a private one (ProtectSystem=), so openshell-sandbox@.service
 * creates and removes it with ExecStartPre=+ and ExecStopPost=+ (openshell-sandbox-netns). */

#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/* Replaces whatever is at PATH (a stale mount from a crashed run included) with a fresh namespace
 * whose loopback is up. PATH's directory must exist. */
int netns_create(const char *path);
/* Unmounts and removes PATH; 0 if there was nothing. */
int netns_remove(const char *path);
/* Brings the loopback interface of the calling thread's network namespace up. */
int netns_loopback_up(void);

/* Opens /proc/net/tcp and /proc/net/tcp6 as the namespace NETNS_FD shows them, from a short-lived child
 * that joins it (the files keep showing that namespace for as long as they are open; read them again
 * from offset 0 for the current table). ret_tcp6 is -EBADF when the kernel has no IPv6. */
int netns_open_tcp_tables(int netns_fd, int *ret_tcp, int *ret_tcp6);
