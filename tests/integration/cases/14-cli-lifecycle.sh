#!/bin/bash
# The lifecycle CLI: create, get, exec, connect, upload, download, delete, status; bad input gets a
# clear error and exit status 2.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh

name=cli1
cleanup() { cleanup_sandbox "$name"; cleanup_sandbox cli2; rm -rf /root/up /root/down /etc/up.txt; }
cleanup
trap cleanup EXIT

# create starts the sandbox and reports it ready
out=$(openshell sandbox create "$name" --env GREETING=hi -- /bin/sh -c 'echo agent > /tmp/agent-marker; readlink /proc/self/ns/net > /sandbox/netns; exec sleep infinity')
echo "$out"
assert_match "$(tail -n 1 <<<"$out")" "^\[[0-9.]+s\] Sandbox '$name' ready: agent openshell-agent-$name.service, PID [0-9]+$" "create output"
assert_eq "$(unit_state "openshell-agent-$name.service")" active "agent after create"
assert_rc 1 openshell sandbox create "$name" -- /bin/true
grep -q "Sandbox '$name' already exists" <<<"$(output_of openshell sandbox create "$name" -- /bin/true)" || fail "no 'already exists' message"

out=$(openshell sandbox get "$name")
echo "$out"
grep -qx "Phase:       Ready" <<<"$out" || fail "get: phase"
grep -qE "^Main PID:    [0-9]+$" <<<"$out" || fail "get: main PID"
grep -qx "Agent:       openshell-agent-$name.service (active/running)" <<<"$out" || fail "get: agent"
grep -qx "Policy:      /usr/share/openshell/policies/default.yaml" <<<"$out" || fail "get: policy file"
grep -qx "             network: none (no network_policies: no egress)" <<<"$out" || fail "get: policy summary (network)"
grep -qx "             limits: memory 4.0G, tasks 512; GPU: none" <<<"$out" || fail "get: policy summary (limits)"
# no such sandbox: an error, not an empty page
assert_rc 1 openshell sandbox get no-such-sandbox
grep -q "No sandbox 'no-such-sandbox'" <<<"$(output_of openshell sandbox get no-such-sandbox)" || fail "get: no 'No sandbox' message"
grep -q "No sandbox 'no-such-sandbox'" <<<"$(output_of openshell sandbox exec no-such-sandbox -- true)" || fail "exec: no 'No sandbox' message"

# exec: output, errors, exit status and stdin pass through; same user, restrictions, netns and /tmp
wait_until 10 test -s "/var/lib/openshell/sandboxes/$name/netns"
set +e
o=$(openshell sandbox exec "$name" -- /bin/sh -c 'echo out; echo err >&2; exit 7' 2>/tmp/exec-err)
rc=$?
set -e
assert_eq "$rc" 7 "exec exit status"
assert_eq "$o" out "exec stdout"
assert_eq "$(cat /tmp/exec-err)" err "exec stderr"
assert_eq "$(echo data | openshell sandbox exec "$name" -- cat)" data "exec stdin"
assert_eq "$(openshell sandbox exec "$name" -- id -un)" openshell-agent "exec user"
# shellcheck disable=SC2016 # an awk program
assert_eq "$(openshell sandbox exec "$name" -- awk '$1 == "CapBnd:" { print $2 }' /proc/self/status)" 0000000000000000 "exec bounding set"
assert_eq "$(openshell sandbox exec "$name" -- cat /tmp/agent-marker)" agent "exec shares the agent's /tmp"
assert_eq "$(openshell sandbox exec "$name" -- readlink /proc/self/ns/net)" "$(cat "/var/lib/openshell/sandboxes/$name/netns")" "exec shares the agent's network namespace"
assert_eq "$(openshell sandbox exec "$name" -- pwd)" /sandbox "exec working directory"
assert_eq "$(openshell sandbox exec "$name" --workdir /tmp -- pwd)" /tmp "exec --workdir"
assert_eq "$(openshell sandbox exec "$name" --env X=1 -- printenv X GREETING)" "$(printf '1\nhi')" "exec --env and the spec's environment"
grep -q "Read-only file system" <<<"$(output_of openshell sandbox exec "$name" -- sh -c ': > /usr/x')" || fail "exec could write /usr"
assert_rc 127 openshell sandbox exec "$name" -- /nonexistent/program
assert_rc 2 openshell sandbox exec "$name"
assert_rc 2 openshell sandbox exec "bad name" -- true

# connect: a shell on a pseudo-terminal
set +e
o=$(printf 'tty; id -un\nexit 5\n' | timeout 20 openshell sandbox connect "$name")
rc=$?
set -e
echo "$o"
assert_eq "$rc" 5 "connect exit status"
grep -q "^/dev/pts/" <<<"$o" || fail "connect: no terminal"
grep -q "^openshell-agent" <<<"$o" || fail "connect: not the agent's account"

# upload / download, only within /sandbox, owned by the agent
mkdir -p /root/up/dir && echo hello >/root/up.txt && echo nested >/root/up/dir/n.txt
openshell sandbox upload "$name" /root/up.txt
assert_eq "$(cat "/var/lib/openshell/sandboxes/$name/up.txt")" hello "uploaded file"
assert_eq "$(stat -c %U "/var/lib/openshell/sandboxes/$name/up.txt")" openshell-agent "uploaded file owner"
openshell sandbox upload "$name" /root/up /sandbox/tree
assert_eq "$(cat "/var/lib/openshell/sandboxes/$name/tree/dir/n.txt")" nested "uploaded directory"
openshell sandbox upload "$name" /root/up.txt renamed.txt
assert_eq "$(openshell sandbox exec "$name" -- cat /sandbox/renamed.txt)" hello "upload to a new name"
assert_rc 2 openshell sandbox upload "$name" /root/up.txt /etc/up.txt
assert_rc 1 openshell sandbox upload "$name" /root/up.txt /sandbox/missing/dir/x.txt

# links the agent plants cannot redirect a copy outside /sandbox
openshell sandbox exec "$name" -- ln -s /etc /sandbox/evil
openshell sandbox exec "$name" -- ln -s ../../../../../etc/shadow /sandbox/shadow
assert_rc 1 openshell sandbox upload "$name" /root/up.txt /sandbox/evil/up.txt
[ ! -e /etc/up.txt ] || fail "upload followed a link out of the sandbox"
grep -q "leads outside the sandbox" <<<"$(output_of openshell sandbox upload "$name" /root/up.txt /sandbox/evil/up.txt)" || fail "no clear message for the link"
mkdir -p /root/down
assert_rc 1 openshell sandbox download "$name" /sandbox/shadow /root/down/shadow
assert_rc 1 openshell sandbox download "$name" /sandbox/../../../etc/shadow /root/down/x
assert_rc 2 openshell sandbox download "$name" /etc/shadow /root/down/x
[ -z "$(ls /root/down)" ] || fail "a refused download wrote something"
openshell sandbox download "$name" /sandbox/up.txt /root/down/
assert_eq "$(cat /root/down/up.txt)" hello "downloaded file"
openshell sandbox download "$name" /sandbox/tree /root/down/tree
assert_eq "$(cat /root/down/tree/dir/n.txt)" nested "downloaded directory"

# status
grep -qE "^systemd: +[0-9]+" <<<"$(openshell status)" || fail "status: systemd version"

# delete: units and spec go; the workdir stays unless --purge
openshell sandbox delete "$name"
assert_eq "$(unit_state "openshell-agent-$name.service")" gone "agent after delete"
[ ! -e "/etc/openshell/sandboxes/$name.yaml" ] || fail "spec left after delete"
[ -d "/var/lib/openshell/sandboxes/$name" ] || fail "workdir removed without --purge"
assert_rc 1 openshell sandbox exec "$name" -- true
openshell sandbox delete --purge "$name"
[ ! -e "/var/lib/openshell/sandboxes/$name" ] || fail "workdir left after --purge"
assert_rc 1 openshell sandbox delete "$name"
assert_rc 2 openshell sandbox delete

# --no-keep: gone once its command has ended
openshell sandbox create cli2 --no-keep -- /bin/true
wait_until 10 sh -c '[ ! -e /etc/openshell/sandboxes/cli2.yaml ] && [ ! -e /var/lib/openshell/sandboxes/cli2 ]'
# with a policy of its own: the copy create installed goes too
openshell sandbox create cli2 --no-keep --policy /usr/share/openshell/policies/default.yaml -- /bin/true >/dev/null
wait_until 10 sh -c '[ ! -e /etc/openshell/sandboxes/cli2.yaml ] && [ ! -e /etc/openshell/policies/sandbox-cli2.yaml ]'

# bad input: usage errors
assert_rc 2 openshell sandbox create 'bad name'
assert_rc 2 openshell sandbox create cli2 --forward 70000
assert_rc 2 openshell sandbox create cli2 --policy /nonexistent.yaml
assert_rc 2 openshell sandbox create cli2 --from no-such-profile
assert_rc 2 openshell sandbox create cli2 --env 1X=y
assert_rc 2 openshell sandbox create cli2 -- bin/relative
[ ! -e /etc/openshell/sandboxes/cli2.yaml ] || fail "a refused create wrote a spec"
