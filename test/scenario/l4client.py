"""
Load for the L4 scenarios, run inside the client namespace: one thread per source address,
each doing new-connection GETs to HOST:PORT in a loop for SECONDS (bounded: at most 20 per
second per thread). One JSON line per request: t (monotonic s), src, ok, instance (the
ringedge address the backend saw as its peer), xff (what the backend saw as the client),
err, retried. Usage: l4client.py HOST PORT SECONDS SRC [SRC...]

With L4_MODE=ka each thread keeps one keep-alive connection instead and reconnects when a
response says `Connection: close`. A request on a reused connection that got no byte of a
response (the server closed it while idle, at a request boundary) is retried once on a new
connection, as HTTP clients do for idempotent requests (RFC 9112 9.3.1); the record says
retried = true. Any other failure is a failure.
"""
import json
import os
import socket
import sys
import threading
import time

host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
sources = sys.argv[4:]
lock = threading.Lock()
t_end = time.monotonic() + seconds


def one(src):
    s = socket.socket()
    s.settimeout(2)
    s.bind((src, 0))
    try:
        s.connect((host, port))
        s.sendall(b"GET /l4 HTTP/1.1\r\nHost: lync.example\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError("status %r" % head[:40])
    j = json.loads(body)
    xff = [v for k, v in j["headers"] if k.lower() == "x-forwarded-for"]
    return j["peer"][0], xff[0] if xff else None


class NoResponse(Exception):
    pass


def read_response(s, buf):
    """One response on s (Content-Length framed): (head, body, rest, close)."""
    while b"\r\n\r\n" not in buf:
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            if not buf:
                raise NoResponse("reset before any response byte")
            raise
        if not d:
            if not buf:
                raise NoResponse("closed before any response byte")
            raise EOFError("closed after %d bytes" % len(buf))
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    hl = head.lower()
    n = int(hl.split(b"content-length:")[1].split(b"\r\n")[0])
    while len(rest) < n:
        d = s.recv(65536)
        if not d:
            raise EOFError("closed in the body")
        rest += d
    return head, rest[:n], rest[n:], b"connection: close" in hl


def connect(src):
    s = socket.socket()
    s.settimeout(2)
    s.bind((src, 0))
    s.connect((host, port))
    return s


def ka_one(state, src):
    """One request on the thread's keep-alive connection; (instance, xff, retried)."""
    retried = False
    for attempt in (0, 1):
        reused = state.get("s") is not None
        if not reused:
            state["s"], state["buf"] = connect(src), b""
        s = state["s"]
        try:
            try:
                s.sendall(b"GET /ka HTTP/1.1\r\nHost: lync.example\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                raise NoResponse("send on a closed connection")
            head, body, state["buf"], close = read_response(s, state["buf"])
        except Exception as e:
            s.close()
            state["s"] = None
            if isinstance(e, NoResponse) and reused and attempt == 0:
                retried = True
                continue
            raise
        if close:
            s.close()
            state["s"] = None
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError("status %r" % head[:40])
        j = json.loads(body)
        xff = [v for k, v in j["headers"] if k.lower() == "x-forwarded-for"]
        return j["peer"][0], xff[0] if xff else None, retried
    raise RuntimeError("unreachable")


def loop(src):
    ka = os.environ.get("L4_MODE") == "ka"
    state = {}
    while time.monotonic() < t_end:
        t0 = time.monotonic()
        rec = {"t": t0, "src": src}
        try:
            if ka:
                rec["instance"], rec["xff"], rec["retried"] = ka_one(state, src)
            else:
                rec["instance"], rec["xff"] = one(src)
            rec["ok"] = True
        except Exception as e:      # noqa: BLE001 - every failure is a record
            rec["ok"], rec["err"] = False, "%s: %s" % (type(e).__name__, e)
        with lock:
            print(json.dumps(rec), flush=True)
        time.sleep(max(0.0, 0.05 - (time.monotonic() - t0)))


ts = [threading.Thread(target=loop, args=(s,)) for s in sources]
for t in ts:
    t.start()
for t in ts:
    t.join()
