#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Who may name a sandbox (services/broker/README.md), with real dynamic users and without the proxy:
# a process running as the dynamic user of sandbox demo's proxy (openshell-proxy-demo, allocated by
# systemd for a running unit) is attributed to sandbox demo; the same header from the dynamic user of
# another sandbox's proxy, or from a plain member of openshell-inference, is ignored (host:UID).
# Also what such a caller gets with no route configured and with the backend down: upstream's error
# bodies, at once.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh
# shellcheck source=tests/integration/cases/broker-common.inc
source /usr/lib/openshell/tests/cases/broker-common.inc

command -v curl >/dev/null || skip "curl is not installed in the testbed"
broker_setup
cleanup() {
    broker_cleanup
    userdel ituser-trust 2>/dev/null || true
}
trap cleanup EXIT

fake_gpu_start it-gpu 18070 --always-usage
broker_provider it openai "http://127.0.0.1:18070/v1"
broker_route it trust-model
systemctl start openshell-broker.socket

# A sandbox name of this run only, so that the journal holds no earlier entry of it (other cases of
# the same boot call the broker too).
demo=d$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
body='{"model":"x","messages":[{"role":"user","content":"hi"}]}'
n=0
# as_dynamic_user USER CURL-ARGS...: curl through the broker's socket as the dynamic user USER of a
# transient unit (as the proxy runs: DynamicUser=, the group of the socket), printing that user's uid,
# the body, then the HTTP status, each on a line of its own.
as_dynamic_user() {
    local user=$1
    shift
    n=$((n + 1))
    systemd-run --quiet --wait --pipe --unit="openshell-it-trust-$n" -p DynamicUser=yes -p User="$user" \
        -p SupplementaryGroups=openshell-inference -- \
        sh -c 'id -u; exec "$@"' sh curl -sS --max-time 30 --unix-socket "$BROKER_SOCK" \
        -H 'Content-Type: application/json' -w '\n%{http_code}\n' "$@"
}
entries() {     # entries FIELD=VALUE: how many audit entries of the broker carry it
    journalctl -o cat MESSAGE_ID="$BROKER_MESSAGE_ID" "$1" | wc -l
}
audited() { [ "$(entries "$1")" -gt 0 ]; }

# The proxy of demo speaks for demo.
out=$(as_dynamic_user "openshell-proxy-$demo" -H "X-OpenShell-Sandbox: $demo" -d "$body" \
        http://inference.local/v1/chat/completions)
assert_eq "$(tail -n 1 <<<"$out")" 200 "demo's proxy user"
wait_until 10 audited "OPENSHELL_SANDBOX=$demo"
assert_eq "$(entries "OPENSHELL_SANDBOX=$demo")" 1 "demo's request attributed to demo"

# A long name's proxy has the hashed user name (sandbox_proxy_user_name(), tested in unit tests).
long=egress-with-a-rather-long-name
out=$(as_dynamic_user openshell-prox_01be46c9b8906cfb -H "X-OpenShell-Sandbox: $long" -d "$body" \
        http://inference.local/v1/chat/completions)
assert_eq "$(tail -n 1 <<<"$out")" 200 "long name's proxy user"
wait_until 10 audited "OPENSHELL_SANDBOX=$long"

# Another sandbox's proxy cannot speak for demo: ignored, attributed to its uid.
out=$(as_dynamic_user openshell-proxy-other -H "X-OpenShell-Sandbox: $demo" -d "$body" \
        http://inference.local/v1/chat/completions)
assert_eq "$(tail -n 1 <<<"$out")" 200 "other's proxy user"
other_uid=$(head -n 1 <<<"$out")
assert_match "$other_uid" '^[0-9]+$' "uid of other's proxy user"
wait_until 10 audited "OPENSHELL_SANDBOX=host:$other_uid"

# Nor can a plain member of the socket's group.
useradd --system --no-create-home --groups openshell-inference ituser-trust
out=$(runuser -u ituser-trust -- curl -sS --unix-socket "$BROKER_SOCK" -H "X-OpenShell-Sandbox: $demo" \
        -w '\n%{http_code}\n' -d "$body" http://inference.local/v1/chat/completions)
assert_eq "$(tail -n 1 <<<"$out")" 200 "group member"
wait_until 10 audited "OPENSHELL_SANDBOX=host:$(id -u ituser-trust)"
assert_eq "$(entries "OPENSHELL_SANDBOX=$demo")" 1 "still only demo's own request attributed to demo"

# The trusted proxy sending the header twice is refused.
out=$(as_dynamic_user "openshell-proxy-$demo" -H "X-OpenShell-Sandbox: $demo" -H 'X-OpenShell-Sandbox: other' \
        -d "$body" http://inference.local/v1/chat/completions)
assert_eq "$(tail -n 1 <<<"$out")" 400 "duplicate header from demo's proxy"
assert_eq "$(sed -n 2p <<<"$out")" '{"error":"invalid X-OpenShell-Sandbox header"}' "400 body"

# Upstream's errors reach the proxy as bodies, at once (curl's --max-time 30 would fail otherwise):
# the backend down (connection refused)...
systemctl stop openshell-it-it-gpu.service
out=$(as_dynamic_user "openshell-proxy-$demo" -H "X-OpenShell-Sandbox: $demo" -d "$body" \
        http://inference.local/v1/chat/completions)
assert_eq "$(tail -n 1 <<<"$out")" 503 "backend down"
assert_eq "$(sed -n 2p <<<"$out")" '{"error":"inference service unavailable"}' "503 body"
# ... and no route configured.
rm /etc/openshell/inference.yaml
systemctl reload openshell-broker.service
wait_until 10 bash -c "curl -s --unix-socket $BROKER_SOCK -d '{}' http://inference.local/v1/chat/completions | grep -q 'no inference route configured'"
out=$(as_dynamic_user "openshell-proxy-$demo" -H "X-OpenShell-Sandbox: $demo" -d "$body" \
        http://inference.local/v1/chat/completions)
assert_eq "$(tail -n 1 <<<"$out")" 400 "no route"
assert_eq "$(sed -n 2p <<<"$out")" '{"error":"no inference route configured"}' "400 body"
