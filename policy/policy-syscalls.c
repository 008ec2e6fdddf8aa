/* SPDX-License-Identifier: Apache-2.0 */
/* The system calls the extra seccomp filter denies by default: read by the validator (what a policy
 * may allow) and the compiler (what the filter denies). */

#include "policy-internal.h"
#include "string-util.h"

/* Denied by the extra filter (SPEC.md §2.3's unconditional list, and more). The mandatory ones no
 * policy can allow: tracing and reading other processes, kernel programs, mounts, namespaces,
 * keyrings, page-fault handlers, perf, kexec, modules. The allowable ones are denied by default and
 * x-openshell.syscalls.allow may take them out: runtimes use them for ordinary work (JITs, event
 * loops, Chromium's own sandbox). */
const char *const policy_mandatory_denied_syscalls[] = {
        "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "bpf", "mount", "fsopen", "fsconfig",
        "fsmount", "fspick", "move_mount", "open_tree", "setns", "umount2", "pivot_root", "userfaultfd",
        "perf_event_open", "keyctl", "add_key", "request_key", "kexec_load", "kexec_file_load", "init_module",
        "finit_module", "delete_module", NULL,
};
const char *const policy_allowable_denied_syscalls[] = {
        "memfd_create", "pidfd_open", "pidfd_send_signal", "io_uring_setup", "io_uring_enter", "io_uring_register",
        "seccomp", /* only SECCOMP_SET_MODE_FILTER, by the extra filter */
        NULL,
};

bool policy_syscall_is_allowable(const char *name) {
        return strv_contains((char **) policy_allowable_denied_syscalls, name);
}

bool policy_syscall_is_mandatory(const char *name) {
        return strv_contains((char **) policy_mandatory_denied_syscalls, name);
}
