#!/bin/bash
# openshell logs: a sandbox's supervisor, agent and proxy lines from the journal, -n, --source,
# --level, -o json and --tail; an event forged by another process is not shown; no such sandbox and
# bad arguments get clear errors.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh

name=logs1
follower=
cleanup() {
    if [ -n "$follower" ]; then kill "$follower" 2>/dev/null || true; fi
    cleanup_sandbox "$name"
    rm -f /tmp/logs-tail.out
}
cleanup
trap cleanup EXIT

# A network audit event for the sandbox as its egress proxy writes them (OPENSHELL_SANDBOX,
# OPENSHELL_EVENT=network), but written by logger, outside the proxy's unit: a forgery.
forged_event() {   # forged_event HOST
    logger --journald <<EOF
MESSAGE=NET:OPEN [MED] DENIED /usr/bin/curl(64) -> $1:443 [policy:- engine:policy] [reason:no matching policy]
PRIORITY=4
SYSLOG_IDENTIFIER=test-proxy
OPENSHELL_SANDBOX=$name
OPENSHELL_EVENT=network
OPENSHELL_DECISION=deny
OPENSHELL_HOST=$1
OPENSHELL_PORT=443
EOF
}

# A connection the default policy denies: the proxy answers 403 and writes its audit event.
network_event() {   # network_event HOST
    openshell sandbox exec "$name" -- /usr/bin/curl -sS -o /dev/null "https://$1/" >/dev/null 2>&1 || true
}

has_line() {    # has_line EXTENDED-REGEX COMMAND...: a line of COMMAND's output matches
    local re=$1
    shift
    grep -qE -- "$re" <<<"$("$@")"
}

openshell sandbox create "$name" -- /bin/sh -c 'echo agent-says-hello; exec sleep infinity' >/dev/null
wait_journal "openshell-agent-$name.service" "agent-says-hello"
wait_journal "openshell-sandbox@$name.service" "Sandbox '$name' is running"

# the supervisor's lines, the agent's output and systemd's messages about the units, oldest first
out=$(openshell logs "$name")
echo "$out"
ts='^\[[0-9]+\.[0-9]{3}\] '
grep -qE "$ts\[sandbox\] \[INFO \] \[openshell-sandbox\] Sandbox '$name' uses policy " <<<"$out" || fail "no policy line"
grep -qE "$ts\[sandbox\] \[INFO \] \[openshell-sandbox\] Sandbox '$name' is running: agent unit openshell-agent-$name.service" <<<"$out" ||
    fail "no 'is running' line"
grep -qE "$ts\[sandbox\] \[INFO \] \[[a-z-]+\] agent-says-hello$" <<<"$out" || fail "no line of the agent"
grep -qE "$ts\[sandbox\] \[INFO \] \[systemd\] .*openshell-agent-$name\.service" <<<"$out" || fail "no line of systemd"
[ "$(grep -n "uses policy" <<<"$out" | cut -d: -f1)" -lt "$(grep -n "is running" <<<"$out" | cut -d: -f1)" ] ||
    fail "lines not oldest first"
if grep -vqE "$ts\[(sandbox|proxy)\] " <<<"$out"; then fail "a line of another source, or in another format"; fi

# -n: the last N lines
assert_eq "$(openshell logs "$name" -n 1)" "$(tail -n 1 <<<"$out")" "-n 1"
assert_eq "$(openshell logs "$name" -n 2)" "$(tail -n 2 <<<"$out")" "-n 2"
assert_eq "$(openshell logs "$name" -n 0)" "" "-n 0"

# --source: the network event is proxy's, and sandbox's too (upstream's sandbox source shows denials);
# a forged one is nobody's; there is no broker entry
forged_event forged.example
network_event denied.example
wait_until 10 has_line "\[proxy\] \[AUDIT\] \[network\] NET:OPEN \[MED\] DENIED /usr/bin/curl\([0-9]+\) -> denied\.example:443 " \
    openshell logs "$name" --source proxy
assert_eq "$(openshell logs "$name" --source proxy | grep -c denied.example)" 1 "--source proxy"
has_line "denied\.example" openshell logs "$name" --source sandbox || fail "--source sandbox lacks the proxy's event"
if has_line "forged\.example" openshell logs "$name"; then fail "a forged event is shown"; fi
has_line "agent-says-hello" openshell logs "$name" --source sandbox || fail "--source sandbox lacks the agent"
assert_eq "$(openshell logs "$name" --source broker)" "" "--source broker"
has_line "denied\.example" openshell logs "$name" --source broker --source proxy || fail "--source twice"
has_line "denied\.example" openshell logs "$name" || fail "no proxy event among all"
# --level warn: the policy's Landlock warning (PRIORITY 4), not the denial (NOTICE, upstream's INFO
# level) nor the INFO lines; --level info has the denial
has_line "Landlock is best_effort" openshell logs "$name" --level warn || fail "--level warn lacks the warning"
if has_line "denied\.example" openshell logs "$name" --level warn; then fail "--level warn shows NOTICE"; fi
if has_line "agent-says-hello" openshell logs "$name" --level warn; then fail "--level warn shows INFO"; fi
assert_eq "$(openshell logs "$name" --level info | grep -c denied.example)" 1 "--level info"
# --since: the future has nothing yet, the last hour has everything
assert_eq "$(openshell logs "$name" --since "$(date -d '+1 hour' '+%Y-%m-%d %H:%M:%S')")" "" "--since the future"
assert_eq "$(openshell logs "$name" --since 1h | wc -l)" "$(openshell logs "$name" | wc -l)" "--since 1h"

# -o json: one object per line, with the OPENSHELL_* fields
json=$(openshell logs "$name" --source proxy -o json | grep denied.example)
echo "$json"
assert_eq "$(wc -l <<<"$json")" 1 "-o json lines"
for want in '"sandbox":"logs1"' '"source":"proxy"' '"level":"AUDIT"' '"priority":5' '"target":"network"' \
    '"OPENSHELL_DECISION":"deny"' '"OPENSHELL_HOST":"denied.example"' '"OPENSHELL_PORT":"443"'; do
    grep -qF "$want" <<<"$json" || fail "-o json lacks $want"
done
assert_match "$json" '^\{"timestamp_ms":[0-9]+,.*\}$' "-o json object"

# --tail: the last line, then each new one as it comes; SIGTERM ends it with 0
timeout 60 openshell logs "$name" --tail -n 1 --source proxy >/tmp/logs-tail.out &
follower=$!
wait_until 10 grep -q "denied\.example" /tmp/logs-tail.out
network_event followed.example
wait_until 10 grep -q "followed\.example:443" /tmp/logs-tail.out
kill -TERM "$follower"
rc=0
wait "$follower" || rc=$?
follower=
assert_eq "$rc" 0 "--tail after SIGTERM"
grep -q "denied\.example" <<<"$(head -n 1 /tmp/logs-tail.out)" || fail "--tail -n 1: not the last entry first"
grep -qE "$ts\[proxy\] \[AUDIT\] \[network\] NET:OPEN \[MED\] DENIED /usr/bin/curl\([0-9]+\) -> followed\.example:443 " /tmp/logs-tail.out ||
    fail "--tail line"

# errors: no such sandbox (1), bad arguments (2)
assert_rc 1 openshell logs no-such-sandbox
grep -q "No sandbox 'no-such-sandbox'" <<<"$(output_of openshell logs no-such-sandbox)" || fail "no 'No sandbox' message"
assert_rc 2 openshell logs "$name" --since tomorrowish
assert_rc 2 openshell logs "$name" --source gateway
assert_rc 2 openshell logs "$name" --level verbose
echo "ok"
