"""
A raw-socket HTTP/1.1 client: sends exactly the bytes a test gives (malformed ones too) and
parses what comes back strictly enough to notice a wrong framing. Every read has a timeout.
"""
import hashlib
import json
import socket
import time


class Closed(Exception):
    """The peer closed (FIN or RST) before a complete response."""


class Response:
    def __init__(self):
        self.version = ""
        self.status = 0
        self.reason = ""
        self.headers = []        # [(name, value)] str, in order
        self.raw_head = b""
        self.body = b""          # not kept when a sink was given
        self.body_len = 0
        self.framing = "none"    # "length", "chunked", "close" or "none"

    def header(self, name, default=None):
        n = name.lower()
        for k, v in self.headers:
            if k.lower() == n:
                return v
        return default

    def all(self, name):
        n = name.lower()
        return [v for k, v in self.headers if k.lower() == n]

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Response %d %s %r body %d bytes>" % (self.status, self.reason, self.headers,
                                                      self.body_len)


class Client:
    """One connection. send() raw bytes, read_response() one response at a time."""

    def __init__(self, port, host="127.0.0.1", timeout=10, family=None):
        fam = family or (socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.port, self.host = port, host
        self.buf = b""
        self.timeout = timeout

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def request(self, method="GET", target="/", host="test.example", headers=(), body=None,
                version="HTTP/1.1", **kw):
        """Sends a well-formed request (Host first unless host is None) and reads the answer.
        A bytes body gets Content-Length unless the headers give a framing."""
        self.send(build_request(method, target, host, headers, body, version))
        return self.read_response(head=(method == "HEAD"), **kw)

    def _fill(self):
        try:
            d = self.sock.recv(262144)
        except ConnectionResetError:
            d = b""
        if not d:
            raise Closed("connection closed (%d bytes unread)" % len(self.buf))
        self.buf += d

    def _line(self, limit=1 << 20):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                out, self.buf = self.buf[:i], self.buf[i + 2:]
                return out
            if len(self.buf) > limit:
                raise ValueError("line too long in response")
            self._fill()

    def _exact(self, n, sink):
        while n > 0:
            if not self.buf:
                self._fill()
            part, self.buf = self.buf[:n], self.buf[n:]
            sink(part)
            n -= len(part)

    def read_response(self, head=False, sink=None, skip_1xx=True):
        """Reads one response. sink(bytes) receives the body instead of Response.body.
        Interim 1xx responses (not 101) are skipped unless skip_1xx is False."""
        while True:
            r = self._read_one(head, sink)
            if not (skip_1xx and 100 <= r.status < 200 and r.status != 101):
                return r

    def _read_one(self, head, sink):
        r = Response()
        if not self.buf:
            self._fill()
        i = self.buf.find(b"\r\n\r\n")
        while i < 0:
            if len(self.buf) > 1 << 20:
                raise ValueError("response head too long")
            self._fill()
            i = self.buf.find(b"\r\n\r\n")
        r.raw_head, self.buf = self.buf[:i + 4], self.buf[i + 4:]
        lines = r.raw_head[:-4].split(b"\r\n")
        ver, status, reason = (lines[0].split(b" ", 2) + [b""])[:3]
        r.version, r.status, r.reason = ver.decode(), int(status), reason.decode("latin-1")
        for ln in lines[1:]:
            k, sep, v = ln.partition(b":")
            assert sep, "malformed response field line %r" % ln
            r.headers.append((k.decode("latin-1"), v.strip(b" \t").decode("latin-1")))
        parts = []

        def keep(d):
            r.body_len += len(d)
            if sink is not None:
                sink(d)
            else:
                parts.append(d)

        te, cl = r.header("transfer-encoding"), r.header("content-length")
        if head or r.status in (204, 304) or 100 <= r.status < 200:
            pass
        elif te is not None:
            assert te.lower() == "chunked", "unexpected Transfer-Encoding %r" % te
            r.framing = "chunked"
            while True:
                size = int(self._line().split(b";")[0].strip(), 16)
                if size == 0:
                    while self._line() != b"":
                        pass
                    break
                self._exact(size, keep)
                assert self._line() == b"", "chunk not followed by CRLF"
        elif cl is not None:
            r.framing = "length"
            self._exact(int(cl), keep)
        else:
            r.framing = "close"
            while True:
                keep(self.buf)
                self.buf = b""
                try:
                    self._fill()
                except Closed:
                    break
        r.body = b"".join(parts)
        return r

    def closed_by_peer(self, timeout=5):
        """True if the peer closes (FIN or RST) within timeout with nothing more to read;
        unread bytes that arrive meanwhile are kept in self.buf."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    d = self.sock.recv(65536)
                except socket.timeout:
                    return False
                except (ConnectionResetError, BrokenPipeError):
                    return True
                if not d:
                    return True
                self.buf += d
            return False
        finally:
            self.sock.settimeout(self.timeout)


def build_request(method="GET", target="/", host="test.example", headers=(), body=None,
                  version="HTTP/1.1"):
    h = list(headers)
    names = {k.lower() for k, _ in h}
    if isinstance(body, (bytes, bytearray)) and "content-length" not in names and \
            "transfer-encoding" not in names:
        h.append(("Content-Length", str(len(body))))
    out = ["%s %s %s" % (method, target, version)]
    if host is not None:
        out.append("Host: %s" % host)
    out += ["%s: %s" % kv for kv in h]
    raw = ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")
    return raw + (bytes(body) if body else b"")


def raw_exchange(port, data, timeout=10):
    """Sends data on a new connection and reads one response; returns (Response or None if
    the proxy closed without answering, Client). The caller closes the client."""
    c = Client(port, timeout=timeout)
    c.send(data)
    try:
        return c.read_response(), c
    except Closed:
        return None, c


def get(port, target="/", host="test.example", headers=(), timeout=10, **kw):
    """One request on a new connection."""
    with Client(port, timeout=timeout) as c:
        return c.request("GET", target, host, headers, **kw)


def sha256_sink():
    h = hashlib.sha256()
    return h, h.update
