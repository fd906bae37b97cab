"""
The auth guard's and the client limits' /metrics series (issue 12, docs/operations.md): real
failures against the real NTLM backend (ntlm_backend.py, Basic verified by gss-ntlmssp) move
attempts/failures/local answers by route and kind, locks taken and held by scope, log_only's
would-block count, 429s and refused connections by listener, by exactly what was sent; they
read 0 (or are absent for a route without the guard) before. A locally answered HEAD (locked
user, 429) carries the GET's Content-Length and no body, and the connection keeps serving.
Every loop is bounded in count.
"""
import base64
import json
import socket
import time

import pytest

import test_auth_backend as ab
import test_auth_guard as tag
from conftest import ProxySpec
from util import harness, prom
from util.http import get

pytestmark = pytest.mark.serving

FLOOR = 0.2


@pytest.fixture
def ntlm_be(tmp_path):
    b = ab.NtlmBackend(tmp_path, threshold=100)
    yield b
    b.stop()


def edge(proxy, be):
    spec = ProxySpec(workers=2)
    spec.listener("l")
    spec.listener("lim", client_max_connections=1, client_request_rate=1,
                  client_request_burst=2)
    spec.pool("iis", [be.port])
    spec.route("lo", path="/lo/", pool="iis", auth_guard="log_only")
    spec.route("open", path="/open/", pool="iis")
    spec.route("all", path="/", pool="iis", auth_guard="on")
    spec.section("auth_guard", min_answer_time="%dms" % int(FLOOR * 1000),
                 default_domain="contoso", user_failures=3)
    spec.admin()
    r = proxy(spec)
    r.l, r.lim, r.admin = spec.ports["l"], spec.ports["lim"], spec.admin_port
    return r


def scrape(r):
    resp = get(r.admin, "/metrics")
    assert resp.status == 200
    return prom.parse(resp.body.decode("utf-8"))


def conn(port, src):
    return socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(src, 0))


def read_head(s, buf=b""):
    """(status, content-length, bytes after the head) of one response head read from s."""
    deadline = time.monotonic() + 10
    while b"\r\n\r\n" not in buf:
        assert time.monotonic() < deadline
        b = s.recv(65536)
        assert b, "connection closed before a response head: %r" % buf
        buf += b
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    cl = [int(ln.split(":", 1)[1]) for ln in lines if ln.lower().startswith("content-length:")]
    return int(lines[0].split(" ", 2)[1]), (cl[0] if cl else None), rest, head


def read_response(s):
    st, cl, rest, head = read_head(s)
    while len(rest) < (cl or 0):
        b = s.recv(65536)
        assert b
        rest += b
    assert len(rest) == (cl or 0), rest
    return st, head


def no_more_bytes(s, wait=0.4):
    s.settimeout(wait)
    try:
        b = s.recv(65536)
    except socket.timeout:
        return True
    finally:
        s.settimeout(10)
    return b == b""   # closed: no body bytes either (the keep-alive check follows)


def authz(user, pw):
    return "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()


def req(method, path, auth=None):
    h = "Authorization: %s\r\n" % auth if auth else ""
    return ("%s %s HTTP/1.1\r\nHost: lync.contoso.com\r\n%s\r\n" % (method, path, h)).encode()


def basic(r, user, pw, path="/abs/", src="127.0.0.5"):
    s = conn(r.l, src)
    try:
        s.sendall(req("GET", path, authz(user, pw)))
        return read_response(s)[0]
    finally:
        s.close()


def test_guard_and_limit_metrics_move_exactly(proxy, ntlm_be):
    r = edge(proxy, ntlm_be)
    m = scrape(r)
    v = lambda n, **kw: prom.value(m, n, **kw)  # noqa: E731
    for name in ("attempts", "failures", "local_answers", "would_block"):
        for route in ("all", "lo"):
            for kind in ("ntlm", "basic", "oauthtoken", "webticket"):
                assert v("ringedge_auth_guard_%s_total" % name, route=route, kind=kind) == 0
        # a route without the guard has no series
        with pytest.raises(KeyError):
            v("ringedge_auth_guard_%s_total" % name, route="open")
    for scope in ("user", "address", "user_address"):
        assert v("ringedge_auth_guard_locks_total", scope=scope) == 0
        assert v("ringedge_auth_guard_active_locks", scope=scope) == 0
    for p in ("l", "lim"):
        assert v("ringedge_frontend_rate_limited_requests_total", proxy=p) == 0
        assert v("ringedge_frontend_limited_connections_total", proxy=p) == 0

    # 3 real Basic failures of bob on route "all": the third locks the user
    assert [basic(r, "CONTOSO\\bob", "guess%d" % i) for i in range(3)] == [401] * 3
    # 2 more are answered by ringedge; the backend does not see them
    before = ntlm_be.stats()["requests"]
    assert [basic(r, "CONTOSO\\bob", "guess%d" % i) for i in range(3, 5)] == [401] * 2
    assert ntlm_be.stats()["requests"] == before + 1   # (GET /stats counts itself)
    m = scrape(r)
    assert v("ringedge_auth_guard_attempts_total", route="all", kind="basic") == 5
    assert v("ringedge_auth_guard_failures_total", route="all", kind="basic") == 3
    assert v("ringedge_auth_guard_local_answers_total", route="all", kind="basic") == 2
    assert v("ringedge_auth_guard_would_block_total", route="all", kind="basic") == 0
    assert v("ringedge_auth_guard_attempts_total", route="all", kind="ntlm") == 0
    assert v("ringedge_auth_guard_locks_total", scope="user") == 1
    assert v("ringedge_auth_guard_active_locks", scope="user") == 1
    assert v("ringedge_auth_guard_active_locks", scope="address") == 0

    # a HEAD attempt of the locked user: the GET's head, no body, the connection goes on
    s = conn(r.l, "127.0.0.5")
    s.sendall(req("GET", "/abs/", authz("CONTOSO\\bob", "guess9")))
    st, get_head = read_response(s)
    assert st == 401
    s.sendall(req("HEAD", "/abs/", authz("CONTOSO\\bob", "guess10")))
    st, cl, rest, head = read_head(s)
    assert st == 401 and cl and cl > 0 and rest == b"", (st, cl, rest)
    assert head == get_head
    assert no_more_bytes(s)
    s.sendall(req("GET", "/abs/"))   # no credentials: forwarded, the backend's challenge
    st, _ = read_response(s)
    assert st == 401
    s.close()
    m = scrape(r)
    assert v("ringedge_auth_guard_attempts_total", route="all", kind="basic") == 7
    assert v("ringedge_auth_guard_local_answers_total", route="all", kind="basic") == 4
    assert v("ringedge_auth_guard_failures_total", route="all", kind="basic") == 3

    # a locked attempt with a request body left unread closes: the body is never taken for
    # the next request (here a whole request hidden in it)
    s = conn(r.l, "127.0.0.5")
    hidden = b"GET /hidden HTTP/1.1\r\nHost: lync.contoso.com\r\n\r\n"
    s.sendall(req("GET", "/abs/", authz("CONTOSO\\bob", "guess11")).replace(
        b"\r\n\r\n", b"\r\nContent-Length: %d\r\n\r\n" % len(hidden)) + hidden)
    st, cl, rest, head = read_head(s)
    assert st == 401 and b"Connection: close" in head
    assert len(rest) <= cl
    while len(rest) < cl:
        b = s.recv(65536)
        assert b
        rest += b
    s.settimeout(5)
    assert s.recv(65536) == b"", "a second response: the body was read as a request"
    s.close()
    m = scrape(r)
    assert v("ringedge_auth_guard_local_answers_total", route="all", kind="basic") == 5
    assert v("ringedge_auth_guard_attempts_total", route="all", kind="basic") == 8

    # one real failure of each other kind (curl --ntlm: only its type 3 is an attempt)
    assert ab.curl_ntlm(r.l, "CONTOSO\\erin", "bad") == 401
    assert tag.oauth(r.l, "frank@contoso.com", "bad", "127.0.0.20")[0] == 400
    assert tag.webticket(r.l, "CONTOSO\\gina", "bad", "127.0.0.21")[0] == 500
    m = scrape(r)
    for kind in ("ntlm", "oauthtoken", "webticket"):
        assert v("ringedge_auth_guard_attempts_total", route="all", kind=kind) == 1, kind
        assert v("ringedge_auth_guard_failures_total", route="all", kind=kind) == 1, kind
        assert v("ringedge_auth_guard_local_answers_total", route="all", kind=kind) == 0, kind

    # log_only on route "lo": dave's 4th and 5th attempts would have been answered here
    assert [basic(r, "CONTOSO\\dave", "g%d" % i, "/lo/x", "127.0.0.6")
            for i in range(5)] == [401] * 5
    m = scrape(r)
    assert v("ringedge_auth_guard_attempts_total", route="lo", kind="basic") == 5
    assert v("ringedge_auth_guard_failures_total", route="lo", kind="basic") == 5
    assert v("ringedge_auth_guard_would_block_total", route="lo", kind="basic") == 2
    assert v("ringedge_auth_guard_local_answers_total", route="lo", kind="basic") == 0
    assert v("ringedge_auth_guard_attempts_total", route="all", kind="basic") == 8
    assert v("ringedge_auth_guard_locks_total", scope="user") == 2
    assert v("ringedge_auth_guard_active_locks", scope="user") == 2

    # the status page shows the same figures per route
    resp = get(r.admin, "/status.json")
    assert resp.status == 200
    routes = {x["name"]: x for x in json.loads(resp.body)["routes"]}
    assert routes["all"]["auth_guard"] == "on" and routes["lo"]["auth_guard"] == "log_only"
    a = routes["all"]
    assert (a["guard_attempts"], a["guard_failures"], a["guard_local_answers"],
            a["guard_would_block"]) == (11, 6, 5, 0)   # all kinds
    assert (routes["lo"]["guard_attempts"], routes["lo"]["guard_would_block"]) == (5, 2)
    assert routes["open"]["auth_guard"] == "off" and "guard_attempts" not in routes["open"]
    page = get(r.admin, "/status").body.decode()
    assert "<th>answered here</th>" in page

    # client limits on listener "lim": HEAD requests over the rate get a bodiless 429 and
    # the connection keeps serving
    s = conn(r.lim, "127.0.0.11")
    got = []
    for _ in range(5):
        s.sendall(req("HEAD", "/open/x"))
        st, cl, rest, _ = read_head(s)
        got.append(st)
        if st == 429:
            assert rest == b"" and cl and cl > 0, (cl, rest)
            assert no_more_bytes(s, 0.1)
        else:
            assert rest == b""
    assert 429 in got, got
    s.sendall(req("HEAD", "/open/x"))   # still usable (429 or the backend's answer)
    got.append(read_head(s)[0])
    assert got[-1] in (401, 429)
    # a second connection from the same address is over client_max_connections (1)
    s2 = conn(r.lim, "127.0.0.11")
    s2.settimeout(5)
    try:
        s2.sendall(req("GET", "/open/x"))
        refused = s2.recv(65536) == b""
    except OSError:
        refused = True
    s2.close()
    assert refused
    s.close()
    m = scrape(r)
    assert v("ringedge_frontend_rate_limited_requests_total", proxy="lim") == got.count(429)
    assert v("ringedge_frontend_limited_connections_total", proxy="lim") == 1
    assert v("ringedge_frontend_rate_limited_requests_total", proxy="l") == 0
    assert v("ringedge_frontend_limited_connections_total", proxy="l") == 0


def test_route_request_rate(proxy, backend_factory):
    """client_request_rate on a route: its own bucket per client address; other routes and
    the listener's exempt networks are not limited; 429s are counted on the listener."""
    b = backend_factory(name="fe")
    spec = ProxySpec(workers=2)
    spec.listener("l", client_limits_exempt="127.0.0.14/32")
    spec.pool("fe", [b.port])
    spec.route("slow", path="/slow/", pool="fe", client_request_rate=1, client_request_burst=2)
    spec.route("all", path="/", pool="fe")
    spec.admin_port = harness.free_port()
    spec.section("admin", listen="127.0.0.1:%d" % spec.admin_port)
    r = proxy(spec)
    r.admin = spec.admin_port
    port = spec.ports["l"]

    def run(src, path, n, method="GET"):
        s = conn(port, src)
        out = []
        try:
            for _ in range(n):
                s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\n\r\n" % (method, path)).encode())
                if method == "HEAD":
                    st, cl, rest, head = read_head(s)
                    assert rest == b"" and no_more_bytes(s, 0.05)
                else:
                    st, head = read_response(s)
                out.append((st, b"Retry-After: 1" in head))
        finally:
            s.close()
        return out

    slow = run("127.0.0.13", "/slow/a", 6)
    assert slow[:2] == [(200, False)] * 2, slow
    assert (429, True) in slow and all(st in (200, 429) for st, _ in slow), slow
    assert sum(1 for st, _ in slow if st == 200) <= 2 + 1, slow   # + a refill, if slow
    # the other route, same address, is not limited; nor is the exempt network on "slow"
    assert run("127.0.0.13", "/other", 6) == [(200, False)] * 6
    assert run("127.0.0.14", "/slow/b", 6) == [(200, False)] * 6
    # HEAD over the route's rate: a 429 head without its body, the connection goes on
    head = run("127.0.0.15", "/slow/c", 5, "HEAD")
    assert (429, True) in head, head
    m = scrape(r)
    n429 = sum(1 for st, _ in slow + head if st == 429)
    assert prom.value(m, "ringedge_frontend_rate_limited_requests_total", proxy="l") == n429


def test_auth_scheme_refused_counted_by_route(proxy, backend_factory):
    """A request whose Authorization scheme is not in the route's auth_schemes is answered
    401 by ringedge (the guard may be off): counted by route, exactly; requests without the
    header or with an allowed scheme pass and are not counted; a route that allows any
    scheme has no series."""
    b = backend_factory(name="fe")
    spec = ProxySpec()
    spec.listener("l")
    spec.pool("fe", [b.port])
    spec.route("neg", path="/neg/", pool="fe", auth_schemes="negotiate")
    spec.route("all", path="/", pool="fe")
    spec.admin()
    r = proxy(spec)
    r.admin = spec.admin_port
    port = spec.ports["l"]
    v = lambda m, **kw: prom.value(m, "ringedge_auth_scheme_refused_total", **kw)  # noqa: E731
    m = scrape(r)
    assert v(m, route="neg") == 0
    with pytest.raises(KeyError):
        v(m, route="all")

    def status(path, authz=None):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            h = "Authorization: %s\r\n" % authz if authz else ""
            s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n"
                       % (path, h)).encode())
            return read_response(s)[0]
        finally:
            s.close()

    basic = "Basic " + base64.b64encode(b"CONTOSO\\alice:guess").decode()
    assert [status("/neg/a", basic) for _ in range(3)] == [401] * 3
    assert status("/neg/b", "NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==") == 401
    assert status("/neg/c", "Bearer abc") == 401
    assert status("/neg/d") == 200 and status("/neg/e", "Negotiate YIIB") == 200
    assert status("/other", basic) == 200
    m = scrape(r)
    assert v(m, route="neg") == 5
    with pytest.raises(KeyError):
        v(m, route="all")
