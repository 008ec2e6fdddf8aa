/* SPDX-License-Identifier: Apache-2.0 */
/* What may change when a running sandbox reloads its policy (`systemctl reload openshell-sandbox@NAME`):
 * network policies only. Filesystem, process, Landlock and this project's extensions are applied when
 * the agent starts; a candidate that changes them is refused with upstream's messages (SPEC.md §1.11). */

#include <string.h>

#include "policy-internal.h"
#include "string-util.h"

static bool paths_contain(const PolicyPath *l, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (streq(l[i].path, s))
                        return true;
        return false;
}

static bool paths_equal(const PolicyPath *a, size_t na, const PolicyPath *b, size_t nb) {
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++)
                if (!paths_contain(b, nb, a[i].path))
                        return false;
        return true;
}

static bool streq_null(const char *a, const char *b) {
        return a == b || (a && b && streq(a, b));
}

static bool ports_equal(const uint16_t *a, size_t na, const uint16_t *b, size_t nb) {
        return na == nb && (na == 0 || memcmp(a, b, na * sizeof(uint16_t)) == 0);
}

static void check_paths(DiagReporter *rep, const PolicyPath *old, size_t n_old, const PolicyPath *new, size_t n_new,
                        const char *what, const char *key) {
        for (size_t i = 0; i < n_old; i++)
                if (!paths_contain(new, n_new, old[i].path))
                        diag_report(rep, DIAG_ERROR, 0, 0, key, "filesystem %s path '%s' cannot be removed on a live sandbox",
                                      what, old[i].path);
        for (size_t i = 0; i < n_new; i++)
                if (!paths_contain(old, n_old, new[i].path))
                        policy_warning_at(rep, new[i].place, key,
                                          "filesystem %s path '%s' was added: it takes effect when the sandbox restarts", what,
                                          new[i].path);
}

int policy_check_reload(const Policy *running, const Policy *candidate, DiagList *diags) {
        DiagReporter rep = { .file = candidate->file, .diags = diags };
        size_t errors_before = diags->n_errors;

        if (running->landlock_compatibility != candidate->landlock_compatibility)
                diag_report(&rep, DIAG_ERROR, candidate->landlock_place.line, candidate->landlock_place.column, "landlock",
                              "landlock policy cannot be changed on a live sandbox (applied at startup)");
        if (!streq_null(running->run_as_user, candidate->run_as_user) ||
            !streq_null(running->run_as_group, candidate->run_as_group))
                diag_report(&rep, DIAG_ERROR, 0, 0, "process",
                              "process policy cannot be changed on a live sandbox (applied at startup)");

        if (running->has_filesystem_policy && !candidate->has_filesystem_policy)
                diag_report(&rep, DIAG_ERROR, 0, 0, "filesystem_policy",
                              "filesystem policy cannot be removed on a live sandbox");
        else {
                if (running->include_workdir != candidate->include_workdir ||
                    running->has_filesystem_policy != candidate->has_filesystem_policy)
                        diag_report(&rep, DIAG_ERROR, 0, 0, "filesystem_policy.include_workdir",
                                      "filesystem include_workdir cannot be changed on a live sandbox");
                check_paths(&rep, running->read_only, running->n_read_only, candidate->read_only, candidate->n_read_only,
                            "read_only", "filesystem_policy.read_only");
                check_paths(&rep, running->read_write, running->n_read_write, candidate->read_write,
                            candidate->n_read_write, "read_write", "filesystem_policy.read_write");
        }

        /* The extensions are static too: they are unit properties, Landlock rules or the seccomp filter. */
        if (memcmp(&running->resources, &candidate->resources, sizeof(PolicyResources)) != 0)
                diag_report(&rep, DIAG_ERROR, 0, 0, "x-openshell.resources",
                              "resource limits cannot be changed on a live sandbox (applied at startup)");
        if (running->gpu_all != candidate->gpu_all || running->n_gpu_devices != candidate->n_gpu_devices ||
            (running->n_gpu_devices > 0 &&
             memcmp(running->gpu_devices, candidate->gpu_devices, running->n_gpu_devices * sizeof(unsigned)) != 0))
                diag_report(&rep, DIAG_ERROR, 0, 0, "x-openshell.gpu",
                              "GPU access cannot be changed on a live sandbox (applied at startup)");
        if (!paths_equal(running->syscalls_allow, running->n_syscalls_allow, candidate->syscalls_allow,
                         candidate->n_syscalls_allow) ||
            !paths_equal(running->syscalls_deny, running->n_syscalls_deny, candidate->syscalls_deny,
                         candidate->n_syscalls_deny))
                diag_report(&rep, DIAG_ERROR, 0, 0, "x-openshell.syscalls",
                              "system call filters cannot be changed on a live sandbox (applied at startup)");
        if (!paths_equal(running->inaccessible, running->n_inaccessible, candidate->inaccessible,
                         candidate->n_inaccessible))
                diag_report(&rep, DIAG_ERROR, 0, 0, "x-openshell.filesystem",
                              "inaccessible paths cannot be changed on a live sandbox (applied at startup)");
        if (running->memory_deny_write_execute != candidate->memory_deny_write_execute)
                diag_report(&rep, DIAG_ERROR, 0, 0, "x-openshell.process",
                              "process settings cannot be changed on a live sandbox (applied at startup)");
        if (!ports_equal(running->tcp_connect_ports, running->n_tcp_connect_ports, candidate->tcp_connect_ports,
                         candidate->n_tcp_connect_ports) ||
            !ports_equal(running->tcp_bind_ports, running->n_tcp_bind_ports, candidate->tcp_bind_ports,
                         candidate->n_tcp_bind_ports) ||
            running->tcp_bind_restricted != candidate->tcp_bind_restricted)
                diag_report(&rep, DIAG_ERROR, 0, 0, "x-openshell.network",
                              "Landlock network ports cannot be changed on a live sandbox (applied at startup)");

        if (rep.r < 0)
                return rep.r;
        return diags->n_errors > errors_before ? -EBADMSG : 0;
}
