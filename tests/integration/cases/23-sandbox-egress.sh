#!/bin/bash
# Egress plumbing (issue 10): the sandbox's own network namespace with loopback only, the proxy's port
# bound inside it by openshell-proxy@NAME.socket, the proxy itself (here a stand-in,
# openshell-fake-proxy, with the real unit's hardening) in the host's namespace, the supervisor's
# identify socket answering which binary connected, the proxy variables, exec sessions in the same
# namespace, and no route for anything that ignores the proxy; then the real proxy, which names the
# binary the supervisor identified in its audit entry.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh

# Long enough that "openshell-proxy-NAME" exceeds systemd's 31 characters: the hashed user name.
name=egress-with-a-rather-long-name
other=egress2
proxy="openshell-proxy@$name.service"
PROBE=$TESTS_DIR/openshell-probe
netns=/run/openshell/netns/$name

cleanup() {
    cleanup_sandbox "$name"
    cleanup_sandbox "$other"
    rm -f /etc/systemd/system/openshell-proxy@.*.d/50-test-stand-in.conf \
          /etc/systemd/system/openshell-proxy@.*.d/50-test-absent.conf
    systemctl daemon-reload
    ip netns del far 2>/dev/null || true
    ip link del far0 2>/dev/null || true
}
trap cleanup EXIT
cleanup_sandbox "$name"

# Without the proxy's program (simulated: a condition that fails, ANDed with the shipped one): the
# proxy's units are skipped, nothing listens in the sandbox, the agent runs without any network.
mkdir -p /etc/systemd/system/openshell-proxy@.service.d /etc/systemd/system/openshell-proxy@.socket.d
for u in service socket; do
    printf '[Unit]\nConditionFileIsExecutable=/nonexistent/openshell-proxy\n' \
        >"/etc/systemd/system/openshell-proxy@.$u.d/50-test-absent.conf"
done
systemctl daemon-reload
write_spec "$other" <<SPEC
command: ["/bin/sleep", "600"]
SPEC
systemctl start "openshell-sandbox@$other.service"
assert_eq "$(unit_state "openshell-agent-$other.service")" active "agent state without a proxy"
assert_eq "$(systemctl show -P ConditionResult "openshell-proxy@$other.socket")" no "proxy socket condition"
assert_eq "$(nsenter --net="/run/openshell/netns/$other" ss -Hltn)" "" "listeners without a proxy"
cleanup_sandbox "$other"
rm -f /etc/systemd/system/openshell-proxy@.*.d/50-test-absent.conf

# The stand-in replaces only the program: the unit's sandboxing stays as shipped.
mkdir -p /etc/systemd/system/openshell-proxy@.service.d /etc/systemd/system/openshell-proxy@.socket.d
cat >/etc/systemd/system/openshell-proxy@.service.d/50-test-stand-in.conf <<UNIT
[Unit]
ConditionFileIsExecutable=
[Service]
ExecStart=
ExecStart=$TESTS_DIR/openshell-fake-proxy --sandbox %i --policy /run/openshell/proxy/policy.yaml --identify-socket /run/openshell/proxy/identify.sock
UNIT
printf '[Unit]\nConditionFileIsExecutable=\n' >/etc/systemd/system/openshell-proxy@.socket.d/50-test-stand-in.conf
systemctl daemon-reload

# A host outside the testbed's own namespace, reachable from the testbed: 10.99.0.2.
ip netns add far
ip link add far0 type veth peer name far1
ip link set far1 netns far
ip addr add 10.99.0.1/24 dev far0 && ip link set far0 up
ip -n far addr add 10.99.0.2/24 dev far1 && ip -n far link set far1 up && ip -n far link set lo up
# Nothing listens there: from the testbed the host answers (refused), so the route exists.
far_reached() { [ "$("$PROBE" connect-tcp 10.99.0.2 3128)" = "denied: ECONNREFUSED: Connection refused" ]; }
wait_until 10 far_reached
echo "the far host answers from the testbed: a sandbox that reaches it would be a hole"

# A namespace a crashed run left behind is replaced.
mkdir -p /run/openshell/netns && touch "$netns" && unshare --net="$netns" true
stale=$(stat -L -c %i "$netns")

mkdir -p "/var/lib/openshell/sandboxes/$name"
cat >"/var/lib/openshell/sandboxes/$name/egress.sh" <<'SCRIPT'
P=/usr/lib/openshell/tests/openshell-probe
{
    echo "v4=$($P tcp-read-line 127.0.0.1 3128)"
    echo "v6=$($P tcp-read-line ::1 3128)"
    echo "far=$($P connect-tcp 10.99.0.2 3128)"
    echo "ifaces=$(sed -n '3,$s/:.*//p' /proc/net/dev | tr -d ' ' | tr '\n' ' ')"
    echo "https_proxy=$HTTPS_PROXY"
    echo "all_proxy=$ALL_PROXY"
    echo "no_proxy=$NO_PROXY"
    echo "node=$NODE_USE_ENV_PROXY"
} >/sandbox/egress.tmp
mv /sandbox/egress.tmp /sandbox/egress.out
exec sleep 600
SCRIPT
write_spec "$name" <<SPEC
command: ["/bin/sh", "/sandbox/egress.sh"]
SPEC

systemctl start "openshell-sandbox@$name.service"
assert_eq "$(unit_state "openshell-agent-$name.service")" active "agent state"
assert_eq "$(unit_state "$proxy")" active "proxy state (started before the agent)"
wait_until 20 test -f "/var/lib/openshell/sandboxes/$name/egress.out"
out() { sed -n "s/^$1=//p" "/var/lib/openshell/sandboxes/$name/egress.out"; }
cat "/var/lib/openshell/sandboxes/$name/egress.out"

# The namespace: a fresh one, the agent's, loopback only, the proxy's port its only listener.
grep -q " $netns .* nsfs " /proc/self/mountinfo || fail "$netns is not a namespace mount"
[ "$(stat -L -c %i "$netns")" != "$stale" ] || fail "the stale namespace was not replaced"
agent_pid=$(systemctl show -P MainPID "openshell-agent-$name.service")
assert_eq "$(readlink "/proc/$agent_pid/ns/net")" "$(nsenter --net="$netns" readlink /proc/self/ns/net)" "agent's namespace"
assert_eq "$(out ifaces)" "lo " "interfaces inside the sandbox"
listeners=$(nsenter --net="$netns" ss -Hltn | awk '{print $4}' | sort | tr '\n' ' ')
assert_eq "$listeners" "127.0.0.1:3128 [::1]:3128 " "listeners inside the sandbox"
if ss -Hltn | grep -q ':3128 '; then fail "the proxy port is open in the host's namespace"; fi

# The proxy: in the host's namespace, its own dynamic user, the policy readable, hardened.
proxy_pid=$(systemctl show -P MainPID "$proxy")
assert_eq "$(readlink "/proc/$proxy_pid/ns/net")" "$(readlink /proc/1/ns/net)" "proxy's namespace (the host's)"
assert_match "$(systemctl show -P User "$proxy")" '^openshell-prox_[0-9a-f]{16}$' "proxy user of a long sandbox name"
proxy_uid=$(stat -c %u "/proc/$proxy_pid")
# shellcheck disable=SC2015 # meant: fail when either test fails
[ "$proxy_uid" -ge 61184 ] && [ "$proxy_uid" -le 65519 ] || fail "proxy uid $proxy_uid is not a dynamic one"
cmp "/run/openshell/sandboxes/$name/proxy/policy.yaml" /usr/share/openshell/policies/default.yaml ||
    fail "the proxy's policy is not the sandbox's"
wait_journal "$proxy" "fake proxy ready: 2 sockets, policy /run/openshell/proxy/policy.yaml"
exposure() {
    systemd-analyze security "$1" 2>/dev/null | sed -n "s/^→ Overall exposure level for $1: \([0-9.]*\).*/\1/p"
}
e=$(exposure "$proxy")
echo "systemd-analyze security $proxy: $e"
# shellcheck disable=SC2015 # meant: fail when either test fails
[ -n "$e" ] && awk -v e="$e" 'BEGIN { exit !(e <= 2.0) }' || fail "proxy exposure '$e' is above 2.0"
e=$(exposure "openshell-agent-$name.service")
echo "systemd-analyze security openshell-agent-$name.service: $e"
# shellcheck disable=SC2015 # meant: fail when either test fails
[ -n "$e" ] && awk -v e="$e" 'BEGIN { exit !(e <= 1.5) }' || fail "agent exposure '$e' is above 1.5"

# Which binary connected: the probe, its parent the agent's shell (ancestors up to the main process).
assert_match "$(out v4)" '^ok: OK [0-9]+ /usr/lib/openshell/tests/openshell-probe (/usr)?/bin/dash$' "identify over IPv4"
assert_match "$(out v6)" '^ok: OK [0-9]+ /usr/lib/openshell/tests/openshell-probe (/usr)?/bin/dash$' "identify over IPv6"
# Anything that ignores the proxy has no route (port 3128 elsewhere: the one Landlock lets the agent
# connect to, so that the namespace, not Landlock, is what refuses).
assert_eq "$(out far)" "denied: ENETUNREACH: Network is unreachable" "a direct connection"
assert_eq "$(out https_proxy)" http://127.0.0.1:3128 "HTTPS_PROXY"
assert_eq "$(out all_proxy)" http://127.0.0.1:3128 "ALL_PROXY"
assert_eq "$(out no_proxy)" "127.0.0.1,localhost,::1" "NO_PROXY"
assert_eq "$(out node)" 1 "NODE_USE_ENV_PROXY"

# exec sessions: the same namespace and variables; their own process is the one identified.
assert_match "$(openshell sandbox exec "$name" -- "$PROBE" tcp-read-line 127.0.0.1 3128)" \
    '^ok: OK [0-9]+ /usr/lib/openshell/tests/openshell-probe$' "identify from an exec session"
assert_eq "$(openshell sandbox exec "$name" -- "$PROBE" connect-tcp 10.99.0.2 3128)" \
    "denied: ENETUNREACH: Network is unreachable" "a direct connection from an exec session"
# shellcheck disable=SC2016 # expanded by the sandbox's sh
assert_eq "$(openshell sandbox exec "$name" -- /bin/sh -c 'echo $http_proxy')" http://127.0.0.1:3128 "exec http_proxy"

# Only the sandbox's proxy is answered: root in another unit is refused.
o=$(output_of systemd-run --quiet --wait --pipe --collect --unit=openshell-identify-intruder "$TESTS_DIR/openshell-fake-proxy" \
    --ask "IDENTIFY 4 127.0.0.1 1" --identify-socket "/run/openshell/sandboxes/$name/proxy/identify.sock")
assert_match "$o" '^FAKE-PROXY identify failed' "an identify request from another unit"
wait_journal "openshell-sandbox@$name.service" "refused an identify connection from openshell-identify-intruder.service"

# Fail closed: a dead proxy leaves no way out; its socket starts it again on the next connection.
kill -KILL "$proxy_pid"
wait_until 10 test "$(systemctl show -P MainPID "$proxy")" != "$proxy_pid"
assert_eq "$(openshell sandbox exec "$name" -- "$PROBE" connect-tcp 10.99.0.2 3128)" \
    "denied: ENETUNREACH: Network is unreachable" "a direct connection after the proxy died"
assert_match "$(openshell sandbox exec "$name" -- "$PROBE" tcp-read-line 127.0.0.1 3128)" \
    '^ok: OK [0-9]+ ' "the proxy is back through its socket"
assert_eq "$(unit_state "openshell-agent-$name.service")" active "agent state after the proxy died"

# The real proxy (services/proxy) in a second sandbox: curl, which honours http_proxy, is refused by the
# default policy, and the proxy's audit entry names curl, as the supervisor identified it.
rm -f /etc/systemd/system/openshell-proxy@.*.d/50-test-stand-in.conf
systemctl daemon-reload
write_spec "$other" <<SPEC
command: ["/bin/sleep", "600"]
SPEC
systemctl start "openshell-sandbox@$other.service"
assert_eq "$(unit_state "openshell-proxy@$other.service")" active "the real proxy's state"
code=$(openshell sandbox exec "$other" -- /usr/bin/curl -sS -o /dev/null -w '%{http_code}' http://10.99.0.2:3128/ || true)
assert_eq "$code" 403 "curl through the real proxy, refused by the default policy"
curl_identified() { journalctl -u "openshell-proxy@$other.service" -o verbose --no-pager | grep -q "OPENSHELL_BINARY=/usr/bin/curl"; }
wait_until 10 curl_identified
journalctl -u "openshell-proxy@$other.service" -o cat --no-pager | tail -3
e=$(exposure "openshell-proxy@$other.service")
echo "systemd-analyze security openshell-proxy@$other.service (the real proxy): $e"

# A second sandbox's proxy has a uid of its own.
assert_eq "$(systemctl show -P User "openshell-proxy@$other.service")" "openshell-proxy-$other" "short name's proxy user"
other_uid=$(stat -c %u "/proc/$(systemctl show -P MainPID "openshell-proxy@$other.service")")
[ "$other_uid" != "$(stat -c %u "/proc/$(systemctl show -P MainPID "$proxy")")" ] || fail "two proxies share uid $other_uid"

# Stopping the sandbox stops its proxy and removes its namespace.
systemctl stop "openshell-sandbox@$name.service"
assert_eq "$(unit_state "$proxy")" inactive "proxy after stop"
assert_eq "$(unit_state "openshell-proxy@$name.socket")" inactive "proxy socket after stop"
[ ! -e "$netns" ] || fail "$netns is left after stop"
