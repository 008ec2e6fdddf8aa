#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The optional loopback TCP listener is a drop-in on the socket unit; the broker serves it too, and
# never trusts X-OpenShell-Sandbox there (no peer credentials on TCP).
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh
# shellcheck source=tests/integration/cases/broker-common.inc
source /usr/lib/openshell/tests/cases/broker-common.inc

command -v curl >/dev/null || skip "curl is not installed in the testbed"
broker_setup
trap broker_cleanup EXIT

fake_gpu_start it-gpu 18030 --always-usage
broker_provider it openai "http://127.0.0.1:18030/v1"
broker_route it tcp-model

mkdir -p /run/systemd/system/openshell-broker.socket.d
printf '[Socket]\nListenStream=127.0.0.1:11435\n' >/run/systemd/system/openshell-broker.socket.d/50-tcp.conf
systemctl daemon-reload
systemctl restart openshell-broker.socket

out=$(curl -sS --max-time 30 -w '\n%{http_code}\n' -H 'X-OpenShell-Sandbox: demo' \
        -d '{"model":"x","messages":[]}' http://127.0.0.1:11435/v1/chat/completions)
assert_eq "$(tail -n 1 <<<"$out")" 200 "over TCP"
assert_match "$out" '"model": ?"tcp-model"' "model overwritten"
wait_until 10 bash -c "journalctl -o cat MESSAGE_ID=$BROKER_MESSAGE_ID OPENSHELL_SANDBOX=host:tcp OPENSHELL_MODEL=tcp-model | grep -q ."
# The unix socket still works alongside.
assert_eq "$(broker_curl http://inference.local/healthz | tail -n 1)" 200 "unix socket"
