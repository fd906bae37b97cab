"""
Scale-out: several identical ringedge instances behind an L4 balancer must look like one.
Two real ringedge processes (same configuration but their ports) and real clients:

- TLS session tickets: with the same `ticket_keys` file (HAProxy's format), a session issued
  by instance A resumes on instance B (TLS 1.2 and 1.3); after a rotation (append a key,
  SIGHUP both) old sessions still resume and new tickets carry the new encrypting key; a bad
  file is refused at reload and the old keys stay; without the file, no cross-instance
  resumption (each process has its own keys).
- Affinity: source_hash and the MS-WSMAN cookie pick the same server on both instances for
  the same clients.
"""
import base64
import os
import re

import pytest

from conftest import ProxySpec
from util.http import get
from util.pools import LogFollower, get_from, reload, server_of
from util.tls import make_pki, s_client, tls_listener

pytestmark = pytest.mark.serving

HOST = "meet.contoso.com"
REQ = b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % HOST.encode()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def key_line(n, size=80):
    """A ticket key whose 16-byte name is the byte 0xA0+n repeated (readable in tickets)."""
    return base64.b64encode(bytes([0xA0 + n]) * 16 + os.urandom(size - 16)).decode() + "\n"


def tls_pair(proxy, backend_factory, pki, keys=None, workers=1):
    """Instances a and b: one TLS listener each -> the same plain backend."""
    b = backend_factory(name="fe")
    out = []
    for name in ("a", "b"):
        spec = ProxySpec(workers=workers)
        kv = {"ticket_keys": str(keys)} if keys else {}
        port = tls_listener(spec, "s", [(pki.lync, pki.lync_key)], **kv)
        spec.pool("p", [b])
        spec.route("all", pool="p")
        r = proxy(spec, name=name)
        r.port, r.log = port, LogFollower(r.errlog)
        out.append(r)
    return out


def handshake(port, version, sess_out=None, sess_in=None):
    """One s_client connection and request; returns (reused?, ticket key name byte or None)."""
    args = [version, "-servername", HOST]
    if sess_out:
        args += ["-sess_out", str(sess_out)]
    if sess_in:
        args += ["-sess_in", str(sess_in)]
    rc, out = s_client(port, *args, data=REQ)
    assert rc == 0 and "HTTP/1.1 200" in out, out
    reused = re.search(r"^Reused, TLS", out, re.M) is not None
    assert reused or re.search(r"^New, TLS", out, re.M), out
    # the ticket the server sent last (TLS 1.3: after the handshake; 1.2: in it)
    names = re.findall(r"TLS session ticket:\s*\n\s*0000 - ([0-9a-f]{2})", out)
    return reused, (int(names[-1], 16) if names else None)


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_shared_ticket_keys_resume_across_instances_and_rotation(
        proxy, backend_factory, pki, tmp_path, version):
    keys = tmp_path / "tickets.keys"
    keys.write_text(key_line(1) + key_line(2) + key_line(3))
    a, b = tls_pair(proxy, backend_factory, pki, keys, workers=2)   # any worker of either
    assert "3 session-ticket keys in %s (AES-256): the last 3 decrypt, key #2 encrypts" % keys \
        in a.stderr()
    s1 = tmp_path / "s1.pem"
    reused, name = handshake(a.port, version, sess_out=s1)
    assert not reused and name == 0xA2          # the second-to-last key encrypts
    for r in (b, a, b, a, b, a):
        reused, _ = handshake(r.port, version, sess_in=s1)
        assert reused, "a session of instance A did not resume on %s" % r.cfg.name

    # rotation: append key 4 and reload both: keys 2 3 4, key 3 encrypts
    keys.write_text(keys.read_text() + key_line(4))
    for r in (a, b):
        ok, logged = reload(r, r.log)
        assert ok, logged
        assert "4 session-ticket keys in %s (AES-256): the last 3 decrypt, key #3 " \
               "encrypts" % keys in logged, logged
    for r in (a, b):        # the old session: key 2 is still among the last three
        reused, name = handshake(r.port, version, sess_in=s1)
        assert reused
    s2 = tmp_path / "s2.pem"
    reused, name = handshake(b.port, version, sess_out=s2)
    assert not reused and name == 0xA3          # new tickets: the new encrypting key
    reused, _ = handshake(a.port, version, sess_in=s2)
    assert reused

    # two more rotations drop key 2: the first session gets a full handshake (no error)
    keys.write_text(keys.read_text() + key_line(5) + key_line(6))
    for r in (a, b):
        ok, logged = reload(r, r.log)
        assert ok, logged
    reused, _ = handshake(a.port, version, sess_in=s1)
    assert not reused


def test_bad_ticket_keys_file_keeps_the_old_keys(proxy, backend_factory, pki, tmp_path, cli):
    keys = tmp_path / "tickets.keys"
    good = key_line(1) + key_line(2) + key_line(3)
    keys.write_text(good)
    a, b = tls_pair(proxy, backend_factory, pki, keys)
    s1 = tmp_path / "s1.pem"
    handshake(a.port, "-tls1_3", sess_out=s1)
    line = a.cfg.read_text().split("\n").index("ticket_keys = %s" % keys) + 1
    cases = [
        (good + "this is not base64!\n", "%s:4: not a base64 key (one key per line)" % keys),
        (good + key_line(4, 48), "%s:4: this key's size differs from the first key's" % keys),
        (good + base64.b64encode(os.urandom(64)).decode() + "\n",
         "%s:4: a key must be 48 bytes (AES-128) or 80 bytes (AES-256)" % keys),
        (key_line(1) + key_line(2), "%s: fewer than 3 keys" % keys),
    ]
    for text, why in cases:
        keys.write_text(text)
        ok, logged = reload(a, a.log)
        assert not ok, logged
        assert "%s:%d: [listener s]: ticket_keys %s" % (a.cfg, line, why) in logged, logged
        # the running keys stay: A's session resumes on A and on B
        for r in (a, b):
            reused, _ = handshake(r.port, "-tls1_3", sess_in=s1)
            assert reused
        # and `ringedge -t` says the same
        res = cli("-t", "-c", str(a.cfg))
        assert res.rc == 1 and why in res.err, res
    keys.unlink()
    ok, logged = reload(a, a.log)
    assert not ok and "ticket_keys: cannot read \"%s\": No such file or directory" % keys \
        in logged, logged


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_per_process_keys_do_not_resume_across_instances(proxy, backend_factory, pki,
                                                         tmp_path, version):
    a, b = tls_pair(proxy, backend_factory, pki)
    s1 = tmp_path / "s1.pem"
    reused, name = handshake(a.port, version, sess_out=s1)
    assert not reused and name is not None      # a ticket was issued...
    assert handshake(a.port, version, sess_in=s1)[0]        # ...and resumes on A
    assert not handshake(b.port, version, sess_in=s1)[0]    # but not on B


def pool_pair(proxy, backends, balance):
    out = []
    for name in ("a", "b"):
        spec = ProxySpec(workers=2)
        port = spec.listener("l")
        spec.pool("p", backends, balance=balance)
        spec.route("r", pool="p")
        r = proxy(spec, name=name)
        r.port = port
        out.append(r)
    return out


def test_source_hash_same_server_on_every_instance(proxy, backend_factory):
    bs = [backend_factory(name="s%d" % i) for i in range(3)]
    a, b = pool_pair(proxy, bs, "source_hash")
    seen = {}
    for i in range(2, 42):
        src = "127.0.0.%d" % i
        on_a = {server_of(get_from(a.port, src, "/sh")) for _ in range(2)}
        on_b = {server_of(get_from(b.port, src, "/sh")) for _ in range(2)}
        assert len(on_a) == 1 and on_a == on_b, (src, on_a, on_b)
        seen[src] = on_a.pop()
    # the clients are spread over the pool (else "the same server" would prove nothing)
    assert set(seen.values()) == {"s0", "s1", "s2"}, seen


def test_ms_wsman_cookie_same_server_on_every_instance(proxy, backend_factory):
    bs = [backend_factory(name="c%d" % i) for i in range(3)]
    a, b = pool_pair(proxy, bs, "cookie")

    def cookie(resp):
        sc = [v for v in resp.all("Set-Cookie") if v.startswith("MS-WSMAN=")]
        return sc[0].split(";")[0].split("=", 1)[1] if sc else None

    ids = {}
    for i in range(9):      # instance A hands out a cookie per server
        resp = get(a.port, "/c/%d" % i)
        ids.setdefault(server_of(resp), cookie(resp))
    assert sorted(ids) == ["c0", "c1", "c2"] and None not in ids.values()
    for name, cid in ids.items():   # instance B honours A's cookies
        for i in range(4):
            resp = get(b.port, "/b/%d" % i, headers=[("Cookie", "MS-WSMAN=%s" % cid)])
            assert server_of(resp) == name and cookie(resp) is None
    for i in range(9):      # and B's own cookies are A's
        resp = get(b.port, "/n/%d" % i)
        assert cookie(resp) == ids[server_of(resp)]
