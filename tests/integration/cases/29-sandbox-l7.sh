#!/bin/bash
# L7 inspection over TLS through the real proxy (issue 10): curl inside a sandbox reaches HTTPS servers
# in a namespace of the testbed's own; the proxy terminates TLS with the sandbox's CA (curl verifies it
# through CURL_CA_BUNDLE, no -k), verifies the server's certificate against its trust store, and
# decides each request by the endpoint's rules: `enforcement: enforce` refuses with upstream's 403,
# `audit` passes what enforce would refuse; every request is one journal entry.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh

name=l7
policy=/etc/openshell/policies/l7-test.yaml
upca=/etc/openshell-test-upstream-ca.pem
dropin=/etc/systemd/system/openshell-proxy@$name.service.d/50-test-upstream-ca.conf
HTTPS=$TESTS_DIR/openshell-fake-https
pids=()

cleanup() {
    cleanup_sandbox "$name"
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -f "$policy" "$upca" "$upca".1 "$upca".2 "$dropin" /tmp/l7-https.1 /tmp/l7-https.2
    rmdir "$(dirname "$dropin")" 2>/dev/null || true
    systemctl daemon-reload
    ip link del l7a 2>/dev/null || true
    ip netns del l7far 2>/dev/null || true
}
trap cleanup EXIT
cleanup

[ -x "$HTTPS" ] || { echo "SKIP: $HTTPS is not installed"; exit 77; }
systemctl cat openshell-proxy@.service | grep -q -- "--tls-ca-cert" ||
    { echo "SKIP: the proxy unit passes no sandbox CA"; exit 77; }

# The servers' host, 10.99.3.2, in a namespace of its own; 443 answers for the enforce endpoint,
# 8443 for the audit one, each with a self-signed certificate of its own.
ip netns add l7far
ip link add l7a type veth peer name l7b
ip link set l7b netns l7far
ip addr add 10.99.3.1/24 dev l7a && ip link set l7a up
ip -n l7far addr add 10.99.3.2/24 dev l7b && ip -n l7far link set l7b up && ip -n l7far link set lo up
for i in 1 2; do
    port=$([ "$i" = 1 ] && echo 443 || echo 8443)
    ip netns exec l7far "$HTTPS" --listen "10.99.3.2:$port" --cert-out "$upca.$i" >"/tmp/l7-https.$i" 2>&1 &
    pids+=($!)
done
wait_until 10 grep -q ready /tmp/l7-https.1
wait_until 10 grep -q ready /tmp/l7-https.2
cat "$upca.1" "$upca.2" >"$upca"
# The proxy trusts the host's store; here, for these servers, the test's certificates.
mkdir -p "$(dirname "$dropin")"
printf '[Service]\nEnvironment=SSL_CERT_FILE=%s\n' "$upca" >"$dropin"
systemctl daemon-reload

cp /usr/share/openshell/policies/default.yaml "$policy"
cat >>"$policy" <<'POLICY'
network_policies:
  api:
    endpoints:
      - host: 10.99.3.2
        port: 443
        allowed_ips: ["10.99.3.2"]
        protocol: rest
        enforcement: enforce
        rules:
          - allow: { method: GET, path: "/allowed/**" }
      - host: 10.99.3.2
        port: 8443
        allowed_ips: ["10.99.3.2"]
        protocol: rest
        access: read-only
    binaries:
      - path: /usr/bin/curl
POLICY
openshell policy validate "$policy" >/dev/null || fail "the test policy does not validate"
write_spec "$name" <<SPEC
command: ["/bin/sleep", "600"]
policy: "$policy"
SPEC
systemctl start "openshell-sandbox@$name.service"
assert_eq "$(unit_state "openshell-proxy@$name.service")" active "the proxy's state"

# curl in the sandbox: the body, then the status on a line of its own
in_sandbox() {
    openshell sandbox exec "$name" -- /usr/bin/curl -sS -w '\n%{http_code}' "$@" 2>&1 || true
}
entries() {     # the proxy's entries of this sandbox with METHOD, as JSON lines
    journalctl --no-pager -o json -u "openshell-proxy@$name.service" OPENSHELL_SANDBOX=$name OPENSHELL_METHOD="$1"
}
has_entry() {   # has_entry METHOD PATTERN
    entries "$1" | grep -q "$2"
}

# allowed by a rule: the server answers, over TLS the agent verified against its sandbox's CA
out=$(in_sandbox https://10.99.3.2/allowed/x)
assert_eq "$out" "GET /allowed/x
200" "GET of an allowed path"
issuer=$(openshell sandbox exec "$name" -- /usr/bin/curl -sv -o /dev/null https://10.99.3.2/allowed/y 2>&1 | grep -i "issuer:" || true)
assert_match "$issuer" "OpenShell Sandbox CA" "the certificate the agent sees"

# enforce: a method and a path the rules lack are refused by the proxy, with upstream's body
out=$(in_sandbox -X DELETE https://10.99.3.2/allowed/x)
assert_eq "$(tail -n 1 <<<"$out")" 403 "DELETE under enforce"
assert_match "$out" '"error":"policy_denied"' "the 403 body"
assert_match "$out" 'DELETE /allowed/x not permitted by policy' "the 403 reason"
out=$(in_sandbox https://10.99.3.2/secret)
assert_eq "$(tail -n 1 <<<"$out")" 403 "GET of a path the rules lack"

# audit (read-only preset): a POST goes through, and is logged as what enforce would refuse
out=$(in_sandbox -d hello https://10.99.3.2:8443/post)
assert_eq "$out" "POST /post
200" "POST under audit"

# one entry per request: the refusal and the audited one name binary, method and decision
wait_until 10 has_entry DELETE '"OPENSHELL_DECISION":"deny"'
deny=$(entries DELETE | grep '"OPENSHELL_DECISION":"deny"' | tail -n 1)
assert_match "$deny" '"OPENSHELL_BINARY":"/usr/bin/curl"' "the deny entry's binary"
assert_match "$deny" '"MESSAGE":"HTTP:DELETE \[MED\] DENIED ' "the deny entry's shorthand"
wait_until 10 has_entry POST '"OPENSHELL_DECISION":"audit"'
audit=$(entries POST | grep '"OPENSHELL_DECISION":"audit"' | tail -n 1)
assert_match "$audit" '"OPENSHELL_HOST":"10.99.3.2"' "the audit entry's host"
assert_match "$audit" '"OPENSHELL_PORT":"8443"' "the audit entry's port"
allowed=$(entries GET | grep -c '"OPENSHELL_DECISION":"allow"' || true)
[ "$allowed" -ge 2 ] || fail "the allowed GETs are not in the journal ($allowed entries)"
echo "ok"
