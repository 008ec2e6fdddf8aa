#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Load and abuse tests of openshell-proxy with real socket activation (issue 10, item 9).

The network is built as in test-proxy-e2e.py (two network namespaces joined by a veth pair, 10.232.0.1
where the proxies run and 10.232.0.2 with an echo server and a server that sends without end), with a
fake identification service. Two proxies: "big" (--max-connections 1100) and "small" (--max-connections
20, --head-timeout 2). What e2e already checks (400, 431, a stalled head's 408, idle tunnels) is not
repeated here. Checks:

- 1,000 concurrent tunnels through one proxy, each relaying its own bytes (echo) at the same time;
- beyond --max-connections new connections are refused while the open tunnels keep relaying, and a
  slot freed is usable again;
- slowloris: clients sending one byte per second never complete a head; they lose their slot at the
  head timeout, while they are still sending, and meanwhile other clients are served;
- clients that stop reading a tunnel whose upstream sends without end: the others' tunnels carry
  4 MiB intact, and the proxy's memory stays bounded (the bytes wait in the kernel, not in the proxy).

No timing is asserted; waits are bounded by WAIT only so that a broken proxy fails instead of hanging.

Usage: test-proxy-load.py PATH/TO/openshell-proxy     (exit 0 pass, 77 skip, 1 fail)
"""

import os
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from proxy_netns import in_two_namespaces, run

WAIT = 30  # upper bound for anything that must happen; never a pass/fail criterion by itself
HOST_ADDR, UP_ADDR = "10.232.0.1", "10.232.0.2"
ECHO_PORT, FLOOD_PORT = 9000, 9002
BIG_PORT, SMALL_PORT = 3128, 3129
TUNNELS = 1000
SMALL_MAX = 20

POLICY = """version: 1
network_policies:
  load:
    endpoints:
      - ports: [%d, %d]
        allowed_ips: ["10.232.0.0/24"]
    binaries:
      - path: /usr/bin/curl
""" % (ECHO_PORT, FLOOD_PORT)

# Echo (every chunk sent back as it comes, many clients on one selector) and flood (sends until the
# client is gone).
UPSTREAM = r'''
import selectors, socket, threading

def flood(c):
    chunk = b"f" * 65536
    try:
        while True:
            c.sendall(chunk)
    except OSError:
        pass
    c.close()
def flood_loop():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("10.232.0.2", %d)); s.listen(128)
    while True:
        c, _ = s.accept()
        threading.Thread(target=flood, args=(c,), daemon=True).start()
threading.Thread(target=flood_loop, daemon=True).start()
sel = selectors.DefaultSelector()
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("10.232.0.2", %d)); ls.listen(4096); ls.setblocking(False)
sel.register(ls, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        s = key.fileobj
        if s is ls:
            try:
                c, _ = ls.accept()
            except OSError:
                continue
            c.setblocking(True)
            sel.register(c, selectors.EVENT_READ)
            continue
        try:
            d = s.recv(1 << 20)
            if d:
                s.sendall(d)
                continue
        except OSError:
            pass
        sel.unregister(s); s.close()
''' % (FLOOD_PORT, ECHO_PORT)


def outer(proxy):
    return in_two_namespaces(os.path.abspath(__file__), proxy, "osl", HOST_ADDR, UP_ADDR)


class Identify:
    """The root side's identification service, faked: every client is /usr/bin/curl."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.bind(path)
        self.sock.listen(4096)
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                c.recv(4096)
                c.send(b"OK 4242 /usr/bin/curl /usr/bin/bash\n")
            except OSError:
                pass
            c.close()


def read_head(s):
    """The proxy's answer head, read byte by byte (nothing after it is consumed); its status, or 0 if
    the connection ended (closed or reset) before a head."""
    data = b""
    try:
        while not data.endswith(b"\r\n\r\n") and len(data) < 16384:
            d = s.recv(1)
            if not d:
                break
            data += d
    except (ConnectionResetError, BrokenPipeError):
        return 0
    parts = data.split(b" ", 2)
    return int(parts[1]) if data.startswith(b"HTTP/1.") and len(parts) > 1 else 0


def tunnel(port, target_port=ECHO_PORT):
    """(status, socket) of a CONNECT through the proxy on port."""
    s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    try:
        s.sendall(b"CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (UP_ADDR.encode(), target_port,
                                                                      UP_ADDR.encode(), target_port))
    except OSError:
        return 0, s
    return read_head(s), s


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        d = s.recv(min(n - len(data), 1 << 20))
        if not d:
            break
        data += d
    return data


def echoed(s, msg):
    """True if s delivers msg next."""
    try:
        return recv_exact(s, len(msg)) == msg
    except OSError:
        return False


def echo_ok(s, msg):
    try:
        s.sendall(msg)
        return recv_exact(s, len(msg)) == msg
    except OSError:
        return False


def refused(s):
    """True if the proxy closed s without answering (EOF or reset)."""
    s.settimeout(WAIT)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start_proxy(proxy, port, policy, ident, extra, procs):
    px = subprocess.Popen(["systemd-socket-activate", "-l", "127.0.0.1:%d" % port, proxy, "--sandbox",
                           "load-%d" % port, "--policy", policy, "--identify-socket", ident] + extra,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    procs.append(px)
    lines = []
    threading.Thread(target=lambda: lines.extend(iter(px.stdout.readline, "")), daemon=True).start()
    deadline = time.monotonic() + WAIT
    while True:
        try:
            # the readiness probe is one connection that sends nothing: closed at once
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return px, lines
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("systemd-socket-activate did not listen on %d" % port)
            time.sleep(0.05)


def inner(proxy, ns_up, tag):
    tmp = tempfile.mkdtemp(prefix="proxy-load-")
    procs = []
    failures = []

    def check(name, cond, detail=""):
        print("%s %s%s" % ("ok  " if cond else "FAIL", name, (": " + detail) if detail and not cond else ""),
              flush=True)
        if not cond:
            failures.append(name)

    # 1,000 tunnels: two sockets each here, two and four pipe ends in the proxy, one in the upstream.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 8 * TUNNELS + 1000
    if hard != resource.RLIM_INFINITY and hard < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
        except (ValueError, OSError):
            print("SKIP: the fd limit (%d) is below %d and cannot be raised" % (hard, want))
            return 77
    else:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    try:
        up = subprocess.Popen(["ip", "netns", "exec", ns_up, sys.executable, "-c", UPSTREAM],
                              stdout=subprocess.PIPE, text=True)
        procs.append(up)
        if up.stdout.readline().strip() != "ready":
            print("FAIL: the upstream server did not start")
            return 1
        ident = os.path.join(tmp, "identify.sock")
        Identify(ident)
        policy = os.path.join(tmp, "policy.yaml")
        with open(policy, "w") as f:
            f.write(POLICY)
        big, big_out = start_proxy(proxy, BIG_PORT, policy, ident,
                                   ["--max-connections", str(TUNNELS + 100), "--head-timeout", "3"], procs)
        small, small_out = start_proxy(proxy, SMALL_PORT, policy, ident,
                                       ["--max-connections", str(SMALL_MAX), "--head-timeout", "2"], procs)

        # 1,000 concurrent tunnels, every one relaying its own bytes while all are open.
        socks, statuses = [], []
        for _ in range(TUNNELS):
            st, s = tunnel(BIG_PORT)
            statuses.append(st)
            socks.append(s)
        check("1,000 concurrent CONNECTs through one proxy are all answered 200",
              statuses.count(200) == TUNNELS, "%d of %d" % (statuses.count(200), TUNNELS))
        for i, s in enumerate(socks):  # every request in flight at once ...
            try:
                s.sendall(b"tunnel-%04d;" % i)
            except OSError:
                pass
        bad = [i for i, s in enumerate(socks) if not echoed(s, b"tunnel-%04d;" % i)]  # ... then every answer
        check("each of the 1,000 tunnels relays its own bytes", not bad, "wrong or missing: %r" % bad[:10])
        msg = os.urandom(256 * 1024)
        check("the first and the last tunnel carry 256 KiB each while all are open",
              echo_ok(socks[0], msg) and echo_ok(socks[-1], msg))
        for s in socks:
            s.close()

        # Beyond --max-connections: refused at once; the open ones go on; a freed slot is usable again.
        held = [tunnel(SMALL_PORT) for _ in range(SMALL_MAX)]
        check("up to --max-connections tunnels open", all(st == 200 for st, _ in held),
              repr([st for st, _ in held]))
        extra = []
        for _ in range(10):
            s = socket.create_connection(("127.0.0.1", SMALL_PORT), timeout=WAIT)
            extra.append(s)
        check("connections beyond --max-connections are closed without an answer",
              all(refused(s) for s in extra))
        for s in extra:
            s.close()
        check("the open tunnels keep relaying meanwhile",
              all(echo_ok(s, b"still-%d;" % i) for i, (_, s) in enumerate(held)))
        held.pop()[1].close()
        deadline = time.monotonic() + WAIT
        st = 0
        while time.monotonic() < deadline:
            st, s = tunnel(SMALL_PORT)
            ok = st == 200 and echo_ok(s, b"again")
            s.close()
            if ok:
                break
            time.sleep(0.1)
        check("a slot freed by a closed tunnel is used again", st == 200, str(st))
        for _, s in held:
            s.close()

        # Slowloris: every slot of the small proxy taken by clients sending one byte per second.
        head = b"CONNECT %s:%d HTTP/1.1\r\nX-Slow: " % (UP_ADDR.encode(), ECHO_PORT) + b"a" * 200 + b"\r\n\r\n"
        results = {}

        def slow(i, s):
            sent, status = 0, -1
            try:
                for b in head:
                    if select.select([s], [], [], 0)[0]:  # the proxy answered (or closed): see what
                        status = read_head(s)
                        break
                    s.send(bytes([b]))
                    sent += 1
                    time.sleep(1)
            except OSError:
                status = 0  # reset
            results[i] = (sent, status)
            s.close()

        # Settle: the slots of the previous step are released once the proxy saw the closes.
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            st, s = tunnel(SMALL_PORT)
            s.close()
            if st == 200:
                break
            time.sleep(0.1)
        time.sleep(0.5)
        slow_socks = [socket.create_connection(("127.0.0.1", SMALL_PORT), timeout=WAIT) for _ in range(SMALL_MAX)]
        threads = [threading.Thread(target=slow, args=(i, s), daemon=True) for i, s in enumerate(slow_socks)]
        for t in threads:
            t.start()
        # While they trickle, a client of the big proxy is served at once ...
        st, s = tunnel(BIG_PORT)
        check("while slowloris clients trickle, another client is served", st == 200 and echo_ok(s, b"x" * 1000))
        s.close()
        # ... and one of the small proxy as soon as the head timeout took their slots.
        deadline = time.monotonic() + WAIT
        st = 0
        while time.monotonic() < deadline:
            st, s = tunnel(SMALL_PORT)
            ok = st == 200 and echo_ok(s, b"y" * 1000)
            s.close()
            if ok:
                break
            time.sleep(0.2)
        check("slowloris clients do not keep the slots: a new client gets one", st == 200, str(st))
        for t in threads:
            t.join(len(head) + WAIT)
        unfinished = [r for r in results.values() if r[0] < len(head)]
        check("every slowloris client was cut off before its head was complete",
              len(results) == SMALL_MAX and len(unfinished) == SMALL_MAX, repr(sorted(results.values())[-3:]))
        check("those that could still read got 408", all(st in (408, 0) for _, st in unfinished) and
              any(st == 408 for _, st in unfinished), repr(sorted(results.values())))

        # Clients that stop reading a tunnel whose upstream sends without end.
        before = vm_rss_kib(big.pid)
        stuck = []
        for _ in range(10):
            st, s = tunnel(BIG_PORT, FLOOD_PORT)
            stuck.append((st, s))
        check("tunnels to the flooding upstream open", all(st == 200 for st, _ in stuck))
        st, s = tunnel(BIG_PORT)
        big_msg = os.urandom(4 * 1024 * 1024)
        got = []
        reader = threading.Thread(target=lambda: got.append(recv_exact(s, len(big_msg))), daemon=True)
        reader.start()
        s.sendall(big_msg)
        reader.join(WAIT)
        s.close()
        check("another tunnel carries 4 MiB intact while they are stuck", st == 200 and got == [big_msg])
        time.sleep(2)  # the upstreams keep pushing: give them time to fill what they can
        after = vm_rss_kib(big.pid)
        check("the proxy's memory stays bounded with 10 clients not reading (VmRSS +%d KiB)" % (after - before),
              after - before < 16 * 1024, "%d -> %d KiB" % (before, after))
        for _, s in stuck:
            s.close()

        for px, out, name in ((big, big_out, "big"), (small, small_out, "small")):
            px.send_signal(signal.SIGTERM)
            try:
                px.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                px.kill()
                px.wait()
            text = "".join(out)
            check("the %s proxy exits cleanly on SIGTERM" % name, px.returncode == 0,
                  "rc=%s\n%s" % (px.returncode, text[-3000:]))
            check("no sanitizer report from the %s proxy" % name,
                  "Sanitizer" not in text and "runtime error" not in text, text[-3000:])
    except Exception:
        traceback.print_exc()
        failures.append("exception")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "--inner":
        return inner(sys.argv[2], sys.argv[3], sys.argv[4])
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    return outer(os.path.abspath(sys.argv[1]))


if __name__ == "__main__":
    sys.exit(main())
