# SPDX-License-Identifier: Apache-2.0
"""The network the proxy's end-to-end tests run in (test-proxy-e2e.py, test-proxy-load.py): two
network namespaces of their own joined by a veth pair, made here and removed whatever happens."""

import os
import shutil
import subprocess
import sys


def run(*args, check=True):
    return subprocess.run(args, check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def in_two_namespaces(script, proxy, prefix, host_addr, up_addr):
    """Runs `SCRIPT --inner PROXY NS_UP TAG` in the first namespace (HOST_ADDR/24), with NS_UP the
    second one (UP_ADDR/24), and returns its exit status; 77 (skip) without root, `ip`,
    `systemd-socket-activate` or the right to make namespaces. PREFIX names the namespaces and links
    (with the pid: tests running at once do not meet)."""
    if os.geteuid() != 0:
        print("SKIP: needs root to create network namespaces")
        return 77
    for tool in ("ip", "systemd-socket-activate"):
        if not shutil.which(tool):
            print("SKIP: %s is not installed" % tool)
            return 77
    tag = "%s%d" % (prefix, os.getpid())
    ns_proxy, ns_up = tag + "p", tag + "u"
    try:
        try:
            run("ip", "netns", "add", ns_proxy)
            run("ip", "netns", "add", ns_up)
        except subprocess.CalledProcessError as e:
            print("SKIP: cannot create network namespaces: %s" % e.stderr.strip())
            return 77
        run("ip", "-n", ns_proxy, "link", "add", tag + "a", "type", "veth", "peer", "name", tag + "b",
            "netns", ns_up)
        run("ip", "-n", ns_proxy, "addr", "add", host_addr + "/24", "dev", tag + "a")
        run("ip", "-n", ns_up, "addr", "add", up_addr + "/24", "dev", tag + "b")
        for ns, dev in ((ns_proxy, tag + "a"), (ns_up, tag + "b")):
            run("ip", "-n", ns, "link", "set", dev, "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")
        r = subprocess.run(["ip", "netns", "exec", ns_proxy, sys.executable, script, "--inner", proxy, ns_up, tag])
        return r.returncode
    finally:
        run("ip", "netns", "del", ns_up, check=False)
        run("ip", "netns", "del", ns_proxy, check=False)
