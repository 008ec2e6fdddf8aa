#!/bin/bash
# openshell-exec, the agent's ExecStart= shim, applies a Landlock ruleset handed over with
# LoadCredential= before it runs the command; hard_requirement refuses to run with less.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh

EXEC=/usr/libexec/openshell/openshell-exec
abi=$(openshell status | sed -n 's/^Landlock: *ABI \([0-9]*\)$/\1/p')
[ -n "$abi" ] || skip "Landlock is not available on this kernel"
trap 'rm -f /root/ll-*' EXIT

# read-only: execute|read_file|read_dir (0xd); read-write: everything (0xffff)
cat >/root/ll-basic <<'RULES'
openshell-landlock 1
compatibility best_effort
handled_fs 0xffff
path 0xd /usr
path 0xd /lib
path 0xd /lib64
path 0xd /bin
path 0xd /etc/ld.so.cache
path 0xffff /tmp
path 0xffff /dev/null
path 0xd /nonexistent/skipped/quietly
RULES
run() {   # run RULESET COMMAND...: the shim as an unprivileged transient unit, like the agent's
    local rules=$1
    shift
    systemd-run --quiet --wait --pipe --collect -p User=openshell-agent -p NoNewPrivileges=yes -p PrivateTmp=yes \
        -p "LoadCredential=openshell-landlock:$rules" "$EXEC" -- "$@"
}

assert_eq "$(run /root/ll-basic /bin/sh -c 'echo ok > /tmp/x && cat /tmp/x')" ok "granted read-write path"
out=$(output_of run /root/ll-basic /bin/cat /etc/hostname)
grep -q "Permission denied" <<<"$out" || fail "read outside the ruleset was not denied: $out"
out=$(output_of run /root/ll-basic /bin/ls /var)
grep -q "Permission denied" <<<"$out" || fail "listing outside the ruleset was not denied: $out"
assert_rc 2 run /root/ll-basic /bin/sh -c ': > /usr/local/x'
# What was enforced is recorded in the journal (only there: with --pipe, stderr is the caller's).
systemd-run --quiet --wait --collect --unit=openshell-ll-check -p User=openshell-agent -p NoNewPrivileges=yes \
    -p LoadCredential=openshell-landlock:/root/ll-basic "$EXEC" -- /bin/true
wait_journal openshell-ll-check.service \
    "^openshell-exec: Landlock enforced \[abi:$abi compat:best_effort rules_applied:[0-9]+ skipped:1 ports:0\]$"
[ -z "$(output_of run /root/ll-basic /bin/true)" ] || fail "the shim wrote to the caller's stderr"

# hard_requirement: a path that cannot be opened stops the start
sed 's/best_effort/hard_requirement/' /root/ll-basic >/root/ll-hard
out=$(output_of run /root/ll-hard /bin/true)
grep -q "Landlock path unavailable in hard_requirement mode: /nonexistent/skipped/quietly" <<<"$out" || fail "hard: $out"
assert_rc 126 run /root/ll-hard /bin/true

# a malformed ruleset never runs the command
printf 'openshell-landlock 1\npath 0xd relative\n' >/root/ll-bad
out=$(output_of run /root/ll-bad /bin/echo ran)
grep -q "openshell-landlock:2: malformed line" <<<"$out" || fail "malformed: $out"
grep -q "^ran$" <<<"$out" && fail "command ran despite a malformed ruleset"

# TCP ports (ABI 4): connect only to the granted port
if [ "$abi" -ge 4 ]; then
    { cat /root/ll-basic; printf 'handled_net 0x2\nport 0x2 8080\n'; } >/root/ll-net
    out=$(output_of run /root/ll-net /bin/bash -c 'exec 3<>/dev/tcp/127.0.0.1/9')
    grep -q "Permission denied" <<<"$out" || fail "connect to an ungranted port was not denied by Landlock: $out"
    out=$(output_of run /root/ll-net /bin/bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080')
    grep -q "Connection refused" <<<"$out" || fail "connect to the granted port did not reach the network: $out"
fi

# without the credential the shim refuses to run anything
out=$(output_of systemd-run --quiet --wait --pipe --collect -p User=openshell-agent "$EXEC" -- /bin/echo ran)
grep -q "CREDENTIALS_DIRECTORY is not set" <<<"$out" || fail "no credentials: $out"
