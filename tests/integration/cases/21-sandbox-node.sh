#!/bin/bash
# Node.js runs as the agent under the shipped default policy: V8 compiles JavaScript (and WebAssembly) to
# machine code in W+X memory, which MemoryDenyWriteExecute=yes refuses (so that is an opt-in). Most
# agents are Node or Bun programs. Under a policy that opts in, Node dies at once, and the supervisor
# says why. The runner copies the host's node in when there is one.
# shellcheck source=tests/integration/lib.sh
source /usr/lib/openshell/tests/lib.sh

name="node-jit"
cleanup() { cleanup_sandbox "$name"; cleanup_sandbox node-wx; rm -f /root/policy-wx.yaml /etc/openshell/policies/sandbox-node-wx.yaml; }
cleanup
trap cleanup EXIT
node=$(command -v node) || skip "Node.js is not in the testbed (the host has none to copy in)"

# A hot loop that V8 optimizes, and a WebAssembly add(2, 3) that it compiles.
write_spec "$name" <<SPEC
command:
  - $node
  - -e
  - |
    let s = 0;
    function f(i) { return (i * i) % 7; }
    for (let i = 0; i < 5e7; i++) s += f(i);
    const wasm = new Uint8Array([0,97,115,109,1,0,0,0,1,7,1,96,2,127,127,1,127,3,2,1,0,7,7,1,3,97,100,100,0,0,10,9,1,7,0,32,0,32,1,106,11]);
    const add = new WebAssembly.Instance(new WebAssembly.Module(wasm)).exports.add;
    console.log(\`node-jit \${s} \${add(2, 3)}\`);
SPEC
cat "/etc/openshell/sandboxes/$name.yaml"

systemctl start "openshell-sandbox@$name.service"
ended() { [[ "$(systemctl show -P ActiveState "openshell-sandbox@$1.service")" =~ ^(inactive|failed)$ ]]; }
wait_until 60 ended "$name"
journalctl -u "openshell-agent-$name.service" --no-pager -o cat
wait_journal "openshell-sandbox@$name.service" "^Sandbox '$name' uses policy /usr/share/openshell/policies/default\.yaml\.$"
wait_journal "openshell-agent-$name.service" "^node-jit 99999998 5$"
wait_journal "openshell-sandbox@$name.service" "^Agent openshell-agent-$name\.service finished successfully\.$"
assert_eq "$(systemctl show -P ExecMainStatus "openshell-sandbox@$name.service")" 0 "supervisor's exit status"

# The same Node under a policy that asks for W^X: V8 cannot map its code space and traps.
cat >/root/policy-wx.yaml <<'POLICY'
version: 1
x-openshell:
  process:
    memory_deny_write_execute: true
POLICY
output_of openshell sandbox create node-wx --policy /root/policy-wx.yaml -- "$node" -e 'console.log("node-wx ran")'
wait_until 60 ended node-wx
journalctl -u openshell-agent-node-wx.service --no-pager -o cat
grep -q "^node-wx ran$" <<<"$(journalctl -u openshell-agent-node-wx.service --no-pager -o cat)" &&
    fail "Node ran under MemoryDenyWriteExecute=yes: the opt-in does not forbid W+X memory"
wait_journal openshell-sandbox@node-wx.service "^Agent openshell-agent-node-wx\.service was killed by SIG[A-Z]+ right after its start: MemoryDenyWriteExecute= \(W\^X\) refused executable memory"
