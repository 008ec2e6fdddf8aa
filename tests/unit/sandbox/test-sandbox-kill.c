/* SPDX-License-Identifier: Apache-2.0 */
#include <signal.h>

#include "check-util.h"
#include "policy-compile.h"
#include "policy.h"
#include "sandbox-kill.h"
#include "sandbox-unit.h"
#include "string-util.h"

/* The agent unit's settings as the supervisor sends them for POLICY (YAML): the fixed floor plus the
 * compiled policy, with the credentials that make openshell-exec apply the extra filter. */
static char **settings_for(const char *policy) {
        _cleanup_(policy_compiled_freep) PolicyCompiled *c = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_(diag_list_done) DiagList d = {};
        char **l = NULL;
        SandboxUnitConfig config = {
                .name = "demo",
                .workdir = "/var/lib/openshell/sandboxes/demo",
                .user = "openshell-agent",
                .command = (char *[]) { (char *) "/usr/bin/node", NULL },
                .credentials_dir = "/run/openshell/sandboxes/demo",
        };

        ck_assert_int_eq(policy_load_buffer("t.yaml", policy, strlen(policy), &p, &d), 0);
        ck_assert_int_eq(policy_compile(p, &(PolicyCompileOptions) { .agent_user = "openshell-agent" }, &c), 0);
        config.policy_unit = c->unit;
        ck_assert_int_eq(sandbox_unit_assignments(&config, &l), 0);
        return l;
}

static const char opt_in[] = "version: 1\nx-openshell: { process: { memory_deny_write_execute: true } }\n";

START_TEST(test_cause_under_real_settings) {
        _cleanup_strv_free_ char **dflt = settings_for("version: 1\n"), **wx = settings_for(opt_in);

        /* the default runs JIT runtimes: a trap is only a trap */
        ck_assert_int_eq(sandbox_kill_cause(SIGTRAP, true, dflt), SANDBOX_KILL_SIGNAL);
        ck_assert_int_eq(sandbox_kill_cause(SIGSEGV, true, dflt), SANDBOX_KILL_SIGNAL);
        /* the opt-in: a trap or crash right after the start is W^X, later it is not */
        ck_assert_int_eq(sandbox_kill_cause(SIGTRAP, true, wx), SANDBOX_KILL_WX);
        ck_assert_int_eq(sandbox_kill_cause(SIGILL, true, wx), SANDBOX_KILL_WX);
        ck_assert_int_eq(sandbox_kill_cause(SIGSEGV, true, wx), SANDBOX_KILL_WX);
        ck_assert_int_eq(sandbox_kill_cause(SIGTRAP, false, wx), SANDBOX_KILL_SIGNAL);
        /* signals no protection sends */
        ck_assert_int_eq(sandbox_kill_cause(SIGABRT, true, wx), SANDBOX_KILL_SIGNAL);
        ck_assert_int_eq(sandbox_kill_cause(SIGKILL, true, wx), SANDBOX_KILL_SIGNAL);
        /* every agent unit has the filters */
        ck_assert_int_eq(sandbox_kill_cause(SIGSYS, true, dflt), SANDBOX_KILL_SYSCALL_FILTER);
        ck_assert_int_eq(sandbox_kill_cause(SIGSYS, false, wx), SANDBOX_KILL_SYSCALL_FILTER);
}
END_TEST

/* Only a protection in effect is named. */
START_TEST(test_cause_needs_the_protection) {
        char *none[] = { (char *) "User=openshell-agent", NULL };
        char *wx_off[] = { (char *) "MemoryDenyWriteExecute=yes", (char *) "MemoryDenyWriteExecute=no", NULL };
        char *arch_empty[] = { (char *) "SystemCallArchitectures=", NULL };
        char *filter_errno[] = { (char *) "SystemCallErrorNumber=EPERM", (char *) "SystemCallFilter=@system-service",
                                 NULL };
        char *filter_kills[] = { (char *) "SystemCallFilter=@system-service", NULL };
        char *extra[] = { (char *) "LoadCredential=" SANDBOX_SECCOMP_CREDENTIAL ":/run/x/seccomp.bpf", NULL };

        ck_assert_int_eq(sandbox_kill_cause(SIGSYS, true, NULL), SANDBOX_KILL_SIGNAL);
        ck_assert_int_eq(sandbox_kill_cause(SIGSYS, true, none), SANDBOX_KILL_SIGNAL);
        ck_assert_int_eq(sandbox_kill_cause(SIGTRAP, true, none), SANDBOX_KILL_SIGNAL);
        /* the last assignment wins, as in systemd */
        ck_assert_int_eq(sandbox_kill_cause(SIGTRAP, true, wx_off), SANDBOX_KILL_SIGNAL);
        ck_assert_int_eq(sandbox_kill_cause(SIGSYS, true, arch_empty), SANDBOX_KILL_SIGNAL);
        /* denials that are errors do not kill */
        ck_assert_int_eq(sandbox_kill_cause(SIGSYS, true, filter_errno), SANDBOX_KILL_SIGNAL);
        ck_assert_int_eq(sandbox_kill_cause(SIGSYS, true, filter_kills), SANDBOX_KILL_SYSCALL_FILTER);
        ck_assert_int_eq(sandbox_kill_cause(SIGSYS, true, extra), SANDBOX_KILL_SYSCALL_FILTER);
}
END_TEST

START_TEST(test_event_wx) {
        _cleanup_strv_free_ char **wx = settings_for(opt_in), **l = NULL;
        SandboxKillEvent ev = {
                .sandbox = "demo",
                .agent_unit = "openshell-agent-demo.service",
                .signal = SIGTRAP,
                .early = true,
                .unit = wx,
                .pid = 1234,
                .binary = "/usr/bin/node",
        };

        ck_assert_int_eq(sandbox_kill_event_fields(&ev, &l), 0);
        ck_assert_str_eq(journal_field(l, "MESSAGE_ID"), SANDBOX_KILL_MESSAGE_ID);
        ck_assert_str_eq(journal_field(l, "PRIORITY"), "3");
        ck_assert_str_eq(journal_field(l, "MESSAGE"),
                         "Agent openshell-agent-demo.service was killed by SIGTRAP right after its start: "
                         "MemoryDenyWriteExecute= (W^X) refused executable memory: a JIT runtime needs "
                         "x-openshell.process.memory_deny_write_execute: false (the default) in its policy.");
        ck_assert_str_eq(journal_field(l, "OPENSHELL_SANDBOX"), "demo");
        ck_assert_str_eq(journal_field(l, "OPENSHELL_EVENT"), "process");
        ck_assert_str_eq(journal_field(l, "OPENSHELL_DECISION"), "deny");
        ck_assert_str_eq(journal_field(l, "OPENSHELL_SIGNAL"), "SIGTRAP");
        ck_assert_str_eq(journal_field(l, "OPENSHELL_POLICY"), "x-openshell.process.memory_deny_write_execute");
        ck_assert_str_eq(journal_field(l, "OPENSHELL_REASON"), "killed by SIGTRAP: MemoryDenyWriteExecute=yes refused W+X memory");
        ck_assert_str_eq(journal_field(l, "OPENSHELL_PID"), "1234");
        ck_assert_str_eq(journal_field(l, "OPENSHELL_BINARY"), "/usr/bin/node");
}
END_TEST

START_TEST(test_event_syscall_filter) {
        _cleanup_strv_free_ char **dflt = settings_for("version: 1\n"), **l = NULL, **l2 = NULL;
        char *kills[] = { (char *) "SystemCallFilter=@system-service", NULL };
        SandboxKillEvent ev = {
                .sandbox = "demo",
                .agent_unit = "openshell-agent-demo.service",
                .signal = SIGSYS,
                .unit = dflt,
        };

        ck_assert_int_eq(sandbox_kill_event_fields(&ev, &l), 0);
        ck_assert_str_eq(journal_field(l, "MESSAGE"),
                         "Agent openshell-agent-demo.service was killed by SIGSYS: the system call filter "
                         "(SystemCallArchitectures=native, the extra seccomp filter) killed one of its system "
                         "calls, one of another ABI (such as a 32-bit call of a 64-bit program): the calls it "
                         "denies fail with EPERM instead. Which call, only the kernel's audit log says.");
        ck_assert_str_eq(journal_field(l, "OPENSHELL_DECISION"), "deny");
        ck_assert_str_eq(journal_field(l, "OPENSHELL_SIGNAL"), "SIGSYS");
        ck_assert_str_eq(journal_field(l, "OPENSHELL_POLICY"), "SystemCallArchitectures=native, the extra seccomp filter");
        ck_assert_str_eq(journal_field(l, "OPENSHELL_REASON"), "killed by SIGSYS: system call filter");
        ck_assert_ptr_null(journal_field(l, "OPENSHELL_PID"));
        ck_assert_ptr_null(journal_field(l, "OPENSHELL_BINARY"));

        /* a filter that kills what it denies: no claim about the ABI */
        ev.unit = kills;
        ck_assert_int_eq(sandbox_kill_event_fields(&ev, &l2), 0);
        ck_assert_str_eq(journal_field(l2, "MESSAGE"),
                         "Agent openshell-agent-demo.service was killed by SIGSYS: the system call filter "
                         "(SystemCallFilter=) killed one of its system calls. Which call, only the kernel's audit "
                         "log says.");
}
END_TEST

START_TEST(test_event_plain_signal) {
        _cleanup_strv_free_ char **dflt = settings_for("version: 1\n"), **l = NULL, **l2 = NULL;
        SandboxKillEvent ev = {
                .sandbox = "demo",
                .agent_unit = "openshell-agent-demo.service",
                .signal = SIGTRAP,
                .early = true,
                .unit = dflt,
        };

        /* the default policy has no W^X: the trap is reported as it is, nothing is blamed */
        ck_assert_int_eq(sandbox_kill_event_fields(&ev, &l), 0);
        ck_assert_str_eq(journal_field(l, "MESSAGE"), "Agent openshell-agent-demo.service was killed by SIGTRAP (Trace/breakpoint trap).");
        ck_assert_ptr_null(journal_field(l, "OPENSHELL_DECISION"));
        ck_assert_ptr_null(journal_field(l, "OPENSHELL_POLICY"));
        ck_assert_str_eq(journal_field(l, "OPENSHELL_REASON"), "killed by SIGTRAP");

        /* a number without a name */
        ev.signal = SIGRTMIN + 1;
        ck_assert_int_eq(sandbox_kill_event_fields(&ev, &l2), 0);
        ck_assert(startswith(journal_field(l2, "OPENSHELL_SIGNAL"), "signal "));
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("sandbox-kill");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_cause_under_real_settings);
        tcase_add_test(tc, test_cause_needs_the_protection);
        tcase_add_test(tc, test_event_wx);
        tcase_add_test(tc, test_event_syscall_filter);
        tcase_add_test(tc, test_event_plain_signal);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run_suite(suite());
}
