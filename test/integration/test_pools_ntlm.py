"""
Connection-oriented authentication (NTLM/Negotiate) through a pooling proxy: once a client
connection uses it, its backend connection is private to it (not pooled, not shared, closed
with it) and its next requests go to that same backend connection. Lync sign-in depends on it.

The backend plays an NTLM server: leg 1 (no credentials) -> 401 `WWW-Authenticate: NTLM`;
leg 2 (`Authorization: NTLM <type1-of-X>`) -> 401 with a challenge remembered on that
backend connection; leg 3 (`NTLM <type3-of-X>`) -> 200 only on the connection that issued
X's challenge. Requests without credentials on a connection in the middle of someone's
handshake are recorded as errors (a pooled connection leaked to another client).
"""
import threading

import pytest

from conftest import ProxySpec
from util.http import Client
from util.pools import server_of

pytestmark = pytest.mark.serving


class NtlmServer:
    def __init__(self):
        self.lock = threading.Lock()
        self.state = {}        # (server, backend conn id) -> client tag whose challenge it holds
        self.leaks = []
        self.closed = []

    def handler(self, b, conn, req):
        auth = req.first("authorization") or ""
        key = (b.name, conn.id)
        tag = req.first("x-client") or ""
        with self.lock:
            owner = self.state.get(key)
        if owner is not None and owner != tag:
            self.leaks.append((key, owner, tag, req.target.decode()))
        if auth.startswith("NTLM type1-"):
            with self.lock:
                self.state[key] = auth[len("NTLM type1-"):]
            self.answer(b, conn, 401, [("WWW-Authenticate", "NTLM challenge-%d" % conn.id)])
        elif auth.startswith("NTLM type3-"):
            ok = owner == auth[len("NTLM type3-"):]
            self.answer(b, conn, 200 if ok else 401,
                        [] if ok else [("WWW-Authenticate", "NTLM")])
        elif auth == "":
            self.answer(b, conn, 401 if owner is None else 200,
                        [("WWW-Authenticate", "NTLM")] if owner is None else [])
        return True

    @staticmethod
    def answer(b, conn, status, fields):
        data = b"%d %s\n" % (status, b.name.encode())
        reason = "Unauthorized" if status == 401 else None
        conn.send(b.head(status, fields + [("Content-Length", len(data))], reason) + data)


def test_ntlm_three_legs_pinned_with_interleaved_clients(proxy, backend_factory):
    srv = NtlmServer()
    bs = [backend_factory(name="n%d" % i, handler=srv.handler) for i in range(3)]
    spec = ProxySpec(workers=1)        # one worker: every client shares one keep-alive pool
    port = spec.listener("l")
    spec.pool("p", bs, keepalive=8)
    spec.route("r", pool="p")
    proxy(spec)

    a, b_, plain = Client(port), Client(port), Client(port)
    try:
        def leg(c, tag, auth):
            hdrs = [("X-Client", tag)] + ([("Authorization", auth)] if auth else [])
            r = c.request("GET", "/ucwa/%s" % tag, "lync.example", hdrs)
            return r

        def noise():
            # plain traffic in between: must never land on a connection in a handshake
            for i in range(3):
                r = plain.request("GET", "/plain/%d" % i, "lync.example",
                                  [("X-Client", "plain"), ("Connection", "keep-alive")])
                assert r.status in (200, 401)

        # leg 1: anonymous -> 401 NTLM (this response alone pins the backend connection)
        ra, rb = leg(a, "A", None), leg(b_, "B", None)
        assert ra.status == 401 and ra.header("WWW-Authenticate") == "NTLM"
        assert rb.status == 401
        noise()
        # leg 2: negotiate -> challenge
        ra, rb = leg(a, "A", "NTLM type1-A"), leg(b_, "B", "NTLM type1-B")
        assert ra.status == 401 and ra.header("WWW-Authenticate").startswith("NTLM challenge-")
        assert rb.status == 401 and rb.header("WWW-Authenticate").startswith("NTLM challenge-")
        sa, sb = server_of(ra), server_of(rb)
        noise()
        # leg 3: authenticate on the same backend connection -> 200
        ra, rb = leg(a, "A", "NTLM type3-A"), leg(b_, "B", "NTLM type3-B")
        assert ra.status == 200 and server_of(ra) == sa
        assert rb.status == 200 and server_of(rb) == sb
        noise()
        # authenticated: later requests stay on that connection (the server would ask again)
        for i in range(5):
            ra, rb = leg(a, "A", None), leg(b_, "B", None)
            assert ra.status == 200 and server_of(ra) == sa
            assert rb.status == 200 and server_of(rb) == sb
        assert srv.leaks == [], srv.leaks
        # a private connection closes with its client
        before = sum(x.open_connections() for x in bs)
        a.close()
        import time
        deadline = time.monotonic() + 5
        while sum(x.open_connections() for x in bs) >= before and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sum(x.open_connections() for x in bs) == before - 1
        rb = leg(b_, "B", None)
        assert rb.status == 200 and server_of(rb) == sb
    finally:
        for c in (a, b_, plain):
            c.close()
    assert srv.leaks == [], srv.leaks


def three_servers(proxy, backend_factory, prefix):
    """One worker (one keep-alive pool), one round-robin pool of three echo servers named
    PREFIX0..2; returns the listener's port."""
    bs = [backend_factory(name="%s%d" % (prefix, i)) for i in range(3)]
    spec = ProxySpec(workers=1)
    port = spec.listener("l")
    spec.pool("p", bs)
    spec.route("r", pool="p")
    proxy(spec)
    return port


def test_negotiate_request_pins(proxy, backend_factory):
    """`Authorization: Negotiate` in a request pins too (Kerberos via SPNEGO)."""
    port = three_servers(proxy, backend_factory, "g")
    with Client(port) as c:
        r = c.request("GET", "/", "h.example", [("Authorization", "Negotiate YIIabc")])
        first, conn = server_of(r), r.json()["conn"]
        for i in range(6):
            r = c.request("GET", "/%d" % i, "h.example")
            assert (server_of(r), r.json()["conn"]) == (first, conn)
    # without it, the same pattern is balanced over the servers
    with Client(port) as c:
        seen = {server_of(c.request("GET", "/%d" % i, "h.example")) for i in range(6)}
    assert len(seen) == 3


@pytest.mark.parametrize("challenges", ["Negotiate, NTLM", "Basic realm=\"a, NTLM\", Negotiate",
                                        "NTLM,Negotiate", "Negotiate\tabc"])
def test_challenges_in_one_field_pin(proxy, backend_factory, challenges):
    """A 401 whose one WWW-Authenticate field lists several challenges (RFC 9110 11.6.1)
    pins like separate field lines; a scheme name inside a quoted auth-param does not count
    (checked by the control case below)."""
    port = three_servers(proxy, backend_factory, "w")
    with Client(port) as c:
        r = c.request("GET", "/", "h.example", [("X-Be-Status", "401"),
                                                ("X-Be-Header", "WWW-Authenticate: " + challenges)])
        assert r.status == 401 and r.header("WWW-Authenticate") == challenges
        first, conn = server_of(r), r.json()["conn"]
        for i in range(6):
            r = c.request("GET", "/%d" % i, "h.example")
            assert (server_of(r), r.json()["conn"]) == (first, conn), i


def test_scheme_name_in_a_quoted_param_does_not_pin(proxy, backend_factory):
    port = three_servers(proxy, backend_factory, "q")
    with Client(port) as c:
        r = c.request("GET", "/", "h.example", [("X-Be-Status", "401"), (
            "X-Be-Header", 'WWW-Authenticate: Basic realm="NTLM, Negotiate"')])
        assert r.status == 401
        seen = {server_of(c.request("GET", "/%d" % i, "h.example")) for i in range(6)}
    assert len(seen) == 3
