"""
Backend pools through the real proxy: balancing (weighted round robin, least_conn,
source_hash, MS-WSMAN cookie), backup servers, 503 + Retry-After when no server is up,
passive and active failure detection. Three or more live backends; each response says which
server answered (X-Be-Name).
"""
import collections
import re
import threading
import time

import pytest

import backend as be
from conftest import ProxySpec
from util.harness import free_port
from util.http import Client, get
from util.pools import LogFollower, get_from, reload, server_of

pytestmark = pytest.mark.serving


def start(proxy, backends, workers=1, **pool):
    spec = ProxySpec(workers=workers)
    port = spec.listener("l")
    spec.pool("p", [b if isinstance(b, str) else b.port for b in backends], **pool)
    spec.route("r", pool="p")
    r = proxy(spec)
    r.port = port
    return r


def names(bs):
    return [b.name for b in bs]


def test_round_robin_weights(proxy, backend_factory):
    bs = [backend_factory(name="w%d" % i) for i in range(3)]
    r = start(proxy, ["127.0.0.1:%d weight=%d" % (b.port, w) for b, w in zip(bs, (3, 2, 1))])
    seq = []
    with Client(r.port) as c:
        for i in range(60):
            resp = c.request("GET", "/rr/%d" % i, "h.example")
            assert resp.status == 200
            seq.append(server_of(resp))
    # one worker: smooth WRR is exact over whole cycles of 6, heavy server spread out
    assert collections.Counter(seq) == {"w0": 30, "w1": 20, "w2": 10}
    for i in range(0, 60, 6):
        assert collections.Counter(seq[i:i + 6]) == {"w0": 3, "w1": 2, "w2": 1}
    assert "w0w0w0" not in "".join(seq)
    # new connections share the same cursor
    more = collections.Counter(server_of(get(r.port, "/n")) for _ in range(12))
    assert more == {"w0": 6, "w1": 4, "w2": 2}


def test_least_conn_avoids_slow_server(proxy, backend_factory):
    def slow(self, conn, req):
        time.sleep(1.0)
        return be.Backend.respond(self, conn, req)

    slowb = backend_factory(name="slow", handler=slow)
    fast = [backend_factory(name="fast%d" % i) for i in range(2)]
    r = start(proxy, [slowb] + fast, balance="least_conn")
    got = collections.Counter()
    errors = []
    lock = threading.Lock()

    def loop(k):
        try:
            with Client(r.port, timeout=20) as c:
                for i in range(15):
                    resp = c.request("GET", "/lc/%d/%d" % (k, i), "h.example")
                    assert resp.status == 200
                    with lock:
                        got[server_of(resp)] += 1
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    ts = [threading.Thread(target=loop, args=(k,)) for k in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors, errors
    assert sum(got.values()) == 45
    # round robin would give the slow server 15; least_conn sends it a request only when
    # it is idle (about once per second of the run: its own 1 s requests serialise it)
    assert got["slow"] <= 8, got
    # both fast servers share the rest; least_conn counts are per worker and ties go to
    # smooth WRR among the tied servers, so the split between them depends on timing
    # (27/13 was seen on a loaded machine): only check that neither is starved
    assert got["fast0"] >= 10 and got["fast1"] >= 10, got


def test_source_hash_stable_and_minimal_moves(proxy, backend_factory):
    bs = [backend_factory(name="s%d" % i) for i in range(4)]
    spec = ProxySpec(workers=2)
    port = spec.listener("l")
    spec.pool("p", bs, balance="source_hash")
    spec.route("r", pool="p")
    r = proxy(spec)
    sources = ["127.0.0.%d" % i for i in range(2, 62)]
    first = {}
    for src in sources:
        got = {server_of(get_from(port, src, "/sh")) for _ in range(3)}
        assert len(got) == 1, (src, got)      # same client address -> same server
        first[src] = got.pop()
    share = collections.Counter(first.values())
    assert len(share) == 4 and min(share.values()) >= 5, share
    # remove s3 from the pool (reload): only s3's clients move
    spec2 = ProxySpec(workers=2)
    spec2.sections = [s for s in spec.sections if s[0] != "pool p"]
    spec2.pool("p", bs[:3], balance="source_hash")
    log = LogFollower(r.errlog)
    ok, _ = reload(r, log, spec2.text())
    assert ok
    moved = []
    for src in sources:
        now = server_of(get_from(port, src, "/sh2"))
        assert now != "s3"
        if now != first[src]:
            moved.append(src)
    assert sorted(moved) == sorted(s for s in sources if first[s] == "s3")


def cookie_of(resp):
    sc = resp.all("Set-Cookie")
    assert len(sc) == 1, resp.headers
    m = re.fullmatch(r"MS-WSMAN=([0-9a-f]{16}); Path=/", sc[0])
    assert m, sc       # a session cookie: no Expires/Max-Age, not HttpOnly
    return m.group(1)


def test_ms_wsman_cookie_set_and_honoured(proxy, backend_factory):
    bs = [backend_factory(name="c%d" % i) for i in range(3)]
    r = start(proxy, bs, balance="cookie", max_fails=1, fail_timeout="30s")
    ids = {}
    for i in range(6):
        resp = get(r.port, "/c/%d" % i)
        ids.setdefault(server_of(resp), cookie_of(resp))
    assert sorted(ids) == ["c0", "c1", "c2"] and len(set(ids.values())) == 3
    for name, cid in ids.items():
        for i in range(5):
            resp = get(r.port, "/again", headers=[("Cookie", "a=b; MS-WSMAN=%s; x=y" % cid)])
            assert server_of(resp) == name
            assert resp.all("Set-Cookie") == []   # carried the right one: not set again
    # an unknown id: balanced, and the client gets a cookie for the server that answered
    resp = get(r.port, "/x", headers=[("Cookie", "MS-WSMAN=0123456789abcdef")])
    assert cookie_of(resp) == ids[server_of(resp)]
    # its server gone: the request goes elsewhere and the client is moved there
    bs[1].stop()
    for i in range(4):
        resp = get(r.port, "/moved", headers=[("Cookie", "MS-WSMAN=%s" % ids["c1"])])
        assert resp.status == 200 and server_of(resp) != "c1"
        assert cookie_of(resp) == ids[server_of(resp)]


def test_cookie_of_a_backup_counts_only_while_no_primary_is_up(proxy, backend_factory):
    # a client that got the backup's cookie while the primaries were down goes back to a
    # primary (and gets its cookie) once one is up: backups serve only when no primary is
    bk = backend_factory(name="bk")
    dead = ["127.0.0.1:%d" % free_port() for _ in range(2)]
    r1 = start(proxy, dead + ["127.0.0.1:%d backup" % bk.port], balance="cookie",
               max_fails=1, fail_timeout="30s")
    resp = get(r1.port, "/down")
    assert resp.status == 200 and server_of(resp) == "bk"
    bk_id = cookie_of(resp)
    # the same backup (same host:port, same id) behind live primaries
    ps = [backend_factory(name="p%d" % i) for i in range(2)]
    r2 = start(proxy, ps + ["127.0.0.1:%d backup" % bk.port], balance="cookie")
    for i in range(4):
        resp = get(r2.port, "/up/%d" % i, headers=[("Cookie", "MS-WSMAN=%s" % bk_id)])
        assert resp.status == 200 and server_of(resp) in ("p0", "p1"), server_of(resp)
        assert cookie_of(resp) not in (None, bk_id)


def test_backup_only_when_primaries_down(proxy, backend_factory):
    p = [backend_factory(name="p%d" % i) for i in range(2)]
    bk = backend_factory(name="bk")
    r = start(proxy, [p[0], p[1], "127.0.0.1:%d backup" % bk.port], max_fails=1,
              fail_timeout="30s")
    seen = collections.Counter(server_of(get(r.port, "/b")) for _ in range(20))
    assert seen == {"p0": 10, "p1": 10}
    p[0].stop()
    seen = collections.Counter()
    for _ in range(10):
        resp = get(r.port, "/b")
        assert resp.status == 200
        seen[server_of(resp)] += 1
    assert seen == {"p1": 10}          # one primary left: the backup stays unused
    p[1].stop()
    for _ in range(10):
        resp = get(r.port, "/b")
        assert resp.status == 200 and server_of(resp) == "bk"
    assert re.search(r"pool p: server 127\.0\.0\.1:%d is DOWN" % p[1].port, r.stderr())


def test_503_with_retry_after_when_no_server_is_up(proxy, backend_factory):
    bs = [backend_factory(name="d%d" % i) for i in range(3)]
    r = start(proxy, bs, max_fails=1, fail_timeout="40s")
    assert get(r.port, "/").status == 200
    for b in bs:
        b.stop()
    # the first request tries each server once (each refuses and is marked down): 503
    for i in range(3):
        resp = get(r.port, "/down/%d" % i)
        assert resp.status == 503, resp
        ra = resp.header("Retry-After")
        assert ra is not None and 1 <= int(ra) <= 40, resp.headers
    # keep-alive is kept for our own 503
    with Client(r.port) as c:
        assert c.request("GET", "/a", "h.example").status == 503
        assert c.request("GET", "/b", "h.example").status == 503


def test_server_killed_then_back(proxy, backend_factory):
    bs = [backend_factory(name="k%d" % i) for i in range(3)]
    r = start(proxy, bs, max_fails=1, fail_timeout="60s", health_check="/health",
              health_interval="300ms", connect_timeout="1s")
    log = LogFollower(r.errlog)

    def burst(n):
        c = collections.Counter()
        for i in range(n):
            resp = get(r.port, "/k/%d" % i)
            assert resp.status == 200, resp    # never a failed request: others are up
            c[server_of(resp)] += 1
        return c

    assert set(burst(9)) == {"k0", "k1", "k2"}
    port = bs[1].port
    bs[1].stop()
    # passive (the connect is refused, the request retried elsewhere) or the next probe
    got = burst(30)
    assert "k1" not in got
    log.wait(r"server 127\.0\.0\.1:%d is DOWN" % port)
    assert "k1" not in burst(15)
    # back on the same port: the next probe brings it up, and it gets traffic again
    back = backend_factory(name="k1", port=port)
    log.wait(r"server 127\.0\.0\.1:%d is UP" % port, timeout=10)
    assert burst(15)["k1"] >= 4
    assert back.count > 0
    # once by the request that saw it fail, at most once more by the probe that confirmed it
    assert 1 <= len(re.findall(r"127\.0\.0\.1:%d is DOWN" % port, r.stderr())) <= 2
