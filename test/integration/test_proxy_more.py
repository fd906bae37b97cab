"""
Data-plane gaps closed after the first version: HTTP/1.0 clients and chunked responses,
client-disconnect detection while a response is awaited (long polls), 204/304 heads, and
tunnels that splice. Every wait is bounded; a test checks that something happens, not how
fast (the limits are generous multiples of what is expected).
"""
import os
import time

import pytest

import backend as be
from conftest import ProxySpec
from util.http import Client, build_request, get

pytestmark = pytest.mark.serving


def simple(proxy, backend_factory, workers=1, pool=None, **glob):
    b = backend_factory(name="be")
    spec = ProxySpec(workers=workers, **glob)
    port = spec.listener("l")
    spec.pool("p", [b], **(pool or {}))
    spec.route("r", pool="p")
    r = proxy(spec)
    r.port, r.backend = port, b
    return r


# ---- HTTP/1.0 clients ------------------------------------------------------------------

@pytest.mark.parametrize("size, step", [(0, 4096), (1, 4096), (10000, 1000), (300000, 7000)])
def test_http10_client_gets_chunked_response_dechunked(proxy, backend_factory, size, step):
    r = simple(proxy, backend_factory)
    with Client(r.port) as c:
        c.send(b"GET /ten HTTP/1.0\r\nHost: h.example\r\nX-Be-Mode: chunked\r\n"
               b"X-Be-Size: %d\r\nX-Be-Chunk: %d\r\n\r\n" % (size, step))
        resp = c.read_response()
        assert resp.status == 200, resp
        assert resp.header("Transfer-Encoding") is None, resp
        assert resp.header("Content-Length") is None, resp
        assert resp.header("Connection", "").lower() == "close", resp
        assert resp.framing == "close"
        assert resp.body == be.body(size)
    # same with keep-alive asked: a close-delimited body still ends the connection
    with Client(r.port) as c:
        c.send(b"GET /ten HTTP/1.0\r\nHost: h.example\r\nConnection: keep-alive\r\n"
               b"X-Be-Mode: chunked\r\nX-Be-Size: %d\r\nX-Be-Chunk: %d\r\n\r\n" % (size, step))
        resp = c.read_response()
        assert resp.framing == "close" and resp.body == be.body(size)


def test_http10_keepalive_with_content_length_keeps_connection(proxy, backend_factory):
    r = simple(proxy, backend_factory)
    with Client(r.port) as c:
        for i in range(3):
            c.send(b"GET /k%d HTTP/1.0\r\nHost: h.example\r\nConnection: keep-alive\r\n"
                   b"X-Be-Mode: fixed\r\nX-Be-Size: 100\r\n\r\n" % i)
            resp = c.read_response()
            assert resp.status == 200 and resp.body == be.body(100), resp
            assert resp.header("Connection", "").lower() == "keep-alive", resp
        assert not c.closed_by_peer(0.3)


# ---- client disconnect while the response is awaited -----------------------------------

def _wait(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_client_gone_while_waiting_closes_backend(proxy, backend_factory, how):
    import socket
    import struct
    r = simple(proxy, backend_factory, pool={"response_timeout": "120s"})
    c = Client(r.port)
    c.send(build_request("GET", "/ucwa/events", "h.example", [("X-Be-Mode", "silent")]))
    assert r.backend.wait_requests(1, 10) == 1
    assert r.backend.open_connections() == 1
    if how == "rst":
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    t0 = time.monotonic()
    c.close()
    # the long poll's backend connection goes away promptly, not at response_timeout (120 s)
    assert _wait(lambda: r.backend.open_connections() == 0, 20), \
        "backend still connected %.1f s after the client left" % (time.monotonic() - t0)
    # the proxy is still fine
    assert get(r.port, "/after", host="h.example").status == 200


def test_pipelined_request_while_waiting_is_kept(proxy, backend_factory):
    r = simple(proxy, backend_factory)
    with Client(r.port) as c:
        c.send(build_request("GET", "/first", "h.example",
                             [("X-Be-Mode", "slow"), ("X-Be-Delay", "0.5")]))
        assert r.backend.wait_requests(1, 10) == 1
        c.send(build_request("GET", "/second", "h.example"))
        time.sleep(0.1)
        c.send(build_request("GET", "/third", "h.example"))
        assert c.read_response().json()["target"] == "/first"
        assert c.read_response().json()["target"] == "/second"
        assert c.read_response().json()["target"] == "/third"
        assert not c.closed_by_peer(0.2)


def test_pipelined_request_then_fin(proxy, backend_factory):
    # A FIN counts as the client going away (nginx's rule; a half-closed HTTP/1.1 client is
    # indistinguishable from one that closed): the request already waiting when bytes came
    # first is answered, the connection then ends, and the backend is not kept waiting.
    import socket
    r = simple(proxy, backend_factory)
    with Client(r.port) as c:
        c.send(build_request("GET", "/first", "h.example",
                             [("X-Be-Mode", "slow"), ("X-Be-Delay", "0.5")]))
        assert r.backend.wait_requests(1, 10) == 1
        c.send(build_request("GET", "/second", "h.example",
                             [("X-Be-Mode", "silent")]))
        time.sleep(0.1)
        c.sock.shutdown(socket.SHUT_WR)
        assert c.read_response().json()["target"] == "/first"
        assert c.closed_by_peer(5)
    assert _wait(lambda: r.backend.open_connections() == 0, 20)


# ---- 204 / 304 -------------------------------------------------------------------------

def test_304_keeps_content_length_and_fields_no_body(proxy, backend_factory):
    r = simple(proxy, backend_factory)
    with Client(r.port) as c:
        for i in range(3):
            c.send(build_request("GET", "/nm%d" % i, "h.example", [
                ("X-Be-Mode", "fixed"), ("X-Be-Size", "1234"), ("X-Be-Status", "304"),
                ("X-Be-Header", 'ETag: "v1"'),
                ("X-Be-Header", "Cache-Control: max-age=60")]))
            resp = c.read_response()
            assert resp.status == 304, resp
            # the representation's length, passed through unmodified; never a body
            assert resp.all("Content-Length") == ["1234"], resp
            assert resp.header("ETag") == '"v1"', resp
            assert resp.header("Cache-Control") == "max-age=60", resp
            assert resp.header("Transfer-Encoding") is None, resp
        # nothing followed any 304 head: the next response parses right away
        assert c.request("GET", "/next", host="h.example").json()["target"] == "/next"
        assert c.buf == b""


def test_204_fields_kept_no_body(proxy, backend_factory):
    r = simple(proxy, backend_factory)
    with Client(r.port) as c:
        for mode in ("fixed", "chunked", "echo"):
            c.send(build_request("DELETE", "/x", "h.example", [
                ("X-Be-Mode", mode), ("X-Be-Status", "204"),
                ("X-Be-Header", "X-Request-Id: abc")]))
            resp = c.read_response()
            assert resp.status == 204, resp
            assert resp.header("X-Request-Id") == "abc", resp
            assert resp.header("Transfer-Encoding") is None, resp
            assert resp.header("Content-Length") is None, resp
        assert c.request("GET", "/next", host="h.example").json()["target"] == "/next"
        assert c.buf == b""


def test_head_content_length_passed_unmodified(proxy, backend_factory):
    r = simple(proxy, backend_factory)
    with Client(r.port) as c:
        resp = c.request("HEAD", "/h", host="h.example",
                         headers=[("X-Be-Mode", "fixed"), ("X-Be-Size", "777")])
        assert resp.status == 200 and resp.all("Content-Length") == ["777"], resp
        assert c.request("GET", "/next", host="h.example").json()["target"] == "/next"


# ---- tunnels splice ----------------------------------------------------------------------

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
