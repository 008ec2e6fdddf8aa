#!/bin/bash
# The shipped policies are installed, validate, and their compiled drop-in is what systemd 252 runs:
# a oneshot unit with the default policy's drop-in runs as the agent account, cannot write the system,
# cannot see SSH configuration or the product's own state, and has no network but loopback.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh

default=/usr/share/openshell/policies/default.yaml
openclaw=/usr/share/openshell/profiles/openclaw/policy.yaml
unit=openshell-policy-check.service
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    systemctl stop "$unit" 2>/dev/null || true
    systemctl reset-failed "$unit" 2>/dev/null || true
    rm -rf "/run/systemd/system/$unit" "/run/systemd/system/$unit.d" /etc/ssh/openshell-policy-check
    systemctl daemon-reload
}
trap cleanup EXIT

assert_rc 0 openshell policy validate --quiet "$default" "$openclaw"
assert_rc 1 openshell policy validate /usr/share/openshell/profiles/openclaw/sandbox.yaml
assert_rc 2 openshell policy compile

# a marker the agent must not see, below a hidden directory
mkdir -p /etc/ssh
echo secret >/etc/ssh/openshell-policy-check

mkdir -p "/run/systemd/system/$unit.d"
cat >"/run/systemd/system/$unit" <<'UNIT'
[Unit]
Description=openshell policy check
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo "user=$(id -un)"; if cat /etc/ssh/openshell-policy-check; then echo ssh=visible; else echo ssh=hidden; fi; if touch /usr/openshell-policy-check 2>/dev/null; then echo usr=writable; else echo usr=read-only; fi; if ls /var/lib/openshell >/dev/null 2>&1; then echo state=visible; else echo state=hidden; fi; echo "links=$(tail -n +3 /proc/self/net/dev | cut -d: -f1 | xargs)"'
UNIT
openshell policy compile "$default" >"/run/systemd/system/$unit.d/policy.conf"
systemctl daemon-reload

# systemd itself accepts every line of the drop-in
out=$(systemd-analyze verify --man=no "/run/systemd/system/$unit" 2>&1 || true)
if grep -q "policy.conf" <<<"$out"; then
    fail "systemd does not accept the compiled drop-in: $out"
fi

systemctl start "$unit" || fail "the unit with the compiled drop-in did not run: $(journalctl -u "$unit" --no-pager -o cat | tail -20)"
wait_journal "$unit" "^links="
log=$(journalctl -u "$unit" --no-pager -o cat)
echo "$log"
grep -qx "user=openshell-agent" <<<"$log" || fail "not run as the agent account"
grep -qx "ssh=hidden" <<<"$log" || fail "/etc/ssh is visible"
grep -qx "usr=read-only" <<<"$log" || fail "/usr is writable"
grep -qx "state=hidden" <<<"$log" || fail "/var/lib/openshell is visible"
# /proc/self/net shows the reader's network namespace (/sys/class/net would show the mounter's)
grep -qx "links=lo" <<<"$log" || fail "network interfaces other than lo"
[ -e /usr/openshell-policy-check ] && fail "the agent wrote to /usr"
exit 0
