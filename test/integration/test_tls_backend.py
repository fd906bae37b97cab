"""
TLS to the backends and TLS bridging (docs/tls.md, "Backend side"): pools with tls = on
against Python ssl backends. Verification by CA and name (502 with the reason in the error
log otherwise), verify = off with its start-up warning, sessions resumed and keep-alive
connections reused, byte-exactness and 100 MB bodies through TLS on both sides, and the
Lync routes over a TLS listener to TLS pools (443 -> 4443).
"""
import hashlib
import time

import pytest

import backend as be
from conftest import ProxySpec
from util.http import Client, get, sha256_sink
from util.lync import check_every_route, lync_topology, pool_of
from util.tls import TlsBackend, TlsClient, make_pki, tls_get, tls_listener

pytestmark = pytest.mark.serving


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_backend_factory(pki):
    made = []

    def make(cert=None, key=None, **kw):
        b = TlsBackend(cert or pki.be, key or pki.be_key, **kw).start()
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop()


def plain_to_tls(proxy, pki, backend, workers=1, **pool):
    spec = ProxySpec(workers=workers)
    port = spec.listener("l")
    pool.setdefault("tls", "on")
    pool.setdefault("ca", pki.ca)
    pool.setdefault("sni", "backend.contoso.local")
    spec.pool("p", [backend], **{k: v for k, v in pool.items() if v is not None})
    spec.route("all", pool="p")
    r = proxy(spec)
    r.port = port
    return r


def wait_log(r, text, timeout=20):
    deadline = time.monotonic() + timeout
    while text not in r.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    return text in r.stderr()


def test_backend_tls_trusted_ca(proxy, pki, tls_backend_factory):
    b = tls_backend_factory(name="fe")
    r = plain_to_tls(proxy, pki, b)
    resp = get(r.port, "/meet/x?a=%2F", host="meet.contoso.com")
    assert resp.status == 200 and resp.header("X-Be-Name") == "fe"
    assert resp.json()["target"] == "/meet/x?a=%2F"
    assert b.handshakes == 1 and not b.tls_errors


def test_backend_name_from_server_host(proxy, pki, tls_backend_factory):
    # no sni: the server's host name is sent and verified (the leaf has localhost)
    b = tls_backend_factory(name="fe")
    spec = ProxySpec()
    port = spec.listener("l")
    spec.pool("p", ["localhost:%d" % b.port], tls="on", ca=pki.ca)
    spec.route("all", pool="p")
    proxy(spec)
    assert get(port, "/", host="x").status == 200


@pytest.mark.parametrize("case, why", [
    ("untrusted", "certificate verify failed: unknown issuer"),
    ("wrong name", "certificate verify failed: name mismatch"),
])
def test_backend_verification_failure_is_502(proxy, pki, tls_backend_factory, case, why):
    if case == "untrusted":
        b = tls_backend_factory(cert=pki.evil, key=pki.evil_key, name="fe")
        r = plain_to_tls(proxy, pki, b)
    else:
        b = tls_backend_factory(name="fe")
        r = plain_to_tls(proxy, pki, b, sni="fe99.contoso.local")
    resp = get(r.port, "/x", host="meet.contoso.com")
    assert resp.status == 502 and resp.header("X-Be-Name") is None
    assert wait_log(r, why), r.stderr()[-2000:]
    line = [ln for ln in r.stderr().split("\n") if why in ln][0]
    assert "127.0.0.1:%d (pool p): TLS handshake failed" % b.port in line, line
    assert b.count == 0
    # nothing else is affected: the client connection stays usable for a good pool later
    resp = get(r.port, "/y", host="meet.contoso.com")
    assert resp.status == 502


def test_backend_handshake_failure_counts_as_a_failure(proxy, pki, tls_backend_factory):
    """A failed TLS handshake is a passive failure like a refused connect: the request goes
    to the next server, and with max_fails = 1 the bad server is left alone afterwards."""
    bad = tls_backend_factory(cert=pki.evil, key=pki.evil_key, name="bad")
    good = tls_backend_factory(name="good")
    spec = ProxySpec(workers=1)
    port = spec.listener("l")
    spec.pool("p", [bad, good], tls="on", ca=pki.ca, sni="backend.contoso.local",
              max_fails=1, fail_timeout="60s")
    spec.route("all", pool="p")
    r = proxy(spec)
    for i in range(6):
        resp = get(port, "/x%d" % i, host="meet.contoso.com")
        assert resp.status == 200 and resp.header("X-Be-Name") == "good", i
    assert wait_log(r, "is DOWN"), r.stderr()[-2000:]
    down = [ln for ln in r.stderr().split("\n") if "is DOWN" in ln][0]
    assert "127.0.0.1:%d" % bad.port in down and "TLS handshake failed" in down, down
    assert len(bad.tls_errors) == 1 and bad.count == 0, bad.tls_errors


def test_backend_verify_off(proxy, pki, tls_backend_factory):
    b = tls_backend_factory(cert=pki.evil, key=pki.evil_key, name="fe")
    r = plain_to_tls(proxy, pki, b, verify="off", ca=None, sni=None)
    assert get(r.port, "/x", host="meet.contoso.com").status == 200
    assert "[pool p]" in r.stderr() and "verify = off" in r.stderr()
    assert "are NOT checked" in r.stderr()


def test_backend_keepalive_and_resumption(proxy, pki, tls_backend_factory):
    b = tls_backend_factory(name="fe")
    r = plain_to_tls(proxy, pki, b)
    # steady traffic: one backend connection, one handshake, whatever the client does
    for i in range(20):
        assert get(r.port, "/k%d" % i, host="meet.contoso.com").status == 200
    with Client(r.port) as c:
        for i in range(20):
            assert c.request("GET", "/c%d" % i, host="meet.contoso.com").status == 200
    assert b.handshakes == 1, (b.handshakes, b.nconns)
    # the backend closes after each answer: new connections resume the worker's session
    for i in range(6):
        resp = get(r.port, "/close%d" % i, host="meet.contoso.com",
                   headers=[("X-Be-Mode", "close"), ("X-Be-Size", "1000")])
        assert resp.status == 200 and resp.body_len == 1000
        time.sleep(0.05)
    assert b.handshakes >= 6
    assert b.resumed >= b.handshakes - 2, (b.handshakes, b.resumed)


def tls_both(proxy, pki, tls_backend_factory, workers=1, **lkv):
    b = tls_backend_factory(name="fe")
    spec = ProxySpec(workers=workers)
    port = tls_listener(spec, "s", [(pki.lync, pki.lync_key), (pki.wild, pki.wild_key)], **lkv)
    spec.pool("p", [b], tls="on", ca=pki.ca, sni="webext-int.contoso.local")
    spec.route("all", pool="p")
    r = proxy(spec)
    r.port, r.backend = port, b
    return r


def test_host_and_target_byte_exact_tls_both_sides(proxy, pki, tls_backend_factory):
    r = tls_both(proxy, pki, tls_backend_factory)
    targets = ["/wv/wordviewerframe.aspx?WOPISrc=https%3A%2F%2Flync%2Fwopi%252Ffiles%252F1",
               "/x/%2F/%252F/%25252F", "/a//b/./c/../d", "/p;q=1/%7Eu/%E2%82%AC?q=%2f&r=a%20b+c",
               "/x?" + "a" * 3000]
    with TlsClient(r.port, "owa.contoso.com", pki.ca) as c:
        for t in targets:
            for host in ["owa.contoso.com", "OWA.Contoso.Com", "owa.contoso.com:443"]:
                resp = c.request("GET", t, host=host)
                assert resp.status == 200, (t, host, resp)
                j = resp.json()
                assert j["target"] == t
                assert [h for h in j["headers"] if h[0].lower() == "host"] == [["Host", host]]
    got = [q.head.split(b"\r\n")[0] for q in r.backend.requests]
    assert got == [b"GET %s HTTP/1.1" % t.encode() for t in targets for _ in range(3)]
    assert r.backend.handshakes == 1


def test_100mb_through_tls_both_sides(proxy, pki, tls_backend_factory):
    r = tls_both(proxy, pki, tls_backend_factory)
    n = 100 * 1024 * 1024
    with TlsClient(r.port, "meet.contoso.com", pki.ca, timeout=120) as c:
        h, sink = sha256_sink()
        resp = c.request("GET", "/download", host="meet.contoso.com", sink=sink,
                         headers=[("X-Be-Mode", "fixed"), ("X-Be-Size", str(n))])
        assert resp.status == 200 and resp.body_len == n
        assert h.hexdigest() == be.body_sha256(n)
        # upload on the same connection
        up = be.body(n)
        resp = c.request("POST", "/upload", host="meet.contoso.com", body=up)
        assert resp.status == 200
        j = resp.json()
        assert j["body_len"] == n and j["body_sha256"] == hashlib.sha256(up).hexdigest()
        # a chunked download too
        h, sink = sha256_sink()
        resp = c.request("GET", "/chunked", host="meet.contoso.com", sink=sink,
                         headers=[("X-Be-Mode", "chunked"), ("X-Be-Size", str(n // 10)),
                                  ("X-Be-Chunk", "65536")])
        assert resp.status == 200 and h.hexdigest() == be.body_sha256(n // 10)


def test_tls_front_plain_back_large_body(proxy, pki, backend_factory):
    # TLS in front of a plain pool: no splice on the TLS leg, bytes intact
    b = backend_factory(name="plain")
    spec = ProxySpec()
    port = tls_listener(spec, "s", [(pki.lync, pki.lync_key)])
    spec.pool("p", [b])
    spec.route("all", pool="p")
    proxy(spec)
    n = 20 * 1024 * 1024
    with TlsClient(port, "meet.contoso.com", pki.ca, timeout=60) as c:
        h, sink = sha256_sink()
        resp = c.request("GET", "/d", host="meet.contoso.com", sink=sink,
                         headers=[("X-Be-Mode", "fixed"), ("X-Be-Size", str(n))])
        assert resp.status == 200 and h.hexdigest() == be.body_sha256(n)
        up = be.body(n)
        resp = c.request("PUT", "/u", host="meet.contoso.com", body=up)
        assert resp.json()["body_sha256"] == hashlib.sha256(up).hexdigest()


def test_tls_websocket_tunnel(proxy, pki, tls_backend_factory):
    # a 101 tunnel copies records both ways through two TLS legs
    r = tls_both(proxy, pki, tls_backend_factory)
    with TlsClient(r.port, "meet.contoso.com", pki.ca) as c:
        resp = c.request("GET", "/ws", host="meet.contoso.com",
                         headers=[("X-Be-Mode", "ws"), ("Upgrade", "websocket"),
                                  ("Connection", "Upgrade"),
                                  ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                                  ("Sec-WebSocket-Version", "13")])
        assert resp.status == 101
        for size in [5, 1000, 70000]:
            payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
            c.send(be.ws_frame(0x2, payload, mask=b"\x01\x02\x03\x04"))

            def read_exact(k):
                while len(c.buf) < k:
                    c._fill()
                out, c.buf = c.buf[:k], c.buf[k:]
                return out
            op, got = be.ws_read_frame(read_exact)
            assert op == 0x2 and got == payload


@pytest.fixture
def lync_tls(proxy, backend_factory, tls_backend_factory, pki):
    spec = ProxySpec(workers=2)
    ports, backends, routes = lync_topology(spec, backend_factory, tls={
        "pairs": [(pki.lync, pki.lync_key), (pki.wild, pki.wild_key)],
        "ca": pki.ca, "sni": "backend.contoso.local",
        "make_tls_backend": tls_backend_factory})
    r = proxy(spec)
    r.lync_ports, r.lync_backends, r.lync_routes = ports, backends, routes
    return r


def test_lync_routes_over_tls_443_to_4443(lync_tls, pki):
    def fetch(listener, port, target, host):
        if listener == "external-https":
            return tls_get(port, target, host, pki.ca)
        return get(port, target, host=host)

    assert check_every_route(lync_tls, fetch) >= 60
    # the TLS pools really were reached over TLS
    for pool in ["webext", "owas"]:
        assert sum(b.handshakes for b in lync_tls.lync_backends[pool]) >= 1


@pytest.mark.parametrize("vdir", ["/meet", "/dialin", "/autodiscover", "/abs",
                                  "/groupexpansion", "/ucwa", "/mcx", "/webticket", "/lwa",
                                  "/reach", "/scheduler", "/certprov", "/persistentchat"])
def test_lync_vdir_on_webext_over_tls(lync_tls, pki, vdir):
    port = lync_tls.lync_ports["external-https"]
    r = tls_get(port, vdir + "/some/path", "webext.contoso.com", pki.ca)
    assert r.status == 200 and pool_of(lync_tls, r) == "webext"
    assert r.json()["target"] == vdir + "/some/path"


def test_lync_unknown_vdir_and_foreign_host_over_tls(lync_tls, pki):
    port = lync_tls.lync_ports["external-https"]
    with TlsClient(port, "webext.contoso.com", pki.ca) as c:
        for target in ["/", "/nope", "/meetings", "/ucwa2"]:
            assert c.request("GET", target, host="webext.contoso.com").status == 404
        # a host the certificate does not cover is misdirected before any routing
        assert c.request("GET", "/meet", host="unknown.fabrikam.com").status == 421
        assert c.request("GET", "/meet/x", host="meet.contoso.com").status == 200
    assert sum(b.count for b in lync_tls.lync_backends["webext"]) == 1


def test_lync_owa_targets_byte_exact_over_tls(lync_tls, pki):
    port = lync_tls.lync_ports["external-https"]
    targets = ["/wv/wordviewerframe.aspx?WOPISrc=https%3A%2F%2Flync%2Fwopi%252Ffiles%252F1",
               "/x/%2F/%252F/%25252F", "/a//b/./c/../d"]
    with TlsClient(port, "owa.contoso.com", pki.ca) as c:
        for t in targets:
            r = c.request("GET", t, host="owa.contoso.com")
            assert r.status == 200 and pool_of(lync_tls, r) == "owas"
            assert r.json()["target"] == t


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_backend_restart_rejects_the_session(proxy, pki, tls_backend_factory, version):
    # a restarted backend has new ticket keys: the session ringedge offers is refused, and
    # the request must still succeed (full handshake), not be a 502
    import ssl
    b = tls_backend_factory(name="fe")
    b.ctx.maximum_version = getattr(ssl.TLSVersion, version)
    r = plain_to_tls(proxy, pki, b)
    assert get(r.port, "/1", host="meet.contoso.com").status == 200
    port = b.port
    b.stop()
    time.sleep(0.2)
    b2 = tls_backend_factory(name="fe2", port=port)
    b2.ctx.maximum_version = getattr(ssl.TLSVersion, version)
    for i in range(3):
        resp = get(r.port, "/2", host="meet.contoso.com")
        assert resp.status == 200 and resp.header("X-Be-Name") == "fe2", (resp, r.stderr()[-2000:])
    assert b2.handshakes == 1 and b2.resumed == 0
    # TLS 1.3 falls back by itself; TLS 1.2 needs ringedge's one full-handshake retry
    assert "[error] backend" not in r.stderr(), r.stderr()[-2000:]


def test_reload_during_backend_handshakes(proxy, pki, tls_backend_factory):
    # every request opens a backend TLS connection (keepalive = 0) that resumes the worker's
    # session from a slot of its generation, while reloads replace the generation: the
    # slots and contexts of the old one stay until its last connection is gone (the ASan
    # build would report a use after free), and no request fails
    import threading
    from util.pools import LogFollower, reload

    b = tls_backend_factory(name="fe")
    r = plain_to_tls(proxy, pki, b, workers=2, keepalive="0")
    log = LogFollower(r.errlog)
    stop = threading.Event()
    failures, done = [], [0]

    def load():
        while not stop.is_set():
            try:
                resp = get(r.port, "/x", host="meet.contoso.com")
                if resp.status != 200:
                    failures.append(resp.status)
                done[0] += 1
            except Exception as e:     # noqa: BLE001
                failures.append(repr(e))

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(25):
            ok, logged = reload(r, log)
            assert ok, logged
            time.sleep(0.02)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not failures, failures[:5]
    # with a new generation (empty slots) every ~20 ms, few requests find a saved session;
    # once the reloads stop, a worker's second backend connection must resume
    for _ in range(8):
        assert get(r.port, "/x", host="meet.contoso.com").status == 200
    assert done[0] > 25 and b.resumed > 0 and not b.tls_errors, (done[0], b.resumed,
                                                                  b.tls_errors)
