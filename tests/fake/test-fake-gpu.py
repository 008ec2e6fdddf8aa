#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Tests of tests/fake/openshell-fake-gpu over raw sockets (stdlib only).

Usage: test-fake-gpu.py PATH-TO-openshell-fake-gpu [TEST-NAME...]
Covers every endpoint (streamed and not), the failure modes, --record, malformed input, keep-alive
and pipelining, the unix socket listener, and 1,000 concurrent streams. No timed assertions: pacing and
latency are measured by bench/broker, not asserted here.
"""

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

FAKE = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("OPENSHELL_FAKE_GPU", "")


class Fake:
    def __init__(self, *args, unix=None):
        self.dir = tempfile.mkdtemp(prefix="fake-gpu-test-")
        self.port_file = os.path.join(self.dir, "port")
        self.record = os.path.join(self.dir, "record")
        listen = ["-l", "127.0.0.1:0"]
        if unix:
            listen += ["-l", "unix:" + unix]
        self.proc = subprocess.Popen([FAKE, *listen, "--port-file", self.port_file, "--record", self.record, *args])
        wait_for(lambda: os.path.exists(self.port_file) or self.proc.poll() is not None, bool,
                 "the server writes its port file")
        with open(self.port_file) as f:
            self.port = int(f.read())

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(10)
        subprocess.run(["rm", "-rf", self.dir])
        return rc

    def connect(self, timeout=10):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s


def wait_for(get, done, what, timeout=20):
    """Polls get() until done(value) holds and returns that value; fails after timeout seconds (a bound,
    never a pass criterion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = get()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting: %s (last: %r)" % (what, value))
        time.sleep(0.02)


def request_bytes(method, path, body=None, headers=None, chunked=False):
    h = {"Host": "fake", **(headers or {})}
    data = b""
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
        if chunked:
            h["Transfer-Encoding"] = "chunked"
        else:
            h["Content-Length"] = str(len(data))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    if chunked and body is not None:
        mid = len(data) // 2
        data = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in (data[:mid], data[mid:]) if p) + b"0\r\n\r\n"
    return head.encode(), data


class Buffered:
    """A socket that read_response() can give back what it read past one answer: pipelined answers
    may arrive in one piece."""

    def __init__(self, s):
        self.s, self.pending = s, b""

    def recv(self, n):
        if self.pending:
            d, self.pending = self.pending[:n], self.pending[n:]
            return d
        return self.s.recv(n)

    def unread(self, data):
        self.pending = bytes(data) + self.pending


def give_back(s, data):
    """Bytes past the answer: kept for the next read_response() where s can take them (Buffered);
    on a plain socket nothing may follow the answer."""
    if data and hasattr(s, "unread"):
        s.unread(data)


def read_response(s):
    """Reads one HTTP/1.1 response; returns (status, headers, body) with the body de-chunked.
    Raises EOFError if the connection ends early."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise EOFError("closed before the head")
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    rest = bytearray(rest)  # appended to in place: 40 MiB bodies arrive in 64 KiB pieces
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for l in lines[1:]:
        k, v = l.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(rest) < n:
            d = s.recv(65536)
            if not d:
                raise EOFError("closed in the body")
            rest += d
        give_back(s, rest[n:])
        return status, headers, bytes(rest[:n])
    if headers.get("transfer-encoding") == "chunked":
        body = bytearray()
        while True:
            while b"\r\n" not in rest:
                d = s.recv(65536)
                if not d:
                    raise EOFError("closed in a chunk size")
                rest += d
            line, rest = rest.split(b"\r\n", 1)
            size = int(line.split(b";")[0], 16)
            while len(rest) < size + 2:
                d = s.recv(65536)
                if not d:
                    raise EOFError("closed in a chunk")
                rest += d
            if size == 0:
                give_back(s, rest[2:])
                return status, headers, bytes(body)
            body += rest[:size]
            del rest[:size + 2]
    while True:
        d = s.recv(65536)
        if not d:
            return status, headers, bytes(rest)
        rest += d


def call(fake, method, path, body=None, headers=None, chunked=False):
    with fake.connect() as s:
        head, data = request_bytes(method, path, body, headers, chunked)
        s.sendall(head + data)
        return read_response(s)


def sse_events(body):
    out = []
    for block in body.decode().split("\n\n"):
        ev = {"event": None, "data": None}
        for line in block.split("\n"):
            if line.startswith("event: "):
                ev["event"] = line[7:]
            elif line.startswith("data: "):
                ev["data"] = line[6:]
        if ev["data"] is not None:
            out.append(ev)
    return out


class FakeGpuTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fake = Fake("-t", "6", "-m", "served-model", "-m", "org/other")

    @classmethod
    def tearDownClass(cls):
        assert cls.fake.stop() == 0

    def test_models(self):
        st, _, body = call(self.fake, "GET", "/v1/models")
        self.assertEqual(st, 200)
        ids = [m["id"] for m in json.loads(body)["data"]]
        self.assertEqual(ids, ["served-model", "org/other"])
        self.assertIn(b'"org/other"', body)  # no escaped slashes, like real servers
        st, _, body = call(self.fake, "GET", "/v1/models/served-model")
        self.assertEqual((st, json.loads(body)["id"]), (200, "served-model"))
        st, _, body = call(self.fake, "GET", "/v1/models/nope")
        self.assertEqual(st, 404)
        st, _, _ = call(self.fake, "POST", "/v1/models", {})
        self.assertEqual(st, 405)

    def test_chat_stream_matches_complete(self):
        req = {"model": "served-model", "messages": [{"role": "user", "content": "one two three"}]}
        st, h, body = call(self.fake, "POST", "/v1/chat/completions", req)
        self.assertEqual(st, 200)
        full = json.loads(body)
        text = full["choices"][0]["message"]["content"]
        self.assertEqual(full["usage"], {"prompt_tokens": 3, "completion_tokens": 6, "total_tokens": 9})
        self.assertEqual(full["model"], "served-model")

        st, h, body = call(self.fake, "POST", "/v1/chat/completions",
                           {**req, "stream": True, "stream_options": {"include_usage": True}})
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/event-stream"))
        self.assertEqual(h["transfer-encoding"], "chunked")
        evs = sse_events(body)
        self.assertEqual(evs[-1]["data"], "[DONE]")
        chunks = [json.loads(e["data"]) for e in evs[:-1]]
        streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
        self.assertEqual(streamed, text)
        self.assertEqual(chunks[-1]["usage"]["completion_tokens"], 6)
        self.assertEqual([c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1], "stop")

    def test_max_tokens_limits(self):
        st, _, body = call(self.fake, "POST", "/v1/chat/completions",
                           {"model": "served-model", "messages": [], "max_tokens": 2})
        full = json.loads(body)
        self.assertEqual(full["usage"]["completion_tokens"], 2)
        self.assertEqual(full["choices"][0]["finish_reason"], "length")

    def test_completions_responses_messages_embeddings(self):
        st, _, body = call(self.fake, "POST", "/v1/completions", {"model": "served-model", "prompt": "x y"})
        self.assertEqual((st, json.loads(body)["object"]), (200, "text_completion"))
        st, _, body = call(self.fake, "POST", "/v1/completions", {"model": "served-model", "prompt": "x", "stream": True})
        self.assertEqual(sse_events(body)[-1]["data"], "[DONE]")

        st, _, body = call(self.fake, "POST", "/v1/responses", {"model": "served-model", "input": "hi"})
        r = json.loads(body)
        self.assertEqual((st, r["status"]), (200, "completed"))
        text = r["output"][0]["content"][0]["text"]
        st, _, body = call(self.fake, "POST", "/v1/responses", {"model": "served-model", "input": "hi", "stream": True})
        evs = sse_events(body)
        self.assertEqual(evs[0]["event"], "response.created")
        self.assertEqual(evs[-1]["event"], "response.completed")
        deltas = "".join(json.loads(e["data"])["delta"] for e in evs if e["event"] == "response.output_text.delta")
        self.assertEqual(deltas, text)
        self.assertEqual(json.loads(evs[-1]["data"])["response"]["usage"]["output_tokens"], 6)

        st, _, body = call(self.fake, "POST", "/v1/messages",
                           {"model": "served-model", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]})
        m = json.loads(body)
        self.assertEqual((st, m["type"], m["stop_reason"]), (200, "message", "end_turn"))
        st, _, body = call(self.fake, "POST", "/v1/messages",
                           {"model": "served-model", "max_tokens": 3, "stream": True, "messages": []})
        evs = sse_events(body)
        self.assertEqual([e["event"] for e in evs][:3], ["message_start", "content_block_start", "ping"])
        self.assertEqual(evs[-1]["event"], "message_stop")
        delta = [json.loads(e["data"]) for e in evs if e["event"] == "message_delta"][0]
        self.assertEqual((delta["delta"]["stop_reason"], delta["usage"]["output_tokens"]), ("max_tokens", 3))

        st, _, body = call(self.fake, "POST", "/v1/embeddings", {"model": "served-model", "input": ["a", "b", "c"]})
        e = json.loads(body)
        self.assertEqual((st, len(e["data"]), len(e["data"][0]["embedding"])), (200, 3, 8))
        st, _, body = call(self.fake, "POST", "/v1/embeddings",
                           {"model": "served-model", "input": "a", "encoding_format": "base64"})
        import base64
        import struct
        raw = base64.b64decode(json.loads(body)["data"][0]["embedding"])
        self.assertEqual(len(struct.unpack("<8f", raw)), 8)

    def test_request_errors(self):
        st, _, body = call(self.fake, "POST", "/v1/chat/completions", b"{not json")
        self.assertEqual(st, 400)
        self.assertIn("error", json.loads(body))
        st, _, _ = call(self.fake, "POST", "/v1/chat/completions", {"messages": []})
        self.assertEqual(st, 400)
        st, _, body = call(self.fake, "POST", "/v1/chat/completions", {"model": "unknown", "messages": []})
        self.assertEqual(st, 404)
        self.assertIn("does not exist", json.loads(body)["error"]["message"])
        st, _, _ = call(self.fake, "GET", "/v1/nothing")
        self.assertEqual(st, 404)
        st, _, body = call(self.fake, "POST", "/v1/messages", {"model": "served-model"})
        self.assertEqual((st, json.loads(body)["type"]), (400, "error"))

    def test_record_byte_exact(self):
        head, data = request_bytes("POST", "/v1/chat/completions?x=1",
                                   {"model": "served-model", "messages": [{"role": "user", "content": "record me"}]},
                                   {"Authorization": "Bearer abc", "X-Custom": "  spaced  "})
        with self.fake.connect() as s:
            s.sendall(head + data)
            read_response(s)
        with open(self.fake.record, "rb") as f:
            self.assertEqual(f.read(), head + data)
        # chunked: the head as received, the body decoded
        head, cdata = request_bytes("POST", "/v1/completions", {"model": "served-model", "prompt": "p"}, chunked=True)
        with self.fake.connect() as s:
            s.sendall(head + cdata)
            st, _, _ = read_response(s)
        self.assertEqual(st, 200)
        with open(self.fake.record, "rb") as f:
            self.assertEqual(f.read(), head + json.dumps({"model": "served-model", "prompt": "p"}).encode())

    def test_keepalive_pipelining(self):
        with self.fake.connect() as s:
            reqs = b""
            for i in range(5):
                h, d = request_bytes("POST", "/v1/chat/completions", {"model": "served-model", "messages": []})
                reqs += h + d
            s.sendall(reqs)
            b = Buffered(s)
            for i in range(5):
                st, _, body = read_response(b)
                self.assertEqual(st, 200)
            h, d = request_bytes("GET", "/health", headers={"Connection": "close"})
            s.sendall(h + d)
            st, hd, _ = read_response(b)
            self.assertEqual((st, hd.get("connection")), (200, "close"))
            self.assertEqual(b.recv(10), b"")

    def test_http10(self):
        with self.fake.connect() as s:
            body = json.dumps({"model": "served-model", "messages": [], "stream": True}).encode()
            s.sendall(b"POST /v1/chat/completions HTTP/1.0\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            st, h, body = read_response(s)
            self.assertEqual(st, 200)
            self.assertNotIn("transfer-encoding", h)
            self.assertEqual(sse_events(body)[-1]["data"], "[DONE]")

    def failing(self, mode, stream, timeout=10):
        with self.fake.connect(timeout=timeout) as s:
            h, d = request_bytes("POST", "/v1/chat/completions",
                                 {"model": "served-model", "messages": [], "stream": stream},
                                 {"X-Fake-Fail": mode, "X-Fake-Tokens": "20"})
            s.sendall(h + d)
            return read_response(s)

    def test_failure_modes(self):
        for mode, code in (("500", 500), ("503", 503)):
            st, h, body = self.failing(mode, False)
            self.assertEqual(st, code)
            self.assertIn("error", json.loads(body))
        for stream in (False, True):
            with self.assertRaises((ConnectionResetError, EOFError)):
                self.failing("reset", stream)
            with self.assertRaises((ConnectionResetError, EOFError)):
                self.failing("reset-mid", stream)
            with self.assertRaises(EOFError):
                self.failing("truncated-sse", stream)
            with self.assertRaises(socket.timeout):
                self.failing("stall", stream, timeout=0.5)
            with self.assertRaises(socket.timeout):
                self.failing("stall-mid", stream, timeout=0.5)
        st, _, body = self.failing("bad-json", False)
        self.assertEqual(st, 200)
        with self.assertRaises(ValueError):
            json.loads(body)
        st, _, body = self.failing("bad-json", True)
        with self.assertRaises(ValueError):
            json.loads(sse_events(body)[1]["data"])
        st, _, body = self.failing("oversized", False)
        self.assertGreater(len(body), 40 * 1024 * 1024)
        st, _, body = self.failing("oversized", True)
        self.assertGreater(len(body), 40 * 1024 * 1024)

    def test_runtime_config(self):
        st, _, body = call(self.fake, "POST", "/fake/config", {"fail": "503", "fail_count": 2})
        self.assertEqual(st, 200)
        codes = [call(self.fake, "POST", "/v1/chat/completions", {"model": "served-model", "messages": []})[0]
                 for _ in range(3)]
        self.assertEqual(codes, [503, 503, 200])
        call(self.fake, "POST", "/fake/config", {"fail": "500", "fail_every": 2, "fail_count": 0})
        codes = [call(self.fake, "POST", "/v1/chat/completions", {"model": "served-model", "messages": []})[0]
                 for _ in range(4)]
        self.assertEqual(codes, [200, 500, 200, 500])
        call(self.fake, "POST", "/fake/config", {"fail": "none", "fail_every": 0})
        st, _, body = call(self.fake, "POST", "/fake/config", {"nope": 1})
        self.assertEqual(st, 400)
        st, _, body = call(self.fake, "GET", "/fake/stats")
        self.assertEqual(json.loads(body)["fail"], "none")

    def test_garbage_never_crashes(self):
        import random
        rnd = random.Random(4)
        payloads = [
            b"\x00\x01\x02\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET  /v1/models HTTP/1.1\r\n\r\n",
            b"get /v1/models HTTP/1.1\r\n\r\n",
            b"GET /v1/models HTTP/1.1\r\nBad Header: x\r\n\r\n",
            b"GET /v1/models HTTP/1.1\r\n folded\r\n\r\n",
            b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
            b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
            b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 17000000\r\n\r\n",
            b"GET /v1/models HTTP/1.1\r\n" + b"X: " + b"a" * 70000 + b"\r\n\r\n",
            b"GET /v1/models HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n",
            b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]",
            b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 30\r\n\r\n" + b"[" * 30,
            b"POST /v1/embeddings HTTP/1.1\r\nContent-Length: 25\r\n\r\n{\"model\":\"x\",\"input\":[]}",
        ]
        payloads += [bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 3000))) for _ in range(200)]
        payloads += [b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 40\r\n\r\n" +
                     bytes(rnd.getrandbits(8) for _ in range(40)) for _ in range(50)]
        for p in payloads:
            try:
                with self.fake.connect(timeout=2) as s:
                    s.sendall(p)
                    s.shutdown(socket.SHUT_WR)
                    while s.recv(65536):
                        pass
            except (ConnectionResetError, BrokenPipeError, socket.timeout):
                pass
        self.assertIsNone(self.fake.proc.poll())
        self.assertEqual(call(self.fake, "GET", "/health")[0], 200)
        # statuses of a few: 431 for the big head, 413 for the big body, 505, 501
        for p, code in ((payloads[14], 431), (payloads[13], 413), (payloads[1], 505), (payloads[10], 501),
                        (payloads[9], 400), (payloads[15], 431)):
            with self.fake.connect() as s:
                s.sendall(p)
                self.assertEqual(read_response(s)[0], code, p[:60])

    def test_client_disconnect_counted(self):
        _, _, before = call(self.fake, "GET", "/fake/stats")
        s = self.fake.connect()
        h, d = request_bytes("POST", "/v1/chat/completions", {"model": "served-model", "messages": [], "stream": True},
                             {"X-Fake-Tokens": "1000", "X-Fake-Tokens-Per-Second": "10"})
        s.sendall(h + d)
        s.recv(100)
        s.close()
        # the server notices at its next write (a token every 0.1 s): wait for that, then check exactly
        want = json.loads(before)["client_disconnects"] + 1
        after = wait_for(lambda: json.loads(call(self.fake, "GET", "/fake/stats")[2]),
                         lambda st: st["client_disconnects"] >= want, "the disconnect is counted")
        self.assertEqual(after["client_disconnects"], want)
        self.assertEqual(after["streams"], 0)


class UnixSocketTest(unittest.TestCase):
    def test_unix(self):
        d = tempfile.mkdtemp()
        path = os.path.join(d, "gpu.sock")
        fake = Fake(unix=path)
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            h, b = request_bytes("GET", "/v1/models")
            s.sendall(h + b)
            self.assertEqual(read_response(s)[0], 200)
            s.close()
        finally:
            fake.stop()
            subprocess.run(["rm", "-rf", d])


class DetectLocalInferenceTest(unittest.TestCase):
    """tools/dev/detect-local-inference finds a server on the vLLM or Ollama port, else says "mock"."""
    SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "dev",
                          "detect-local-inference")

    def detect(self, vllm, ollama, *args):
        env = {**os.environ, "DETECT_VLLM_URL": vllm, "DETECT_OLLAMA_URL": ollama, "DETECT_TIMEOUT": "2"}
        return subprocess.run([self.SCRIPT, *args], env=env, capture_output=True, text=True)

    def test_detect(self):
        fake = Fake("-m", "org/Model-7B")
        dead = "http://127.0.0.1:1/v1"
        try:
            url = f"http://127.0.0.1:{fake.port}/v1"
            r = self.detect(url, dead, "--shell")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.strip(),
                             f"INFERENCE_KIND=vllm INFERENCE_BASE_URL={url} INFERENCE_MODEL=org/Model-7B")
            r = self.detect(dead, url, "--shell")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.startswith("INFERENCE_KIND=ollama "), r.stdout)
            r = self.detect(dead, url)
            self.assertIn("Found ollama", r.stdout)
            # something answers, but not with an OpenAI model list: not a model server
            r = self.detect(f"http://127.0.0.1:{fake.port}/fake", dead, "--shell")
            self.assertEqual((r.returncode, r.stdout.strip()),
                             (3, "INFERENCE_KIND=mock INFERENCE_BASE_URL= INFERENCE_MODEL="))
            r = self.detect(dead, dead)
            self.assertEqual(r.returncode, 3)
            self.assertIn("will use the\nmock GPU server", r.stdout)
            self.assertEqual(self.detect(dead, dead, "--bogus").returncode, 2)
        finally:
            fake.stop()


class ThousandStreamsTest(unittest.TestCase):
    N = 1000

    def test_1000_streams(self):
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard < self.N + 100:
            self.skipTest(f"RLIMIT_NOFILE {hard} too low")
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        fake = Fake("-t", "100", "-r", "20")  # 5 s per stream: all overlap
        try:
            sel = selectors.DefaultSelector()
            h, d = request_bytes("POST", "/v1/chat/completions", {"model": "m", "messages": [], "stream": True})
            socks = []
            for i in range(self.N):
                s = fake.connect()
                s.sendall(h + d)
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ, bytearray())
                socks.append(s)
            done = 0
            # 5 s of streaming, or much more on a loaded machine: the deadline only bounds a hang
            deadline = time.monotonic() + 120
            while done < self.N and time.monotonic() < deadline:
                for key, _ in sel.select(1):
                    data = key.fileobj.recv(65536)
                    key.data.extend(data)
                    if key.data.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n"):
                        sel.unregister(key.fileobj)
                        key.fileobj.close()
                        done += 1
            self.assertEqual(done, self.N)
            # all of them were streaming at once (the server's high-water mark, read after the fact)
            st = json.loads(call(fake, "GET", "/fake/stats")[2])
            self.assertEqual((st["max_streams"], st["streams"]), (self.N, 0))
            for s in socks:
                s.close()
        finally:
            fake.stop()


if __name__ == "__main__":
    if not FAKE or not os.access(FAKE, os.X_OK):
        print("usage: test-fake-gpu.py PATH-TO-openshell-fake-gpu", file=sys.stderr)
        sys.exit(77)
    unittest.main(argv=[sys.argv[0], "-v", *sys.argv[2:]])  # then test names, to run only those
