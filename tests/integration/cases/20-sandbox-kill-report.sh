#!/bin/bash
# An agent killed by one of its protections is reported with the protection's name, not systemd's bare
# "status=5/TRAP" or "status=31/SYS" (services/sandbox/sandbox-kill.h): a program that maps W+X memory
# runs under the default policy, and under a policy that opts in to W^X it is refused and gives up as
# V8 does (SIGTRAP), which the supervisor blames on MemoryDenyWriteExecute=; a system call of another ABI
# is killed (SIGSYS), which it blames on the system call filter.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh

PROBE=$TESTS_DIR/openshell-probe
KILL_MESSAGE_ID=7140cda768a14a3ebb37ced84dd8fa30    # services/sandbox/sandbox-kill.h
cleanup() {
    cleanup_sandbox kill-wx-default; cleanup_sandbox kill-wx; cleanup_sandbox kill-sys
    rm -f /root/policy-wx.yaml /etc/openshell/policies/sandbox-kill-*.yaml
}
cleanup
trap cleanup EXIT

supervisor_ended() { [[ "$(systemctl show -P ActiveState "openshell-sandbox@$1.service")" =~ ^(inactive|failed)$ ]]; }
event_of() { journalctl --no-pager -o cat MESSAGE_ID=$KILL_MESSAGE_ID OPENSHELL_SANDBOX="$1" "${@:2}"; }

# The default policy lets a JIT runtime map W+X memory (Node, Bun: policy/README.md).
openshell sandbox create kill-wx-default -- "$PROBE" wx-memory >/dev/null
wait_until 20 supervisor_ended kill-wx-default
wait_journal openshell-agent-kill-wx-default.service "^ok$"
assert_eq "$(systemctl show -P ExecMainStatus openshell-sandbox@kill-wx-default.service)" 0 "W+X memory under the default policy"
[ -z "$(event_of kill-wx-default)" ] || fail "an agent that ended well was reported killed: $(event_of kill-wx-default)"

# A policy that opts in to W^X: the mapping is refused, the probe traps, and the supervisor says why.
cat >/root/policy-wx.yaml <<'POLICY'
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /etc]
  read_write: [/tmp]
x-openshell:
  process:
    memory_deny_write_execute: true
POLICY
output_of openshell sandbox create kill-wx --policy /root/policy-wx.yaml -- "$PROBE" wx-memory
wait_until 20 supervisor_ended kill-wx
agent=openshell-agent-kill-wx.service
wait_journal "$agent" "^denied: EPERM: "
assert_eq "$(systemctl show -P ExecMainStatus openshell-sandbox@kill-wx.service)" $((128 + 5)) "supervisor's exit status (SIGTRAP)"
wx_line="^Agent $agent was killed by SIGTRAP right after its start: MemoryDenyWriteExecute= \(W\^X\) refused executable memory: a JIT runtime needs x-openshell\.process\.memory_deny_write_execute: false"
wait_journal openshell-sandbox@kill-wx.service "$wx_line"
event=$(event_of kill-wx OPENSHELL_EVENT=process OPENSHELL_DECISION=deny OPENSHELL_SIGNAL=SIGTRAP \
        OPENSHELL_POLICY=x-openshell.process.memory_deny_write_execute)
assert_match "$event" "$wx_line" "the W^X audit event"
journalctl --update-catalog
assert_match "$(journalctl -x -n 1 --no-pager MESSAGE_ID=$KILL_MESSAGE_ID OPENSHELL_SANDBOX=kill-wx)" \
    "Leave the key out of the policy" "catalog"

# A system call of another ABI (x32 on x86-64) under the default policy: SystemCallArchitectures=native
# kills it. Other architectures have no second ABI a plain process can call.
[ "$(uname -m)" = x86_64 ] || skip "no second ABI to call on $(uname -m) (the W^X part passed)"
output_of openshell sandbox create kill-sys -- "$PROBE" foreign-syscall
wait_until 20 supervisor_ended kill-sys
agent=openshell-agent-kill-sys.service
assert_eq "$(systemctl show -P ExecMainStatus openshell-sandbox@kill-sys.service)" $((128 + 31)) "supervisor's exit status (SIGSYS)"
sys_line="^Agent $agent was killed by SIGSYS: the system call filter \(SystemCallArchitectures=native, the extra seccomp filter\) killed one of its system calls"
wait_journal openshell-sandbox@kill-sys.service "$sys_line"
event=$(event_of kill-sys OPENSHELL_DECISION=deny OPENSHELL_SIGNAL=SIGSYS)
assert_match "$event" "$sys_line" "the system call filter audit event"
journalctl --no-pager -o cat MESSAGE_ID=$KILL_MESSAGE_ID
