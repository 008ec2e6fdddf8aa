#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs AS THE AGENT inside a sandbox: reports what the agent can see and do, one KEY=VALUE per line,
# to stdout (the journal) and to /sandbox/probe.out, then stays alive so the test can inspect the unit.
out=/sandbox/probe.out.tmp

report() { echo "$1=$2"; echo "$1=$2" >>"$out"; }
# The error message of a failed write, or "ok".
try_write() { if err=$(sh -c ": > '$1'" 2>&1); then echo ok; else echo "${err##*: }"; fi; }
status_field() { awk -v k="$1:" '$1 == k { print $2 }' /proc/self/status; }

: >"$out"
report uid "$(id -u)"
report user "$(id -un)"
report cwd "$(pwd)"
report root_mount "$(awk '$5 == "/" { split($6, o, ","); print o[1] }' /proc/self/mountinfo | tail -n 1)"
report write_world_writable "$(try_write /var/log/world-writable/probe)"
# Landlock refuses reads, not path lookups: existence shows what is in the agent's file system.
report srv_exists "$(if [ -e /srv/world-writable ]; then echo present; else echo absent; fi)"
report var_lib_exists "$(if [ -e /var/lib ]; then echo present; else echo absent; fi)"
report bus_socket_exists "$(if [ -e /run/dbus/system_bus_socket ]; then echo present; else echo absent; fi)"
report write_sandbox "$(try_write /sandbox/probe-file)"
report read_home "$(if cat /home/alice/readme >/dev/null 2>&1; then echo visible; else echo hidden; fi)"
report read_root_home "$(if ls /root >/dev/null 2>&1; then echo visible; else echo hidden; fi)"
report tmp_marker "$(if [ -e /tmp/host-marker ]; then echo visible; else echo hidden; fi)"
report dev_console "$(if [ -e /dev/console ]; then echo visible; else echo hidden; fi)"
# /proc/self/net shows the reader's network namespace (/sys/class/net would show the mounter's).
report net_ifaces "$(awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' /proc/self/net/dev | sort | tr '\n' ' ' | sed 's/ $//')"
report cap_eff "$(status_field CapEff)"
report cap_bnd "$(status_field CapBnd)"
report cap_amb "$(status_field CapAmb)"
report no_new_privs "$(status_field NoNewPrivs)"
report other_workdir "$(if ls /var/lib/openshell/sandboxes/other >/dev/null 2>&1; then echo visible; else echo hidden; fi)"
report etc_openshell "$(if ls /etc/openshell/sandboxes >/dev/null 2>&1; then echo visible; else echo hidden; fi)"
report run_openshell "$(if ls /run/openshell >/dev/null 2>&1; then echo visible; else echo hidden; fi)"
report env_sandbox "${OPENSHELL_SANDBOX:-}"
report env_custom "${PROBE_GREETING:-}"
report home "$HOME"
mv "$out" /sandbox/probe.out
echo "probe done"
exec sleep infinity
