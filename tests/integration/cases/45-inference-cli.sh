#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `openshell provider` and `openshell inference` on a booted system, end to end: the CLI writes the
# provider, its root-only secret and the route, verifies the route against a mock GPU server with
# upstream's troubleshooting messages, and the socket-activated broker serves what the CLI wrote;
# `inference update` makes a running broker reload, new secrets of a provider in use restart it. No
# command prints the secret.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh
# shellcheck source=tests/integration/cases/broker-common.inc
source /usr/lib/openshell/tests/cases/broker-common.inc

command -v curl >/dev/null || skip "curl is not installed in the testbed"
broker_setup
trap broker_cleanup EXIT

secret="sk-cli-$RANDOM$RANDOM"
fake_gpu_start it-cli 18040 -m it-model -m it-other --require-api-key "$secret"

# Creating the provider: files, modes, owners; the secret only in the credentials file.
out=$(output_of openshell provider create --name it-cli --type openai --credential "OPENAI_API_KEY=$secret" \
        --config OPENAI_BASE_URL=http://127.0.0.1:18040/v1)
echo "$out"
assert_match "$out" "Created provider 'it-cli'" "create"
assert_eq "$(stat -c '%a %U' /etc/openshell/credentials)" "700 root" "credentials directory"
assert_eq "$(stat -c '%a %U' /etc/openshell/credentials/it-cli)" "600 root" "credentials file"
assert_eq "$(stat -c '%a' /etc/openshell/providers/it-cli.yaml)" "644" "provider file"
assert_eq "$(cat /etc/openshell/credentials/it-cli)" "OPENAI_API_KEY=$secret" "credentials content"
if grep -q "$secret" /etc/openshell/providers/it-cli.yaml; then fail "secret in the provider file"; fi
for cmd in "provider get it-cli" "provider get it-cli -o json" "provider list" "provider list -o json"; do
    # shellcheck disable=SC2086
    out=$(output_of openshell $cmd)
    if grep -q "$secret" <<<"$out"; then fail "'openshell $cmd' printed the secret"; fi
done
assert_match "$(openshell provider get it-cli)" 'OPENAI_API_KEY: <set>' "provider get"
assert_rc 2 openshell provider create --name it-x --type opneai
assert_rc 1 openshell provider create --name it-cli --type openai

# Verification failures keep the old route and explain what to fix.
out=$(output_of openshell inference set --provider it-cli --model no-such-model)
assert_match "$out" "Model 'no-such-model' not found" "404 explained"
assert_rc 1 openshell inference set --provider it-cli --model no-such-model
[ ! -e /etc/openshell/inference.yaml ] || fail "a failed verification wrote the route"

# A verified route, then the broker serves it.
out=$(output_of openshell inference set --provider it-cli --model it-model)
echo "$out"
assert_match "$out" 'Gateway inference configured' "set"
assert_match "$(openshell inference get)" 'Model: +it-model' "get"
systemctl start openshell-broker.socket
out=$(broker_curl -d '{"model":"anything","messages":[{"role":"user","content":"hi"}]}' \
        http://inference.local/v1/chat/completions)
echo "$out"
assert_eq "$(tail -n 1 <<<"$out")" 200 "through the broker"
assert_match "$out" '"model":"it-model"' "route's model"

# A running broker reloads when the route changes.
loads=$(journalctl -u openshell-broker.service -o cat | grep -c 'configuration loaded' || true)
assert_rc 0 openshell inference update --model it-other --timeout 30
wait_until 10 bash -c "[ \$(journalctl -u openshell-broker.service -o cat | grep -c 'configuration loaded') -gt $loads ]"
out=$(broker_curl -d '{"model":"anything","messages":[]}' http://inference.local/v1/chat/completions)
assert_match "$out" '"model":"it-other"' "reloaded route"

# New secrets of a provider in use reach a running broker (restarted: LoadCredential= is read at start).
assert_rc 0 openshell provider update it-cli --credential OPENAI_API_KEY=sk-wrong
out=$(broker_curl -d '{"model":"anything","messages":[]}' http://inference.local/v1/chat/completions)
assert_eq "$(tail -n 1 <<<"$out")" 401 "the backend refuses the new key"
assert_rc 0 openshell provider update it-cli --credential "OPENAI_API_KEY=$secret"
out=$(broker_curl -d '{"model":"anything","messages":[]}' http://inference.local/v1/chat/completions)
assert_eq "$(tail -n 1 <<<"$out")" 200 "and accepts the right one again"

# The provider in use cannot be deleted; after the route goes, it can.
assert_rc 1 openshell provider delete it-cli
assert_rc 0 openshell inference delete
assert_rc 0 openshell provider delete it-cli
[ ! -e /etc/openshell/credentials/it-cli ] || fail "credentials left behind"
