"""
The admin listener ([admin], core/admin/): /healthz and the drain it announces, the allow-list,
unknown paths, its own connection limit, a bind failure and bad [admin] keys. None of these may
disturb proxied traffic: every test also passes a request through the proxied listener.
"""
import signal
import socket
import time

import pytest

from conftest import ProxySpec
from util import harness
from util.http import Client, get

pytestmark = pytest.mark.serving


def admin_spec(backend_factory, workers=1, **admin):
    """One proxied listener "l" -> one backend; [admin] on a free loopback port."""
    b = backend_factory(name="be")
    spec = ProxySpec(workers=workers)
    spec.listener("l")
    spec.pool("p", [b])
    spec.route("r", pool="p")
    port = harness.free_port()
    admin.setdefault("listen", "127.0.0.1:%d" % port)
    spec.section("admin", **admin)
    spec.admin_port = port
    return spec


def start(proxy, spec, admin_up=True):
    if admin_up:
        spec.ports["admin"] = spec.admin_port
    r = proxy(spec)
    r.port, r.admin = spec.ports["l"], spec.admin_port
    return r


def proxied_ok(r):
    assert get(r.port, "/x", "h.example").status == 200


def test_healthz_paths_and_methods(proxy, backend_factory):
    r = start(proxy, admin_spec(backend_factory))
    resp = get(r.admin, "/healthz")
    assert resp.status == 200 and resp.body == b"ok\n"
    assert resp.header("Connection") == "close"
    assert get(r.admin, "/healthz?probe=1").status == 200
    with Client(r.admin) as c:
        resp = c.request("HEAD", "/healthz")
        assert resp.status == 200 and resp.body == b""
    resp = get(r.admin, "/nope")
    assert resp.status == 404 and b"404" in resp.body
    with Client(r.admin) as c:
        resp = c.request("POST", "/healthz", body=b"x")
        assert resp.status == 405 and resp.header("Allow") == "GET, HEAD"
    with Client(r.admin) as c:  # a broken request gets the parser's 400
        c.send(b"GET /healthz HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n")
        assert c.read_response().status == 400
    proxied_ok(r)
    # the admin address is not a proxied listener and the proxied one serves no admin path
    resp = get(r.port, "/healthz", "h.example")
    assert resp.status == 200 and resp.header("Content-Type") != "text/plain; charset=utf-8"


def test_allow_list_403(proxy, backend_factory):
    r = start(proxy, admin_spec(backend_factory, allow="10.0.0.0/8, 192.168.0.0/16"))
    resp = get(r.admin, "/healthz")
    assert resp.status == 403
    assert get(r.admin, "/metrics").status == 403
    proxied_ok(r)


def test_allow_list_admits_loopback(proxy, backend_factory):
    r = start(proxy, admin_spec(backend_factory, allow="10.0.0.0/8, 127.0.0.0/8"))
    assert get(r.admin, "/healthz").status == 200


def test_drain_delay_holds_listeners_open(proxy, backend_factory):
    r = start(proxy, admin_spec(backend_factory, drain_delay="3s"))
    assert get(r.admin, "/healthz").status == 200
    t0 = time.monotonic()
    r.signal(signal.SIGTERM)
    deadline = t0 + 2
    while get(r.admin, "/healthz").status != 503:
        assert time.monotonic() < deadline, "/healthz still 200 after SIGTERM"
        time.sleep(0.05)
    # during drain_delay the proxied listener still takes NEW connections and serves them
    for _ in range(3):
        proxied_ok(r)
        time.sleep(0.2)
    assert time.monotonic() - t0 < 3, "machine too slow to observe the delay"
    assert r.alive()
    rc = r.proc.wait(30)
    assert time.monotonic() - t0 >= 2.9
    r.stopped = True
    r._close_logs()
    r.check_exit(rc)
    err = r.stderr()
    assert "/healthz answers 503; draining starts in 3000 ms" in err
    assert err.index("/healthz answers 503") < err.index("stopping: no new connections")


def test_no_drain_delay_healthz_503_while_draining(proxy, backend_factory):
    """Without drain_delay the drain starts at once; /healthz answers 503 while a request is
    still in flight (the admin thread lives until the workers are done)."""
    r = start(proxy, admin_spec(backend_factory))
    c = Client(r.port)
    c.send(b"GET /slow HTTP/1.1\r\nHost: h\r\nX-Be-Mode: slow\r\nX-Be-Delay: 1.5\r\n\r\n")
    time.sleep(0.3)
    r.signal(signal.SIGTERM)
    time.sleep(0.3)
    assert get(r.admin, "/healthz").status == 503
    assert c.read_response().status == 200
    c.close()


def test_max_connections_queue_in_backlog(proxy, backend_factory):
    r = start(proxy, admin_spec(backend_factory, max_connections=2))
    idle = [socket.create_connection(("127.0.0.1", r.admin), timeout=5) for _ in range(2)]
    time.sleep(0.3)
    third = Client(r.admin, timeout=1)
    third.send(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
    with pytest.raises(socket.timeout):
        third.read_response()
    proxied_ok(r)  # the workers are not held up by the admin listener's limit
    idle[0].close()
    third.sock.settimeout(10)
    assert third.read_response().status == 200
    third.close()
    idle[1].close()


def test_bind_failure_serves_without_admin(proxy, backend_factory):
    spec = admin_spec(backend_factory)
    squat = socket.socket()
    squat.bind(("127.0.0.1", spec.admin_port))
    squat.listen(1)
    try:
        r = start(proxy, spec, admin_up=False)
        proxied_ok(r)
        assert "admin listener 127.0.0.1:%d (%s:" % (spec.admin_port, r.cfg) in r.stderr()
        assert "cannot bind: Address already in use; serving without it" in r.stderr()
    finally:
        squat.close()


def test_bad_admin_keys(cli, tmp_path):
    cfg = tmp_path / "bad.ini"
    cfg.write_text("[listener l]\nbind = 127.0.0.1:18080\n[pool p]\nserver = 127.0.0.1:9\n"
                   "[route r]\npool = p\n[admin]\nlisten = 127.0.0.1:18080\nbogus = 1\n"
                   "allow = 10.0.0.1/8\n")
    res = cli("-t", "-c", str(cfg))
    assert res.rc == 1
    assert "%s:9: unknown key \"bogus\" in [admin]" % cfg in res.err
    assert "%s:10: allow: bad CIDR" % cfg in res.err
    assert ("%s:8: [admin]: listen 127.0.0.1:18080 is also a bind of [listener l] (line 2)"
            % cfg) in res.err
