"""
Backend protection (issue 13, docs/pools.md "Backend protection"): max_conns with a queue per
pool, connect retries, slow_start. The burst: 2,000 clients at once through one worker to one
backend whose listen backlog is 512 and which accepts slowly, with connect_timeout 1s.
"""
import selectors
import socket
import struct
import threading
import time

import pytest

from conftest import ProxySpec
from util import harness
from util.http import Client

pytestmark = pytest.mark.serving

REQ = b"GET /b HTTP/1.1\r\nHost: h.example\r\nConnection: close\r\n\r\n"
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class SlowAcceptBackend:
    """listen(512), accepts at most one connection per `gap` seconds, answers every request
    on a connection (keep-alive) with RESP; counts accepted connections and the most open."""

    def __init__(self, gap=0.001, backlog=512):
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(backlog)
        self.ls.setblocking(False)
        self.port = self.ls.getsockname()[1]
        self.gap, self.accepted, self.open, self.max_open, self.requests = gap, 0, 0, 0, 0
        self.stopping = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        sel = selectors.DefaultSelector()
        bufs = {}
        last = 0.0
        while not self.stopping:
            now = time.monotonic()
            if now - last >= self.gap:
                try:
                    s, _ = self.ls.accept()
                    s.setblocking(False)
                    sel.register(s, selectors.EVENT_READ)
                    bufs[s] = b""
                    self.accepted += 1
                    self.open += 1
                    self.max_open = max(self.max_open, self.open)
                    last = now
                except BlockingIOError:
                    pass
            for key, _ in sel.select(timeout=self.gap / 2):
                s = key.fileobj
                try:
                    d = s.recv(65536)
                except OSError:
                    d = b""
                if not d:
                    sel.unregister(s)
                    s.close()
                    del bufs[s]
                    self.open -= 1
                    continue
                bufs[s] += d
                while b"\r\n\r\n" in bufs[s]:
                    _, bufs[s] = bufs[s].split(b"\r\n\r\n", 1)
                    self.requests += 1
                    try:
                        s.sendall(RESP)
                    except OSError:
                        pass
        for s in bufs:
            s.close()
        self.ls.close()

    def stop(self):
        self.stopping = True
        self.t.join(10)


def burst(port, n=2000, deadline=90):
    """n clients connect at once and send one request each; returns the status counts."""
    sel = selectors.DefaultSelector()
    socks = {}
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        sel.register(s, selectors.EVENT_WRITE)
        socks[s] = b""
    statuses = {}
    end = time.monotonic() + deadline
    while socks and time.monotonic() < end:
        for key, ev in sel.select(timeout=1):
            s = key.fileobj
            if ev & selectors.EVENT_WRITE:
                try:
                    s.send(REQ)
                except OSError:
                    pass
                sel.modify(s, selectors.EVENT_READ)
                continue
            try:
                d = s.recv(65536)
            except OSError:
                d = b""
            if d:
                socks[s] += d
                continue
            head = socks.pop(s)
            st = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
            statuses[st] = statuses.get(st, 0) + 1
            sel.unregister(s)
            s.close()
    for s in socks:
        statuses["unfinished"] = statuses.get("unfinished", 0) + 1
        s.close()
    return statuses


@pytest.mark.parametrize("mode", ["max_conns", "retries", "retries0"])
def test_burst_of_2000_all_served(proxy, nofile, mode):
    # retries only (default retries = 3): SYNs beyond the backlog are dropped, so many
    # connects time out after 1 s while the backend drains (> 2 s); each such timeout is
    # congestion (the worker completed other connects to the server meanwhile) and is retried
    # without spending a retry, within queue_timeout (docs/pools.md "Backend protection").
    # retries0: the same with retries = 0, where any retry spent would be a 502.
    nofile(16384)
    b = SlowAcceptBackend()
    try:
        spec = ProxySpec(workers=1, access_log="off")
        port = spec.listener("l")
        kv = {"connect_timeout": "1s"}
        if mode == "max_conns":
            kv.update(max_conns=64, max_queue=4000, keepalive=64)
        elif mode == "retries0":
            kv.update(retries=0)
        spec.pool("p", [b.port], **kv)
        spec.route("r", pool="p")
        r = proxy(spec)
        t0 = time.monotonic()
        st = burst(port)
        took = time.monotonic() - t0
        err = r.stderr()
        print("MEASURE mode=%s took=%.2fs backend_accepted=%d backend_max_open=%d statuses=%r "
              "congested_timeouts=%d other_timeouts=%d"
              % (mode, took, b.accepted, b.max_open, st, err.count("congested, retried"),
                 err.count("(pool p): connect_timeout\n")))
        assert st == {200: 2000}, st
        if mode == "max_conns":
            assert b.max_open <= 64, b.max_open
    finally:
        b.stop()


def log_line(r, what, timeout=10):
    """The first line of r's stderr holding what (the access log line of a request is
    written after its response, so it may come a moment later)."""
    deadline = time.monotonic() + timeout
    while True:
        got = [x for x in r.stderr().splitlines() if what in x]
        if got or time.monotonic() > deadline:
            assert got, r.stderr()
            return got[0]
        time.sleep(0.05)


def test_dead_server_fails_after_retries(proxy):
    """A server none of whose connects completes (its accept queue is full and it never
    accepts: every SYN is dropped) is dead, not congested: 502 after the first connect and
    `retries` (3) more, each a connect_timeout, none free."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    dead = ls.getsockname()[1]
    fill = []
    try:
        for _ in range(3):          # the accept queue (backlog 0: one) full, the rest dropped
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", dead))
            fill.append(s)
        time.sleep(0.2)
        spec = ProxySpec(workers=1)
        port = spec.listener("l")
        spec.pool("p", [dead], connect_timeout="300ms")
        spec.route("r", pool="p")
        r = proxy(spec)
        with Client(port, timeout=20) as c:
            resp = c.request("GET", "/dead", host="h.example")
        assert resp.status == 502, resp
        line = log_line(r, '"GET /dead HTTP/1.1" 502')
        err = r.stderr()
        assert err.count("(pool p): connect_timeout\n") == 4, err
        assert "congested" not in err
        assert int(line.split()[-1]) == 3, line
    finally:
        for s in fill:
            s.close()
        ls.close()


def test_redispatch_is_counted(proxy, backend_factory):
    """A refused connect redispatched to the pool's other server is a retry: the access log's
    retries field shows it and ringedge_backend_redispatch_total moved by as many."""
    from util import prom
    from util.http import get
    good = backend_factory(name="g")
    bad = harness.free_port()
    spec = ProxySpec(workers=1)
    port = spec.listener("l")
    spec.pool("p", [bad, good])             # round_robin, max_fails 3 (two servers)
    spec.route("r", pool="p")
    spec.admin()
    r = proxy(spec)
    for i in range(4):
        assert get(port, "/rd%d" % i, host="h.example").status == 200
    log_line(r, '"GET /rd3 HTTP/1.1" 200')
    err = r.stderr()
    refused = err.count("127.0.0.1:%d (pool p): connect: Connection refused" % bad)
    lines = [x for x in err.splitlines() if '"GET /rd' in x]
    retries = [int(x.split()[-1]) for x in lines]
    assert len(lines) == 4 and refused >= 1, err
    assert sum(retries) == refused and max(retries) == 1, lines
    resp = get(spec.admin_port, "/metrics")
    m = prom.parse(resp.body.decode("utf-8"))
    assert prom.value(m, "ringedge_backend_redispatch_total", proxy="p") == refused
    assert prom.value(m, "ringedge_backend_retries_total", proxy="p") == 0
    assert prom.value(m, "ringedge_server_connection_errors_total", proxy="p",
                      server="127.0.0.1:%d" % bad) == refused


def held_backend(backend_factory, hold):
    """Answers after `hold` seconds (one at a time per connection)."""
    def handler(be, conn, req):
        time.sleep(hold)
        conn.send(RESP)
        return True
    return backend_factory(name="held", handler=handler)


def send_at_once(port, n, path="/q"):
    cs = [Client(port, timeout=20) for _ in range(n)]
    for i, c in enumerate(cs):
        c.send(b"GET %s%d HTTP/1.1\r\nHost: h.example\r\n\r\n" % (path.encode(), i))
        time.sleep(0.05)        # in this order into the queue
    return cs


def test_queue_full_is_503_with_retry_after(proxy, backend_factory):
    b = held_backend(backend_factory, 1.0)
    spec = ProxySpec(workers=1)
    port = spec.listener("l")
    spec.pool("p", [b], max_conns=1, max_queue=1)
    spec.route("r", pool="p")
    r = proxy(spec)
    cs = send_at_once(port, 3)
    try:
        got = [c.read_response() for c in cs]
    finally:
        for c in cs:
            c.close()
    assert [x.status for x in got] == [200, 200, 503], got
    assert got[2].header("Retry-After") is not None, got[2]
    assert "queue full" in r.stderr()
    assert b.nconns <= 1


def test_queue_timeout_is_503_with_retry_after(proxy, backend_factory):
    b = held_backend(backend_factory, 2.0)
    spec = ProxySpec(workers=1)
    port = spec.listener("l")
    spec.pool("p", [b], max_conns=1, queue_timeout="300ms")
    spec.route("r", pool="p")
    r = proxy(spec)
    cs = send_at_once(port, 2)
    try:
        t0 = time.monotonic()
        second = cs[1].read_response()
        waited = time.monotonic() - t0
        first = cs[0].read_response()
    finally:
        for c in cs:
            c.close()
    assert first.status == 200 and second.status == 503, (first, second)
    assert second.header("Retry-After") is not None
    assert waited < 1.9        # it did not wait for the held request
    assert "queue_timeout" in r.stderr()
    # the access log shows the queue: queue_len 1, time queued ~300 ms
    line = [x for x in r.stderr().splitlines() if '"GET /q1 HTTP/1.1" 503' in x][0]
    qlen, qms, retries = [int(x) for x in line.split()[-3:]]
    assert qlen == 1 and 250 <= qms < 1900 and retries == 0, line


def test_post_reset_after_delivery_is_not_retried(proxy, backend_factory):
    def handler(be, conn, req):
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.sock.close()       # RST after the whole request arrived
        return False
    b = backend_factory(name="rst", handler=handler)
    spec = ProxySpec(workers=1)
    port = spec.listener("l")
    spec.pool("p", [b])
    spec.route("r", pool="p")
    proxy(spec)
    with Client(port) as c:
        assert c.request("POST", "/p", host="h.example", body=b"abc").status == 502
    assert len(b.requests) == 1         # delivered once, never resent


def test_post_refused_at_connect_is_retried(proxy, backend_factory):
    # the server starts listening 150 ms after the request: the connect is refused, retried
    # after the backoff (50, 100, 200 ms) and the POST succeeds
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    port_b = ls.getsockname()[1]
    ls.close()
    spec = ProxySpec(workers=1)
    port = spec.listener("l")
    spec.pool("p", ["127.0.0.1:%d" % port_b])
    spec.route("r", pool="p")
    r = proxy(spec)
    got = {}

    def late():
        time.sleep(0.15)
        from backend import Backend
        got["b"] = Backend(port=port_b, name="late").start()
    t = threading.Thread(target=late)
    t.start()
    try:
        with Client(port, timeout=10) as c:
            resp = c.request("POST", "/p", host="h.example", body=b"abc")
        t.join()
        assert resp.status == 200, resp
        assert len(got["b"].requests) == 1
        assert "Connection refused" in r.stderr()
    finally:
        t.join()
        if "b" in got:
            got["b"].stop()


def test_slow_start_share_grows(proxy, backend_factory):
    # b fails its health check, comes back, and its share of requests ramps over slow_start
    down = {"on": True}

    def handler(be, conn, req):
        if req.target == b"/health":
            conn.send(b"HTTP/1.1 %s\r\nContent-Length: 0\r\n\r\n"
                      % (b"503 Down" if down["on"] else b"200 OK"))
            return True
        return type(be).respond(be, conn, req)
    a = backend_factory(name="a")
    b = backend_factory(name="b", handler=handler)
    spec = ProxySpec(workers=1, access_log="off")
    port = spec.listener("l")
    spec.pool("p", [a, b], health_check="/health", health_interval="100ms", slow_start="4s")
    spec.route("r", pool="p")
    r = proxy(spec)
    deadline = time.monotonic() + 10
    while "is DOWN" not in r.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    down["on"] = False
    while "is UP" not in r.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    shares = []
    with Client(port) as c:
        for q in range(4):           # four windows of ~1 s
            end = time.monotonic() + 1.0
            n = nb = 0
            while time.monotonic() < end:
                resp = c.request("GET", "/s", host="h.example")
                n += 1
                nb += resp.header("X-Be-Name") == "b"
            shares.append(nb / max(n, 1))
    print("MEASURE slow_start shares per second: %r" % shares)
    # ramp 0 -> 1/2 of the requests over 4 s: the windows' mean weights are 1/8, 3/8, 5/8, 7/8
    # of b's full weight, i.e. shares ~0.11, 0.27, 0.38, 0.47 (tolerant: timing is shared)
    assert shares[0] < 0.25, shares
    assert shares[0] < shares[2] and shares[1] < shares[3], shares
    assert shares[3] > 0.3, shares
