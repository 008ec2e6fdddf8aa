# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Helpers for integration cases (sourced; runs inside the booted testbed as root).
set -euo pipefail

# shellcheck disable=SC2034 # used by the cases that source this file
TESTS_DIR=/usr/lib/openshell/tests

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

skip() {
    echo "$*"
    exit 77
}

assert_eq() {   # assert_eq ACTUAL EXPECTED [WHAT]
    [ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"
}

assert_match() {    # assert_match ACTUAL EXTENDED-REGEX [WHAT]
    [[ "$1" =~ $2 ]] || fail "${3:-value}: '$1' does not match /$2/"
}

assert_rc() {   # assert_rc EXPECTED-EXIT-STATUS COMMAND...
    local want=$1 rc=0
    shift
    "$@" || rc=$?
    [ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want"
}

# Waits until COMMAND succeeds (at most SECONDS), polling every 0.1 s.
wait_until() {  # wait_until SECONDS COMMAND...
    local deadline=$(( $(date +%s) + $1 ))
    shift
    until "$@"; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "timed out waiting for: $*"
        sleep 0.1
    done
}

unit_state() {  # unit_state UNIT -> ActiveState, or "gone" when systemd no longer knows it
    local s
    s=$(systemctl show -P LoadState "$1")
    if [ "$s" = "not-found" ]; then echo gone; else systemctl show -P ActiveState "$1"; fi
}

# Writes /etc/openshell/sandboxes/NAME.yaml from stdin.
write_spec() {
    mkdir -p /etc/openshell/sandboxes
    cat >"/etc/openshell/sandboxes/$1.yaml"
}

# Stops a sandbox and removes its spec and workdir, leaving nothing for the next case.
cleanup_sandbox() {
    systemctl stop "openshell-sandbox@$1.service" 2>/dev/null || true
    systemctl reset-failed "openshell-sandbox@$1.service" "openshell-agent-$1.service" 2>/dev/null || true
    rm -rf "/etc/openshell/sandboxes/$1.yaml" "/var/lib/openshell/sandboxes/$1"
}

# Waits until the journal of UNIT has a line matching the extended regex (journald reads the units'
# output streams asynchronously, so a line may arrive after `systemctl start` returned).
wait_journal() {    # wait_journal UNIT REGEX [SECONDS]
    local deadline=$(( $(date +%s) + ${3:-10} ))
    # grep reads a here-string, not a pipe: under pipefail, grep -q closing the pipe early would
    # make journalctl die of SIGPIPE and the match count as a failure.
    until grep -qE -- "$2" <<<"$(journalctl -u "$1" --no-pager -o cat)"; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "journal of $1 has no line matching /$2/"
        sleep 0.1
    done
}

# Everything COMMAND prints (stdout and stderr), whatever its exit status.
output_of() {   # output_of COMMAND...
    "$@" 2>&1 || true
}
