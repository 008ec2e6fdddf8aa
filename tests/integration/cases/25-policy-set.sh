#!/bin/bash
# `openshell policy get|set` (issue 10, PLAYBOOKS "tune"): pull the policy in force, edit it, give it
# back with --wait; the sandbox keeps running, the proxy decides with the new policy, a tunnel open
# during the change survives when still allowed and is closed (and logged) when now denied. A static
# change is refused with upstream's message, --timeout gives 124, a stopped sandbox gets the policy at
# its next start, and the file its spec named before (shared with others) is left alone.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh

name=polset
shared=/etc/openshell/policies/polset-shared.yaml
own=/etc/openshell/policies/sandbox-$name.yaml
work=$(mktemp -d)
server_pid=

cleanup() {
    [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
    local pid
    pid=$(systemctl show -P MainPID "openshell-sandbox@$name.service" 2>/dev/null || echo 0)
    [ "${pid:-0}" = 0 ] || kill -CONT "$pid" 2>/dev/null || true
    cleanup_sandbox "$name"
    rm -f "$shared" "$own" /run/polset-release-*
    rm -rf "$work"
    ip link del pset0 2>/dev/null || true
    ip netns del pset 2>/dev/null || true
}
trap cleanup EXIT
cleanup
work=$(mktemp -d)

# A host in a namespace of its own, 10.98.0.2:9998: "ok" for any request (kept alive), and for
# /slow?ID a stream of "tick" lines until /run/polset-release-ID exists, then "done".
ip netns add pset
ip link add pset0 type veth peer name pset1
ip link set pset1 netns pset
ip addr add 10.98.0.1/24 dev pset0 && ip link set pset0 up
ip -n pset addr add 10.98.0.2/24 dev pset1 && ip -n pset link set pset1 up && ip -n pset link set lo up
cat >"$work/server.py" <<'PY'
import os, socket, threading, time
def serve(c):
    try:
        f = c.makefile("rb")
        while True:
            line = f.readline()
            if not line:
                break
            path = line.split()[1].decode()
            while f.readline() not in (b"\r\n", b"\n", b""):
                pass
            if path.startswith("/slow?"):
                c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                while not os.path.exists("/run/polset-release-" + path[len("/slow?"):]):
                    c.sendall(b"tick\n")
                    time.sleep(0.2)
                c.sendall(b"done\n")
                break
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
    except OSError:
        pass
    c.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.98.0.2", 9998))
s.listen(16)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
ip netns exec pset python3 "$work/server.py" >"$work/server.out" 2>&1 &
server_pid=$!
server_ready() { grep -q ready "$work/server.out"; }
wait_until 10 server_ready

# The administrator's policy, shared: curl may reach the host, nothing else may.
mkdir -p /etc/openshell/policies
cp /usr/share/openshell/policies/default.yaml "$shared"
cat >>"$shared" <<'POLICY'
network_policies:
  far:
    endpoints:
      - host: 10.98.0.2
        port: 9998
        allowed_ips: ["10.98.0.2"]
    binaries:
      - path: /usr/bin/curl
POLICY
cp "$shared" "$work/shared.orig"
write_spec "$name" <<SPEC
# a comment the CLI keeps
command: ["/bin/sleep", "600"]
policy: "$shared"
keep: true
SPEC
systemctl start "openshell-sandbox@$name.service"

curl_far() {
    openshell sandbox exec "$name" -- /usr/bin/curl -sS http://10.98.0.2:9998/ 2>&1 || true
}
# python3 speaks to the proxy itself: the status line of the answer.
python_far() {
    openshell sandbox exec "$name" -- python3 -c '
import socket
s = socket.create_connection(("127.0.0.1", 3128))
s.sendall(b"GET http://10.98.0.2:9998/ HTTP/1.1\r\nHost: 10.98.0.2:9998\r\nConnection: close\r\n\r\n")
print(s.recv(4096).split(b"\r\n")[0].decode())' 2>&1 || true
}
proxy_events() {    # proxy_events FIELD=VALUE...: the MESSAGE of the proxy's audit entries that match
    journalctl --no-pager -o cat OPENSHELL_SANDBOX="$name" OPENSHELL_EVENT=network "$@"
}
proxy_reasons() {   # proxy_reasons FIELD=VALUE...: their OPENSHELL_REASON
    journalctl --no-pager -o cat --output-fields=OPENSHELL_REASON OPENSHELL_SANDBOX="$name" \
        OPENSHELL_EVENT=network "$@"
}
# A slow download through a CONNECT tunnel (curl -p), in the background; its output in $work/ID.out,
# its PID in $slow_pid.
slow_pid=
slow_start() {
    openshell sandbox exec "$name" -- /usr/bin/curl -sS -N -p "http://10.98.0.2:9998/slow?$1" \
        >"$work/$1.out" 2>"$work/$1.err" &
    slow_pid=$!
}
slow_ticking() { grep -q tick "$work/$1.out"; }
slow_wait_ticking() {   # slow_wait_ticking ID: until the download ID has its first line
    local deadline=$(( $(date +%s) + 10 ))
    until slow_ticking "$1"; do
        [ "$(date +%s)" -lt "$deadline" ] ||
            fail "download $1 has not started: $(cat "$work/$1.err" "$work/$1.out")"
        sleep 0.1
    done
}
slow_ended() { ! kill -0 "$1" 2>/dev/null; }

assert_eq "$(curl_far)" ok "curl to the far host under the shared policy"
assert_match "$(python_far)" "^HTTP/1.1 403 " "python3 to the far host under the shared policy"
# The journal entry names the binary (python3's real path), the host, the port and upstream's reason.
py=$(readlink -f /usr/bin/python3)
python_denied() { [ -n "$(proxy_events OPENSHELL_DECISION=deny OPENSHELL_BINARY="$py" OPENSHELL_HOST=10.98.0.2 OPENSHELL_PORT=9998)" ]; }
wait_until 10 python_denied
assert_match "$(proxy_events OPENSHELL_DECISION=deny OPENSHELL_BINARY="$py" | head -n1)" \
    "DENIED $py\([0-9]+\) -> GET http://10\.98\.0\.2:9998/ " "the journal message of python3's refusal"
assert_match "$(proxy_reasons OPENSHELL_DECISION=deny OPENSHELL_BINARY="$py" | head -n1)" \
    "^binary '$py' not allowed in policy 'far'" "the reason of python3's refusal"

# get: the policy in force, loaded, its hash; --full is the YAML alone.
assert_match "$(openshell policy get "$name")" "$name +[0-9a-f]{12} +loaded +$shared" "policy get"
openshell policy get "$name" --full >"$work/p.yaml"
cmp "$work/p.yaml" "$shared" || fail "policy get --full is not the policy in force"
assert_match "$(openshell policy get "$name" -o json)" "\"hash\": *\"$(sha256sum <"$shared" | cut -d' ' -f1)\"" \
    "policy get -o json names the hash"

# A tunnel held open during the change, still allowed afterwards.
slow_start a
slow_a=$slow_pid
slow_wait_ticking a

# Tune: add python3, set --wait. It is loaded, python3 gets through, the tunnel is untouched.
sed -i 's|^      - path: /usr/bin/curl$|&\n      - path: /usr/bin/python3*|' "$work/p.yaml"
grep -q python3 "$work/p.yaml" || fail "the test did not add python3"
out=$(openshell policy set "$name" --policy "$work/p.yaml" --wait 2>"$work/set.err") ||
    fail "policy set --wait failed: $out $(cat "$work/set.err")"
assert_match "$out" "^Policy applied to sandbox '$name' \(hash [0-9a-f]{12}\)\.$" "policy set --wait"
assert_match "$(python_far)" "^HTTP/1.1 200 " "python3 after policy set"
cmp "$own" "$work/p.yaml" || fail "the sandbox's own copy is not the policy set"
cmp "$shared" "$work/shared.orig" || fail "the shared policy changed"
grep -qx "policy: $own" "/etc/openshell/sandboxes/$name.yaml" || fail "the spec does not name $own"
grep -qx "# a comment the CLI keeps" "/etc/openshell/sandboxes/$name.yaml" || fail "the spec lost a line"
grep -qx "keep: true" "/etc/openshell/sandboxes/$name.yaml" || fail "the spec lost a line"
assert_match "$(openshell policy get "$name")" "$name +[0-9a-f]{12} +loaded +$own" "policy get after set"
touch /run/polset-release-a
wait_until 10 slow_ended "$slow_a"
assert_eq "$(tail -n1 "$work/a.out")" "done" "the tunnel open during an allowing change ran to its end"

# A tunnel the next change denies: curl loses the host; its tunnel is closed and logged.
slow_start b
slow_b=$slow_pid
slow_wait_ticking b
sed '/^      - path: \/usr\/bin\/curl$/d' "$work/p.yaml" >"$work/p2.yaml"
assert_rc 0 openshell policy set "$name" --policy "$work/p2.yaml" --wait
wait_until 10 slow_ended "$slow_b"
touch /run/polset-release-b
if grep -q "done" "$work/b.out"; then fail "the tunnel the new policy denies ran to its end"; fi
reload_denied() { grep -q "after policy reload" <<<"$(proxy_events OPENSHELL_DECISION=deny)"; }
wait_until 10 reload_denied
assert_match "$(proxy_events OPENSHELL_DECISION=deny OPENSHELL_BINARY=/usr/bin/curl | grep "after policy reload")" \
    "^NET:OPEN \[MED\] DENIED /usr/bin/curl\([0-9]+\) -> 10\.98\.0\.2:9998 .*\[reason:binary '/usr/bin/curl' not allowed in policy 'far'.*\(after policy reload\)\]$" \
    "the journal entry of the closed tunnel"
assert_eq "$(proxy_events OPENSHELL_DECISION=deny | grep -c "after policy reload")" 1 "entries of closed tunnels"
assert_match "$(curl_far)" "policy_denied" "curl after the second change"

# A static change: refused with upstream's message, nothing stored.
sed 's/^  run_as_user: .*/  run_as_user: "65534"/' "$work/p2.yaml" >"$work/p3.yaml"
grep -q '^  run_as_user: "65534"$' "$work/p3.yaml" || fail "the test did not change run_as_user"
out=$(openshell policy set "$name" --policy "$work/p3.yaml" --wait 2>&1) && fail "a static change was accepted: $out"
assert_rc 1 openshell policy set "$name" --policy "$work/p3.yaml"
assert_match "$out" "process policy cannot be changed on a live sandbox \(applied at startup\)" "the static refusal"
cmp "$own" "$work/p2.yaml" || fail "a refused policy was stored"

# An invalid file: FILE:LINE:COLUMN, exit 1.
printf 'version: 1\nnetwork_policies:\n  far:\n    endpoints:\n      - port: 99999\n' >"$work/bad.yaml"
out=$(openshell policy set "$name" --policy "$work/bad.yaml" 2>&1) && fail "an invalid policy was accepted"
assert_match "$out" "$work/bad.yaml:5:[0-9]+: " "the invalid policy's diagnostics"

# --timeout: a supervisor that cannot answer (stopped with SIGSTOP) leaves the wait to time out: 124.
# Once it continues, it loads the policy.
pid=$(systemctl show -P MainPID "openshell-sandbox@$name.service")
kill -STOP "$pid"
assert_rc 124 openshell policy set "$name" --policy "$work/p.yaml" --wait --timeout 2
kill -CONT "$pid"
loaded_again() { grep -q "\"hash\": *\"$(sha256sum <"$work/p.yaml" | cut -d' ' -f1)\"" <<<"$(openshell policy get "$name" -o json)"; }
wait_until 20 loaded_again
assert_match "$(openshell policy get "$name")" " loaded " "the policy after the supervisor continued"
assert_eq "$(unit_state "openshell-agent-$name.service")" active "the agent after every change"

# A stopped sandbox: stored; it applies at the next start.
systemctl stop "openshell-sandbox@$name.service"
out=$(openshell policy set "$name" --policy "$work/p2.yaml" --wait 2>&1) || fail "policy set on a stopped sandbox: $out"
assert_match "$out" "is not running: it takes effect at the next start" "policy set on a stopped sandbox"
assert_match "$(openshell policy get "$name")" "$name +[0-9a-f]{12} +stopped +$own" "policy get of a stopped sandbox"
systemctl start "openshell-sandbox@$name.service"
assert_match "$(curl_far)" "policy_denied" "curl after the start with the stored policy"
assert_match "$(python_far)" "^HTTP/1.1 200 " "python3 after the start with the stored policy"

# No such sandbox: 1.
assert_rc 1 openshell policy get nosuchsandbox
