#!/bin/bash
# The egress allow/deny matrix from inside a real sandbox (issue 10, item 9), through the real proxy:
# host names (the testbed's /etc/hosts, pointing at a veth peer of our own), globs, ports, IPv4 and IPv6
# literals, private addresses only through allowed_ips or an exactly declared name, every resolved
# address checked, the metadata address always refused, the calling binary, and what an agent cannot
# do at all (UDP, ICMP, raw sockets, a TCP connection that ignores the proxy). Then 1,000 concurrent
# tunnels through the sandbox's one proxy.
# Cases 23 (plumbing) and 24 (reload) cover the rest.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh

name=egress-matrix
GEN=$TESTS_DIR/openshell-egressgen
PROBE=$TESTS_DIR/openshell-probe
policy=/etc/openshell/policies/egress-matrix.yaml
marker="# openshell test 27"
far=far27
pids=()

cleanup() {
    cleanup_sandbox "$name"
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -f "$policy"
    if [ -f /etc/hosts ]; then sed -i "/$marker\$/d" /etc/hosts; fi
    if [ "$hosts_made" = 1 ] && [ ! -s /etc/hosts ]; then rm -f /etc/hosts; fi
    ip link del ${far}a 2>/dev/null || true
    ip netns del $far 2>/dev/null || true
}
# The testbed may have no /etc/hosts: then ours is removed again at the end.
hosts_made=0
[ -e /etc/hosts ] || hosts_made=1
trap cleanup EXIT
cleanup

# The far side: 10.99.1.2 and fd99::2 in a namespace of their own, behind a veth pair. Echo servers on
# 9101 (reached by name) and 9102 (reached by literal), on both addresses; 9100 and 9103 send bytes.
ip netns add $far
ip link add ${far}a type veth peer name ${far}b
ip link set ${far}b netns $far
ip addr add 10.99.1.1/24 dev ${far}a
ip addr add fd99::1/64 dev ${far}a nodad
ip link set ${far}a up
ip -n $far addr add 10.99.1.2/24 dev ${far}b
ip -n $far addr add fd99::2/64 dev ${far}b nodad
ip -n $far link set ${far}b up
ip -n $far link set lo up
for a in 10.99.1.2 fd99::2; do
    for ports in "9100 9101" "9103 9102"; do
        # shellcheck disable=SC2086 # two ports
        ip netns exec $far "$GEN" serve "$a" $ports >/dev/null &
        pids+=($!)
    done
done
reached() { [ "$("$PROBE" connect-tcp "$1" 9101)" = ok ] && [ "$("$PROBE" connect-tcp "$1" 9102)" = ok ]; }
wait_until 10 reached 10.99.1.2
wait_until 10 reached fd99::2
echo "the far host's echo servers answer from the testbed (IPv4 and IPv6)"

cat >>/etc/hosts <<EOF
10.99.1.2 exact.test $marker
10.99.1.2 x.test $marker
10.99.1.2 api.x.test $marker
fd99::2 v6.x.test $marker
10.99.1.2 a.y.test $marker
10.99.1.2 mixed.x.test $marker
127.0.0.1 mixed.x.test $marker
169.254.169.254 metadata.test $marker
EOF

mkdir -p /etc/openshell/policies
cp /usr/share/openshell/policies/default.yaml "$policy"
cat >>"$policy" <<EOF
network_policies:
  exact:
    endpoints:
      - host: exact.test
        port: 9101
    binaries:
      - path: $GEN
  glob:
    endpoints:
      - host: "*.x.test"
        port: 9101
        allowed_ips: ["10.99.1.0/24", "fd99::/64"]
    binaries:
      - path: $GEN
  glob_private:
    endpoints:
      - host: "*.y.test"
        port: 9101
    binaries:
      - path: $GEN
  literals:
    endpoints:
      - ports: [9102]
        allowed_ips: ["10.99.1.2/32", "fd99::2/128"]
    binaries:
      - path: $GEN
  metadata:
    endpoints:
      - host: metadata.test
        port: 80
      - host: 169.254.169.254
        port: 80
    binaries:
      - path: $GEN
EOF
openshell policy validate "$policy" || fail "the matrix policy does not validate"


write_spec "$name" <<SPEC
command: ["/bin/sleep", "600"]
policy: "$policy"
SPEC
systemctl start "openshell-sandbox@$name.service"
assert_eq "$(unit_state "openshell-proxy@$name.service")" active "the proxy's state"

in_sandbox() { openshell sandbox exec "$name" -- "$@" 2>&1 || true; }
try() { in_sandbox "$GEN" try 3128 "$1" "$2"; }
allowed() { # HOST PORT WHY
    assert_eq "$(try "$1" "$2")" "200 echo ok" "$3 ($1:$2)"
}
denied() { # HOST PORT ERROR REASON-REGEX WHY
    local out
    out=$(try "$1" "$2")
    assert_match "$out" "^403 \{\"error\":\"$3\",.*\"reason\":\"$4\"\}$" "$5 ($1:$2)"
}

# Names, globs, ports.
allowed exact.test 9101 "a private address through an exactly declared name"
denied exact.test 9100 policy_denied "endpoint exact\.test:9100 is not allowed by any policy" "an undeclared port"
allowed api.x.test 9101 "a glob, its private address in allowed_ips"
allowed v6.x.test 9101 "a glob, an IPv6 address in allowed_ips"
denied x.test 9101 policy_denied "endpoint x\.test:9101 is not allowed by any policy" "*.x.test is not x.test"
denied a.y.test 9101 ssrf_denied ".*" "a glob resolving to a private address without allowed_ips"
# Every address a name resolves to must pass, not just the first (a rebinding answer mixes them).
denied mixed.x.test 9101 ssrf_denied "[^\"]*always-blocked[^\"]*" "a name with an allowed and a loopback address"
denied nothere.test 443 policy_denied "endpoint nothere\.test:443 is not allowed by any policy" "an undeclared host"
# Literals.
allowed 10.99.1.2 9102 "an IPv4 literal in allowed_ips"
allowed fd99::2 9102 "an IPv6 literal in allowed_ips"
denied 10.99.1.2 9101 policy_denied ".*" "an IPv4 literal on a port its rule does not name"
denied 10.99.1.3 9102 policy_denied ".*" "an IPv4 literal outside allowed_ips"
denied fd99::3 9102 policy_denied ".*" "an IPv6 literal outside allowed_ips"
# The metadata address, even declared by name and as a literal; loopback through the proxy.
denied metadata.test 80 ssrf_denied "resolves to always-blocked address" "the metadata address by an exact name"
denied 169.254.169.254 80 ssrf_denied ".*" "the metadata address as a declared literal"
denied 127.0.0.1 9102 "[a-z_]+" ".*" "loopback through the proxy"

# The binary: curl is in no rule, so the same endpoint is refused to it, with upstream's reason.
out=$(in_sandbox /usr/bin/curl -sS --max-time 20 http://exact.test:9101/)
assert_match "$out" "^\{\"error\":\"policy_denied\",.*\"reason\":\"binary '/usr/bin/curl' not allowed in policy 'exact'" \
    "curl to an endpoint of the egress generator's rule"
code=$(openshell sandbox exec "$name" -- /usr/bin/curl -s -o /dev/null -w '%{http_connect}' --max-time 20 -p \
    -x http://127.0.0.1:3128 telnet://10.99.1.2:9102 2>/dev/null || true)
assert_eq "$code" 403 "curl's CONNECT to a literal of the egress generator's rule"

# What ignores the proxy: no route, no socket.
# Landlock refuses TCP connections to any port but the proxy's; to that port elsewhere, the namespace
# has no route.
assert_match "$(in_sandbox "$PROBE" connect-tcp 10.99.1.2 9101)" "^denied: " "a direct IPv4 TCP connection"
assert_match "$(in_sandbox "$PROBE" connect-tcp fd99::2 9101)" "^denied: " "a direct IPv6 TCP connection"
assert_eq "$(in_sandbox "$PROBE" connect-tcp 10.99.1.2 3128)" "denied: ENETUNREACH: Network is unreachable" \
    "a direct IPv4 TCP connection to the proxy's port number"
assert_eq "$(in_sandbox "$PROBE" connect-tcp fd99::2 3128)" "denied: ENETUNREACH: Network is unreachable" \
    "a direct IPv6 TCP connection to the proxy's port number"
assert_match "$(in_sandbox "$GEN" udp 10.99.1.2 53)" "^denied: " "a UDP datagram"
assert_match "$(in_sandbox "$GEN" udp fd99::2 53)" "^denied: " "an IPv6 UDP datagram"
assert_match "$(in_sandbox "$GEN" icmp 10.99.1.2)" "^denied: " "an ICMP echo request"
assert_match "$(in_sandbox "$PROBE" socket raw)" "^denied: " "a raw socket"
assert_match "$(in_sandbox "$PROBE" socket packet)" "^denied: " "a packet socket"

# Every decision above is in the journal; one of them, in full.
entry_seen() {
    grep -qE "^NET:OPEN .*DENIED $GEN\([0-9]+\) -> metadata\.test:80 \[policy:[a-z_-]+ engine:ssrf\]" \
        <<<"$(journalctl --no-pager -o cat OPENSHELL_SANDBOX="$name" OPENSHELL_DECISION=deny OPENSHELL_HOST=metadata.test)"
}
wait_until 10 entry_seen

# 1,000 concurrent tunnels through the sandbox's one proxy: each checked with an echo when opened and
# again once all are open.
proxy_pid=$(systemctl show -P MainPID "openshell-proxy@$name.service")
t0=$(date +%s%N)
out=$(openshell sandbox exec "$name" -- "$GEN" hold 3128 10.99.1.2 9102 1000 </dev/null 2>&1 || true)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
assert_eq "$out" "$(printf 'holding 1000\nok 1000')" "1,000 tunnels through one sandbox's proxy"
echo "1,000 tunnels opened and checked twice in $ms ms (not asserted)"
assert_eq "$(systemctl show -P MainPID "openshell-proxy@$name.service")" "$proxy_pid" "the proxy after 1,000 tunnels"
allowed exact.test 9101 "a tunnel after the 1,000"
# Not asserted: the memory of the two processes of the sandbox's egress (bench/egress measures more).
for u in "openshell-sandbox@$name.service" "openshell-proxy@$name.service"; do
    echo "Pss of $u: $(awk '/^Pss:/ {print $2}' "/proc/$(systemctl show -P MainPID "$u")/smaps_rollup") KiB"
done
