#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The drop-in `openshell policy compile` prints is accepted by systemd as written: every key known,
# every value parseable (systemd-analyze verify reads the unit and its drop-in offline, no running
# systemd needed). Skipped (77) where systemd-analyze is not installed.
# Usage: test-policy-systemd-verify.sh PATH-TO-openshell   (OPENSHELL_SOURCE_ROOT names the source tree)
set -u
openshell=$(realpath "$1")
src=${OPENSHELL_SOURCE_ROOT:?}
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unit=$tmp/policy-verify.service
printf '[Unit]\nDescription=policy drop-in check\n[Service]\nType=oneshot\nExecStart=/bin/true\n' >"$unit"
mkdir "$unit.d"
failures=0

check() {   # check POLICY [EXPECT-DIAGNOSTIC]
    "$openshell" policy compile "$1" >"$unit.d/policy.conf" 2>/dev/null || {
        echo "FAIL: cannot compile $1" >&2; failures=$((failures + 1)); return; }
    [ -n "${2:-}" ] && echo "$2" >>"$unit.d/policy.conf"
    SYSTEMD_UNIT_PATH="$tmp:" systemd-analyze verify --man=no "$unit" >"$tmp/out" 2>&1
    if [ -z "${2:-}" ] && grep -q "policy.conf" "$tmp/out"; then
        echo "FAIL: systemd does not accept the drop-in of $1:" >&2
        sed 's/^/  | /' "$tmp/out" >&2
        failures=$((failures + 1))
    fi
    if [ -n "${2:-}" ] && ! grep -q "policy.conf:.*Unknown key 'NotAKey'" "$tmp/out"; then
        echo "FAIL: systemd-analyze did not read the drop-in (the check could not fail)" >&2
        failures=$((failures + 1))
    fi
}

# the check itself works: a bad line in the drop-in is reported
check "$src/tests/data/policies/golden/minimal.yaml" "NotAKey=1"

for f in "$src"/policies/default.yaml "$src"/policies/profiles/*/policy.yaml "$src"/tests/data/policies/golden/*.yaml \
         "$src"/tests/data/policies/valid/*.yaml; do
    check "$f"
done

[ "$failures" -eq 0 ] || exit 1
echo "all drop-ins accepted"
