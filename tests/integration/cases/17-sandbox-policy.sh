#!/bin/bash
# The supervisor applies the sandbox's policy: a profile's (--from), a file named by the spec, or the
# default; an invalid policy stops the start with its errors, file:line:column, in the journal.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh

cleanup() { cleanup_sandbox prof; cleanup_sandbox pol; rm -f /root/policy-*.yaml /etc/openshell/policies/bad.yaml; }
cleanup
trap cleanup EXIT

# A profile: its policy (Node needs W+X memory: the OpenClaw profile says so, as the default does).
openshell sandbox create prof --from openclaw -- /bin/sleep infinity >/dev/null
assert_eq "$(unit_state openshell-agent-prof.service)" active "agent of a profile sandbox"
assert_eq "$(systemctl show -P MemoryDenyWriteExecute openshell-agent-prof.service)" no "W^X under the openclaw profile"
wait_journal openshell-sandbox@prof.service "^Sandbox 'prof' uses policy /usr/share/openshell/profiles/openclaw/policy.yaml\.$"
wait_journal openshell-sandbox@prof.service "lists port forwards; they are recorded but not set up yet"

# The default policy lets JIT runtimes map W+X memory (W^X is an opt-in).
openshell sandbox create pol -- /bin/sleep infinity >/dev/null
assert_eq "$(systemctl show -P MemoryDenyWriteExecute openshell-agent-pol.service)" no "W+X memory under the default policy"
openshell sandbox delete --purge pol >/dev/null

# A policy file of the spec's own, with a resource limit of this project's extensions.
cat >/root/policy-small.yaml <<'POLICY'
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /etc]
  read_write: [/tmp]
x-openshell:
  resources:
    tasks_max: 64
POLICY
# (from a home directory: create validates it and installs a copy the supervisor can read)
openshell sandbox create pol --policy /root/policy-small.yaml -- /bin/sleep infinity >/dev/null
assert_eq "$(systemctl show -P TasksMax openshell-agent-pol.service)" 64 "TasksMax from the policy"
grep -qx "policy: \"/etc/openshell/policies/sandbox-pol.yaml\"" /etc/openshell/sandboxes/pol.yaml || fail "spec does not name the installed copy"
cmp -s /root/policy-small.yaml /etc/openshell/policies/sandbox-pol.yaml || fail "installed policy differs from the original"
# the policy grants no /var: Landlock refuses what systemd alone would let it read
out=$(output_of openshell sandbox exec pol -- /bin/ls /var)
grep -q "Permission denied" <<<"$out" || fail "a path the policy does not grant was readable: $out"
openshell sandbox delete --purge pol >/dev/null
[ ! -e /etc/openshell/policies/sandbox-pol.yaml ] || fail "delete left the policy copy"

# An invalid policy: create refuses it with every error and writes nothing; written into a spec by
# hand, nothing starts and every error is in the journal with its place.
cat >/etc/openshell/policies/bad.yaml <<'POLICY'
version: 1
filesystem_policy:
  read_write: [/]
process:
  run_as_user: root
POLICY
out=$(output_of openshell sandbox create pol --policy /etc/openshell/policies/bad.yaml)
grep -qF "/etc/openshell/policies/bad.yaml:3:16: filesystem_policy.read_write[0]: read-write path is overly broad: /" <<<"$out" ||
    fail "create did not print the policy's errors: $out"
assert_rc 1 openshell sandbox create pol --policy /etc/openshell/policies/bad.yaml
[ ! -e /etc/openshell/sandboxes/pol.yaml ] || fail "create wrote a spec for an invalid policy"
write_spec pol <<'SPEC'
command: ["/bin/sleep", "infinity"]
policy: /etc/openshell/policies/bad.yaml
SPEC
assert_rc 1 systemctl start openshell-sandbox@pol.service
assert_eq "$(systemctl show -P ExecMainStatus openshell-sandbox@pol.service)" 78 "exit status for an invalid policy"
assert_eq "$(unit_state openshell-agent-pol.service)" gone "agent unit for an invalid policy"
wait_journal openshell-sandbox@pol.service "^/etc/openshell/policies/bad.yaml:3:16: filesystem_policy.read_write\[0\]: read-write path is overly broad: /"
wait_journal openshell-sandbox@pol.service "^/etc/openshell/policies/bad.yaml:5:16: process.run_as_user: run_as_user must be 'sandbox' or a numeric UID/GID in range \[1, 4294967294\], got 'root'"
wait_journal openshell-sandbox@pol.service "^Policy /etc/openshell/policies/bad.yaml is invalid, not starting sandbox 'pol'\.$"
