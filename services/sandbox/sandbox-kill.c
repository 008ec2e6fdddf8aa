/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <syslog.h>

#include "sandbox-kill.h"
#include "sandbox-unit.h"
#include "string-util.h"

static bool unit_has_prefix(char *const *unit, const char *prefix) {
        STRV_FOREACH(u, unit)
                if (startswith(*u, prefix))
                        return true;
        return false;
}

static bool unit_is_set(char *const *unit, const char *key) {
        const char *v = sandbox_unit_assignment_value(unit, key);
        return v && !isempty(v);
}

/* SystemCallFilter= kills what it denies unless SystemCallErrorNumber= makes the denials errors. */
static bool syscall_filter_kills(char *const *unit) {
        return unit_is_set(unit, "SystemCallFilter") && !unit_is_set(unit, "SystemCallErrorNumber");
}

static bool extra_filter_applied(char *const *unit) {
        return unit_has_prefix(unit, "LoadCredential=" SANDBOX_SECCOMP_CREDENTIAL ":");
}

static bool native_only(char *const *unit) {
        const char *v = sandbox_unit_assignment_value(unit, "SystemCallArchitectures");
        return v && streq(v, "native");
}

SandboxKillCause sandbox_kill_cause(int signal, bool early, char *const *unit) {
        const char *wx = sandbox_unit_assignment_value(unit, "MemoryDenyWriteExecute");

        switch (signal) {
        case SIGSYS:
                if (native_only(unit) || syscall_filter_kills(unit) || extra_filter_applied(unit))
                        return SANDBOX_KILL_SYSCALL_FILTER;
                break;
        case SIGTRAP:
        case SIGILL:
        case SIGSEGV:
                if (early && wx && streq(wx, "yes"))
                        return SANDBOX_KILL_WX;
                break;
        }
        return SANDBOX_KILL_SIGNAL;
}

/* "SystemCallArchitectures=native, the extra seccomp filter": the filters in effect that kill. */
static int killing_filters(char *const *unit, char **ret) {
        const char *f[3];
        size_t n = 0;

        if (native_only(unit))
                f[n++] = "SystemCallArchitectures=native";
        if (syscall_filter_kills(unit))
                f[n++] = "SystemCallFilter=";
        if (extra_filter_applied(unit))
                f[n++] = "the extra seccomp filter";
        return asprintf_safe(ret, "%s%s%s%s%s", n > 0 ? f[0] : "", n > 1 ? ", " : "", n > 1 ? f[1] : "",
                             n > 2 ? ", " : "", n > 2 ? f[2] : "");
}

int sandbox_kill_event_fields(const SandboxKillEvent *ev, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *filters = NULL, *name = NULL;
        SandboxKillCause cause = sandbox_kill_cause(ev->signal, ev->early, ev->unit);
        const char *abbrev = sigabbrev_np(ev->signal);
        int r;

#define ADD(...) STRV_EXTENDF_OR_RETURN(&l, __VA_ARGS__)

        if (abbrev)
                r = asprintf_safe(&name, "SIG%s", abbrev);
        else
                r = asprintf_safe(&name, "signal %d", ev->signal);
        if (r < 0)
                return r;

        ADD("MESSAGE_ID=" SANDBOX_KILL_MESSAGE_ID);
        ADD("PRIORITY=%d", LOG_ERR);
        switch (cause) {
        case SANDBOX_KILL_SYSCALL_FILTER:
                r = killing_filters(ev->unit, &filters);
                if (r < 0)
                        return r;
                /* With SystemCallErrorNumber= the denied calls fail with an error; what is left to kill
                 * is a call of another ABI. */
                ADD("MESSAGE=Agent %s was killed by %s: the system call filter (%s) killed one of its system "
                    "calls%s. Which call, only the kernel's audit log says.",
                    ev->agent_unit, name, filters,
                    native_only(ev->unit) && !syscall_filter_kills(ev->unit)
                            ? ", one of another ABI (such as a 32-bit call of a 64-bit program): the calls it "
                              "denies fail with EPERM instead"
                            : "");
                break;
        case SANDBOX_KILL_WX:
                ADD("MESSAGE=Agent %s was killed by %s right after its start: MemoryDenyWriteExecute= (W^X) "
                    "refused executable memory: a JIT runtime needs " SANDBOX_WX_POLICY_KEY ": false "
                    "(the default) in its policy.",
                    ev->agent_unit, name);
                break;
        case SANDBOX_KILL_SIGNAL:
                ADD("MESSAGE=Agent %s was killed by %s (%s).", ev->agent_unit, name, strsignal(ev->signal));
                break;
        }
        ADD("OPENSHELL_SANDBOX=%s", ev->sandbox);
        ADD("OPENSHELL_EVENT=process");
        ADD("OPENSHELL_SIGNAL=%s", name);
        switch (cause) {
        case SANDBOX_KILL_SYSCALL_FILTER:
                ADD("OPENSHELL_DECISION=deny");
                ADD("OPENSHELL_POLICY=%s", filters);
                ADD("OPENSHELL_REASON=killed by %s: system call filter", name);
                break;
        case SANDBOX_KILL_WX:
                ADD("OPENSHELL_DECISION=deny");
                ADD("OPENSHELL_POLICY=" SANDBOX_WX_POLICY_KEY);
                ADD("OPENSHELL_REASON=killed by %s: MemoryDenyWriteExecute=yes refused W+X memory", name);
                break;
        case SANDBOX_KILL_SIGNAL:
                ADD("OPENSHELL_REASON=killed by %s", name);
                break;
        }
        if (ev->pid > 0)
                ADD("OPENSHELL_PID=%" PRIu32, ev->pid);
        if (ev->binary)
                ADD("OPENSHELL_BINARY=%s", ev->binary);
#undef ADD

        *ret = TAKE_PTR(l);
        return 0;
}
