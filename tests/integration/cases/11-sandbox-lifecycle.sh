#!/bin/bash
# systemctl start/stop drive both units; the supervisor follows the agent's end and result; the
# workdir persists; the CLI lists what systemd knows.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh

name=life
cleanup_sandbox "$name"
trap 'cleanup_sandbox "$name"' EXIT

write_spec "$name" <<'SPEC'
command: ["/bin/sh", "-c", "echo started >> /sandbox/runs; exec sleep infinity"]
SPEC
systemctl start "openshell-sandbox@$name.service"
assert_eq "$(unit_state "openshell-agent-$name.service")" active "agent after start"
# (READY=1 means systemd started the agent, not that its first line has run yet)
wait_until 10 test -s "/var/lib/openshell/sandboxes/$name/runs"
assert_match "$(systemctl show -P StatusText "openshell-sandbox@$name.service")" "^Agent running as openshell-agent-$name.service \(PID [0-9]+\)$" "supervisor STATUS="

# The CLI reads the same state from systemd.
out=$(openshell sandbox list)
echo "$out"
assert_match "$(echo "$out" | head -n 1)" "^NAME +SUPERVISOR +AGENT$" "list header"
assert_match "$(echo "$out" | grep "^$name ")" "^$name +active \(running\) +active \(running\)$" "list row"

# Stopping the supervisor stops and removes the agent unit too.
systemctl stop "openshell-sandbox@$name.service"
assert_eq "$(unit_state "openshell-agent-$name.service")" gone "agent unit after stop"
assert_eq "$(unit_state "openshell-sandbox@$name.service")" inactive "supervisor after stop"
assert_match "$(openshell sandbox list | grep "^$name ")" "^$name +inactive +-$" "list row after stop"

# The workdir persists across restarts.
systemctl start "openshell-sandbox@$name.service"
wait_until 10 sh -c "[ \$(grep -c started /var/lib/openshell/sandboxes/$name/runs) = 2 ]"

# Stopping the agent alone ends the sandbox: the supervisor follows it.
systemctl stop "openshell-agent-$name.service"
wait_until 10 sh -c "[ \"\$(systemctl show -P ActiveState openshell-sandbox@$name.service)\" != active ]"
assert_eq "$(unit_state "openshell-agent-$name.service")" gone "agent unit after the agent stopped"

# An agent that exits with an error: the supervisor fails with the same status, nothing stays.
write_spec "$name" <<'SPEC'
command: ["/bin/sh", "-c", "echo failing; exit 3"]
SPEC
systemctl reset-failed "openshell-sandbox@$name.service" 2>/dev/null || true
systemctl start "openshell-sandbox@$name.service" || true
wait_until 10 sh -c "[ \"\$(systemctl show -P ActiveState openshell-sandbox@$name.service)\" = failed ]"
assert_eq "$(systemctl show -P ExecMainStatus "openshell-sandbox@$name.service")" 3 "supervisor exit status mirrors the agent's"
assert_eq "$(unit_state "openshell-agent-$name.service")" gone "failed agent unit is collected"
wait_journal "openshell-sandbox@$name.service" "result 'exit-code', exit status 3"

# An agent that exits 0: the supervisor ends successfully.
write_spec "$name" <<'SPEC'
command: ["/bin/true"]
SPEC
systemctl reset-failed "openshell-sandbox@$name.service"
systemctl start "openshell-sandbox@$name.service"
wait_until 10 sh -c "[ \"\$(systemctl show -P ActiveState openshell-sandbox@$name.service)\" = inactive ]"
assert_eq "$(systemctl show -P Result "openshell-sandbox@$name.service")" success "supervisor result after exit 0"

# The command is passed literally: "$" reaches the program (here a shell, which expands it itself).
write_spec "$name" <<'SPEC'
command: ["/bin/sh", "-c", "echo \"home=$HOME literal=\\$X\" > /sandbox/dollar"]
SPEC
systemctl reset-failed "openshell-sandbox@$name.service" 2>/dev/null || true
systemctl start "openshell-sandbox@$name.service"
wait_until 10 test -s "/var/lib/openshell/sandboxes/$name/dollar"
# shellcheck disable=SC2016 # the literal text the sandbox's command wrote
assert_eq "$(cat "/var/lib/openshell/sandboxes/$name/dollar")" 'home=/sandbox literal=$X' "command with \$ signs"

# A persistent sandbox is a plain `systemctl enable`: multi-user.target wants it, so it is started at
# boot (here: starting the target again starts what it wants and is not running), workdir intact.
write_spec "$name" <<'SPEC'
command: ["/bin/sleep", "infinity"]
SPEC
echo kept >"/var/lib/openshell/sandboxes/$name/persist"
systemctl enable "openshell-sandbox@$name.service" 2>/dev/null
[ -L "/etc/systemd/system/multi-user.target.wants/openshell-sandbox@$name.service" ] || fail "enable made no wants link"
systemctl stop "openshell-sandbox@$name.service"
assert_eq "$(unit_state "openshell-agent-$name.service")" gone "agent after stop"
systemctl start multi-user.target
wait_until 10 sh -c "[ \"\$(systemctl show -P ActiveState openshell-agent-$name.service)\" = active ]"
assert_eq "$(unit_state "openshell-sandbox@$name.service")" active "enabled sandbox started with multi-user.target"
assert_eq "$(openshell sandbox exec "$name" -- cat /sandbox/persist)" kept "workdir of the enabled sandbox"
systemctl disable --now "openshell-sandbox@$name.service" 2>/dev/null
[ ! -e "/etc/systemd/system/multi-user.target.wants/openshell-sandbox@$name.service" ] || fail "disable left the wants link"
