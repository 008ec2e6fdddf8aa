#!/bin/bash
# GPU access is opt-in: without `x-openshell.gpu` no NVIDIA node is in the agent's /dev; with it, the
# chosen GPU and the driver's control nodes are, and nothing else. The testbed has no GPU: the nodes
# are made here with the NVIDIA driver's device numbers (major 195), so opening one that is let
# through reaches the kernel and fails with ENXIO (no driver), while one kept out is not there at all.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh

PROBE=$TESTS_DIR/openshell-probe
cleanup() {
    cleanup_sandbox gpu; cleanup_sandbox nogpu
    rm -f /dev/nvidia0 /dev/nvidia1 /dev/nvidiactl /root/policy-gpu.yaml
}
cleanup
trap cleanup EXIT

mknod -m 0666 /dev/nvidia0 c 195 0 || skip "cannot create device nodes in this testbed"
mknod -m 0666 /dev/nvidia1 c 195 1
mknod -m 0666 /dev/nvidiactl c 195 255

cat >/root/policy-gpu.yaml <<'POLICY'
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /etc]
  read_write: [/tmp, /dev/null]
x-openshell:
  gpu:
    devices: [0]
POLICY
openshell sandbox create gpu --policy /root/policy-gpu.yaml -- /bin/sleep infinity >/dev/null
openshell sandbox create nogpu -- /bin/sleep infinity >/dev/null

probe() { output_of openshell sandbox exec "$1" -- "$PROBE" "${@:2}"; }

# Without the opt-in (the default policy): no GPU node at all.
for node in /dev/nvidia0 /dev/nvidia1 /dev/nvidiactl; do
    assert_match "$(probe nogpu stat "$node")" "^denied: ENOENT:" "$node without GPU opt-in"
done

# With devices: [0]: GPU 0 and the control node reach the kernel (ENXIO: no driver in the testbed);
# GPU 1 is not in the sandbox.
assert_eq "$(probe gpu stat /dev/nvidia0)" ok "/dev/nvidia0 with devices: [0]"
assert_match "$(probe gpu open-read /dev/nvidia0)" "^denied: ENXIO:" "opening /dev/nvidia0 with devices: [0]"
assert_match "$(probe gpu open-read /dev/nvidiactl)" "^denied: ENXIO:" "opening /dev/nvidiactl with devices: [0]"
assert_match "$(probe gpu stat /dev/nvidia1)" "^denied: ENOENT:" "/dev/nvidia1 with devices: [0]"
# the device cgroup allows the granted nodes only
allow=$(systemctl show -P DeviceAllow openshell-agent-gpu.service)
assert_match "$allow" "/dev/nvidia0 rw" "DeviceAllow= of GPU 0"
assert_match "$allow" "/dev/nvidiactl rw" "DeviceAllow= of the control node"
grep -q "/dev/nvidia1" <<<"$allow" && fail "GPU 1 is in DeviceAllow=: $allow"
assert_eq "$(systemctl show -P DevicePolicy openshell-agent-gpu.service)" closed "DevicePolicy="
# the rest of the private /dev is as without a GPU
assert_match "$(probe gpu open-read /dev/mem)" "^denied: ENOENT:" "/dev/mem with a GPU"
echo "GPU opt-in: only the granted nodes are in the sandbox"
