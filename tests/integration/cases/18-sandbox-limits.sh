#!/bin/bash
# Resource limits hold against the agent: a fork bomb stops at TasksMax= (EAGAIN) and the system stays
# responsive; a memory hog is OOM-killed inside its own cgroup at MemoryMax=, the supervisor reports it,
# and nothing else is touched. The default policy gives every agent bounded limits.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh

PROBE=$TESTS_DIR/openshell-probe
OOM_MESSAGE_ID=e4ff02d814064241b6e2cf5fbc4e3e2b     # services/sandbox/sandbox-oom.h
TASKS_MESSAGE_ID=2e6f1bf94ee94e3b8b66c3a3dcf7bee3   # services/sandbox/sandbox-tasks.h
cleanup() {
    cleanup_sandbox lim-default; cleanup_sandbox lim-fork; cleanup_sandbox lim-mem; cleanup_sandbox lim-other
    rm -f /root/policy-limits.yaml /etc/openshell/policies/sandbox-lim-*.yaml
}
cleanup
trap cleanup EXIT

# Never run a fork bomb or a memory hog unbounded: the testbed (tests/integration/testbed) puts a limit
# of its own on the whole container and says how the container's systemd applies limits.
# shellcheck source=/dev/null
source /etc/openshell-testbed/limits 2>/dev/null ||
    skip "the testbed sets no limits of its own (no /etc/openshell-testbed/limits)"
case "$TESTBED_LIMITS" in
    unified|v1) ;;
    *) skip "resource limits cannot be enforced in this testbed ($TESTBED_LIMITS)" ;;
esac

# A file of UNIT's cgroup: on the unified hierarchy, or on the cgroup v1 hierarchy of CONTROLLER.
cgroup_file() {     # cgroup_file UNIT CONTROLLER FILE
    local cg
    cg=$(systemctl show -P ControlGroup "$1")
    [ -n "$cg" ] || fail "$1 has no cgroup"
    if [ "$TESTBED_LIMITS" = unified ]; then echo "/sys/fs/cgroup$cg/$3"; else echo "/sys/fs/cgroup/$2$cg/$3"; fi
}
memory_limit_file=memory.max
[ "$TESTBED_LIMITS" = v1 ] && memory_limit_file=memory.limit_in_bytes

# The default policy: bounded limits (policy/README.md), and the kernel enforces them.
openshell sandbox create lim-default -- /bin/sleep infinity >/dev/null
agent=openshell-agent-lim-default.service
assert_eq "$(systemctl show -P TasksMax "$agent")" 512 "TasksMax under the default policy"
assert_eq "$(systemctl show -P MemoryMax "$agent")" $((4 << 30)) "MemoryMax under the default policy"
f=$(cgroup_file "$agent" pids pids.max)
[ -f "$f" ] || skip "TasksMax= is not applied in this testbed: no $f"
assert_eq "$(cat "$f")" 512 "pids.max of the agent's cgroup"
f=$(cgroup_file "$agent" memory "$memory_limit_file")
[ -f "$f" ] || skip "MemoryMax= is not applied in this testbed: no $f"
assert_eq "$(cat "$f")" $((4 << 30)) "$memory_limit_file of the agent's cgroup"
openshell sandbox delete --purge lim-default >/dev/null

cat >/root/policy-limits.yaml <<'POLICY'
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /etc]
  read_write: [/tmp]
x-openshell:
  resources:
    tasks_max: 64
    memory_max: 64M
POLICY

# A sandbox that is only there to be unaffected by the others; and what had failed before.
failed_units() { systemctl list-units --failed --plain --no-legend | awk '{print $1}' | sort | paste -sd' '; }
failed_before=$(failed_units)
openshell sandbox create lim-other -- /bin/sleep infinity >/dev/null
other_pid=$(systemctl show -P MainPID openshell-agent-lim-other.service)

# (a) A fork bomb as the agent: fork() fails with EAGAIN at TasksMax=, and the bomb holds its processes
# (60 s at most) while we look.
openshell sandbox create lim-fork --policy /root/policy-limits.yaml -- "$PROBE" fork-bomb 60 >/dev/null
agent=openshell-agent-lim-fork.service
assert_eq "$(systemctl show -P TasksMax "$agent")" 64 "TasksMax from the policy"
current=$(cgroup_file "$agent" pids pids.current)
peak=0 deadline=$(( $(date +%s) + 30 ))
until grep -q "^denied: EAGAIN:" <<<"$(journalctl -u "$agent" --no-pager -o cat)"; do
    n=$(cat "$current" 2>/dev/null || echo 0)
    [ "$n" -gt "$peak" ] && peak=$n
    [ "$(unit_state "$agent")" = active ] ||
        fail "the fork bomb ended before fork() failed: $(journalctl -u "$agent" --no-pager -o cat)"
    [ "$(date +%s)" -lt "$deadline" ] ||
        fail "fork() did not fail with EAGAIN in 30 s: $(journalctl -u "$agent" --no-pager -o cat)"
    sleep 0.05
done
wait_journal "$agent" "^[0-9]+ processes forked$"
journalctl -u "$agent" --no-pager -o cat
n=$(cat "$current")
[ "$n" -gt "$peak" ] && peak=$n
peak_file=$(cgroup_file "$agent" pids pids.peak)
[ -f "$peak_file" ] && peak=$(cat "$peak_file")     # the kernel's own record, where it keeps one
echo "pids.current $n, highest seen $peak, limit 64"
[ "$peak" -le 64 ] || fail "the agent's cgroup had $peak tasks, more than TasksMax=64"
[ "$n" -ge 60 ] || fail "the fork bomb stopped at $n tasks, well below TasksMax=64: not the limit that stopped it"
events=$(cgroup_file "$agent" pids pids.events)
assert_match "$(cat "$events")" "max [1-9]" "pids.events of the agent's cgroup"
# The supervisor says so: an audit event naming the limit and the policy key (it looks every 2 s).
has_tasks_event() {
    grep -q "reached TasksMax=64 of its policy" <<<"$(journalctl --no-pager -o cat MESSAGE_ID=$TASKS_MESSAGE_ID OPENSHELL_SANDBOX=lim-fork)"
}
wait_until 10 has_tasks_event
journalctl --no-pager -o cat MESSAGE_ID=$TASKS_MESSAGE_ID OPENSHELL_SANDBOX=lim-fork
assert_match "$(journalctl --no-pager -o export MESSAGE_ID=$TASKS_MESSAGE_ID OPENSHELL_SANDBOX=lim-fork)" \
    "OPENSHELL_POLICY=x-openshell.resources.tasks_max" "policy key of the tasks event"
# The system stays responsive: systemd answers at once, and other units run on.
t0=$(date +%s%N)
assert_match "$(timeout 10 systemctl is-system-running || true)" "^(running|degraded)$" "system state during the fork bomb"
assert_eq "$(unit_state openshell-agent-lim-other.service)" active "another sandbox during the fork bomb"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "systemctl answered in $ms ms during the fork bomb"
[ "$ms" -lt 5000 ] || fail "systemd took $ms ms to answer during the fork bomb"
# ... and the sandbox stops cleanly, all 64 processes with it (systemctl waits for the supervisor's
# stop job; the agent's, which BindsTo=/PartOf= queue with it, may take a moment longer).
cg=$(systemctl show -P ControlGroup "$agent")
timeout 30 systemctl stop openshell-sandbox@lim-fork.service || fail "stopping the fork bomb's sandbox failed or hung"
unit_gone() { [ "$(unit_state "$1")" = gone ]; }
wait_until 15 unit_gone "$agent"
if [ -e "/sys/fs/cgroup/pids$cg" ] || [ -e "/sys/fs/cgroup$cg/cgroup.procs" ]; then
    fail "the agent's cgroup $cg is still there after stop"
fi

# (b) A memory hog as the agent: killed by the kernel's OOM killer at MemoryMax=, inside its own cgroup
# (with 1 GiB allowed it would print "ok"). On the unified hierarchy systemd records the result
# "oom-kill"; systemd 252 cannot tell it apart from another SIGKILL on a cgroup v1 memory hierarchy,
# where the supervisor learns it from the kernel (services/sandbox/sandbox-oom.h).
output_of openshell sandbox create lim-mem --policy /root/policy-limits.yaml -- "$PROBE" memory-hog 1024
# shellcheck disable=SC2016 # expanded by that sh, at each try
wait_until 30 sh -c '[ "$(systemctl show -P ActiveState openshell-sandbox@lim-mem.service)" = failed ]'
agent=openshell-agent-lim-mem.service
if [ "$TESTBED_LIMITS" = unified ]; then
    result="result 'oom-kill', killed by signal Killed"
else
    result="result 'signal', killed by signal Killed"
fi
wait_journal openshell-sandbox@lim-mem.service "^Agent $agent failed: $result\.$"
oom_line="^Agent $agent was killed by the kernel's OOM killer: it exceeded MemoryMax=64M of its policy"
wait_journal openshell-sandbox@lim-mem.service "$oom_line \(x-openshell\.resources\.memory_max\)\.$"
assert_eq "$(systemctl show -P ExecMainStatus openshell-sandbox@lim-mem.service)" $((128 + 9)) "supervisor's exit status"
grep -q "^ok$" <<<"$(journalctl -u "$agent" --no-pager -o cat)" && fail "the memory hog got 1 GiB under MemoryMax=64M"
# The audit event, found by its fields (DESIGN.md "Audit events").
event=$(journalctl --no-pager -o cat MESSAGE_ID=$OOM_MESSAGE_ID OPENSHELL_SANDBOX=lim-mem \
        OPENSHELL_EVENT=process OPENSHELL_DECISION=deny OPENSHELL_POLICY=x-openshell.resources.memory_max)
assert_match "$event" "^Agent $agent was killed by the kernel's OOM killer" "the OOM audit event"
journalctl --update-catalog
assert_match "$(journalctl -x -n 1 --no-pager MESSAGE_ID=$OOM_MESSAGE_ID)" "raise memory_max in its policy" "catalog"
# Nothing else was touched: the other sandbox runs on with the same process, nothing else failed.
assert_eq "$(unit_state openshell-agent-lim-other.service)" active "another sandbox after the memory hog"
assert_eq "$(systemctl show -P MainPID openshell-agent-lim-other.service)" "$other_pid" "the other agent's PID"
assert_match "$(timeout 10 systemctl is-system-running || true)" "^(running|degraded)$" "system state after the memory hog"
# shellcheck disable=SC2086 # one unit name per word
expected=$(printf '%s\n' $failed_before openshell-sandbox@lim-mem.service | sort | paste -sd' ')
assert_eq "$(failed_units)" "$expected" "failed units"
