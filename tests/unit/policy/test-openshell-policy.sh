#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `openshell policy validate|compile`: exit statuses (0 valid, 1 invalid, 2 usage), messages, formats.
# Usage: test-openshell-policy.sh PATH-TO-openshell   (OPENSHELL_SOURCE_ROOT names the source tree)
set -u
openshell=$(realpath "$1")
src=${OPENSHELL_SOURCE_ROOT:?}
data=$src/tests/data/policies
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect STATUS CMD...: runs CMD with stdout/stderr in $tmp/out and $tmp/err
expect() {
    local want=$1 got
    shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" != "$want" ]; then
        echo "FAIL: '$*' exited $got, expected $want" >&2
        sed 's/^/  stderr: /' "$tmp/err" >&2
        failures=$((failures + 1))
    fi
}

# contains FILE STRING: the file has a line equal to STRING
contains() {
    if ! grep -qxF -- "$2" "$1"; then
        echo "FAIL: $1 lacks the line: $2" >&2
        sed 's/^/  | /' "$1" >&2
        failures=$((failures + 1))
    fi
}

cd "$data" || exit 1

expect 0 "$openshell" policy validate valid/minimal.yaml
contains "$tmp/out" "valid/minimal.yaml: valid (with warnings)"
expect 0 "$openshell" policy validate --quiet "$src/policies/default.yaml"
[ -s "$tmp/out" ] && { echo "FAIL: --quiet printed something" >&2; failures=$((failures + 1)); }

expect 1 "$openshell" policy validate invalid/identity.yaml
contains "$tmp/err" "invalid/identity.yaml:4:16: process.run_as_user: run_as_user must be 'sandbox' or a numeric UID/GID in range [1, 4294967294], got 'root'"
contains "$tmp/err" "invalid/identity.yaml:5:17: process.run_as_group: run_as_group must be 'sandbox' or a numeric UID/GID in range [1, 4294967294], got '0'"

# all files are checked, the result is the worst
expect 1 "$openshell" policy validate valid/minimal.yaml invalid/bad-version.yaml valid/nulls.yaml
contains "$tmp/out" "valid/minimal.yaml: valid (with warnings)"
contains "$tmp/out" "valid/nulls.yaml: valid (with warnings)"
contains "$tmp/err" "invalid/bad-version.yaml:2:10: version: unsupported policy version 2 (expected 1)"

expect 1 "$openshell" policy validate does-not-exist.yaml
contains "$tmp/err" "does-not-exist.yaml: cannot open file: No such file or directory"
expect 1 "$openshell" policy validate /
expect 2 "$openshell" policy validate
expect 2 "$openshell" policy validate --bogus valid/minimal.yaml
expect 2 "$openshell" policy frobnicate
expect 2 "$openshell" policy

expect 0 "$openshell" policy compile golden/github.yaml
contains "$tmp/out" "[Service]"
contains "$tmp/out" "User=openshell-agent"
contains "$tmp/out" "#   github_rest: api.github.com:443 rest enforce binaries /usr/bin/git,/usr/lib/git-core/* -> allow"
expect 0 "$openshell" policy compile --format=unit golden/minimal.yaml
contains "$tmp/out" "#   (empty: every connection is denied)"
expect 0 "$openshell" policy compile --format=json golden/minimal.yaml
contains "$tmp/out" '  "format": 1,'
if command -v python3 >/dev/null; then
    for f in golden/*.yaml valid/*.yaml "$src"/policies/default.yaml "$src"/policies/profiles/*/policy.yaml; do
        "$openshell" policy compile --format=json "$f" >"$tmp/json" 2>/dev/null
        python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["format"] == 1 and d["egress"]["default"] == "deny"' "$tmp/json" ||
            { echo "FAIL: --format=json of $f is not the documented JSON" >&2; failures=$((failures + 1)); }
    done
fi
expect 1 "$openshell" policy compile invalid/ports.yaml
contains "$tmp/err" "invalid/ports.yaml:6:38: network_policies.p.endpoints[0].port: network policy 'p': endpoint 'a.example.com' has invalid port 0; expected 1..=65535"
[ -s "$tmp/out" ] && { echo "FAIL: an invalid policy printed output" >&2; failures=$((failures + 1)); }
expect 2 "$openshell" policy compile --format=yaml golden/minimal.yaml
expect 2 "$openshell" policy compile golden/minimal.yaml golden/github.yaml
expect 2 "$openshell" policy compile

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "all checks passed"
