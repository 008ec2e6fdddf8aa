/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The agent ended killed by a signal: which of its protections most likely did it, and the audit event
 * the supervisor writes, so that a person reads "the system call filter" or "W^X" rather than systemd's
 * bare "status=31/SYS" or "status=5/TRAP".
 *
 * Only protections that kill are candidates, and only when the agent unit has them:
 *  - SIGSYS: a seccomp filter killed a system call. The filters that kill are SystemCallArchitectures=
 *    (calls of another ABI, e.g. 32-bit calls of a 64-bit process), SystemCallFilter= when no
 *    SystemCallErrorNumber= turns its denials into errors, and the extra filter of openshell-exec (other
 *    architectures). Which call it was only the kernel's audit log says, which the supervisor cannot read.
 *  - SIGTRAP, SIGILL, SIGSEGV soon after the start under MemoryDenyWriteExecute=yes: the kernel refused
 *    W+X memory (mmap/mprotect fail with EPERM) and a JIT runtime gave up the way it does (V8 traps:
 *    SIGTRAP on x86-64 and arm64). A crash later on is not blamed on W^X: JITs allocate code at start.
 * Anything else is reported as the signal it is. */

#include <stdbool.h>
#include <stdint.h>

/* The catalog entry of the event is in units/catalog/openshell.catalog. */
#define SANDBOX_KILL_MESSAGE_ID "7140cda768a14a3ebb37ced84dd8fa30"

/* How long after its start an agent killed by a trap or crash signal counts as refused W+X memory. */
#define SANDBOX_KILL_EARLY_USEC (10 * 1000000ULL)

/* The policy key that asks for W^X (policy/README.md). */
#define SANDBOX_WX_POLICY_KEY "x-openshell.process.memory_deny_write_execute"

typedef enum SandboxKillCause {
        SANDBOX_KILL_SIGNAL,         /* no protection in effect explains it */
        SANDBOX_KILL_SYSCALL_FILTER, /* SIGSYS under a seccomp filter that kills */
        SANDBOX_KILL_WX,             /* a trap or crash right after the start under MemoryDenyWriteExecute=yes */
} SandboxKillCause;

/* The likely cause of the agent's death by SIGNAL; EARLY: it came within SANDBOX_KILL_EARLY_USEC of the
 * start. UNIT is what is in effect: the agent unit's settings as the supervisor sent them ("Key=Value",
 * sandbox_unit_assignments()). */
SandboxKillCause sandbox_kill_cause(int signal, bool early, char *const *unit);

typedef struct SandboxKillEvent {
        const char *sandbox;
        const char *agent_unit;
        int signal;
        bool early;
        char *const *unit;
        uint32_t pid;       /* 0: unknown */
        const char *binary; /* the agent's command, or NULL */
} SandboxKillEvent;

/* The journal fields (MESSAGE_ID, PRIORITY, MESSAGE, OPENSHELL_*) of the audit event; MESSAGE names the
 * protection sandbox_kill_cause() finds, or the signal alone. */
int sandbox_kill_event_fields(const SandboxKillEvent *ev, char ***ret);
