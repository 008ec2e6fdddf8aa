#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Several backends for one route: a dead one and a failing one are skipped before the first answer
# byte, so no request is lost; a backend killed between requests is failed over; the circuit
# breaker shows in /metrics; request limits answer with the right status.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh
# shellcheck source=tests/integration/cases/broker-common.inc
source /usr/lib/openshell/tests/cases/broker-common.inc

command -v curl >/dev/null || skip "curl is not installed in the testbed"
broker_setup
trap broker_cleanup EXIT

fake_gpu_start it-good 18021
fake_gpu_start it-sick 18022 --fail 503
fake_gpu_start it-spare 18023
broker_provider it openai "http://127.0.0.1:18021/v1"
broker_route it fo-model "    backends:
      - url: http://127.0.0.1:18020/v1
      - url: http://127.0.0.1:18022/v1
      - url: http://127.0.0.1:18021/v1
      - url: http://127.0.0.1:18023/v1"
systemctl start openshell-broker.socket

body='{"model":"x","messages":[{"role":"user","content":"hi"}]}'
for i in $(seq 1 12); do
    out=$(broker_curl -d "$body" http://inference.local/v1/chat/completions)
    assert_eq "$(tail -n 1 <<<"$out")" 200 "request $i"
    # Kill one healthy backend half-way: the others take over.
    [ "$i" != 6 ] || systemctl stop openshell-it-it-good.service
done
metrics=$(broker_curl http://inference.local/metrics)
assert_match "$metrics" 'openshell_broker_failovers_total [1-9]' "failovers counted"
assert_match "$metrics" 'openshell_broker_backend_circuit_open\{backend="http://127.0.0.1:18020/v1"\} 1' "dead backend's circuit"
assert_match "$metrics" 'openshell_broker_requests_total\{code="200"\} 12' "every request answered"

# Limits.
head -c $((10 * 1024 * 1024 + 1)) /dev/zero >/run/openshell-it/big
out=$(broker_curl --data-binary @/run/openshell-it/big http://inference.local/v1/chat/completions)
assert_eq "$(tail -n 1 <<<"$out")" 413 "body over 10 MiB"
out=$(broker_curl -d '[1]' http://inference.local/v1/chat/completions)
assert_eq "$(tail -n 1 <<<"$out")" 400 "non-object body"
out=$(broker_curl -d '{}' http://inference.local/v1/unknown)
assert_eq "$(tail -n 1 <<<"$out")" 403 "unknown endpoint"
assert_eq "$(head -n 1 <<<"$out")" '{"error":"connection not allowed by policy"}' "403 body"

# No route configured.
rm /etc/openshell/inference.yaml
systemctl reload openshell-broker.service
wait_until 10 bash -c "curl -s --unix-socket $BROKER_SOCK -d '{}' http://inference.local/v1/chat/completions | grep -q 'no inference route configured'"
