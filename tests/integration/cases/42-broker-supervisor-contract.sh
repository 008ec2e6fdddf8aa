#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The supervisor contract: only a root peer of the unix socket (a supervisor) may name the calling
# sandbox with X-OpenShell-Sandbox; a host user sending the same header is recorded as host:UID and
# counted as such for max_concurrency_per_sandbox; users outside openshell-inference cannot connect.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh
# shellcheck source=tests/integration/cases/broker-common.inc
source /usr/lib/openshell/tests/cases/broker-common.inc

command -v curl >/dev/null || skip "curl is not installed in the testbed"
broker_setup
cleanup() {
    broker_cleanup
    userdel -r ituser-in 2>/dev/null || true
    userdel -r ituser-out 2>/dev/null || true
}
trap cleanup EXIT

fake_gpu_start it-gpu 18010 --always-usage
broker_provider it openai "http://127.0.0.1:18010/v1"
broker_route it contract-model "    max_concurrency_per_sandbox: 1"
systemctl start openshell-broker.socket

useradd --system --no-create-home --groups openshell-inference ituser-in
useradd --system --no-create-home ituser-out
uid_in=$(id -u ituser-in)

body='{"model":"x","messages":[{"role":"user","content":"hi"}]}'
# A supervisor (root) names the sandbox.
out=$(broker_curl -H 'X-OpenShell-Sandbox: demo' -d "$body" http://inference.local/v1/chat/completions)
assert_eq "$(tail -n 1 <<<"$out")" 200 "root with sandbox header"
# A member of openshell-inference may call, but its header is ignored.
out=$(runuser -u ituser-in -- curl -sS --unix-socket "$BROKER_SOCK" -H 'X-OpenShell-Sandbox: demo' \
        -w '\n%{http_code}\n' -d "$body" http://inference.local/v1/chat/completions)
assert_eq "$(tail -n 1 <<<"$out")" 200 "group member"
# Anyone else cannot even connect (curl exit 7: connection refused / permission denied).
assert_rc 7 runuser -u ituser-out -- curl -sS --unix-socket "$BROKER_SOCK" http://inference.local/healthz
# A root peer sending an invalid name is refused.
out=$(broker_curl -H 'X-OpenShell-Sandbox: ../../x' -d "$body" http://inference.local/v1/chat/completions)
assert_eq "$(tail -n 1 <<<"$out")" 400 "invalid sandbox name"
assert_eq "$(head -n 1 <<<"$out")" '{"error":"invalid X-OpenShell-Sandbox header"}' "error body"

wait_until 10 bash -c "journalctl -o cat MESSAGE_ID=$BROKER_MESSAGE_ID OPENSHELL_SANDBOX=demo | grep -q ."
wait_until 10 bash -c "journalctl -o cat MESSAGE_ID=$BROKER_MESSAGE_ID OPENSHELL_SANDBOX=host:$uid_in | grep -q ."
assert_eq "$(journalctl -o cat MESSAGE_ID=$BROKER_MESSAGE_ID OPENSHELL_SANDBOX=demo | wc -l)" 1 \
    "requests recorded as sandbox demo (the member's is not)"

# Per-sandbox concurrency: demo holds one slow request; a second request of demo gets 429, while the
# host user claiming to be demo is served.
# The backend answers after 8 s for a while (set on the fake directly, not through the broker).
curl -sf -o /dev/null -d '{"latency_ms":8000}' http://127.0.0.1:18010/fake/config
curl -sS --unix-socket "$BROKER_SOCK" -H 'X-OpenShell-Sandbox: demo' -o /dev/null -d "$body" \
    http://inference.local/v1/chat/completions &
slow=$!
wait_until 10 bash -c "curl -s --unix-socket $BROKER_SOCK http://inference.local/metrics | grep -q '^openshell_broker_requests_in_flight 1$'"
out=$(broker_curl -H 'X-OpenShell-Sandbox: demo' -d "$body" http://inference.local/v1/chat/completions)
assert_eq "$(tail -n 1 <<<"$out")" 429 "second request of demo"
out=$(runuser -u ituser-in -- curl -sS --unix-socket "$BROKER_SOCK" -H 'X-OpenShell-Sandbox: demo' \
        -w '\n%{http_code}\n' -d "$body" http://inference.local/v1/chat/completions)
assert_eq "$(tail -n 1 <<<"$out")" 200 "host user not limited as demo"
kill "$slow" 2>/dev/null || true
wait "$slow" 2>/dev/null || true
