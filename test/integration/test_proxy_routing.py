"""
Routing through the real proxy: every route of config/lync-edge.ini (on plain loopback
listeners, pools replaced by local backends) reaches its pool; Host and target arrive
byte-exact; vDirs match case-insensitively on whole segments; no route is 404; a redirect
route is a 301 to https://host + target; an absolute-form request target is routed by its
authority and the backend gets a Host matching it (origin-form keeps Host byte-exact), whatever
the lengths of authority and Host.
"""
import pytest

from conftest import ProxySpec
from util.http import Client, get
from util.lync import check_every_route, lync_topology, pool_of

pytestmark = pytest.mark.serving


@pytest.fixture
def lync(proxy, backend_factory):
    spec = ProxySpec(workers=2)
    ports, backends, routes = lync_topology(spec, backend_factory)
    r = proxy(spec)
    r.lync_ports, r.lync_backends, r.lync_routes = ports, backends, routes
    return r


def test_every_lync_route_reaches_its_pool(lync):
    n = check_every_route(lync, lambda _l, port, target, host: get(port, target, host=host))
    assert n >= 60


@pytest.mark.parametrize("vdir", ["/meet", "/dialin", "/autodiscover", "/abs",
                                  "/groupexpansion", "/ucwa", "/mcx", "/webticket", "/lwa",
                                  "/reach", "/scheduler", "/certprov", "/persistentchat"])
def test_lync_vdir_on_webext(lync, vdir):
    r = get(lync.lync_ports["external-https"], vdir + "/some/path", host="webext.contoso.com")
    assert r.status == 200 and pool_of(lync, r) == "webext"


def test_lync_unknown_vdir_is_404(lync):
    port = lync.lync_ports["external-https"]
    for target in ["/", "/nope", "/meetings", "/meetx/y", "/ucwa2"]:
        r = get(port, target, host="webext.contoso.com")
        assert r.status == 404, (target, r)
        assert r.header("X-Be-Name") is None
    # an unknown host on the TLS listener has no route either
    assert get(port, "/meet", host="unknown.contoso.com").status == 404
    assert sum(b.count for bs in lync.lync_backends.values() for b in bs) == 0


def test_lync_port80(lync):
    port = lync.lync_ports["external-http"]
    r = get(port, "/autodiscover/autodiscoverservice.svc/root?originalDomain=contoso.com",
            host="lyncdiscover.contoso.com")
    assert r.status == 200 and pool_of(lync, r) == "webext-http"
    # everything else on port 80 is redirected to https, byte-exact
    r = get(port, "/meet/Alice/ABC%2Fdef?x=%252F", host="meet.contoso.com")
    assert r.status == 301, r
    assert r.header("Location") == "https://meet.contoso.com/meet/Alice/ABC%2Fdef?x=%252F"


def test_owa_targets_byte_exact(lync):
    port = lync.lync_ports["external-https"]
    targets = [
        "/wv/wordviewerframe.aspx?WOPISrc=https%3A%2F%2Flync%2Fwopi%252Ffiles%252F1",
        "/x/%2F/%252F/%25252F",
        "/a//b/./c/../d",
        "/p;param=1/%7Euser/%E2%82%AC?q=%2f&r=a%20b+c",
        "/x?" + "a" * 3000,
    ]
    owas = [b.name for b in lync.lync_backends["owas"]]
    with Client(port) as c:
        for t in targets:
            r = c.request("GET", t, host="owa.contoso.com")
            assert r.status == 200 and r.header("X-Be-Name") in owas, (t, r)
            assert r.json()["target"] == t
    seen = [q.target for b in lync.lync_backends["owas"] for q in b.requests]
    assert sorted(seen) == sorted(t.encode() for t in targets)


def test_host_header_passes_unmodified(lync):
    port = lync.lync_ports["external-https"]
    for host in ["WebExt.Contoso.COM", "webext.contoso.com"]:
        r = get(port, "/ucwa/v1/applications", host=host)
        assert r.status == 200 and pool_of(lync, r) == "webext"
        hosts = [v for k, v in r.json()["headers"] if k.lower() == "host"]
        assert hosts == [host]


@pytest.fixture
def two_pools(proxy, backend_factory):
    a, b, c = (backend_factory(name=n) for n in ("meet", "root", "other"))
    spec = ProxySpec()
    port = spec.listener("l")
    spec.pool("pa", [a])
    spec.pool("pb", [b])
    spec.pool("pc", [c])
    spec.route("meet", host="h.example", path="/meet", pool="pa")
    spec.route("root", host="h.example", path="/", pool="pb")
    spec.route("wild", host="*.example", path="/", pool="pc")
    spec.route("redir", host="*", path="/", redirect="https")
    proxy(spec)
    return port


@pytest.mark.parametrize("target, want", [
    ("/meet", "meet"), ("/meet/", "meet"), ("/Meet/x", "meet"), ("/MEET", "meet"),
    ("/mEeT/a/b?c", "meet"), ("/meet?x=1", "meet"),
    ("/meetings", "root"), ("/meetx/y", "root"), ("/mee", "root"), ("/", "root"),
    ("/x/meet", "root"), ("/%6Deet/x", "root"),
])
def test_vdir_case_insensitive_whole_segment(two_pools, target, want):
    r = get(two_pools, target, host="h.example")
    assert r.status == 200 and r.header("X-Be-Name") == want, (target, r)
    assert r.json()["target"] == target


@pytest.mark.parametrize("host, want", [
    ("h.example", "root"), ("H.EXAMPLE", "root"), ("a.example", "other"),
    ("deep.a.example", "other"),
])
def test_host_exact_then_wildcard(two_pools, host, want):
    r = get(two_pools, "/x", host=host)
    assert r.status == 200 and r.header("X-Be-Name") == want, (host, r)


def test_redirect_https(two_pools):
    r = get(two_pools, "/a/%2F/b?c=%252F&d", host="other.test")
    assert r.status == 301, r
    assert r.header("Location") == "https://other.test/a/%2F/b?c=%252F&d"
    # keep-alive survives a redirect
    with Client(two_pools) as c:
        assert c.request("GET", "/r1", host="x.test").status == 301
        r = c.request("GET", "/meet/1", host="h.example")
        assert r.status == 200 and r.header("X-Be-Name") == "meet"


def test_no_route_404_keeps_connection(proxy, backend_factory):
    b = backend_factory()
    spec = ProxySpec()
    port = spec.listener("l")
    spec.pool("p", [b])
    spec.route("only", host="known.example", path="/app", pool="p")
    proxy(spec)
    with Client(port) as c:
        r = c.request("GET", "/app/1", host="other.example")
        assert r.status == 404
        r = c.request("GET", "/other", host="known.example")
        assert r.status == 404
        r = c.request("GET", "/app/2", host="known.example")
        assert r.status == 200 and r.json()["target"] == "/app/2"
    assert [q.target for q in b.requests] == [b"/app/2"]


def test_absolute_form_routes_by_authority_and_sends_matching_host(proxy, backend_factory):
    a = backend_factory(name="a")
    b = backend_factory(name="b")
    spec = ProxySpec(workers=1)
    port = spec.listener("l")
    spec.pool("A", [a])
    spec.pool("B", [b])
    spec.route("ra", host="a.example", pool="A")
    spec.route("rb", host="b.example", pool="B")
    r = proxy(spec)
    with Client(port) as c:
        resp = c.request("GET", "http://b.example/x?y=%2F", "a.example")
        assert resp.status == 200 and resp.header("X-Be-Name") == "b"
        j = resp.json()
        assert [h for h in j["headers"] if h[0].lower() == "host"] == [["Host", "b.example"]]
        assert j["target"] == "http://b.example/x?y=%2F"
        # origin-form: Host passes byte-exact, whatever its case and port
        resp = c.request("GET", "/x", "A.Example:80")
        assert resp.header("X-Be-Name") == "a"
        assert [h for h in resp.json()["headers"] if h[0].lower() == "host"] == \
            [["Host", "A.Example:80"]]
    assert r.alive()


def test_absolute_form_long_authority_short_host(proxy, backend_factory):
    # the rewritten head carries the authority twice (target and Host) while the client sent
    # a one-byte Host: its buffer must be sized for that (was a heap overflow, seen by ASan)
    b = backend_factory(name="b")
    spec = ProxySpec(workers=1)
    port = spec.listener("l")
    spec.pool("p", [b], forwarded_for="on")
    spec.route("r", pool="p")
    r = proxy(spec)
    name = "a" * 8000 + ".example"
    with Client(port, timeout=10) as c:
        resp = c.request("GET", "http://%s/x" % name, "h")
        assert resp.status == 200
        j = resp.json()
        assert [h for h in j["headers"] if h[0].lower() == "host"] == [["Host", name]]
        assert [h[1] for h in j["headers"] if h[0].lower() == "x-forwarded-for"] == \
            ["127.0.0.1"]
        assert c.request("GET", "/after", "h").status == 200
    assert r.alive()
