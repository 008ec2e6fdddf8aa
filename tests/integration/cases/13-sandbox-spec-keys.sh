#!/bin/bash
# The spec keys beyond command/environment: keep: false removes the sandbox after its run; keys this
# version records but does not enforce yet are said so in the journal; the supervisor publishes the
# settings it applied for exec/connect.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh

name=keys
cleanup_sandbox "$name"
trap 'cleanup_sandbox "$name"' EXIT

# What the supervisor applied is in its runtime directory while it runs, and gone after.
write_spec "$name" <<'SPEC'
command: ["/bin/sleep", "infinity"]
providers: [my-github]
forward: [18789]
SPEC
systemctl start "openshell-sandbox@$name.service"
props=/run/openshell/sandboxes/$name/agent.properties
assert_eq "$(stat -c %a "$props")" 600 "mode of $props"
grep -qx "ProtectSystem=strict" "$props" || fail "$props lacks ProtectSystem=strict"
grep -qx "BindsTo=openshell-sandbox@$name.service" "$props" || fail "$props lacks BindsTo="
wait_journal "openshell-sandbox@$name.service" "lists providers; they are recorded but not injected yet"
wait_journal "openshell-sandbox@$name.service" "lists port forwards; they are recorded but not set up yet"
systemctl stop "openshell-sandbox@$name.service"
[ ! -e "/run/openshell/sandboxes/$name" ] || fail "runtime directory left behind after stop"

# keep: false: after the command ends, the spec and the workdir are removed.
write_spec "$name" <<'SPEC'
command: ["/bin/sh", "-c", "echo data > /sandbox/file"]
keep: false
SPEC
systemctl start "openshell-sandbox@$name.service"
wait_until 10 sh -c "[ \"\$(systemctl show -P ActiveState openshell-sandbox@$name.service)\" = inactive ]"
[ ! -e "/etc/openshell/sandboxes/$name.yaml" ] || fail "spec of a keep: false sandbox was not removed"
[ ! -e "/var/lib/openshell/sandboxes/$name" ] || fail "workdir of a keep: false sandbox was not removed"
wait_journal "openshell-sandbox@$name.service" "^Sandbox '$name' removed \(keep: false\)\.$"

# keep: true (the default) keeps both.
write_spec "$name" <<'SPEC'
command: ["/bin/sh", "-c", "echo data > /sandbox/file"]
SPEC
systemctl start "openshell-sandbox@$name.service"
wait_until 10 sh -c "[ \"\$(systemctl show -P ActiveState openshell-sandbox@$name.service)\" = inactive ]"
assert_eq "$(cat "/var/lib/openshell/sandboxes/$name/file")" data "workdir content after the run"
