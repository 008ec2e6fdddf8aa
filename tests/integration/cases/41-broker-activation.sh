#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The inference broker with real socket activation: the socket is systemd's, the first request starts
# the service, the provider's secret arrives through LoadCredential= and is injected upstream, the
# model is overwritten, streams pass through, every request leaves one audit entry without prompt
# text, and the broker exits when idle and comes back on the next request.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh
# shellcheck source=tests/integration/cases/broker-common.inc
source /usr/lib/openshell/tests/cases/broker-common.inc

command -v curl >/dev/null || skip "curl is not installed in the testbed"
broker_setup
trap broker_cleanup EXIT

fake_gpu_start it-gpu 18000 --require-api-key sk-integration --always-usage --record /run/openshell-it/record
broker_provider it openai "http://127.0.0.1:18000/v1" "OPENAI_API_KEY=sk-integration"
broker_route it routed-model

systemctl start openshell-broker.socket
assert_eq "$(unit_state openshell-broker.socket)" active "socket"
assert_eq "$(unit_state openshell-broker.service)" inactive "service before the first request"
assert_eq "$(stat -c '%a %U %G' /run/openshell/broker.sock)" "660 root openshell-inference" "socket owner and mode"

marker="prompt-marker-$RANDOM$RANDOM"
out=$(broker_curl -H 'Authorization: Bearer sk-from-client' \
        -d "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"$marker\"}]}" \
        http://inference.local/v1/chat/completions)
echo "$out"
assert_eq "$(tail -n 1 <<<"$out")" 200 "status"
assert_match "$out" '"choices"' "completion body"
assert_eq "$(unit_state openshell-broker.service)" active "service after the first request"
# The backend saw the route's model and the provider's key, never the client's.
record=$(cat /run/openshell-it/record)
assert_match "$record" '"model": ?"routed-model"' "model overwritten"
assert_match "$record" 'Bearer sk-integration' "provider key injected"
if grep -q sk-from-client /run/openshell-it/record; then fail "client credential forwarded"; fi

# Streaming through the socket.
out=$(broker_curl -N -d '{"model":"x","stream":true,"messages":[{"role":"user","content":"hi"}]}' \
        http://inference.local/v1/chat/completions)
assert_eq "$(tail -n 1 <<<"$out")" 200 "stream status"
assert_match "$out" 'data: \[DONE\]' "stream end"
[ "$(grep -c '^data: ' <<<"$out")" -ge 3 ] || fail "stream: fewer than 3 events: $out"

# /healthz and /metrics.
assert_eq "$(broker_curl http://inference.local/healthz | head -n 1)" '{"status":"ok"}' "healthz"
assert_match "$(broker_curl http://inference.local/metrics)" 'openshell_broker_requests_total\{code="200"\} [0-9]+' "metrics"

# One audit entry per request, with token counts (also for the stream), never the prompt.
journalctl --sync 2>/dev/null || true
wait_until 10 bash -c "[ \$(journalctl -o cat MESSAGE_ID=$BROKER_MESSAGE_ID OPENSHELL_PATH=/v1/chat/completions | wc -l) -ge 2 ]"
entries=$(journalctl -o json MESSAGE_ID=$BROKER_MESSAGE_ID OPENSHELL_PATH=/v1/chat/completions)
echo "$entries" | head -n 2
assert_match "$entries" '"OPENSHELL_EVENT":"inference"' "event"
assert_match "$entries" '"OPENSHELL_SANDBOX":"host:0"' "caller"
assert_match "$entries" '"OPENSHELL_PROVIDER":"it"' "provider"
assert_match "$entries" '"OPENSHELL_MODEL":"routed-model"' "model"
assert_match "$entries" '"OPENSHELL_BACKEND":"http://127.0.0.1:18000/v1"' "backend"
assert_match "$entries" '"OPENSHELL_STATUS":"200"' "status"
assert_match "$entries" '"OPENSHELL_TOKENS_IN":"[0-9]+"' "tokens in"
assert_match "$entries" '"OPENSHELL_TOKENS_OUT":"[0-9]+"' "tokens out"
assert_match "$entries" '"OPENSHELL_LATENCY_US":"[0-9]+"' "latency"
assert_match "$entries" '"OPENSHELL_TTFB_US":"[0-9]+"' "time to first byte"
if journalctl -b -o verbose | grep -q "$marker"; then fail "prompt text reached the journal"; fi
# The catalog explains the entry (a package's install runs --update-catalog through systemd's trigger).
journalctl --update-catalog
assert_match "$(journalctl -x -n 1 MESSAGE_ID=$BROKER_MESSAGE_ID --no-pager)" 'Prompts and completions are never recorded' "catalog"

# The service's hardening, as systemd rates it (lower is better; 10 is unprotected).
exposure=$(systemd-analyze security openshell-broker.service 2>/dev/null | sed -n 's/^→ Overall exposure level for openshell-broker.service: \([0-9.]*\).*/\1/p')
echo "systemd-analyze security: $exposure"
[ -n "$exposure" ] || fail "no exposure level from systemd-analyze security"
awk -v e="$exposure" 'BEGIN { exit !(e < 2.0) }' || fail "exposure level $exposure is not below 2.0"

# Idle exit: with a short idle period the service ends cleanly and the socket starts it again.
mkdir -p /run/systemd/system/openshell-broker.service.d
printf '[Service]\nExecStart=\nExecStart=/usr/libexec/openshell/openshell-broker --idle-timeout=1\n' \
        >/run/systemd/system/openshell-broker.service.d/50-it-idle.conf
systemctl daemon-reload
systemctl restart openshell-broker.service
# shellcheck disable=SC2016 # expanded by that bash, at each try
wait_until 15 bash -c '[ "$(systemctl show -P ActiveState openshell-broker.service)" = inactive ]'
assert_eq "$(systemctl show -P Result openshell-broker.service)" success "result after idle exit"
out=$(broker_curl -d '{"model":"x","messages":[]}' http://inference.local/v1/chat/completions)
assert_eq "$(tail -n 1 <<<"$out")" 200 "request after idle exit"
