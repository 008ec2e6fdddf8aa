#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Inference from inside a sandbox, end to end, under the shipped default policy: the agent's
# https://inference.local/v1 is a CONNECT that the sandbox's proxy terminates with the sandbox's CA
# (verified by curl and Node through the CA variables, no -k, no CA option) and hands to the broker,
# routed here to the fake GPU server. Plain and streamed answers (several SSE events), the official
# `openai` npm client, the broker's audit entry naming the sandbox (the proxy's dynamic user is
# trusted, the agent's own X-OpenShell-Sandbox is not), and any other host refused by the proxy.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh
# shellcheck source=tests/integration/cases/broker-common.inc
source /usr/lib/openshell/tests/cases/broker-common.inc

name=infer
NODE_TESTS=/usr/lib/openshell/tests/node
model="served/Model-8B"
command -v curl >/dev/null || skip "curl is not installed in the testbed"
broker_setup
cleanup() {
    cleanup_sandbox "$name"
    broker_cleanup
}
trap cleanup EXIT
cleanup_sandbox "$name"
# The audit entries of this case only (other cases of the same boot call the broker too).
since=@$(date +%s)
audit() { journalctl -o cat --since="$since" MESSAGE_ID="$BROKER_MESSAGE_ID" "$@"; }

fake_gpu_start gpu26 18026 -m "$model" -t 12 --always-usage --record /run/openshell-it/record26
broker_provider it26 openai "http://127.0.0.1:18026/v1"
broker_route it26 "$model"
# Before the sandbox: the proxy's unit binds the socket's path when it starts.
systemctl start openshell-broker.socket

write_spec "$name" <<SPEC
command: ["/bin/sleep", "600"]
SPEC
systemctl start "openshell-sandbox@$name.service"
assert_eq "$(unit_state "openshell-agent-$name.service")" active "agent state"
in_sandbox() { openshell sandbox exec "$name" -- "$@"; }
# TLS termination needs the sandbox's CA (made by the supervisor) and a proxy that forwards to the
# broker; without either, inference.local cannot work yet: skip rather than fail.
in_sandbox test -f /etc/openshell-tls/openshell-ca.pem ||
    skip "no /etc/openshell-tls/openshell-ca.pem in the sandbox (the supervisor makes no CA yet)"
grep -q -- --broker-socket <<<"$(systemctl show -P ExecStart "openshell-proxy@$name.service")" ||
    skip "the proxy's unit passes no --broker-socket (inference.local is not forwarded yet)"
assert_eq "$(unit_state "openshell-proxy@$name.service")" active "proxy state"

chat='{"model":"any","messages":[{"role":"user","content":"hi"}]}'
# shellcheck disable=SC2016 # expanded by the sandbox's sh
assert_eq "$(in_sandbox /bin/sh -c 'echo $CURL_CA_BUNDLE')" /etc/openshell-tls/ca-bundle.pem "CURL_CA_BUNDLE"
# in_curl ARGS...: curl as the agent, through the proxy (https_proxy), the CA from CURL_CA_BUNDLE:
# prints the body, then the HTTP status on a line of its own.
in_curl() {
    in_sandbox curl -sS --max-time 30 -H 'Content-Type: application/json' -w '\n%{http_code}\n' "$@"
}

# Chat completions, plain: the broker's route model and the fake's deterministic text.
out=$(in_curl -d "$chat" https://inference.local/v1/chat/completions)
echo "$out"
assert_eq "$(tail -n 1 <<<"$out")" 200 "chat completions"
assert_match "$(head -n 1 <<<"$out")" '"model": ?"served/Model-8B"' "chat model"
assert_match "$(head -n 1 <<<"$out")" '"content": ?"Hello from the openshell' "chat text"
# Streamed: several SSE events, ended as OpenAI ends them.
out=$(in_curl -N -d '{"model":"any","stream":true,"messages":[{"role":"user","content":"hi"}]}' \
        https://inference.local/v1/chat/completions)
assert_eq "$(tail -n 1 <<<"$out")" 200 "chat completions streamed"
events=$(grep -c '^data: {' <<<"$out")
[ "$events" -ge 12 ] || fail "only $events SSE events in the streamed chat answer"
grep -qx 'data: \[DONE\]' <<<"$out" || fail "the streamed chat answer has no [DONE]"
# Responses, plain and streamed.
out=$(in_curl -d '{"model":"any","input":"hi"}' https://inference.local/v1/responses)
assert_eq "$(tail -n 1 <<<"$out")" 200 "responses"
assert_match "$(head -n 1 <<<"$out")" '"output_text"' "responses body"
out=$(in_curl -N -d '{"model":"any","input":"hi","stream":true}' https://inference.local/v1/responses)
assert_eq "$(tail -n 1 <<<"$out")" 200 "responses streamed"
events=$(grep -c '^event: response.output_text.delta$' <<<"$out")
[ "$events" -ge 12 ] || fail "only $events text deltas in the streamed responses answer"
grep -qx 'event: response.completed' <<<"$out" || fail "the streamed responses answer is not completed"

# The certificate is the sandbox CA's: without it curl refuses the server (60: not verified; 77: no
# bundle at the default path), so nothing above worked by skipping verification.
rc=0
in_sandbox env -u CURL_CA_BUNDLE -u SSL_CERT_FILE curl -sS --max-time 30 -o /dev/null -d "$chat" \
    https://inference.local/v1/chat/completions || rc=$?
assert_match "$rc" '^(60|77)$' "curl without the sandbox's CA"

# The agent cannot pose as another sandbox: its own X-OpenShell-Sandbox is dropped by the proxy.
out=$(in_curl -H 'X-OpenShell-Sandbox: spoofed' -d "$chat" https://inference.local/v1/chat/completions)
assert_eq "$(tail -n 1 <<<"$out")" 200 "chat with a spoofed header"
grep -q '^x-openshell-sandbox' <<<"$(tr '[:upper:]' '[:lower:]' </run/openshell-it/record26)" &&
    fail "an X-OpenShell-Sandbox header reached the backend"

# Paths outside upstream's table, and any other host: refused by the proxy.
out=$(in_curl -d "$chat" https://inference.local/v2/anything)
assert_eq "$(tail -n 1 <<<"$out")" 403 "a path outside the inference table"
assert_eq "$(head -n 1 <<<"$out")" '{"error":"connection not allowed by policy"}' "403 body"
code=$(in_sandbox curl -sS --max-time 30 -o /dev/null -w '%{http_connect}' https://blocked.invalid/ || true)
assert_eq "$code" 403 "CONNECT to another host"

# The official openai client, as the agent.
if command -v node >/dev/null && [ -d "$NODE_TESTS/node_modules/openai" ]; then
    out=$(in_sandbox node "$NODE_TESTS/sandbox-client.mjs")
    echo "$out"
    text="Hello from the openshell fake GPU server and its deterministic tokens Hello"
    assert_eq "$(sed -n 's/^chat //p' <<<"$out")" "$model $text" "openai client: chat"
    assert_match "$(sed -n 's/^chat-stream //p' <<<"$out")" "^[0-9]+ $text\$" "openai client: chat streamed"
    chunks=$(sed -n 's/^chat-stream \([0-9]*\) .*/\1/p' <<<"$out")
    [ "$chunks" -ge 12 ] || fail "the openai client saw $chunks chunks of the streamed chat"
    assert_eq "$(sed -n 's/^responses //p' <<<"$out")" "$text" "openai client: responses"
    assert_match "$(sed -n 's/^responses-stream //p' <<<"$out")" '^[0-9]+ true$' "openai client: responses streamed"
else
    echo "SKIP (part): Node.js or tests/node/node_modules is not in the testbed: no openai client run"
fi

# The audit: the broker's entries name the sandbox (trusted from its proxy's dynamic user), never the
# spoofed name; the proxy's entries say inspect_for_inference for the same sandbox.
sandbox_audited() { [ -n "$(audit OPENSHELL_SANDBOX="$name")" ]; }
wait_until 10 sandbox_audited
journalctl -o verbose --since="$since" MESSAGE_ID="$BROKER_MESSAGE_ID" OPENSHELL_SANDBOX="$name" |
    grep OPENSHELL_ | tail -n 14
assert_eq "$(audit OPENSHELL_SANDBOX=spoofed | wc -l)" 0 "entries for the spoofed name"
callers=$(journalctl -o verbose --since="$since" MESSAGE_ID="$BROKER_MESSAGE_ID" |
    sed -n 's/^ *OPENSHELL_SANDBOX=//p' | sort -u)
assert_eq "$callers" "$name" "the callers of every request the broker saw"
proxy_audited() {
    [ -n "$(journalctl -o cat --since="$since" OPENSHELL_SANDBOX="$name" OPENSHELL_DECISION=inspect_for_inference)" ]
}
wait_until 10 proxy_audited
