#!/bin/bash
# Escape attempts, made AS THE AGENT (with `openshell sandbox exec`, which runs with the agent's
# restrictions): each one must be refused, with the expected error.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh

name=escape
PROBE=$TESTS_DIR/openshell-probe
cleanup() { cleanup_sandbox "$name"; cleanup_sandbox escape-other; rm -f /usr/local/lib/suid-probe; }
cleanup
trap cleanup EXIT

# Another sandbox whose workdir must stay out of reach, a host home, a setuid-root program.
openshell sandbox create escape-other -- /bin/sleep infinity >/dev/null
# (a dash in the name is escaped in the slice's name, not taken as one more level)
assert_eq "$(systemctl show -P Slice openshell-agent-escape-other.service)" 'openshell-escape\x2dother.slice' "slice of a name with a dash"
echo secret >/var/lib/openshell/sandboxes/escape-other/secret
mkdir -p /home/alice && echo secret >/home/alice/readme && chmod 755 /home/alice && chmod 644 /home/alice/readme
mkdir -p /usr/local/lib && cp "$PROBE" /usr/local/lib/suid-probe && chmod 4755 /usr/local/lib/suid-probe
openshell sandbox create "$name" -- /bin/sleep infinity >/dev/null

attempt() {     # attempt EXPECTED-ERRNO-NAME PROBE-ARGS...: the agent tries, and must be refused so
    local want=$1 out
    shift
    out=$(output_of openshell sandbox exec "$name" -- "$PROBE" "$@")
    # a syscall with bad arguments fails with EINVAL/EFAULT/EBADF when it is let through: not refused
    [[ "$out" =~ ^denied:\ (EINVAL|EFAULT|EBADF): ]] && fail "'$*' as the agent reached the kernel: $out"
    [[ "$out" =~ ^denied:\ ($want): ]] || fail "'$*' as the agent: expected denied with $want, got: $out"
    echo "refused as expected: $* -> $out"
}

attempt "EACCES|ENOENT" open-read /etc/shadow
attempt "EACCES|ENOENT" open-read /root/.bashrc
# What the policy does not grant is not in the agent's file system at all: its root is an empty
# directory into which only granted paths are bound (ENOENT, not a refusal).
attempt "ENOENT" open-read /home/alice/readme
attempt "ENOENT" stat /home/alice
attempt "ENOENT" open-read /var/lib/openshell/sandboxes/escape-other/secret
attempt "ENOENT" stat /var/lib/openshell
attempt "ENOENT" open-read /var/lib/dpkg/status
# Landlock does not govern connect() to a named socket: the system bus must not be there to reach.
[ -S /run/dbus/system_bus_socket ] || fail "no system bus socket in the testbed: the check would prove nothing"
attempt "ENOENT" connect-unix /run/dbus/system_bus_socket
attempt "ENOENT" connect-unix /run/systemd/private
attempt "EACCES|ENOENT" open-read /etc/openshell/sandboxes/escape-other.yaml
attempt "EROFS" open-write /usr/bin/planted
attempt "EROFS" open-write /etc/planted
attempt "ENOENT" open-write /var/lib/planted
attempt "EROFS" open-write /var/log/planted
attempt "ENOENT" open-read /dev/mem
attempt "ENOENT" open-read /dev/kmsg
attempt "ENOENT" open-read /dev/sda
attempt "EPERM" mount
attempt "EPERM" unshare net
attempt "EPERM" unshare mount
attempt "EPERM" socket raw
attempt "EPERM|EAFNOSUPPORT" socket packet
attempt "EPERM" setuid
attempt "EPERM" kill "$(systemctl show -P MainPID "openshell-sandbox@$name.service")"
attempt "EPERM" kill 1
# The agent's own cgroup (unified hierarchy; under unified/ on a hybrid host such as this testbed's).
cg=$(systemctl show -P ControlGroup "openshell-agent-$name.service")
procs=/sys/fs/cgroup$cg/cgroup.procs
[ -f /sys/fs/cgroup/cgroup.controllers ] || procs=/sys/fs/cgroup/unified$cg/cgroup.procs
[ -f "$procs" ] || fail "no $procs: the cgroup check would prove nothing"
attempt "EACCES|EROFS" open-write "$procs"

# What the compiled default policy adds: namespaces, tracing, set-uid files, kernel interfaces
# an agent has no business with, and the address families it does not need.
attempt "EPERM" unshare user
attempt "EPERM" ptrace "$(systemctl show -P MainPID "openshell-agent-$name.service")"
openshell sandbox exec "$name" -- sh -c ': > /sandbox/suid-candidate'
attempt "EPERM" chmod-suid /sandbox/suid-candidate
attempt "EPERM|EAFNOSUPPORT" socket vsock
attempt "EPERM|EAFNOSUPPORT" socket bluetooth
attempt "EPERM" syscall bpf
attempt "EPERM" syscall keyctl
attempt "EPERM" syscall userfaultfd
attempt "EPERM" syscall perf_event_open
attempt "EPERM" syscall io_uring_setup
attempt "EPERM" syscall memfd_create

# A setuid-root program gains nothing (NoNewPrivileges=).
euid=$(output_of openshell sandbox exec "$name" -- /usr/local/lib/suid-probe euid)
assert_eq "$euid" "$(id -u openshell-agent)" "effective uid after running a setuid-root program"

# The agent can still do its ordinary work.
assert_eq "$(output_of openshell sandbox exec "$name" -- "$PROBE" open-write /sandbox/work)" ok "write in /sandbox"
assert_eq "$(output_of openshell sandbox exec "$name" -- "$PROBE" socket inet)" ok "an inet socket (loopback only)"
