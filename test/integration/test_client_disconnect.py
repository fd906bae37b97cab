"""
The client side while a response is awaited (long polls): the proxy keeps reading the client,
so a client that leaves (FIN or RST) closes its backend connection at once, not at
response_timeout, and pipelined requests that arrive meanwhile are kept and answered in
order. Every wait is bounded; a test checks that something happens, not how fast.
"""
import time

import pytest

from conftest import simple
from util.http import Client, build_request, get

pytestmark = pytest.mark.serving


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
