#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The official `openai` npm client (tests/node/broker.test.mjs: chat streamed and not, completions,
# responses, embeddings, credential injection, errors, cancellation, 1,000 concurrent streams)
# against the broker as a user runs it: openshell-broker.socket under systemd, with its loopback TCP
# drop-in, configured through /etc/openshell. The runner copies Node.js and tests/node in when the
# host has them.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh
# shellcheck source=tests/integration/cases/broker-common.inc
source /usr/lib/openshell/tests/cases/broker-common.inc

NODE_TESTS=/usr/lib/openshell/tests/node
command -v node >/dev/null || skip "Node.js is not in the testbed (the host has none to copy in)"
[ -d "$NODE_TESTS/node_modules/openai" ] || skip "tests/node/node_modules is not installed (run tests/node/run once)"
broker_setup
trap broker_cleanup EXIT

api_key="sk-it-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
model="served/Model-8B"
fake_gpu_start node1 18041 --record /run/openshell-it/record1 -m "$model" -t 12 --require-api-key "$api_key"
fake_gpu_start node2 18042 --record /run/openshell-it/record2 -m "$model" -t 12 --require-api-key "$api_key"
broker_provider it-gpu openai "http://127.0.0.1:18041/v1" "OPENAI_API_KEY=$api_key"
cat >/etc/openshell/inference.yaml <<YAML
routes:
  - name: inference.local
    provider: it-gpu
    model: "$model"
    timeout_seconds: 10
  - name: faulty.local
    provider: it-gpu
    model: "$model"
    backends: [{url: "http://127.0.0.1:18042/v1", weight: 1}]
    timeout_seconds: 2
  - name: dead.local
    provider: it-gpu
    model: "$model"
    backends: [{url: "http://127.0.0.1:1/v1", weight: 1}]
    timeout_seconds: 2
YAML
mkdir -p /run/systemd/system/openshell-broker.socket.d
printf '[Socket]\nListenStream=127.0.0.1:11436\n' >/run/systemd/system/openshell-broker.socket.d/50-tcp.conf
systemctl daemon-reload
systemctl restart openshell-broker.socket

rc=0
(cd "$NODE_TESTS" && env BROKER_SOCKET="$BROKER_SOCK" BROKER_TCP_URL=http://127.0.0.1:11436 \
    FAKE_URL=http://127.0.0.1:18041 FAKE2_URL=http://127.0.0.1:18042 FAKE_RECORD=/run/openshell-it/record1 \
    ROUTE_MODEL="$model" PROVIDER_API_KEY="$api_key" node --test --test-reporter=spec ./*.test.mjs) || rc=$?
if grep -qF "$api_key" <<<"$(journalctl -u openshell-broker.service --no-pager -o cat)"; then
    fail "the provider's secret appears in the broker's journal"
fi
[ "$rc" = 0 ] || fail "the openai client tests failed (exit $rc)"
