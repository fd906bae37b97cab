#!/usr/bin/env python3
"""
A threaded HTTP/1.1 test backend for ringedge: records every request byte-exact and answers
in the way a test asks. Standalone (the demo uses it):

    python3 backend.py --port 18401 [--host 127.0.0.1] [--name fe01]

In tests: `Backend(name="fe01").start()`; `.port`, `.requests` (Request objects), `.count`,
`.handler = fn(backend, conn, req)` to answer in a custom way, `.stop()`.

What to answer is chosen per request by headers (they pass through the proxy unchanged):

    X-Be-Mode: echo        (default) 200, JSON of the request: method, target, version,
                           headers in order, body length and sha256, connection number
               fixed       X-Be-Size bytes of body() with Content-Length
               chunked     X-Be-Size bytes in chunks of X-Be-Chunk (default 4096)
               close       X-Be-Size bytes, no length: ends when the backend closes
               slow        like echo after X-Be-Delay seconds (fractions allowed)
               silent      reads the request, never answers (until the client closes)
               reset       Content-Length X-Be-Size, sends half of it, then a TCP RST
               ws          101 Switching Protocols, then a WebSocket echo (RFC 6455)
               count       200, JSON {"count": requests served so far}
    X-Be-Status: N         status code of the answer (default 200)
    X-Be-Header: Name: v   an extra response field (repeatable)
    X-Be-Hold: S           a long poll: hold the answer S seconds (any mode), then answer;
                           also ?hold=S at the end of the target (ringbench sends no headers
                           per connection, bench/compare sets it in the URL)

Bodies are deterministic (body(n)), so a test checks a download with sha256(body(n)).
Request bodies (Content-Length or chunked) are read, hashed and kept if small.
"""
import argparse
import base64
import hashlib
import json
import socket
import struct
import sys
import threading
import time

threading.stack_size(512 * 1024)  # thousands of connection threads must fit

BLOCK = 65536
_BASE = bytes((i * 131 + 7) & 0xFF for i in range(BLOCK))
KEEP_BODY = 1 << 20
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def body_chunks(n):
    """The deterministic body of n bytes, as blocks: block i is its 8-byte index followed by a
    fixed pattern, so a reordered, repeated or dropped block changes the checksum."""
    i = 0
    while n > 0:
        blk = struct.pack(">Q", i) + _BASE[8:]
        yield blk[:n]
        n -= len(blk[:n])
        i += 1


def body(n):
    return b"".join(body_chunks(n))


def body_sha256(n):
    h = hashlib.sha256()
    for c in body_chunks(n):
        h.update(c)
    return h.hexdigest()


class Request:
    """One request as the backend received it."""

    def __init__(self):
        self.head = b""           # raw head, request line to the final CRLF included
        self.method = b""
        self.target = b""         # byte-exact request-target
        self.version = b""
        self.headers = []         # [(name, value)] bytes, in order, as received
        self.framing = "none"     # "length", "chunked" or "none"
        self.body = b""           # kept if <= KEEP_BODY, else b""
        self.body_len = 0
        self.body_sha256 = hashlib.sha256(b"").hexdigest()
        self.conn_id = 0
        self.seq = 0              # 1-based number of this request on its connection
        self.peer = None

    def header(self, name):
        """Values of every field named name (case-insensitive), as str."""
        n = name.lower().encode()
        return [v.decode("latin-1") for k, v in self.headers if k.lower() == n]

    def first(self, name, default=None):
        v = self.header(name)
        return v[0] if v else default

    def to_json(self, server):
        return {
            "server": server,
            "method": self.method.decode("latin-1"),
            "target": self.target.decode("latin-1"),
            "version": self.version.decode("latin-1"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in self.headers],
            "framing": self.framing,
            "body_len": self.body_len,
            "body_sha256": self.body_sha256,
            "body": self.body.decode("latin-1") if self.body_len <= 4096 else None,
            "conn": self.conn_id,
            "seq": self.seq,
            "peer": list(self.peer) if self.peer else None,
        }


class Closed(Exception):
    pass


class Conn:
    """A buffered reader/writer over one accepted socket."""

    def __init__(self, sock, conn_id, peer):
        self.sock = sock
        self.id = conn_id
        self.peer = peer
        # a bytearray: del buf[:n] drops a prefix in O(1), where re-slicing bytes copied the
        # rest of the buffer for every chunk (a 1-byte-chunk body took ~10 s at load 10)
        self.buf = bytearray()

    def fill(self):
        d = self.sock.recv(262144)
        if not d:
            raise Closed()
        self.buf += d

    def read_until(self, sep, limit):
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out = bytes(self.buf[:i + len(sep)])
                del self.buf[:i + len(sep)]
                return out
            if len(self.buf) > limit:
                raise ValueError("line or head too long")
            self.fill()

    def read_exact(self, n, sink):
        """Feeds exactly n bytes to sink(bytes)."""
        while n > 0:
            if not self.buf:
                self.fill()
            part = bytes(self.buf[:n])
            del self.buf[:n]
            sink(part)
            n -= len(part)

    def send(self, data):
        self.sock.sendall(data)


class Backend:
    def __init__(self, host="127.0.0.1", port=0, name="backend", handler=None):
        self.host, self.name, self.handler = host, name, handler
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.lsock = socket.socket(fam, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, port))
        self.lsock.listen(4096)
        self.port = self.lsock.getsockname()[1]
        self.requests = []
        self.lock = threading.Lock()
        self.conns = {}
        self.nconns = 0
        self.stopping = False
        self.thread = None
        self.errors = []          # exceptions in handlers (a test may assert none)
        self.event = threading.Condition(self.lock)

    # ---- life cycle ----

    def start(self):
        self.thread = threading.Thread(target=self._accept_loop, daemon=True,
                                       name="be-%s" % self.name)
        self.thread.start()
        return self

    def stop(self):
        self.stopping = True
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.lsock.close()
        with self.lock:
            socks = list(self.conns.values())
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self.thread:
            self.thread.join(5)

    @property
    def count(self):
        with self.lock:
            return len(self.requests)

    def wait_requests(self, n, timeout=10):
        """Waits until n requests were received (head and body read); returns the count."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.event.wait(left)
            return len(self.requests)

    def open_connections(self):
        with self.lock:
            return len(self.conns)

    # ---- serving ----

    def _accept_loop(self):
        while not self.stopping:
            try:
                s, peer = self.lsock.accept()
            except OSError:
                return
            with self.lock:
                self.nconns += 1
                cid = self.nconns
                self.conns[cid] = s
            threading.Thread(target=self._serve, args=(s, cid, peer), daemon=True).start()

    def _serve(self, s, cid, peer):
        conn = Conn(s, cid, peer)
        seq = 0
        try:
            while not self.stopping:
                req = self._read_request(conn)
                seq += 1
                req.seq = seq
                with self.lock:
                    self.requests.append(req)
                    self.event.notify_all()
                h = self.handler or Backend.respond
                if h(self, conn, req) is False:
                    break
        except (Closed, ConnectionError, OSError):
            pass
        except Exception as e:  # a bug here must be visible to the test
            self.errors.append(repr(e))
        finally:
            with self.lock:
                self.conns.pop(cid, None)
            try:
                s.close()
            except OSError:
                pass

    def _read_request(self, conn):
        req = Request()
        req.conn_id, req.peer = conn.id, conn.peer
        # skip empty lines before a request (RFC 9112 2.2)
        while True:
            while len(conn.buf) < 2:
                conn.fill()
            if conn.buf.startswith(b"\r\n"):
                del conn.buf[:2]
            else:
                break
        head = conn.read_until(b"\r\n\r\n", 1 << 20)
        req.head = head
        lines = head[:-4].split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) == 3:
            req.method, req.target, req.version = parts
        else:
            req.method = parts[0]
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            req.headers.append((k, v.strip(b" \t")))
        te = req.first("transfer-encoding")
        cl = req.first("content-length")
        h = hashlib.sha256()
        kept = []

        def sink(d):
            h.update(d)
            req.body_len += len(d)
            if req.body_len <= KEEP_BODY:
                kept.append(d)

        if te is not None and te.lower().endswith("chunked"):
            req.framing = "chunked"
            while True:
                line = conn.read_until(b"\r\n", 65536)
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while conn.read_until(b"\r\n", 65536) != b"\r\n":
                        pass
                    break
                conn.read_exact(size, sink)
                if conn.read_until(b"\r\n", 2) != b"\r\n":
                    raise ValueError("bad chunk end")
        elif cl is not None:
            req.framing = "length"
            conn.read_exact(int(cl), sink)
        req.body_sha256 = h.hexdigest()
        req.body = b"".join(kept) if req.body_len <= KEEP_BODY else b""
        return req

    # ---- answers ----

    def head(self, status, fields, reason=None):
        reasons = {101: "Switching Protocols", 200: "OK", 201: "Created", 204: "No Content",
                   301: "Moved Permanently", 304: "Not Modified", 404: "Not Found",
                   500: "Internal Server Error", 503: "Service Unavailable"}
        out = [b"HTTP/1.1 %d %s" % (status, (reason or reasons.get(status, "Status")).encode())]
        out += [b"%s: %s" % (k.encode(), str(v).encode()) for k, v in fields]
        out.append(b"X-Be-Name: " + self.name.encode())
        return b"\r\n".join(out) + b"\r\n\r\n"

    @staticmethod
    def respond(self, conn, req):
        """The default handler: the X-Be-* protocol above. Returns False to close."""
        mode = (req.first("x-be-mode") or "echo").lower()
        status = int(req.first("x-be-status") or 200)
        size = int(req.first("x-be-size") or 0)
        extra = [tuple(x.split(": ", 1)) for x in req.header("x-be-header")]
        no_body = req.method == b"HEAD" or status in (204, 304)
        close = (req.first("connection") or "").lower() == "close" or req.version == b"HTTP/1.0"
        conn_hdr = [("Connection", "close")] if close else []
        hold = req.first("x-be-hold")
        if hold is None and b"hold=" in req.target:
            hold = req.target.rsplit(b"hold=", 1)[1].split(b"&")[0].decode()
        if hold is not None:
            time.sleep(min(float(hold), 3600.0))
        if mode == "slow":
            time.sleep(float(req.first("x-be-delay") or 1))
            mode = "echo"
        if mode in ("echo", "count"):
            obj = req.to_json(self.name) if mode == "echo" else {"count": self.count}
            data = json.dumps(obj).encode()
            conn.send(self.head(status, [("Content-Type", "application/json"),
                                         ("Content-Length", len(data))] + extra + conn_hdr) +
                      (b"" if no_body else data))
        elif mode == "fixed":
            conn.send(self.head(status, [("Content-Length", size)] + extra + conn_hdr))
            if not no_body:
                for c in body_chunks(size):
                    conn.send(c)
        elif mode == "chunked":
            step = int(req.first("x-be-chunk") or 4096)
            conn.send(self.head(status, [("Transfer-Encoding", "chunked")] + extra + conn_hdr))
            if not no_body:
                data = body(size)
                for i in range(0, size, step):
                    c = data[i:i + step]
                    conn.send(b"%x\r\n%s\r\n" % (len(c), c))
                conn.send(b"0\r\n\r\n")
        elif mode == "close":
            conn.send(self.head(status, [("Connection", "close")] + extra))
            if not no_body:
                for c in body_chunks(size):
                    conn.send(c)
            conn.sock.shutdown(socket.SHUT_WR)
            return False
        elif mode == "silent":
            try:
                while conn.sock.recv(65536):
                    pass
            except OSError:
                pass
            return False
        elif mode == "reset":
            conn.send(self.head(status, [("Content-Length", size)] + extra))
            conn.send(body(size // 2))
            time.sleep(0.1)
            rst(conn.sock)
            return False
        elif mode == "ws":
            return ws_serve(self, conn, req)
        else:
            data = b"unknown X-Be-Mode\n"
            conn.send(self.head(400, [("Content-Length", len(data))]) + data)
        return not close


def rst(sock):
    """Closes with a TCP RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# ---- WebSocket (RFC 6455), just enough for an echo ----

def ws_accept_key(key):
    return base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()


def ws_frame(opcode, payload, mask=None):
    """A final frame; masked with the 4-byte mask if given (clients must mask)."""
    b1 = 0x80 | opcode
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack(">BB", b1, m | n)
    elif n < 65536:
        hdr = struct.pack(">BBH", b1, m | 126, n)
    else:
        hdr = struct.pack(">BBQ", b1, m | 127, n)
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        hdr += mask
    return hdr + payload


def ws_read_frame(read_exact):
    """Reads one frame with read_exact(n) -> bytes; returns (opcode, payload) unmasked."""
    b1, b2 = read_exact(2)
    n = b2 & 0x7F
    if n == 126:
        n = struct.unpack(">H", read_exact(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", read_exact(8))[0]
    mask = read_exact(4) if b2 & 0x80 else None
    payload = read_exact(n)
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return b1 & 0x0F, payload


def ws_serve(self, conn, req):
    key = req.first("sec-websocket-key")
    if key is None or (req.first("upgrade") or "").lower() != "websocket":
        data = b"not a websocket upgrade\n"
        conn.send(self.head(400, [("Content-Length", len(data))]) + data)
        return True
    conn.send(self.head(101, [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                              ("Sec-WebSocket-Accept", ws_accept_key(key))]))

    def read_exact(n):
        out = []
        conn.read_exact(n, out.append)
        return b"".join(out)

    while True:
        op, payload = ws_read_frame(read_exact)
        if op == 0x8:
            conn.send(ws_frame(0x8, payload[:2]))
            return False
        if op == 0x9:
            conn.send(ws_frame(0xA, payload))
        elif op in (0x1, 0x2):
            conn.send(ws_frame(op, payload))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", default=None, help="name in X-Be-Name and the echo JSON")
    a = ap.parse_args()
    b = Backend(a.host, a.port, a.name or "backend-%d" % a.port).start()
    print("backend %s listening on %s:%d" % (b.name, a.host, b.port), flush=True)
    try:
        while b.thread.is_alive():
            b.thread.join(1)
    except KeyboardInterrupt:
        pass
    b.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
