#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""End-to-end tests of openshell-proxy with real socket activation.

Address safety refuses loopback upstreams, so the test builds its own small network and touches nothing
else: two network namespaces joined by a veth pair with private addresses, "proxy" (10.231.0.1, where
the proxy runs, its listening socket on 127.0.0.1 and its outbound side) and "upstream" (10.231.0.2,
an HTTP server and a TCP echo server), declared to the proxy through allowed_ips. The calling binary
comes from a fake identification service on a unix socket. Namespaces and files are removed whatever
happens.

Usage: test-proxy-e2e.py PATH/TO/openshell-proxy     (exit 0 pass, 77 skip, 1 fail)
The script re-runs itself inside the "proxy" namespace (--inner) for the checks.
"""

import json
import os
import shutil
import signal
import socket
import ssl
import select
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from proxy_netns import in_two_namespaces, run

WAIT = 20  # upper bound for anything that must happen; never a pass/fail criterion by itself
HOST_ADDR, UP_ADDR = "10.231.0.1", "10.231.0.2"

POLICY = """version: 1
network_policies:
  echo:
    endpoints:
      - ports: [9000, 8080]
        allowed_ips: ["10.231.0.0/24"]
    binaries:
      - path: /usr/bin/curl
  other:
    endpoints:
      - ports: [9001]
        allowed_ips: ["10.231.0.2"]
    binaries:
      - path: /usr/bin/other
  local:
    endpoints:
      - host: localhost
        port: 8080
    binaries:
      - path: /usr/bin/*
  rest_enforce:
    endpoints:
      - ports: [8443, 8444]
        allowed_ips: ["10.231.0.2"]
        protocol: rest
        enforcement: enforce
        rules:
          - allow: { method: GET, path: "/allowed/**" }
          - allow: { method: POST, path: "/post" }
    binaries:
      - path: /usr/bin/curl
  rest_audit:
    endpoints:
      - ports: [8445]
        allowed_ips: ["10.231.0.2"]
        protocol: rest
        rules:
          - allow: { method: GET, path: "/allowed/**" }
    binaries:
      - path: /usr/bin/curl
"""

# HTTPS upstreams: 8443 and 8445 with a certificate of the upstream test CA (which the proxy trusts
# through SSL_CERT_FILE), 8444 with a self-signed one nobody trusts.
TLS_UPSTREAM = r'''
import http.server, ssl, sys, threading

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path == "/allowed/big":
            self.reply(200, bytes(range(256)) * 8192)
            return
        seen = ";".join("%s=%s" % (k.lower(), v) for k, v in self.headers.items())
        self.reply(200, ("tls path=%s\n%s\n" % (self.path, seen)).encode())
    def do_POST(self):
        data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.reply(201, b"tls posted=" + data)
def serve(port, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = http.server.ThreadingHTTPServer(("10.231.0.2", port), H)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()
good, bad = sys.argv[1:3], sys.argv[3:5]
for port, (cert, key) in ((8443, good), (8444, bad), (8445, good)):
    threading.Thread(target=serve, args=(port, cert, key), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
'''

UPSTREAM = r'''
import http.server, socket, sys, threading
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path == "/early":
            # an interim response and the final one in one segment
            self.wfile.write(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
                             b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            return
        seen = ";".join("%s=%s" % (k.lower(), v) for k, v in self.headers.items())
        body = ("path=%s\n%s\n" % (self.path, seen)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Keep-Alive", "timeout=5")
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = ("len=%d te=%s body=%s" % (len(data), self.headers.get("Transfer-Encoding"), data.decode())).encode()
        self.send_response(201)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
def echo():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("10.231.0.2", 9000)); s.listen(16)
    while True:
        c, _ = s.accept()
        def serve(c):
            data = b""
            while True:
                d = c.recv(65536)
                if not d: break
                data += d
            c.sendall(b"echo:" + data); c.close()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
threading.Thread(target=echo, daemon=True).start()
srv = http.server.ThreadingHTTPServer(("10.231.0.2", 8080), H)
print("ready", flush=True)
srv.serve_forever()
'''


def outer(proxy):
    return in_two_namespaces(os.path.abspath(__file__), proxy, "osp", HOST_ADDR, UP_ADDR)


class Identify:
    """The root side's identification service, faked: every client is /usr/bin/curl, child of bash."""

    def __init__(self, path):
        self.requests = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.bind(path)
        self.sock.listen(64)
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                req = c.recv(4096).decode()
                self.requests.append(req)
                c.send(b"OK 4242 /usr/bin/curl /usr/bin/bash\n")
            except OSError:
                pass  # the client went away first (the readiness probe does)
            c.close()


def make_certs(tmp):
    """The sandbox CA (as the supervisor makes it), an upstream CA with a server certificate for
    10.231.0.2, and a self-signed certificate for the same address that nobody trusts."""
    def ossl(*args):
        run("openssl", *args)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    f = lambda name: os.path.join(tmp, name)
    ossl("req", "-x509", *ec, "-keyout", f("ca-key.pem"), "-out", f("ca.pem"), "-days", "3650",
         "-subj", "/CN=OpenShell Sandbox CA/O=OpenShell", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    ossl("req", "-x509", *ec, "-keyout", f("upca-key.pem"), "-out", f("upca.pem"), "-days", "30",
         "-subj", "/CN=Upstream Test CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    ossl("req", "-new", *ec, "-keyout", f("srv-key.pem"), "-out", f("srv.csr"), "-subj", "/CN=10.231.0.2")
    with open(f("srv.ext"), "w") as e:
        e.write("subjectAltName=IP:10.231.0.2\nbasicConstraints=CA:FALSE\n")
    ossl("x509", "-req", "-in", f("srv.csr"), "-CA", f("upca.pem"), "-CAkey", f("upca-key.pem"),
         "-CAcreateserial", "-out", f("srv.pem"), "-days", "30", "-extfile", f("srv.ext"))
    ossl("req", "-x509", *ec, "-keyout", f("bad-key.pem"), "-out", f("bad.pem"), "-days", "30",
         "-subj", "/CN=10.231.0.2", "-addext", "subjectAltName=IP:10.231.0.2")
    return f


class Broker:
    """The inference broker, faked on a unix socket: records each request; a body with "stream" is
    answered chunked in two pieces, the second only once `go_on` is set; `hangups` counts the streams
    whose connection the proxy closed before that."""

    def __init__(self, path):
        self.path = path
        self.requests = []
        self.go_on = threading.Event()
        self.hangups = threading.Semaphore(0)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)
        threading.Thread(target=self.serve, daemon=True).start()

    def close(self):
        self.sock.close()
        os.unlink(self.path)

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.one, args=(c,), daemon=True).start()

    def one(self, c):
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                d = c.recv(65536)
                if not d:
                    return
                data += d
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            fields = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]]
            n = int(dict((k.lower(), v) for k, v in fields).get("content-length", "0"))
            while len(body) < n:
                body += c.recv(65536)
            self.requests.append((lines[0], fields, body))
            if b"stream" in body:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                          b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                          b"e\r\ndata: piece-1\n\n\r\n")
                while not self.go_on.is_set():
                    if select.select([c], [], [], 0.05)[0] and not c.recv(1):
                        self.hangups.release()
                        return
                c.sendall(b"e\r\ndata: piece-2\n\n\r\n0\r\n\r\n")
            else:
                out = b'{"ok":true}'
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                          b"Connection: close\r\n\r\n%s" % (len(out), out))
        finally:
            c.close()


class FakeJournal:
    """Where no journal runs: a socket speaking journald's native protocol, which the proxy finds at
    /run/systemd/journal/socket inside a mount namespace of its own (see `wrap`)."""

    def __init__(self, path):
        os.mkdir(path)
        self.dir = path
        self.entries = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(os.path.join(path, "socket"))
        threading.Thread(target=self.serve, daemon=True).start()

    def wrap(self, argv):
        script = ('mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && '
                  'mount --bind "$0" /run/systemd/journal && exec "$@"')
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, self.dir] + argv

    def serve(self):
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except OSError:
                return
            e, i = {}, 0
            while i < len(data):
                nl = data.index(b"\n", i)
                line = data[i:nl]
                if b"=" in line:
                    k, v = line.split(b"=", 1)
                    i = nl + 1
                else:  # binary-safe field: name, 64-bit length, bytes
                    k, n = line, struct.unpack("<Q", data[nl + 1:nl + 9])[0]
                    v = data[nl + 9:nl + 9 + n]
                    i = nl + 9 + n + 1
                e[k.decode()] = v.decode(errors="replace")
            self.entries.append(e)


def connect_tls(target, cafile, server_hostname, port=3128):
    """CONNECT target through the proxy (on port), then TLS trusting only cafile; (ssl socket, None)
    or (None, (status, body)) when the CONNECT is refused."""
    s = connect_proxy(port)
    s.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target.encode(), target.encode()))
    st, _, body, rest = read_response(s)
    if st != 200:
        s.close()
        return None, (st, body)
    ctx = ssl.create_default_context(cafile=cafile)
    return ctx.wrap_socket(s, server_hostname=server_hostname), None


def connect_proxy(port=3128):
    s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    return s


def read_response(s):
    """Reads one response head (and its Content-Length body); returns (status, headers, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        d = s.recv(65536)
        if not d:
            break
        data += d
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        d = s.recv(65536)
        if not d:
            break
        rest += d
    return status, headers, rest[:n], rest[n:]


def request(raw):
    s = connect_proxy()
    s.sendall(raw)
    st, h, body, _ = read_response(s)
    s.close()
    return st, h, body


def wait_closed(s):
    """True once the proxy closed s (EOF or reset)."""
    s.settimeout(WAIT)
    try:
        while True:
            if not s.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def inner(proxy, ns_up, tag):
    tmp = tempfile.mkdtemp(prefix="proxy-e2e-")
    procs = []
    failures = []
    sandbox = "e2e-" + tag

    def check(name, cond, detail=""):
        print("%s %s%s" % ("ok  " if cond else "FAIL", name, (": " + detail) if detail and not cond else ""))
        if not cond:
            failures.append(name)

    try:
        up = subprocess.Popen(["ip", "netns", "exec", ns_up, sys.executable, "-c", UPSTREAM],
                              stdout=subprocess.PIPE, text=True)
        procs.append(up)
        if up.stdout.readline().strip() != "ready":
            print("FAIL: the upstream server did not start")
            return 1
        certs = make_certs(tmp)
        tls_up = subprocess.Popen(["ip", "netns", "exec", ns_up, sys.executable, "-c", TLS_UPSTREAM,
                                   certs("srv.pem"), certs("srv-key.pem"), certs("bad.pem"), certs("bad-key.pem")],
                                  stdout=subprocess.PIPE, text=True)
        procs.append(tls_up)
        if tls_up.stdout.readline().strip() != "ready":
            print("FAIL: the TLS upstream server did not start")
            return 1
        ident = Identify(os.path.join(tmp, "identify.sock"))
        policy = os.path.join(tmp, "policy.yaml")
        with open(policy, "w") as f:
            f.write(POLICY)

        # Without sockets from systemd it refuses to start.
        r = subprocess.run([proxy, "--sandbox", sandbox, "--policy", policy], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=WAIT)
        check("without socket activation it refuses to start", r.returncode != 0 and
              "socket activation" in r.stdout, r.stdout)

        journal = None
        if not (os.path.exists("/run/systemd/journal/socket") and shutil.which("journalctl")) and \
                shutil.which("unshare"):
            journal = FakeJournal(os.path.join(tmp, "journal"))
        # systemd-socket-activate passes only the environment it is told to
        argv = ["systemd-socket-activate", "-l", "127.0.0.1:3128", "-l", "[::1]:3128",
                "-E", "SSL_CERT_FILE=" + certs("upca.pem"), proxy, "--sandbox", sandbox,
                "--policy", policy, "--identify-socket", os.path.join(tmp, "identify.sock"),
                "--idle-timeout", "2", "--head-timeout", "2", "--max-buffered", "100000",
                "--tls-ca-cert", certs("ca.pem"), "--tls-ca-key", certs("ca-key.pem"),
                "--broker-socket", os.path.join(tmp, "broker.sock")]
        px = subprocess.Popen(journal.wrap(argv) if journal else argv,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(px)
        px_lines = []
        reader = threading.Thread(target=lambda: px_lines.extend(iter(px.stdout.readline, "")), daemon=True)
        reader.start()
        deadline = time.monotonic() + WAIT
        while True:
            try:
                socket.create_connection(("127.0.0.1", 3128), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    print("FAIL: systemd-socket-activate did not listen")
                    return 1
                time.sleep(0.05)

        # CONNECT allowed: a tunnel through splice(), with half-close both ways.
        s = connect_proxy()
        s.sendall(b"CONNECT 10.231.0.2:9000 HTTP/1.1\r\nHost: 10.231.0.2:9000\r\n\r\nping-early;")
        st, _, _, rest = read_response(s)
        check("CONNECT allowed answers 200", st == 200, str(st))
        s.sendall(b"x" * 300000)
        s.shutdown(socket.SHUT_WR)
        got = rest
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
        s.close()
        check("tunnel carries both ways, bytes sent before 200 first, half-close",
              got == b"echo:ping-early;" + b"x" * 300000, "%d bytes" % len(got))
        check("the identification service was asked about the client address",
              any(r.startswith("IDENTIFY 4 127.0.0.1 ") and r.endswith("\n") for r in ident.requests),
              repr(ident.requests[:1]))

        # The second socket, IPv6: identified as such.
        s = socket.create_connection(("::1", 3128), timeout=WAIT)
        s.sendall(b"CONNECT 10.231.0.2:9000 HTTP/1.1\r\n\r\n")
        st, _, _, _ = read_response(s)
        s.close()
        check("CONNECT through the [::1] socket", st == 200, str(st))
        check("the identification request names an IPv6 client",
              any(r.startswith("IDENTIFY 6 ::1 ") for r in ident.requests), repr(ident.requests))

        # CONNECT denied: no endpoint
        st, h, body = request(b"CONNECT 10.231.0.2:9999 HTTP/1.1\r\nHost: x\r\n\r\n")
        j = json.loads(body or b"{}")
        check("CONNECT to an undeclared port is 403", st == 403, str(st))
        check("403 body is upstream's JSON", j.get("error") == "policy_denied" and
              j.get("detail") == "CONNECT 10.231.0.2:9999 not permitted by policy" and
              j.get("reason") == "endpoint 10.231.0.2:9999 is not allowed by any policy", repr(j))
        check("403 is JSON", h.get("content-type") == "application/json", repr(h))

        # CONNECT denied: binary
        st, _, body = request(b"CONNECT 10.231.0.2:9001 HTTP/1.1\r\n\r\n")
        j = json.loads(body or b"{}")
        check("wrong binary is 403 with the binary reason", st == 403 and
              j.get("reason") == "binary '/usr/bin/curl' not allowed in policy 'other' (ancestors: [/usr/bin/bash])",
              repr(j))

        # Address safety: localhost is declared but resolves to loopback.
        st, _, body = request(b"CONNECT localhost:8080 HTTP/1.1\r\n\r\n")
        j = json.loads(body or b"{}")
        check("a name resolving to loopback is refused", st == 403 and j.get("error") == "ssrf_denied" and
              j.get("reason") == "resolves to always-blocked address", repr((st, j)))

        # IPv6 literal in brackets, not allowed
        st, _, body = request(b"CONNECT [::1]:9000 HTTP/1.1\r\n\r\n")
        check("CONNECT to [::1] is refused", st == 403, str(st))

        # L7 over TLS (rest endpoint, enforce): the agent trusts only the sandbox CA.
        t, refused = connect_tls("10.231.0.2:8443", certs("ca.pem"), "10.231.0.2")
        check("CONNECT to a rest endpoint gives a TLS session verified with the sandbox CA",
              t is not None and t.getpeercert()["issuer"][0][0][1] == "OpenShell Sandbox CA", repr(refused))
        if t:
            t.sendall(b"GET /allowed/a?x=1 HTTP/1.1\r\nHost: 10.231.0.2:8443\r\n\r\n")
            st, _, body, _ = read_response(t)
            check("an allowed request reaches the upstream over verified TLS",
                  st == 200 and body.startswith(b"tls path=/allowed/a?x=1\n"), repr((st, body)))
            t.sendall(b"GET /allowed/b HTTP/1.1\r\nHost: 10.231.0.2:8443\r\n\r\n")
            st, _, body, _ = read_response(t)
            check("the next request goes on the same tunnel", st == 200 and body.startswith(b"tls path=/allowed/b\n"),
                  repr((st, body[:60])))
            t.sendall(b"POST /post HTTP/1.1\r\nHost: 10.231.0.2:8443\r\nContent-Length: 5\r\n\r\nhello")
            st, _, body, _ = read_response(t)
            check("a POST with a body", st == 201 and body == b"tls posted=hello", repr((st, body)))
            t.sendall(b"POST /post HTTP/1.1\r\nHost: 10.231.0.2:8443\r\nContent-Length: 60000\r\n\r\n" + b"p" * 60000)
            st, _, body, _ = read_response(t)
            check("a larger body both ways", st == 201 and body == b"tls posted=" + b"p" * 60000, repr((st, len(body))))
            t.sendall(b"GET /allowed/big HTTP/1.1\r\nHost: 10.231.0.2:8443\r\n\r\n")
            st, _, body, _ = read_response(t)
            check("a 2 MiB response arrives whole", st == 200 and body == bytes(range(256)) * 8192,
                  repr((st, len(body))))
            t.sendall(b"DELETE /allowed/a HTTP/1.1\r\nHost: 10.231.0.2:8443\r\n\r\n")
            st, h, body, _ = read_response(t)
            j = json.loads(body or b"{}")
            check("enforce refuses a method the rules do not allow: 403 with upstream's body", st == 403 and
                  j.get("error") == "policy_denied" and j.get("reason") == "DELETE /allowed/a not permitted by policy"
                  and j.get("method") == "DELETE" and j.get("path") == "/allowed/a" and "detail" in j, repr((st, j)))
            check("and closes the tunnel", wait_closed(t))
            t.close()
        # A real client (offering h2 by ALPN, which the proxy does not pick), when there is one.
        if shutil.which("curl"):
            r = subprocess.run(["curl", "-sS", "--max-time", str(WAIT), "--proxy", "http://127.0.0.1:3128",
                                "--cacert", certs("ca.pem"), "https://10.231.0.2:8443/allowed/curl"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            check("curl through the proxy gets the upstream's answer over HTTP/1.1",
                  r.returncode == 0 and r.stdout.startswith(b"tls path=/allowed/curl\n"), repr((r.stdout, r.stderr)))

        # (before more refusals to 10.231.0.2: the flood limiter keeps 5 per host and period)
        # audit: what enforce would refuse is forwarded (and logged, see the journal checks).
        t, _ = connect_tls("10.231.0.2:8445", certs("ca.pem"), "10.231.0.2")
        if t:
            t.sendall(b"GET /audited HTTP/1.1\r\nHost: 10.231.0.2:8445\r\n\r\n")
            st, _, body, _ = read_response(t)
            check("audit forwards a request the rules do not allow", st == 200 and body.startswith(b"tls path=/audited"),
                  repr((st, body[:40])))
            t.close()
        else:
            check("audit endpoint tunnel", False)

        # An upstream whose certificate the proxy does not trust: 502, the agent's TLS stays good.
        t, _ = connect_tls("10.231.0.2:8444", certs("ca.pem"), "10.231.0.2")
        if t:
            t.sendall(b"GET /allowed/a HTTP/1.1\r\nHost: 10.231.0.2:8444\r\n\r\n")
            st, _, body, _ = read_response(t)
            j = json.loads(body or b"{}")
            check("an untrusted upstream certificate gives 502", st == 502 and
                  j.get("error") == "upstream_unreachable" and "certificate verification failed" in j.get("reason", ""),
                  repr((st, j)))
            t.close()
        else:
            check("untrusted upstream tunnel", False)

        t, _ = connect_tls("10.231.0.2:8443", certs("ca.pem"), "10.231.0.2")
        if t:
            t.sendall(b"GET /secret HTTP/1.1\r\nHost: 10.231.0.2:8443\r\n\r\n")
            st, _, body, _ = read_response(t)
            j = json.loads(body or b"{}")
            check("enforce refuses a path the rules do not allow", st == 403 and
                  j.get("reason") == "GET /secret not permitted by policy", repr((st, j)))
            t.close()
        t, _ = connect_tls("10.231.0.2:8443", certs("ca.pem"), "10.231.0.2")
        if t:
            t.sendall(b"GET /allowed/a HTTP/1.1\r\nHost: evil.example.com\r\n\r\n")
            st, _, body, _ = read_response(t)
            j = json.loads(body or b"{}")
            check("a Host other than the CONNECT target is refused", st == 403 and
                  j.get("error") == "request_authority_mismatch", repr((st, j)))
            t.close()
        t, _ = connect_tls("10.231.0.2:8443", certs("ca.pem"), "10.231.0.2")
        if t:
            t.sendall(b"GET /allowed/a%2Fb HTTP/1.1\r\nHost: 10.231.0.2:8443\r\n\r\n")
            st, _, body, _ = read_response(t)
            check("an encoded slash is refused", st == 403 and b"%2F" in body, repr((st, body)))
            t.close()

        # What is neither TLS nor HTTP/1 is refused on an inspected endpoint.
        s = connect_proxy()
        s.sendall(b"CONNECT 10.231.0.2:8443 HTTP/1.1\r\n\r\n")
        st, _, _, _ = read_response(s)
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        check("h2c prior knowledge is refused on an inspected endpoint", st == 200 and wait_closed(s))
        s.close()

        s = connect_proxy()
        s.sendall(b"CONNECT 10.231.0.2:8443 HTTP/1.1\r\n\r\n")
        st, _, _, _ = read_response(s)
        check("an inspected tunnel where the agent says nothing is closed after the head timeout",
              st == 200 and wait_closed(s))
        s.close()
        s = connect_proxy()
        s.sendall(b"CONNECT 10.231.0.2:8443 HTTP/1.1\r\n\r\n\x16\x03\x01\x00\x05hello")
        st, _, _, _ = read_response(s)
        check("a broken ClientHello closes the tunnel", st == 200 and wait_closed(s))
        s.close()
        s = connect_proxy()
        s.sendall(b"CONNECT inference.local:443 HTTP/1.1\r\n\r\nGET /v1/models HTTP/1.1\r\n\r\n")
        st, _, _, _ = read_response(s)
        check("inference.local in clear is refused", st == 200 and wait_closed(s))
        s.close()

        # Absolute-form requests to a rest endpoint are decided the same way (clear HTTP upstream: 8080
        # is not rest; 8443 speaks TLS, so an allowed one fails upstream, a refused one never leaves).
        st, _, body = request(b"GET http://10.231.0.2:8443/secret HTTP/1.1\r\nHost: 10.231.0.2:8443\r\n\r\n")
        j = json.loads(body or b"{}")
        check("a forwarded request to an enforce endpoint is refused by the L7 rules", st == 403 and
              j.get("reason") == "GET /secret not permitted by policy", repr((st, j)))

        # inference.local: terminated with a leaf for inference.local, handed to the broker.
        broker = Broker(os.path.join(tmp, "broker.sock"))
        t, refused = connect_tls("inference.local:443", certs("ca.pem"), "inference.local")
        check("CONNECT inference.local:443 gives TLS with a leaf for inference.local", t is not None, repr(refused))
        if t:
            t.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: inference.local\r\n"
                      b"X-OpenShell-Sandbox: forged\r\nProxy-Authorization: x\r\nContent-Length: 8\r\n\r\n{\"a\":1}\n")
            st, _, body, _ = read_response(t)
            check("an inference request is answered by the broker", st == 200 and body == b'{"ok":true}',
                  repr((st, body)))
            line, fields, got = broker.requests[-1] if broker.requests else ("", [], b"")
            names = [k.lower() for k, _ in fields]
            check("the broker gets origin-form, Host inference.local, the sandbox's name only, the body",
                  line == "POST /v1/chat/completions HTTP/1.1" and ("Host", "inference.local") in fields and
                  [v for k, v in fields if k.lower() == "x-openshell-sandbox"] == [sandbox] and
                  "proxy-authorization" not in names and got == b'{"a":1}\n', repr((line, fields, got)))
            t.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: inference.local\r\nContent-Length: 6\r\n\r\nstream")
            data = b""
            while b"piece-1" not in data:
                d = t.recv(65536)
                if not d:
                    break
                data += d
            check("a streamed answer: the first piece arrives before the broker sends the second",
                  b"piece-1" in data and b"piece-2" not in data, repr(data))
            broker.go_on.set()
            while b"\r\n0\r\n\r\n" not in data:
                d = t.recv(65536)
                if not d:
                    break
                data += d
            check("then the rest of the stream", b"piece-2" in data, repr(data))
            t.close()
        broker.go_on.clear()
        t, _ = connect_tls("inference.local:443", certs("ca.pem"), "inference.local")
        if t:
            t.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: inference.local\r\nContent-Length: 6\r\n\r\nstream")
            data = b""
            while b"piece-1" not in data:
                d = t.recv(65536)
                if not d:
                    break
                data += d
            t.close()
            check("an agent that hangs up mid-stream closes the broker connection", broker.hangups.acquire(timeout=WAIT))
        broker.go_on.set()
        t, _ = connect_tls("inference.local:443", certs("ca.pem"), "inference.local")
        if t:
            t.sendall(b"GET /v1/secrets HTTP/1.1\r\nHost: inference.local\r\n\r\n")
            st, _, body, _ = read_response(t)
            check("an unknown inference path is 403", st == 403 and
                  json.loads(body or b"{}") == {"error": "connection not allowed by policy"}, repr((st, body)))
            t.close()
        broker.close()
        t, _ = connect_tls("inference.local:443", certs("ca.pem"), "inference.local")
        if t:
            t.sendall(b"GET /v1/models HTTP/1.1\r\nHost: inference.local\r\n\r\n")
            st, _, body, _ = read_response(t)
            check("no broker: 503 inference service unavailable", st == 503 and
                  json.loads(body or b"{}") == {"error": "inference service unavailable"}, repr((st, body)))
            t.close()

        # Absolute-form forwarding with keep-alive: two requests, each decided and relayed.
        s = connect_proxy()
        s.sendall(b"GET http://10.231.0.2:8080/a?q=1 HTTP/1.1\r\nHost: 10.231.0.2:8080\r\n"
                  b"Proxy-Authorization: Basic c2VjcmV0\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
                  b"X-Keep: 2\r\n\r\n")
        st, h, body, rest = read_response(s)
        text = body.decode(errors="replace")
        check("forwarded GET answers 200", st == 200, str(st))
        check("upstream got the origin-form path", text.startswith("path=/a?q=1\n"), text)
        check("Proxy-* and hop-by-hop fields are not forwarded",
              "proxy-authorization" not in text and "x-hop" not in text and "x-keep=2" in text, text)
        check("upstream got Host from the URL", "host=10.231.0.2:8080" in text, text)
        check("hop-by-hop fields of the response are dropped", "keep-alive" not in h, repr(h))
        s.sendall(b"GET http://10.231.0.2:8080/b HTTP/1.1\r\nHost: 10.231.0.2:8080\r\n\r\n")
        st, h, body, rest = read_response(s)
        check("second request on the kept-alive connection", st == 200 and body.startswith(b"path=/b\n"),
              repr((st, body[:40])))
        s.sendall(b"GET http://10.231.0.2:9999/c HTTP/1.1\r\nHost: 10.231.0.2:9999\r\n\r\n")
        st, h, body, rest = read_response(s)
        check("third request to a denied port is 403 on the same connection", st == 403, str(st))
        s.close()

        # An interim response is relayed, then the final one, and the connection stays usable.
        s = connect_proxy()
        s.sendall(b"GET http://10.231.0.2:8080/early HTTP/1.1\r\nHost: 10.231.0.2:8080\r\n\r\n")
        st1, h1, _, rest = read_response(s)
        got = rest
        s.settimeout(WAIT)
        while not got.endswith(b"ok"):
            d = s.recv(65536)
            if not d:
                break
            got += d
        check("103 then 200 are relayed", st1 == 103 and h1.get("link") == "</s.css>" and
              got.startswith(b"HTTP/1.1 200 OK\r\n") and got.endswith(b"\r\n\r\nok"), repr((st1, h1, got)))
        s.sendall(b"GET http://10.231.0.2:8080/after HTTP/1.1\r\nHost: 10.231.0.2:8080\r\n\r\n")
        st, _, body, _ = read_response(s)
        s.close()
        check("and the connection is kept for the next request", st == 200 and body.startswith(b"path=/after"),
              repr((st, body[:30])))

        # A chunked request body reaches the upstream whole, with its length.
        s = connect_proxy()
        s.sendall(b"POST http://10.231.0.2:8080/p HTTP/1.1\r\nHost: 10.231.0.2:8080\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n")
        st, _, body, _ = read_response(s)
        s.close()
        check("a chunked POST is forwarded with its length", st == 201 and body == b"len=5 te=None body=hello",
              repr((st, body)))

        # A request body is held whole until sent; beyond the proxy's budget: 503, not memory.
        s = connect_proxy()
        s.sendall(b"POST http://10.231.0.2:8080/up HTTP/1.1\r\nHost: 10.231.0.2:8080\r\nContent-Length: 200000\r\n\r\n")
        try:
            s.sendall(b"z" * 200000)
        except OSError:
            pass  # the proxy may answer and stop reading first
        st, _, body, _ = read_response(s)
        s.close()
        check("a body over the buffer budget is 503 proxy_busy", st == 503 and b"proxy_busy" in body, repr((st, body)))

        st, _, body = request(b"GET https://10.231.0.2:8080/ HTTP/1.1\r\nHost: 10.231.0.2\r\n\r\n")
        check("https:// through forwarding is refused", st == 403 and b"HTTPS requires CONNECT" in body, repr(body))

        # Garbage and oversized heads
        st, _, _ = request(b"GARBAGE\r\n\r\n")
        check("garbage is 400", st == 400, str(st))
        st, _, _ = request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        check("an origin-form request (not a proxy request) is 400", st == 400, str(st))
        st, _, _ = request(b"CONNECT 10.231.0.2:9000 HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        check("an oversized head is 431", st == 431, str(st))

        # Slowloris: half a head, then nothing: 408 and closed within the head timeout.
        s = connect_proxy()
        s.sendall(b"CONNECT 10.231.0.2:9000 HTTP/1.1\r\nX-Slow: ")
        s.settimeout(WAIT)
        st, _, _, _ = read_response(s)
        check("a stalled head gets 408", st == 408, str(st))
        check("and is closed", wait_closed(s))
        s.close()

        # Idle tunnel: closed by the proxy after --idle-timeout.
        s = connect_proxy()
        s.sendall(b"CONNECT 10.231.0.2:9000 HTTP/1.1\r\n\r\n")
        st, _, _, _ = read_response(s)
        check("idle tunnel opens", st == 200, str(st))
        check("idle tunnel is closed by the proxy", wait_closed(s))
        s.close()

        # Reload: a policy allowing 9999 makes it a dial (502, nothing listens), an invalid one keeps it.
        with open(policy, "w") as f:
            f.write(POLICY.replace("ports: [9000, 8080]", "ports: [9000, 8080, 9999]"))
        px.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + WAIT
        while True:
            st, _, body = request(b"CONNECT 10.231.0.2:9999 HTTP/1.1\r\n\r\n")
            if st != 403 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        j = json.loads(body or b"{}")
        check("after SIGHUP the new policy decides: 502 upstream_unreachable", st == 502 and
              j.get("error") == "upstream_unreachable", repr((st, j)))
        with open(policy, "w") as f:
            f.write("version: 1\nnetwork_policies: [oops\n")
        px.send_signal(signal.SIGHUP)
        # The reload is done when the proxy has said so; then the old table still decides.
        deadline = time.monotonic() + WAIT
        while not any("Keeping the previous policy" in line for line in px_lines) and time.monotonic() < deadline:
            time.sleep(0.05)
        check("an invalid policy on SIGHUP is reported", any("Keeping the previous policy" in line
                                                               for line in px_lines), "".join(px_lines))
        st, _, _ = request(b"CONNECT 10.231.0.2:9999 HTTP/1.1\r\n\r\n")
        check("an invalid policy on SIGHUP keeps the previous one", st == 502, str(st))

        # Open connections on reload: a second proxy whose idle timeout cannot close them during the test.
        # A tunnel still allowed by the new policy keeps relaying; one it denies is closed and logged.
        policy2 = os.path.join(tmp, "policy2.yaml")
        with open(policy2, "w") as f:
            f.write(POLICY)
        sandbox2 = sandbox + "r"  # its entries apart from the first proxy's
        argv2 = ["systemd-socket-activate", "-l", "127.0.0.1:3129",
                 "-E", "SSL_CERT_FILE=" + certs("upca.pem"), proxy, "--sandbox", sandbox2,
                 "--policy", policy2, "--identify-socket", os.path.join(tmp, "identify.sock"),
                 "--idle-timeout", "600", "--tls-ca-cert", certs("ca.pem"), "--tls-ca-key", certs("ca-key.pem")]
        px2 = subprocess.Popen(journal.wrap(argv2) if journal else argv2,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(px2)
        px2_lines = []
        reader2 = threading.Thread(target=lambda: px2_lines.extend(iter(px2.stdout.readline, "")), daemon=True)
        reader2.start()

        def tunnel2(port):
            deadline = time.monotonic() + WAIT
            while True:
                try:
                    t = socket.create_connection(("127.0.0.1", 3129), timeout=WAIT)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            t.sendall(b"CONNECT 10.231.0.2:%d HTTP/1.1\r\n\r\n" % port)
            st, _, _, _ = read_response(t)
            return t, st

        def get_through(t, path):
            t.sendall(b"GET %s HTTP/1.1\r\nHost: 10.231.0.2:8080\r\n\r\n" % path)
            st, _, body, _ = read_response(t)
            return st, body

        kept, st_kept = tunnel2(8080)
        dropped, st_dropped = tunnel2(9000)
        check("reload: both tunnels open", st_kept == 200 and st_dropped == 200, repr((st_kept, st_dropped)))
        # Inspected tunnels: one whose endpoint stays L7 (8443) goes on, decided by the new rules; one
        # whose endpoint the new policy leaves uninspected (8445) cannot turn into a raw relay: closed.
        inspected, _ = connect_tls("10.231.0.2:8443", certs("ca.pem"), "10.231.0.2", port=3129)
        unpinned, _ = connect_tls("10.231.0.2:8445", certs("ca.pem"), "10.231.0.2", port=3129)
        check("reload: both inspected tunnels open", inspected is not None and unpinned is not None)
        inspected.sendall(b"GET /allowed/before HTTP/1.1\r\nHost: 10.231.0.2:8443\r\n\r\n")
        st, _, _, _ = read_response(inspected)
        check("reload: the inspected tunnel relays before", st == 200, str(st))
        st, body = get_through(kept, b"/before")
        check("reload: the HTTP tunnel relays before", st == 200 and body.startswith(b"path=/before"),
              repr((st, body[:30])))
        with open(policy2, "w") as f:
            f.write(POLICY.replace("ports: [9000, 8080]", "ports: [8080]")
                    .replace("      - ports: [8445]\n        allowed_ips: [\"10.231.0.2\"]\n        protocol: rest\n",
                             "      - ports: [8445]\n        allowed_ips: [\"10.231.0.2\"]\n"))
        px2.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + WAIT
        while sum("Loaded policy" in line for line in px2_lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        st, body = get_through(kept, b"/after")
        check("reload: a tunnel the new policy allows survives and keeps relaying",
              st == 200 and body.startswith(b"path=/after"), repr((st, body[:30])))
        check("reload: a tunnel the new policy denies is closed", wait_closed(dropped))
        inspected.sendall(b"GET /allowed/after HTTP/1.1\r\nHost: 10.231.0.2:8443\r\n\r\n")
        st, _, _, _ = read_response(inspected)
        check("reload: an inspected tunnel still inspected survives", st == 200, str(st))
        inspected.sendall(b"GET /secret HTTP/1.1\r\nHost: 10.231.0.2:8443\r\n\r\n")
        st, _, _, _ = read_response(inspected)
        check("reload: ... and its requests are still decided (a path the rules lack: 403)", st == 403, str(st))
        try:
            closed = wait_closed(unpinned)
        except ssl.SSLError:  # closed without TLS's close_notify
            closed = True
        check("reload: an inspected tunnel whose endpoint is no longer inspected is closed", closed)
        for t in (kept, dropped, inspected, unpinned):
            t.close()

        # Each closure is one deny entry whose reason says why, in the journal (or the fake one).
        def reload_denials():
            if journal:
                entries = [e for e in journal.entries if e.get("OPENSHELL_SANDBOX") == sandbox2]
            else:
                out = run("journalctl", "-o", "json", "--no-pager", "OPENSHELL_SANDBOX=" + sandbox2,
                          check=False).stdout
                entries = [json.loads(line) for line in out.splitlines()]
            return [e for e in entries if "after policy reload" in e.get("OPENSHELL_REASON", "")]

        if journal or (os.path.exists("/run/systemd/journal/socket") and shutil.which("journalctl")):
            deadline = time.monotonic() + WAIT
            denied = reload_denials()
            while len(denied) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
                denied = reload_denials()
            by_port = {e.get("OPENSHELL_PORT"): e for e in denied}
            check("reload: two closures, one deny entry each", len(denied) == 2 and set(by_port) == {"9000", "8445"},
                  repr(denied))
            e = by_port.get("9000", {})
            check("reload: the closed tunnel's entry names binary, decision and reason",
                  e.get("OPENSHELL_DECISION") == "deny" and e.get("OPENSHELL_BINARY") == "/usr/bin/curl" and
                  e.get("OPENSHELL_REASON") ==
                  "endpoint 10.231.0.2:9000 is not allowed by any policy (after policy reload)", repr(e))
            check("reload: the inspected tunnel's entry says why",
                  "no longer L7-inspected" in by_port.get("8445", {}).get("OPENSHELL_REASON", ""), repr(denied))
        else:
            print("skip reload journal check: no journal on this machine")
        px2.send_signal(signal.SIGTERM)
        try:
            px2.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            px2.kill()
            px2.wait()
        reader2.join(WAIT)
        out2 = "".join(px2_lines)
        check("reload: the second proxy exits cleanly, no sanitizer report", px2.returncode == 0 and
              "Sanitizer" not in out2 and "runtime error" not in out2, out2)

        # Journal entries, when a journal runs here.
        if journal or (os.path.exists("/run/systemd/journal/socket") and shutil.which("journalctl")):
            deadline = time.monotonic() + WAIT
            entries = []
            while time.monotonic() < deadline:
                if journal:
                    entries = [e for e in journal.entries if e.get("OPENSHELL_SANDBOX") == sandbox]
                else:
                    out = run("journalctl", "-o", "json", "--no-pager", "OPENSHELL_SANDBOX=" + sandbox,
                              check=False).stdout
                    entries = [json.loads(line) for line in out.splitlines() if line.strip()]
                if any(e.get("OPENSHELL_PORT") == "9001" for e in entries) and \
                   any(e.get("OPENSHELL_DECISION") == "allow" for e in entries) and \
                   any(e.get("OPENSHELL_STATUS") == "503" for e in entries):
                    break
                time.sleep(0.2)
            deny = [e for e in entries if e.get("OPENSHELL_PORT") == "9001"]
            check("a denial is one journal entry with the audit fields", len(deny) >= 1 and
                  deny[0].get("OPENSHELL_EVENT") == "network" and deny[0].get("OPENSHELL_DECISION") == "deny" and
                  deny[0].get("OPENSHELL_BINARY") == "/usr/bin/curl" and deny[0].get("OPENSHELL_PID") == "4242" and
                  deny[0].get("OPENSHELL_HOST") == "10.231.0.2" and deny[0].get("OPENSHELL_POLICY") == "-" and
                  deny[0].get("MESSAGE_ID") == "5f1c8a3e0b7d4e2a9c6f1d3b8e0a7c42" and
                  deny[0].get("MESSAGE", "").startswith(
                      "NET:OPEN [MED] DENIED /usr/bin/curl(4242) -> 10.231.0.2:9001 [policy:- engine:policy] [reason:binary"),
                  repr(deny[:1]))
            allow = [e for e in entries if e.get("OPENSHELL_DECISION") == "allow" and e.get("OPENSHELL_PORT") == "9000"]
            check("an allowed tunnel names its rule", len(allow) >= 1 and allow[0].get("OPENSHELL_POLICY") == "echo",
                  repr(allow[:1]))
            fwd = [e for e in entries if e.get("OPENSHELL_URL")]
            check("a forwarded request is logged without its query", len(fwd) >= 1 and
                  all("?" not in e["OPENSHELL_URL"] and "q=1" not in e["MESSAGE"] for e in fwd), repr(fwd[:1]))
            def one(**want):
                return [e for e in entries if all(e.get("OPENSHELL_" + k.upper()) == v for k, v in want.items())]
            l7 = one(engine="l7", decision="deny", method="DELETE")
            check("an L7 refusal is one entry in upstream's shorthand", len(l7) == 1 and
                  l7[0].get("OPENSHELL_URL") == "http://10.231.0.2:8443/allowed/a" and
                  l7[0].get("OPENSHELL_REASON") == "DELETE /allowed/a not permitted by policy" and
                  l7[0].get("MESSAGE", "").startswith("HTTP:DELETE [MED] DENIED /usr/bin/curl(4242) -> DELETE "
                                                      "http://10.231.0.2:8443/allowed/a [policy:rest_enforce engine:l7]"),
                  repr(l7))
            ok = one(engine="l7", decision="allow", method="GET", port="8443")
            check("an allowed inspected request is logged without its query",
                  any(e.get("OPENSHELL_URL") == "http://10.231.0.2:8443/allowed/a" and "x=1" not in e["MESSAGE"]
                      for e in ok), repr(ok))
            audit = one(engine="l7", decision="audit", port="8445")
            check("audit logs what enforce would refuse", len(audit) == 1 and
                  audit[0].get("OPENSHELL_REASON") == "GET /audited not permitted by policy", repr(audit))
            bad = one(decision="error", port="8444")
            check("an untrusted upstream certificate is an error entry", len(bad) == 1 and
                  "certificate verification failed" in bad[0].get("OPENSHELL_REASON", ""), repr(bad))
            inf = one(decision="inspect_for_inference", engine="inference")
            check("each inference.local request is one entry with its path and status",
                  sorted((e.get("OPENSHELL_URL"), e.get("OPENSHELL_STATUS")) for e in inf) ==
                  [("http://inference.local/v1/chat/completions", "200")] * 3 +
                  [("http://inference.local/v1/models", "503"), ("http://inference.local/v1/secrets", "403")],
                  repr(inf))
        else:
            print("skip journal checks: no journal on this machine")

        # Without the CA options: no TLS termination, so enforce on a rest endpoint and inference.local
        # are refused as before.
        policy2 = os.path.join(tmp, "policy2.yaml")
        with open(policy2, "w") as f:
            f.write(POLICY)
        plain = subprocess.Popen(["systemd-socket-activate", "-l", "127.0.0.1:3129", proxy, "--sandbox", sandbox,
                                  "--policy", policy2, "--identify-socket", os.path.join(tmp, "identify.sock")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(plain)
        deadline = time.monotonic() + WAIT
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", 3129), timeout=WAIT)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        s.sendall(b"CONNECT inference.local:443 HTTP/1.1\r\n\r\n")
        st, _, body, _ = read_response(s)
        s.close()
        check("without the CA inference.local answers 503 inference_unavailable", st == 503 and
              json.loads(body or b"{}").get("error") == "inference_unavailable", repr((st, body)))
        s = socket.create_connection(("127.0.0.1", 3129), timeout=WAIT)
        s.sendall(b"CONNECT 10.231.0.2:8443 HTTP/1.1\r\n\r\n")
        st, _, body, _ = read_response(s)
        s.close()
        check("without the CA enforce on a rest endpoint is refused", st == 403 and
              b"TLS termination" in body, repr((st, body)))
        plain.send_signal(signal.SIGTERM)
        plain.wait(WAIT)

        px.send_signal(signal.SIGTERM)
        try:
            px.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            px.kill()
            px.wait()
        reader.join(WAIT)
        out = "".join(px_lines)
        check("the proxy exits cleanly on SIGTERM", px.returncode == 0, "rc=%s\n%s" % (px.returncode, out))
        check("no sanitizer report", "Sanitizer" not in out and "runtime error" not in out, out)
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
