"""
Tunnels through the real proxy: a WebSocket upgrade (101) turns the exchange into a byte
tunnel both ways: frames of every size come back in order, a close frame ends it, and the
bytes move through pipes (splice) in both directions. Every wait is bounded.
"""
import base64
import os

import pytest

import backend as be
from conftest import simple
from util.http import Client, get

pytestmark = pytest.mark.serving


def ws_handshake(c, target="/ws"):
    key = base64.b64encode(os.urandom(16)).decode()
    r = c.request("GET", target, host="h.example",
                  headers=[("X-Be-Mode", "ws"), ("Upgrade", "websocket"),
                           ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
                           ("Sec-WebSocket-Version", "13")])
    return r, key


def test_websocket_echo_through_tunnel(proxy, backend_factory):
    r = simple(proxy, backend_factory)
    with Client(r.port) as c:
        resp, key = ws_handshake(c)
        assert resp.status == 101, resp
        assert resp.header("Upgrade", "").lower() == "websocket"
        assert "upgrade" in resp.header("Connection", "").lower()
        assert resp.header("Sec-WebSocket-Accept") == be.ws_accept_key(key)

        def rd(n):
            out = []
            c._exact(n, out.append)
            return b"".join(out)

        for i, payload in enumerate([b"hello", b"x" * 125, b"y" * 126, be.body(70000),
                                     "é€".encode()]):
            op = 1 if i % 2 == 0 else 2
            c.send(be.ws_frame(op, payload, mask=os.urandom(4)))
            assert be.ws_read_frame(rd) == (op, payload)
        # many small frames in one write come back in order
        c.send(b"".join(be.ws_frame(1, b"m%d" % i, mask=b"abcd") for i in range(100)))
        for i in range(100):
            assert be.ws_read_frame(rd) == (1, b"m%d" % i)
        c.send(be.ws_frame(8, b"\x03\xe8", mask=b"abcd"))
        assert be.ws_read_frame(rd) == (8, b"\x03\xe8")
        assert c.closed_by_peer(10)
    # the upgrade request reached the backend with its Upgrade and Connection fields
    q = r.backend.requests[0]
    assert q.first("Upgrade").lower() == "websocket"
    assert "upgrade" in q.first("Connection", "").lower()
    assert get(r.port, "/after", host="h.example").status == 200


def _pipe_fds(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("pipe:"):
                n += 1
        except OSError:
            pass
    return n


def test_websocket_tunnel_splices_both_ways(proxy, backend_factory):
    import base64
    r = simple(proxy, backend_factory)
    assert _pipe_fds(r.proc.pid) == 0
    with Client(r.port) as c:
        key = base64.b64encode(os.urandom(16)).decode()
        resp = c.request("GET", "/ws", host="h.example", headers=[
            ("X-Be-Mode", "ws"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")])
        assert resp.status == 101, resp

        def rd(n):
            out = []
            c._exact(n, out.append)
            return b"".join(out)

        for i, payload in enumerate([b"a", be.body(300000), b"b" * 126, be.body(1 << 20)]):
            c.send(be.ws_frame(2, payload, mask=os.urandom(4)))
            assert be.ws_read_frame(rd) == (2, payload)
        # both directions moved through pipes (two pipes, two fds each)
        assert _pipe_fds(r.proc.pid) >= 4
        c.send(b"".join(be.ws_frame(1, b"m%d" % i, mask=b"abcd") for i in range(200)))
        for i in range(200):
            assert be.ws_read_frame(rd) == (1, b"m%d" % i)
        c.send(be.ws_frame(8, b"\x03\xe8", mask=b"abcd"))
        assert be.ws_read_frame(rd) == (8, b"\x03\xe8")
        assert c.closed_by_peer(10)
    assert get(r.port, "/after", host="h.example").status == 200


def test_tunnel_splice_partial_drains_deliver_the_tail(proxy, backend_factory, capped_splice):
    # a 1 MiB frame each way with every splice drain partial: after 8 rounds the frame's tail
    # sits in the pipe and the sender waits for the echo; the pump must wait for the
    # destination (POLLOUT), not for more from the source (that deadlocked the tunnel)
    r = simple(proxy, backend_factory)
    with Client(r.port) as c:
        key = base64.b64encode(os.urandom(16)).decode()
        resp = c.request("GET", "/ws", host="h.example", headers=[
            ("X-Be-Mode", "ws"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")])
        assert resp.status == 101, resp

        def rd(n):
            out = []
            c._exact(n, out.append)
            return b"".join(out)

        for payload in [be.body(1 << 20), be.body(300001)]:
            c.send(be.ws_frame(2, payload, mask=os.urandom(4)))
            assert be.ws_read_frame(rd) == (2, payload)
        c.send(be.ws_frame(8, b"\x03\xe8", mask=b"abcd"))
        assert be.ws_read_frame(rd) == (8, b"\x03\xe8")
