#!/bin/bash
# A bad sandbox spec fails the supervisor with a journal message naming file:line:column, and leaves
# nothing running.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh

name=broken
cleanup_sandbox "$name"
trap 'cleanup_sandbox "$name"' EXIT

write_spec "$name" <<'SPEC'
# a typo on line 2
comand: ["/bin/true"]
environment:
  9BAD: x
SPEC
assert_rc 1 systemctl start "openshell-sandbox@$name.service"
assert_eq "$(systemctl show -P ActiveState "openshell-sandbox@$name.service")" failed "supervisor state"
assert_eq "$(systemctl show -P ExecMainStatus "openshell-sandbox@$name.service")" 78 "exit status (EX_CONFIG)"
assert_eq "$(unit_state "openshell-agent-$name.service")" gone "agent unit"
[ ! -e "/var/lib/openshell/sandboxes/$name" ] || fail "workdir was created for an invalid spec"

wait_journal "openshell-sandbox@$name.service" "is invalid, not starting sandbox"
log=$(journalctl -u "openshell-sandbox@$name.service" --no-pager -o cat)
echo "$log"
f=/etc/openshell/sandboxes/$name.yaml
grep -qxF "$f:2:1: comand: unknown key (did you mean 'command'?)" <<<"$log" || fail "no file:line error for the typo"
grep -qxF "$f:4:3: environment.9BAD: invalid variable name (letters, digits and '_', not starting with a digit)" <<<"$log" ||
    fail "not every error was reported"
grep -qxF "$f:2:1: missing required key 'command' (the program to run and its arguments)" <<<"$log" ||
    fail "missing-command error not reported"

# A name that is not a valid sandbox name is refused before anything else.
assert_rc 1 systemctl start 'openshell-sandbox@bad\x2ename.service'
# %i is the escaped instance name, which is never a valid sandbox name when it needs escaping.
wait_journal 'openshell-sandbox@bad\x2ename.service' "^Invalid sandbox name 'bad\\\\x2ename'"
systemctl reset-failed 'openshell-sandbox@bad\x2ename.service' || true

# A missing spec is a clear error too.
assert_rc 1 systemctl start openshell-sandbox@nosuch.service
wait_journal openshell-sandbox@nosuch.service "^/etc/openshell/sandboxes/nosuch.yaml: cannot open file: No such file or directory$"
systemctl reset-failed openshell-sandbox@nosuch.service || true
