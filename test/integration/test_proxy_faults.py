"""
Faults and time through the real proxy: slowloris and idle timeouts, a backend that is down,
silent or resets mid-body or closes its keep-alive connections (also while idle in the pool),
a graceful stop with a request in flight, 2,000 concurrent client connections and
max_connections. Timeouts are set short (1-2 s) and every wait is bounded
by a generous limit: a test checks that something happens, never how fast.
"""
import re
import signal
import socket
import subprocess
import time

import pytest

import backend as be
from conftest import ProxySpec, bad_good_edge, simple
from util import harness
from util.harness import free_port
from util.http import Client, Closed, build_request, get

pytestmark = pytest.mark.serving


def test_slowloris_closed_at_header_timeout(proxy, backend_factory):
    r = simple(proxy, backend_factory, listener={"header_timeout": "2s"})
    with Client(r.port, timeout=5) as slow:
        slow.send(b"GET /slow HTTP/1.1\r\n")
        start = time.monotonic()
        trickle = b"Host: h.example\r\nX-Slow: " + b"a" * 100
        closed = False
        got = b""
        for i in range(15):                      # 1 byte/s, at most 15 s
            try:
                slow.send(trickle[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if slow.closed_by_peer(1):
                closed = True
                break
            # another connection is served meanwhile
            if i == 1:
                assert get(r.port, "/other", host="h.example").status == 200
        got = slow.buf
        elapsed = time.monotonic() - start
    assert closed, "a head trickled at 1 byte/s was never cut (header_timeout = 2s)"
    assert elapsed < 12
    # 408 or a plain close; never a response from the backend
    if got:
        assert got.startswith(b"HTTP/1.1 408"), got[:100]
    assert all(q.target != b"/slow" for q in r.backend.requests)


def test_idle_keepalive_connection_closed(proxy, backend_factory):
    r = simple(proxy, backend_factory, listener={"idle_timeout": "1s"})
    with Client(r.port) as c:
        assert c.request("GET", "/x", host="h.example").status == 200
        assert c.closed_by_peer(10), "idle connection kept past idle_timeout = 1s"
        assert c.buf == b""


def test_backend_down_502(proxy, backend_factory):
    good = backend_factory(name="good")
    spec = ProxySpec()
    port = spec.listener("l")
    spec.pool("down", ["127.0.0.1:%d" % free_port()], connect_timeout="2s")
    spec.pool("good", [good])
    spec.route("down", path="/down", pool="down")
    spec.route("good", path="/", pool="good")
    proxy(spec)
    with Client(port, timeout=15) as c:
        r = c.request("GET", "/down/x", host="h.example")
        assert r.status == 502, r
        r = c.request("GET", "/down/y", host="h.example")
        assert r.status == 502, r
    assert get(port, "/ok", host="h.example").status == 200


def test_single_backend_down_is_502_every_time(proxy, backend_factory):
    # a pool of one server is never marked down by failures (nginx's rule): every request
    # tries it and gets a 502 with the reason logged, never a 503 for "no server up"
    spec = ProxySpec()
    port = spec.listener("l")
    down = free_port()
    spec.pool("down", ["127.0.0.1:%d" % down])      # default max_fails = 3
    spec.route("r", pool="down")
    r = proxy(spec)
    for i in range(6):
        assert get(port, "/x%d" % i, host="h.example").status == 502, i
    assert "is DOWN" not in r.stderr()
    # each request: the first connect and `retries` (default 3) more after a backoff
    assert r.stderr().count("127.0.0.1:%d (pool down): connect: Connection refused" % down) == 6 * 4


def test_backend_silent_504(proxy, backend_factory):
    r = simple(proxy, backend_factory, pool={"response_timeout": "1s"})
    with Client(r.port, timeout=15) as c, Client(r.port) as other:
        c.send(build_request("GET", "/silent", "h.example", [("X-Be-Mode", "silent")]))
        assert r.backend.wait_requests(1) == 1
        assert other.request("GET", "/other", host="h.example").status == 200
        resp = c.read_response()
        assert resp.status == 504, resp
    assert get(r.port, "/after", host="h.example").status == 200


def test_backend_reset_mid_body(proxy, backend_factory):
    r = simple(proxy, backend_factory, workers=2)
    size = 4 * 1024 * 1024
    with Client(r.port) as before:
        assert before.request("GET", "/before", host="h.example").status == 200
        with Client(r.port, timeout=15) as c:
            c.send(build_request("GET", "/reset", "h.example",
                                 [("X-Be-Mode", "reset"), ("X-Be-Size", str(size))]))
            try:
                resp = c.read_response()
                pytest.fail("a response cut by the backend arrived whole: %r" % resp)
            except Closed:
                pass
        assert before.request("GET", "/still", host="h.example").status == 200
    for i in range(5):
        assert get(r.port, "/after/%d" % i, host="h.example").status == 200
    # the error log says which backend failed, where, and what ringedge did about it
    want = re.compile(r"\[error\] backend 127\.0\.0\.1:%d \(pool p\): .* during the "
                      r"response body after \d+ bytes; closing the client connection" %
                      r.backend.port)
    deadline = time.monotonic() + 10
    while not want.search(r.stderr()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert want.search(r.stderr()), r.stderr()[-3000:]


def test_backend_closes_before_answering(proxy, backend_factory):
    # the backend reads the request and closes without a byte: 502, and the proxy keeps going
    def handler(b, conn, req):
        return False
    bad = backend_factory(name="bad", handler=handler)
    good = backend_factory(name="good")
    r = bad_good_edge(proxy, bad, good)
    port = r.port
    with Client(port) as c:
        assert c.request("GET", "/bad/1", host="h.example").status == 502
    assert get(port, "/ok", host="h.example").status == 200


def test_graceful_stop_completes_request_in_flight(proxy, backend_factory):
    r = simple(proxy, backend_factory, drain_timeout="20s")
    with Client(r.port, timeout=20) as c:
        c.send(build_request("GET", "/slow", "h.example",
                             [("X-Be-Mode", "slow"), ("X-Be-Delay", "2")]))
        assert r.backend.wait_requests(1) == 1
        r.signal(signal.SIGTERM)
        resp = c.read_response()
        assert resp.status == 200 and resp.json()["target"] == "/slow"
    try:
        rc = r.proc.wait(30)
    except Exception:
        rc = None
    assert rc == 0, "exit %r after a graceful stop\n%s" % (rc, r.stderr()[-3000:])
    r.stopped = True
    r.check_exit(rc)
    r._close_logs()


def test_2000_concurrent_connections(proxy, backend_factory, nofile):
    n = 2000
    nofile(4 * n + 1024)
    r = simple(proxy, backend_factory, workers=2)
    deadline = time.monotonic() + 180
    socks = []
    try:
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", r.port), timeout=30)
            socks.append(s)
        # all n are open at once; now a request on every one of them
        for i, s in enumerate(socks):
            s.sendall(build_request("GET", "/c/%d" % i, "h.example"))
        ok = 0
        for i, s in enumerate(socks):
            assert time.monotonic() < deadline, "only %d of %d answered in time" % (ok, n)
            c = Client.__new__(Client)
            c.sock, c.buf, c.timeout = s, b"", 30
            resp = c.read_response()
            assert resp.status == 200 and resp.json()["target"] == "/c/%d" % i
            ok += 1
        assert ok == n
        # and every connection is still usable (keep-alive)
        for i, s in enumerate(socks[:50]):
            s.sendall(build_request("GET", "/again/%d" % i, "h.example"))
            c = Client.__new__(Client)
            c.sock, c.buf, c.timeout = s, b"", 30
            assert c.read_response().status == 200
    finally:
        for s in socks:
            s.close()
    assert r.backend.count == n + 50


def test_accept_burst_with_requests_already_waiting(proxy, backend_factory, nofile):
    # A loaded host: the worker falls behind its accept queue while clients connect and send.
    # Stopped (SIGSTOP) while 1,000 clients connect and send a request each, it then accepts
    # them in one burst and each recv finds its request at once: more than the worker's
    # provided buffer ring holds. A recv that finds the ring empty (ENOBUFS) is no connection
    # error: every client gets its own answer (it used to be closed without one).
    n = 1000
    nofile(4 * n + 1024)
    r = simple(proxy, backend_factory, workers=1)
    socks = []
    try:
        r.signal(signal.SIGSTOP)
        try:
            for i in range(n):
                s = socket.create_connection(("127.0.0.1", r.port), timeout=30)
                socks.append(s)
                s.sendall(build_request("GET", "/burst/%d" % i, "h.example"))
        finally:
            r.signal(signal.SIGCONT)
        deadline = time.monotonic() + 180
        for i, s in enumerate(socks):
            assert time.monotonic() < deadline, "only %d of %d answered in time" % (i, n)
            c = Client.__new__(Client)
            c.sock, c.buf, c.timeout = s, b"", 30
            try:
                resp = c.read_response()
            except Closed as e:
                pytest.fail("connection %d closed without an answer (%s)\n%s" % (
                    i, e, r.stderr()[-2000:]))
            assert resp.status == 200 and resp.json()["target"] == "/burst/%d" % i
            # still usable: keep-alive after the burst
            if i % 100 == 0:
                s.sendall(build_request("GET", "/again/%d" % i, "h.example"))
                assert c.read_response().json()["target"] == "/again/%d" % i
    finally:
        for s in socks:
            s.close()
    assert r.backend.count == n + n // 100


def test_graceful_stop_closes_idle_keepalive_connections(proxy, backend_factory):
    # idle keep-alive connections hold nothing in flight: the stop must not wait for them
    # (drain_timeout is long so that waiting for it would be seen)
    r = simple(proxy, backend_factory, workers=2, drain_timeout="120s")
    clients = [Client(r.port, timeout=30) for _ in range(5)]
    try:
        for i, c in enumerate(clients):
            assert c.request("GET", "/idle/%d" % i, host="h.example").status == 200
        r.signal(signal.SIGTERM)
        for c in clients:
            assert c.closed_by_peer(30), "idle connection not closed by the graceful stop"
        rc = r.proc.wait(60)
    finally:
        for c in clients:
            c.close()
    r.stopped = True
    r._close_logs()
    r.check_exit(rc)


def test_graceful_stop_cuts_stuck_request_at_drain_timeout(proxy, backend_factory):
    # a request whose body never completes is cut when drain_timeout expires; exit 0
    r = simple(proxy, backend_factory, drain_timeout="2s")
    with Client(r.port, timeout=30) as c:
        c.send(b"POST /stuck HTTP/1.1\r\nHost: h.example\r\nContent-Length: 100\r\n\r\nabc")
        assert get(r.port, "/x", host="h.example").status == 200  # the head was taken
        r.signal(signal.SIGTERM)
        assert c.closed_by_peer(30), "stuck connection survived drain_timeout = 2s"
        rc = r.proc.wait(60)
    r.stopped = True
    r._close_logs()
    r.check_exit(rc)


def test_backend_closing_keepalive_connections(proxy, backend_factory):
    # the backend answers and then closes, announced (Connection: close) or not: the proxy
    # must never hand a request to a connection the backend has closed
    def announced(b, conn, req):
        data = b'{"ok": 1}'
        conn.send(b.head(200, [("Content-Length", len(data)), ("Connection", "close")]) + data)
        return False

    def silent_close(b, conn, req):
        data = b'{"ok": 2}'
        conn.send(b.head(200, [("Content-Length", len(data))]) + data)
        time.sleep(0.05)
        return False

    b1 = backend_factory(name="announced", handler=announced)
    b2 = backend_factory(name="silent", handler=silent_close)
    spec = ProxySpec()
    port = spec.listener("l")
    spec.pool("a", [b1])
    spec.pool("s", [b2])
    spec.route("a", path="/a", pool="a")
    spec.route("s", path="/s", pool="s")
    proxy(spec)
    with Client(port) as c:
        for i in range(10):
            r = c.request("GET", "/a/%d" % i, host="h.example")
            assert r.status == 200 and r.json() == {"ok": 1}, (i, r)
            assert r.header("X-Be-Name") == "announced"
        for i in range(10):
            time.sleep(0.3)  # the backend's FIN arrives while the connection is idle
            r = c.request("GET", "/s/%d" % i, host="h.example")
            assert r.status == 200 and r.json() == {"ok": 2}, (i, r)
    assert b1.count == 10 and b2.count == 10


# ---- pooled backend closed while idle (detected by its armed recv, no MSG_PEEK) ---------

def test_pooled_backend_closed_while_idle_not_reused(proxy, backend_factory):
    def answer_then_close(b, conn, req):
        be.Backend.respond(b, conn, req)
        return False     # keep-alive was announced, then the server closes the idle conn
    r = simple(proxy, backend_factory)
    r.backend.handler = answer_then_close
    with Client(r.port) as c:
        for i in range(20):
            # POST is never retried: a reused dead connection would be a 502
            resp = c.request("POST", "/p%d" % i, host="h.example", body=b"x" * 10)
            assert resp.status == 200, (i, resp)
            time.sleep(0.05)
    assert r.backend.count == 20


def test_max_connections_pauses_and_resumes_accept(proxy, backend_factory):
    """max_connections counts client connections across workers: at the limit accept pauses
    (a connection over it is closed or waits in the kernel's backlog, it is never served);
    when connections go away accept resumes and new clients are served again."""
    r = simple(proxy, backend_factory, workers=2, max_connections=4)
    time.sleep(0.5)     # the harness's readiness probe connection is closed and uncounted
    mark = len(r.stderr())  # the pause may be logged as the 4th connection is accepted
    held = [Client(r.port, timeout=5) for _ in range(4)]
    try:
        for i, c in enumerate(held):
            try:
                st = c.request("GET", "/held%d" % i, host="h.example").status
            except Closed:
                st = None
            assert st == 200, r.stderr()[-3000:]
        over = Client(r.port, timeout=1.5)
        try:
            over.send(build_request("GET", "/over", host="h.example"))
            with pytest.raises((Closed, OSError)):
                over.read_response()
        finally:
            over.close()
        assert "/over" not in [q.target.decode() for q in r.backend.requests]
        deadline = time.monotonic() + 10
        while "max_connections (4) reached, accept paused" not in r.stderr()[mark:] and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        assert "max_connections (4) reached, accept paused" in r.stderr()[mark:], \
            r.stderr()[-2000:]
        # the held connections keep working at the limit
        assert held[0].request("GET", "/still", host="h.example").status == 200
        for c in held[:2]:
            c.close()
        # every worker that paused resumes (on its tick) and new clients are served again
        paused = set(re.findall(r"worker (\d+): max_connections \(4\) reached",
                                r.stderr()[mark:]))
        assert paused
        deadline = time.monotonic() + 15
        for i in range(8):
            status = None
            while status != 200 and time.monotonic() < deadline:
                try:
                    status = get(r.port, "/again%d" % i, host="h.example", timeout=2).status
                except (Closed, OSError):
                    time.sleep(0.1)
            assert status == 200, i
        while time.monotonic() < deadline and not all(
                "worker %s: below max_connections, accept resumed" % w in r.stderr()
                for w in paused):
            time.sleep(0.05)
        for w in paused:
            assert "worker %s: below max_connections, accept resumed" % w in r.stderr()
    finally:
        for c in held:
            c.close()


def test_max_connections_next_client_waits_in_backlog(proxy, backend_factory):
    """One worker: the accept that fills max_connections pauses accepting at once, so the
    next client is not accepted and dropped: it waits in the kernel's backlog, unanswered,
    and is served once a place frees up."""
    r = simple(proxy, backend_factory, workers=1, max_connections=4)
    time.sleep(0.5)     # the harness's readiness probe connection is closed and uncounted
    mark = len(r.stderr())
    held = [Client(r.port, timeout=5) for _ in range(4)]
    over = None
    try:
        for i, c in enumerate(held):
            assert c.request("GET", "/held%d" % i, host="h.example").status == 200, \
                r.stderr()[-3000:]
        over = Client(r.port, timeout=1.5)   # completes in the backlog
        over.send(build_request("GET", "/over", host="h.example"))
        with pytest.raises(socket.timeout):  # no reply, and not closed either
            over.read_response()
        assert "/over" not in [q.target.decode() for q in r.backend.requests]
        log = r.stderr()[mark:]
        assert log.count("worker 0: max_connections (4) reached, accept paused") == 1, log
        held[0].close()
        # resumed on a tick once the count is below the limit: the waiting request is served
        over.sock.settimeout(10)
        resp = over.read_response()
        assert resp.status == 200 and resp.json()["target"] == "/over", resp
        assert held[1].request("GET", "/still", host="h.example").status == 200
        deadline = time.monotonic() + 10
        while "worker 0: below max_connections, accept resumed" not in r.stderr()[mark:] \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "worker 0: below max_connections, accept resumed" in r.stderr()[mark:]
    finally:
        for c in held + ([over] if over else []):
            c.close()


def test_parse_error_logged_with_offset(proxy, backend_factory):
    """A bad request is a 400 on that connection and an error-log line with the reason and
    the offset of the offending byte in the head."""
    r = simple(proxy, backend_factory)
    head = b"GET /bad HTTP/1.1\r\nHost: h.example\r\nBad Header: x\r\n\r\n"
    with Client(r.port, timeout=5) as c:
        c.send(head)
        assert c.read_response().status == 400
    off = head.index(b"Bad Header") + 3
    deadline = time.monotonic() + 10
    while "bad request:" not in r.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    line = [ln for ln in r.stderr().split("\n") if "bad request:" in ln]
    assert line, r.stderr()[-2000:]
    assert "client 127.0.0.1:" in line[0] and "at byte %d (400)" % off in line[0], line[0]
    assert get(r.port, "/ok", host="h.example").status == 200


def test_restart_on_the_same_port_at_once(tmp_path, backend_factory):
    """After SIGTERM the listening sockets are closed before ringedge exits, so a new
    instance started the moment the old one is gone binds the same ports (a restart). A
    multishot accept still armed at exit used to keep the port bound for a few ms."""
    b = backend_factory(name="be")
    port = free_port()
    cfg = tmp_path / "r.ini"
    cfg.write_text("[global]\nworkers = 2\nlog_level = info\n[listener l]\n"
                   "bind = 127.0.0.1:%d\n[pool p]\nserver = 127.0.0.1:%d\n[route r]\n"
                   "pool = p\n" % (port, b.port))
    for i in range(8):
        log = tmp_path / ("r%d.stderr" % i)
        with open(log, "wb") as err:
            p = subprocess.Popen([str(harness.binary()), "-c", str(cfg)],
                                 env=harness.sanitizer_env(), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 10
            while b"serving" not in log.read_bytes() and p.poll() is None and \
                    time.monotonic() < deadline:
                time.sleep(0.01)
            text = log.read_bytes().decode("utf-8", "replace")
            assert "serving" in text and p.poll() is None, "start %d:\n%s" % (i, text)
            if i % 2:
                assert get(port, "/x%d" % i, host="h.example").status == 200
            time.sleep(0.3)     # the workers' accepts are armed
        finally:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            rc = p.wait(30)
        assert harness.sanitizer_report(log.read_bytes()) is None
        assert rc == 0, log.read_bytes().decode("utf-8", "replace")
