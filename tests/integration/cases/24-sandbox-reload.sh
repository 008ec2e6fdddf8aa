#!/bin/bash
# `systemctl reload openshell-sandbox@NAME` (issue 10): the supervisor re-reads the policy its spec
# names, refuses a change to what the agent started with (upstream's messages) and an invalid file,
# keeping the policy in force, and hands an accepted one to the egress proxy, which decides the next
# connection by it; each decision is an audit event.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh

name=reload
policy=/etc/openshell/policies/reload-test.yaml
copy=/run/openshell/sandboxes/$name/proxy/policy.yaml
catalog_id=3c9e5b7a1d2f4e8b9a6c0d4f7e1b2a95

cleanup() {
    cleanup_sandbox "$name"
    rm -f "$policy"
    ip link del far0 2>/dev/null || true
    ip netns del far 2>/dev/null || true
}
trap cleanup EXIT
cleanup

# A host in a namespace of its own, 10.99.0.2: nothing listens there, so a connection the proxy allows
# ends in 502 (refused upstream), one it denies in 403.
ip netns add far
ip link add far0 type veth peer name far1
ip link set far1 netns far
ip addr add 10.99.0.1/24 dev far0 && ip link set far0 up
ip -n far addr add 10.99.0.2/24 dev far1 && ip -n far link set far1 up && ip -n far link set lo up

mkdir -p /etc/openshell/policies
cp /usr/share/openshell/policies/default.yaml "$policy"
write_spec "$name" <<SPEC
command: ["/bin/sleep", "600"]
policy: "$policy"
SPEC
systemctl start "openshell-sandbox@$name.service"
assert_eq "$(unit_state "openshell-proxy@$name.service")" active "the proxy's state"

curl_far() {
    openshell sandbox exec "$name" -- /usr/bin/curl -sS -o /dev/null -w '%{http_code}' http://10.99.0.2:9999/ || true
}
# The events of this sandbox with DECISION, newest last.
events() {
    journalctl --no-pager -o cat MESSAGE_ID=$catalog_id OPENSHELL_SANDBOX=$name OPENSHELL_DECISION="$1"
}
# journald reads the events asynchronously: wait for the Nth, then check them.
event_count() { [ "$(events "$1" | wc -l)" = "$2" ]; }
assert_eq "$(curl_far)" 403 "curl to the far host under the default policy"

# Accepted: network_policies may change. `systemctl reload` returns once the supervisor has written
# the proxy's copy and systemd has reloaded the proxy.
cat >>"$policy" <<'POLICY'
network_policies:
  far:
    endpoints:
      - host: 10.99.0.2
        port: 9999
        allowed_ips: ["10.99.0.2"]
    binaries:
      - path: /usr/bin/curl
POLICY
systemctl reload "openshell-sandbox@$name.service"
cmp "$copy" "$policy" || fail "the proxy's copy is not the reloaded policy"
assert_eq "$(unit_state "openshell-sandbox@$name.service")" active "the supervisor after a reload"
wait_until 10 event_count allow 1
assert_eq "$(events allow)" "Sandbox '$name' reloaded its policy: $policy is in force." "the allow event"
wait_journal "openshell-sandbox@$name.service" "^Sandbox '$name': openshell-proxy@$name.service reloaded the policy\.$"
# The proxy applies it on its SIGHUP: the next connection is allowed (502: nothing listens there).
far_allowed() { [ "$(curl_far)" = 502 ]; }
wait_until 10 far_allowed
accepted=$(cat "$copy")

# Refused: a static part (the process policy) changes. Logged with upstream's message; nothing changes.
sed 's/^  run_as_user: .*/  run_as_user: "65534"/' "$policy" >"$policy.new" && mv "$policy.new" "$policy"
grep -q '^  run_as_user: "65534"$' "$policy" || fail "the test did not change run_as_user"
systemctl reload "openshell-sandbox@$name.service"
wait_journal "openshell-sandbox@$name.service" "process policy cannot be changed on a live sandbox \(applied at startup\)"
wait_journal "openshell-sandbox@$name.service" "^Policy $policy changes what requires a sandbox restart, keeping the policy in force"
wait_until 10 event_count deny 1
assert_eq "$(events deny)" \
    "Sandbox '$name' refused to reload policy $policy: process policy cannot be changed on a live sandbox (applied at startup); the policy in force stays." \
    "the deny event"
assert_eq "$(cat "$copy")" "$accepted" "the proxy's copy after a refused reload"
assert_eq "$(curl_far)" 502 "curl to the far host after a refused reload"

# Refused: an invalid file. Its errors are logged; nothing changes.
printf 'version: 1\nnetwork_policies:\n  far:\n    endpoints:\n      - port: 99999\n' >"$policy"
systemctl reload "openshell-sandbox@$name.service"
wait_journal "openshell-sandbox@$name.service" "^Policy $policy is invalid, keeping the policy in force of sandbox '$name'\.$"
wait_until 10 event_count deny 2
assert_eq "$(cat "$copy")" "$accepted" "the proxy's copy after an invalid policy"
assert_eq "$(curl_far)" 502 "curl to the far host after an invalid policy"

# Back to the default: the far host is denied again; the agent ran through all of it.
cp /usr/share/openshell/policies/default.yaml "$policy"
systemctl reload "openshell-sandbox@$name.service"
cmp "$copy" "$policy" || fail "the proxy's copy is not the default policy again"
far_denied() { [ "$(curl_far)" = 403 ]; }
wait_until 10 far_denied
assert_eq "$(unit_state "openshell-agent-$name.service")" active "the agent after four reloads"

# The catalog explains the events.
journalctl --update-catalog
assert_match "$(journalctl -x -n 1 --no-pager MESSAGE_ID=$catalog_id OPENSHELL_DECISION=deny)" \
    "only network_policies may change on a running sandbox" "the catalog entry"
