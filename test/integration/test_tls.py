"""
TLS on the listeners (docs/tls.md): the real ringedge binary against curl, `openssl s_client`
and Python's ssl. SNI picks the certificate of an SNI set (exact SAN, then a one-label
wildcard, else the first), 421 when the Host is not covered by the certificate chosen,
TLS 1.2 and 1.3 by default, 1.0 and 1.1 (CBC suites after AEAD) only when configured,
ALPN http/1.1, ticket resumption on any worker, tickets off, key
rotation, the handshake bounded by header_timeout, and bad handshakes costing nothing else.
"""
import re
import signal
import socket
import ssl
import subprocess
import time
import warnings

import pytest

from conftest import ProxySpec
from util.harness import binary, free_port, sanitizer_env
from util.http import Client, Closed
from util.tls import (TlsClient, client_context, curl, make_pki, s_client, tls_get,
                       tls_listener)

pytestmark = pytest.mark.serving


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def edge(proxy, backend_factory, pki, workers=1, tls=None, **lkv):
    """TLS listener (lync ECDSA, other RSA, *.contoso.com) -> one plain echo backend."""
    b = backend_factory(name="fe")
    spec = ProxySpec(workers=workers)
    if tls:
        spec.section("tls", **tls)
    port = tls_listener(spec, "s", [(pki.lync, pki.lync_key), (pki.other, pki.other_key),
                                    (pki.wild, pki.wild_key)], **lkv)
    spec.pool("p", [b])
    spec.route("all", pool="p")
    r = proxy(spec)
    r.port, r.backend = port, b
    return r


def peer_names(port, sni, pki):
    """The DNS SANs of the certificate the listener presents for sni (None: no SNI)."""
    ctx = client_context(pki.ca)
    ctx.check_hostname = False
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname=sni) as ss:
            cert = ss.getpeercert()
            return sorted(v for k, v in cert["subjectAltName"] if k == "DNS")


def test_sni_chooses_the_certificate(proxy, backend_factory, pki):
    r = edge(proxy, backend_factory, pki)
    lync = sorted(["webext.contoso.com", "meet.contoso.com", "dialin.contoso.com",
                   "lyncdiscover.contoso.com"])
    assert peer_names(r.port, "meet.contoso.com", pki) == lync
    assert peer_names(r.port, "LyncDiscover.Contoso.com", pki) == lync
    assert peer_names(r.port, "other.fabrikam.com", pki) == ["other.fabrikam.com"]
    # no SNI, or an unknown name: the first certificate
    assert peer_names(r.port, None, pki) == lync
    assert peer_names(r.port, "unknown.example", pki) == lync
    # openssl s_client sees the RSA leaf for its name and the ECDSA one otherwise
    rc, out = s_client(r.port, "-servername", "other.fabrikam.com", "-CAfile", pki.ca)
    assert "subject=CN = other.fabrikam.com" in out and "Verify return code: 0 (ok)" in out, out
    assert re.search(r"Server public key is 2048 bit", out), out
    rc, out = s_client(r.port, "-servername", "dialin.contoso.com", "-CAfile", pki.ca)
    assert "subject=CN = webext.contoso.com" in out and "Verify return code: 0 (ok)" in out, out
    assert "Server public key is 256 bit" in out, out
    # curl verifies each name against the CA and gets the backend's answer
    for host in ["webext.contoso.com", "other.fabrikam.com"]:
        p = curl(r.port, host, "/x?y=1", pki.ca)
        assert p.returncode == 0, p.stderr
        assert b'"target": "/x?y=1"' in p.stdout


def test_wildcard_san(proxy, backend_factory, pki):
    r = edge(proxy, backend_factory, pki)
    assert peer_names(r.port, "owa.contoso.com", pki) == ["*.contoso.com"]
    # exact SANs win over the wildcard
    assert "meet.contoso.com" in peer_names(r.port, "meet.contoso.com", pki)
    p = curl(r.port, "owa.contoso.com", "/hosting/discovery", pki.ca)
    assert p.returncode == 0, p.stderr
    assert b'"target": "/hosting/discovery"' in p.stdout
    # one label only: a.b.contoso.com gets the default certificate, which curl refuses
    p = curl(r.port, "a.b.contoso.com", "/", pki.ca)
    assert p.returncode != 0 and b"a.b.contoso.com" in p.stderr, p.stderr
    assert r.backend.count == 1


def test_421_when_the_certificate_does_not_cover_host(proxy, backend_factory, pki):
    r = edge(proxy, backend_factory, pki)
    with TlsClient(r.port, "meet.contoso.com", pki.ca) as c:
        resp = c.request("GET", "/meet/a", host="other.fabrikam.com")
        assert resp.status == 421, resp
        assert resp.header("Connection") is None     # a safe error keeps the connection
        resp = c.request("GET", "/meet/b", host="owa.contoso.com")
        assert resp.status == 421
        for host in ["meet.contoso.com", "MEET.Contoso.com", "meet.contoso.com:443",
                     "webext.contoso.com."]:
            resp = c.request("GET", "/meet/c", host=host)
            assert resp.status == 200, (host, resp)
            assert resp.json()["headers"][0] == ["Host", host]
    # curl with a Host header of another name than its SNI
    p = curl(r.port, "webext.contoso.com", "/", pki.ca, "-H", "Host: evil.example",
             "-o", "/dev/null", "-w", "%{http_code}")
    assert p.stdout == b"421", p
    # the wildcard certificate covers one label only
    with TlsClient(r.port, "owa.contoso.com", pki.ca) as c:
        assert c.request("GET", "/", host="x.contoso.com").status == 200
        assert c.request("GET", "/", host="a.b.contoso.com").status == 421
        assert c.request("GET", "/", host="contoso.com").status == 421
    assert [q.target for q in r.backend.requests] == [b"/meet/c"] * 4 + [b"/"]


def test_tls_versions(proxy, backend_factory, pki):
    r = edge(proxy, backend_factory, pki)
    for flag in ["-tls1_1", "-tls1"]:
        rc, out = s_client(r.port, flag, "-cipher", "DEFAULT@SECLEVEL=0", "-servername",
                           "meet.contoso.com")
        assert rc != 0, out
        assert "Cipher is (NONE)" in out or "alert protocol version" in out, out
    for flag, name in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")]:
        rc, out = s_client(r.port, flag, "-servername", "meet.contoso.com", "-CAfile", pki.ca,
                           "-alpn", "http/1.1",
                           data=b"GET /v HTTP/1.1\r\nHost: meet.contoso.com\r\n"
                                b"Connection: close\r\n\r\n")
        assert rc == 0, out
        assert "Protocol  : %s" % name in out and "ALPN protocol: http/1.1" in out, out
        assert "HTTP/1.1 200 OK" in out, out
    # curl at each end of the allowed range; one below the range fails
    p = curl(r.port, "meet.contoso.com", "/", pki.ca, "--tlsv1.2", "--tls-max", "1.2",
             "-o", "/dev/null", "-w", "%{http_code}")
    assert p.stdout == b"200", p
    p = curl(r.port, "meet.contoso.com", "/", pki.ca, "--tlsv1.3",
             "-o", "/dev/null", "-w", "%{http_code}")
    assert p.stdout == b"200", p
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = client_context(pki.ca, ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)
    ctx.set_ciphers("DEFAULT@SECLEVEL=0")
    with pytest.raises((ssl.SSLError, OSError)):
        TlsClient(r.port, "meet.contoso.com", pki.ca, ctx=ctx).close()
    assert wait_stderr(r, lambda e: "client 127.0.0.1: TLS: " in e), r.stderr()[-3000:]
    # no CBC suite without TLSv1/TLSv1.1 configured: a CBC-only TLS 1.2 client fails
    rc, out = s_client(r.port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA",
                       "-servername", "meet.contoso.com")
    assert rc != 0 and "Cipher is (NONE)" in out, out
    assert "TLSv1.0" not in r.stderr() and "weak" not in r.stderr(), r.stderr()[-3000:]


OLD = "DEFAULT:@SECLEVEL=0"   # Debian's OpenSSL 3 refuses TLS 1.0/1.1 (SHA-1) above level 0


def test_tls_old_versions_when_configured(proxy, backend_factory, pki):
    # nginx's ssl_protocols: TLS 1.0/1.1 only when the operator asks, with a start-up warning
    r = edge(proxy, backend_factory, pki,
             tls={"protocols": "TLSv1 TLSv1.1 TLSv1.2 TLSv1.3"})
    assert "protocols: TLSv1.0 and TLSv1.1 are enabled: weak" in r.stderr(), r.stderr()[-3000:]
    req = b"GET /old HTTP/1.1\r\nHost: meet.contoso.com\r\nConnection: close\r\n\r\n"
    for flag, name, sni, suite in [("-tls1", "TLSv1", "meet.contoso.com", "ECDHE-ECDSA-AES128-SHA"),
                                   ("-tls1_1", "TLSv1.1", "meet.contoso.com",
                                    "ECDHE-ECDSA-AES128-SHA"),
                                   ("-tls1", "TLSv1", "other.fabrikam.com",
                                    "ECDHE-RSA-AES128-SHA")]:
        rc, out = s_client(r.port, flag, "-cipher", OLD, "-servername", sni, "-CAfile", pki.ca,
                           data=req.replace(b"meet.contoso.com", sni.encode()))
        assert rc == 0, out
        assert "Protocol  : %s\n" % name in out and "Cipher    : %s\n" % suite in out, out
        assert "Verify return code: 0 (ok)" in out and "HTTP/1.1 200 OK" in out, out
    # Python's ssl (OpenSSL) at TLS 1.0 and 1.1, one keep-alive connection, two requests
    for v, name in [(ssl.TLSVersion.TLSv1, "TLSv1"), (ssl.TLSVersion.TLSv1_1, "TLSv1.1")]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx = client_context(pki.ca, v, v)
        ctx.set_ciphers(OLD)
        with TlsClient(r.port, "meet.contoso.com", pki.ca, ctx=ctx) as c:
            assert c.sock.version() == name
            assert c.sock.cipher()[0] == "ECDHE-ECDSA-AES128-SHA"
            for _ in range(2):
                resp = c.request("GET", "/py", host="meet.contoso.com")
                assert resp.status == 200, resp
    # TLS 1.2 offering CBC first and GCM: server preference gives GCM; CBC alone still works
    for sni, gcm, cbc in [("meet.contoso.com", "ECDHE-ECDSA-AES128-GCM-SHA256",
                           "ECDHE-ECDSA-AES128-SHA"),
                          ("other.fabrikam.com", "ECDHE-RSA-AES128-GCM-SHA256",
                           "ECDHE-RSA-AES128-SHA")]:
        rc, out = s_client(r.port, "-tls1_2", "-cipher", "%s:%s" % (cbc, gcm), "-servername",
                           sni, data=req.replace(b"meet.contoso.com", sni.encode()))
        assert rc == 0 and "Cipher    : %s\n" % gcm in out and "HTTP/1.1 200 OK" in out, out
        rc, out = s_client(r.port, "-tls1_2", "-cipher", cbc, "-servername", sni,
                           data=req.replace(b"meet.contoso.com", sni.encode()))
        assert rc == 0 and "Cipher    : %s\n" % cbc in out and "HTTP/1.1 200 OK" in out, out
    # TLS 1.3 and curl's default still get TLS 1.3
    rc, out = s_client(r.port, "-tls1_3", "-servername", "meet.contoso.com", data=req)
    assert rc == 0 and "Protocol  : TLSv1.3" in out and "HTTP/1.1 200 OK" in out, out
    p = curl(r.port, "meet.contoso.com", "/", pki.ca, "-o", "/dev/null", "-w",
             "%{http_code}")
    assert p.stdout == b"200", p
    assert [q.target for q in r.backend.requests].count(b"/old") == 3 + 4 + 1


@pytest.mark.parametrize("protocols,why", [
    ("TLSv1 TLSv1.2 TLSv1.3", "TLSv1 without TLSv1.1: give a contiguous range"),
    ("TLSv1.1 TLSv1.3", "TLSv1.1 without TLSv1.2: give a contiguous range"),
    ("TLSv1 TLSv1.1 TLSv1.2", "TLSv1/TLSv1.1 need TLSv1.3 as well"),
    ("TLSv1 TLSv1.1", "neither TLSv1.2 nor TLSv1.3 enabled"),
])
def test_tls_old_versions_unusable_sets(tmp_path, pki, protocols, why):
    cfg = tmp_path / "t.ini"
    cfg.write_text("[tls]\nprotocols = %s\n"
                   "[listener s]\nbind = 127.0.0.1:%d\ntls = on\ncertificate = %s\n"
                   "private_key = %s\n"
                   "[pool p]\nserver = 127.0.0.1:9\n[route r]\npool = p\n" % (
                       protocols, free_port(), pki.lync, pki.lync_key))
    p = subprocess.run([str(binary()), "-t", "-c", str(cfg)], env=sanitizer_env(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    out = p.stdout.decode()
    assert p.returncode != 0, out
    assert "%s:3: [listener s]: protocols: %s" % (cfg, why) in out, out


def resume(port, version, pki, n, name="meet.contoso.com", sess=None, tmp=None):
    """A full handshake saving the session, then n resumptions; returns the list of
    'New'/'Reused' of the resumptions."""
    sess = str(tmp / ("s%s.pem" % version))
    req = b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % name.encode()
    rc, out = s_client(port, version, "-servername", name, "-sess_out", sess, data=req)
    assert rc == 0 and "New, TLS" in out and "HTTP/1.1 200" in out, out
    got = []
    for _ in range(n):
        rc, out = s_client(port, version, "-servername", name, "-sess_in", sess, data=req)
        assert rc == 0 and "HTTP/1.1 200" in out, out
        got.append("Reused" if re.search(r"^Reused, TLS", out, re.M) else "New")
    return got


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_resumption_on_any_worker(proxy, backend_factory, pki, tmp_path, version):
    # two workers, SO_REUSEPORT spreads the connections: every resumption must work, wherever
    # the ticket was issued (the keys are process-wide)
    r = edge(proxy, backend_factory, pki, workers=2)
    assert resume(r.port, version, pki, 12, tmp=tmp_path) == ["Reused"] * 12
    # served by both workers: their backend connections are separate keep-alive pools
    peers = {q.peer for q in r.backend.requests}
    assert len(peers) >= 2, "all 13 connections landed on one worker: %r" % peers


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_session_tickets_off(proxy, backend_factory, pki, tmp_path, version):
    r = edge(proxy, backend_factory, pki, tls={"session_tickets": "off"})
    sess = tmp_path / "s.pem"
    req = b"GET / HTTP/1.1\r\nHost: meet.contoso.com\r\nConnection: close\r\n\r\n"
    rc, out = s_client(r.port, version, "-servername", "meet.contoso.com", "-sess_out",
                       str(sess), data=req)
    assert rc == 0 and "New, TLS" in out and "HTTP/1.1 200" in out, out
    assert "TLS session ticket:" not in out, out
    if sess.exists():   # OpenSSL writes no session file when there is nothing to resume
        rc, out = s_client(r.port, version, "-servername", "meet.contoso.com", "-sess_in",
                           str(sess), data=req)
        assert rc == 0 and "New, TLS" in out and "HTTP/1.1 200" in out, out


def test_ticket_rotation(proxy, backend_factory, pki, tmp_path, monkeypatch):
    # rotation every 1.5 s for the test (12 h in production): a ticket of the previous key
    # still resumes; after two rotations its key is gone and the handshake is a full one
    monkeypatch.setenv("RINGEDGE_TICKET_ROTATE_MS", "1500")
    r = edge(proxy, backend_factory, pki)
    sess = str(tmp_path / "s.pem")
    req = b"GET / HTTP/1.1\r\nHost: meet.contoso.com\r\nConnection: close\r\n\r\n"
    rc, out = s_client(r.port, "-tls1_3", "-servername", "meet.contoso.com", "-sess_out", sess,
                       data=req)
    assert rc == 0 and "New, TLS" in out
    deadline = time.monotonic() + 10
    while r.stderr().count("session-ticket keys rotated") < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    rc, out = s_client(r.port, "-tls1_3", "-servername", "meet.contoso.com", "-sess_in", sess,
                       data=req)
    n = r.stderr().count("session-ticket keys rotated")
    assert n >= 1
    if n == 1:   # still the previous key
        assert "Reused, TLS" in out, out
    while r.stderr().count("session-ticket keys rotated") < n + 2 and \
            time.monotonic() < deadline:
        time.sleep(0.1)
    rc, out = s_client(r.port, "-tls1_3", "-servername", "meet.contoso.com", "-sess_in", sess,
                       data=req)
    assert rc == 0 and "New, TLS" in out and "HTTP/1.1 200" in out, out


def test_tls12_ticket_of_a_dropped_key(proxy, backend_factory, pki, tmp_path, monkeypatch):
    # the known wolfSSL-client issue of docs/tls.md, checked with OpenSSL's client: a TLS 1.2
    # ticket the server can no longer decrypt must give a full handshake, not an error
    monkeypatch.setenv("RINGEDGE_TICKET_ROTATE_MS", "700")
    r = edge(proxy, backend_factory, pki)
    sess = str(tmp_path / "s12.pem")
    req = b"GET / HTTP/1.1\r\nHost: meet.contoso.com\r\nConnection: close\r\n\r\n"
    rc, out = s_client(r.port, "-tls1_2", "-servername", "meet.contoso.com", "-sess_out", sess,
                       data=req)
    assert rc == 0 and "New, TLS" in out
    deadline = time.monotonic() + 10
    while r.stderr().count("session-ticket keys rotated") < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    rc, out = s_client(r.port, "-tls1_2", "-servername", "meet.contoso.com", "-sess_in", sess,
                       data=req)
    assert rc == 0 and "New, TLS" in out and "HTTP/1.1 200" in out, out


def wait_stderr(r, pred, timeout=20):
    """Waits until pred(ringedge's stderr so far) holds (a log line is written by the worker
    after the client saw the outcome); returns pred's last value."""
    deadline = time.monotonic() + timeout
    while not pred(r.stderr()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return pred(r.stderr())


def read_until_closed(s, timeout=5):
    """Reads until EOF/RST; returns the bytes (raises socket.timeout if still open)."""
    s.settimeout(timeout)
    out = b""
    while True:
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            return out
        if not d:
            return out
        out += d


def test_bad_handshakes_cost_nothing_else(proxy, backend_factory, pki):
    r = edge(proxy, backend_factory, pki)
    good = TlsClient(r.port, "meet.contoso.com", pki.ca)
    assert good.request("GET", "/1", host="meet.contoso.com").status == 200
    hello = None
    # a real ClientHello to truncate and corrupt
    ctx = client_context(pki.ca)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="meet.contoso.com")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        hello = out.read()
    assert hello and hello[0] == 0x16
    cases = {
        "plain HTTP": b"GET / HTTP/1.1\r\nHost: meet.contoso.com\r\n\r\n",
        "garbage": bytes(range(256)) * 4,
        "bad record": b"\x16\x03\x01\x00\x05" + b"\xff" * 5,
        "corrupt hello": hello[:9] + bytes(b ^ 0x5a for b in hello[9:60]) + hello[60:],
        "truncated hello": hello[:len(hello) // 2],
    }
    for what, data in cases.items():
        with socket.create_connection(("127.0.0.1", r.port), timeout=10) as s:
            s.sendall(data)
            if what == "truncated hello":
                s.shutdown(socket.SHUT_WR)
            got = read_until_closed(s)
            # an alert record (21) or nothing: never HTTP, never a hang
            assert got == b"" or got[0] == 0x15, (what, got[:40])
    # the connection opened before is unaffected, and new ones work
    assert good.request("GET", "/2", host="meet.contoso.com").status == 200
    good.close()
    assert tls_get(r.port, "/3", "webext.contoso.com", pki.ca).status == 200
    assert [q.target for q in r.backend.requests] == [b"/1", b"/2", b"/3"]
    wait_stderr(r, lambda e: e.count("client 127.0.0.1: TLS: ") >= 3)
    err = r.stderr()
    assert err.count("client 127.0.0.1: TLS: ") >= 3, err[-3000:]
    assert "not a TLS ClientHello" in err
    # the truncated hello followed by FIN is logged too, with what happened
    assert "client 127.0.0.1: TLS handshake not completed: connection closed by the client" \
        in err, err[-3000:]


def test_handshake_bounded_by_header_timeout(proxy, backend_factory, pki):
    r = edge(proxy, backend_factory, pki, header_timeout="1s")
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", r.port), timeout=10) as s:
        s.sendall(b"\x16\x03\x01\x02\x00\x01")      # a record header and one byte, then quiet
        assert read_until_closed(s, timeout=15) == b""
    # 1 s, checked with room for a loaded machine: well under the 30 s default
    assert time.monotonic() - t0 < 10
    wait_stderr(r, lambda e: "TLS handshake not completed within header_timeout" in e)
    assert "client 127.0.0.1: TLS handshake not completed within header_timeout" in r.stderr()
    # a completed handshake without a request is cut at the same deadline
    t0 = time.monotonic()
    with TlsClient(r.port, "meet.contoso.com", pki.ca) as c:
        assert c.closed_by_peer(timeout=15)
    assert time.monotonic() - t0 < 10


def test_tls_keepalive_many_requests(proxy, backend_factory, pki):
    # several requests, bodies both ways, over one TLS connection (idle shrink in between)
    r = edge(proxy, backend_factory, pki)
    with TlsClient(r.port, "meet.contoso.com", pki.ca) as c:
        for i in range(20):
            body = bytes([i]) * (i * 3001)
            resp = c.request("POST", "/k/%d" % i, host="meet.contoso.com", body=body)
            assert resp.status == 200
            j = resp.json()
            assert j["target"] == "/k/%d" % i and j["body_len"] == len(body)
            time.sleep(0.01)
        resp = c.request("GET", "/big", host="meet.contoso.com",
                         headers=[("X-Be-Mode", "chunked"), ("X-Be-Size", "300000")])
        assert resp.status == 200 and resp.body_len == 300000


def test_accept_burst_with_client_hellos_already_waiting(proxy, backend_factory, pki, nofile):
    # test_proxy_faults' accept burst over TLS: the worker is stopped while 600 clients
    # connect and send their ClientHello, then accepts them at once and every recv finds its
    # bytes, more than the provided buffer ring holds: every handshake and request completes
    n = 600
    nofile(4 * n + 1024)
    r = edge(proxy, backend_factory, pki, header_timeout="120s")
    ctx = client_context(pki.ca)
    socks = []
    try:
        r.signal(signal.SIGSTOP)
        try:
            for _ in range(n):
                raw = socket.create_connection(("127.0.0.1", r.port), timeout=30)
                ss = ctx.wrap_socket(raw, server_hostname="meet.contoso.com",
                                     do_handshake_on_connect=False)
                socks.append(ss)
                ss.setblocking(False)
                with pytest.raises(ssl.SSLWantReadError):
                    ss.do_handshake()       # the ClientHello is out; the answer waits
                ss.settimeout(30)
        finally:
            r.signal(signal.SIGCONT)
        deadline = time.monotonic() + 180
        for i, ss in enumerate(socks):
            assert time.monotonic() < deadline, "only %d of %d answered in time" % (i, n)
            c = Client.__new__(Client)
            c.sock, c.buf, c.timeout = ss, b"", 30
            try:
                ss.do_handshake()
                resp = c.request("GET", "/burst/%d" % i, host="meet.contoso.com")
            except (Closed, OSError) as e:
                pytest.fail("connection %d failed (%r)\n%s" % (i, e, r.stderr()[-2000:]))
            assert resp.status == 200 and resp.json()["target"] == "/burst/%d" % i
    finally:
        for ss in socks:
            ss.close()
    assert r.backend.count == n


def test_tls_start_up_errors(tmp_path, pki):
    # a certificate that is not PEM, and a key that does not match: FILE:LINE: why, exit 1
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    cfg = tmp_path / "t.ini"
    cfg.write_text("[global]\nworkers = 1\n"
                   "[listener a]\nbind = 127.0.0.1:%d\ntls = on\ncertificate = %s\n"
                   "private_key = %s\n"
                   "[listener b]\nbind = 127.0.0.1:%d\ntls = on\ncertificate = %s\n"
                   "private_key = %s\n"
                   "[pool p]\nserver = 127.0.0.1:9\n[route r]\npool = p\n" % (
                       free_port(), bad, pki.lync_key, free_port(), pki.lync, pki.other_key))
    p = subprocess.run([str(binary()), "-c", str(cfg)], env=sanitizer_env(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    err = p.stderr.decode()
    assert p.returncode == 1, err
    lines = [ln for ln in err.split("\n") if ln.startswith(str(cfg))]
    assert len(lines) == 2, err
    assert lines[0].startswith("%s:6: [listener a]: certificate %s: no PEM certificate" % (
        cfg, bad)), err
    assert lines[1].startswith("%s:11: [listener b]: private_key" % cfg), err
    assert "does not match" in lines[1], err


def test_reload_rereads_certificates(proxy, backend_factory, pki, tmp_path):
    # the listener's certificate files are replaced on disk, then SIGHUP: new connections get
    # the new certificate, one opened before keeps working (its certificate, and the 421
    # check against it, stay alive with it); a certificate that cannot be read, or a key that
    # does not match, keeps the running generation with every error logged as FILE:LINE
    import shutil
    from util.pools import LogFollower, reload

    cert, key = tmp_path / "cur.pem", tmp_path / "cur.key"
    shutil.copy(pki.lync, cert)
    shutil.copy(pki.lync_key, key)
    b = backend_factory(name="fe")
    spec = ProxySpec(workers=2)
    port = tls_listener(spec, "s", [(str(cert), str(key))])
    spec.pool("p", [b])
    spec.route("all", pool="p")
    r = proxy(spec)
    log = LogFollower(r.errlog)
    lync = sorted(["webext.contoso.com", "meet.contoso.com", "dialin.contoso.com",
                   "lyncdiscover.contoso.com"])
    assert peer_names(port, "meet.contoso.com", pki) == lync
    good = r.cfg.read_text()

    old = TlsClient(port, "meet.contoso.com", pki.ca)
    try:
        assert old.request("GET", "/before", host="meet.contoso.com").status == 200
        shutil.copy(pki.wild, cert)
        shutil.copy(pki.wild_key, key)
        ok, logged = reload(r, log)
        assert ok, logged
        assert peer_names(port, "meet.contoso.com", pki) == ["*.contoso.com"]
        assert tls_get(port, "/new", "meet.contoso.com", pki.ca).status == 200
        # the connection from before: same TLS session, now routed by the new generation
        for i in range(5):
            resp = old.request("POST", "/old/%d" % i, host="dialin.contoso.com",
                               body=b"x" * (1000 * i))
            assert resp.status == 200 and resp.json()["body_len"] == 1000 * i
        # its certificate (the lync one) still decides 421
        assert old.request("GET", "/x", host="www.contoso.com").status == 421

        # an unreadable certificate (a directory) and, next, a key that does not match (a
        # pair is reported at its certificate line, as at start-up)
        lines = good.split("\n")
        cert_line = lines.index("certificate = %s" % cert) + 1
        for bad, line, why in [
                (good.replace("certificate = %s" % cert, "certificate = %s" % tmp_path),
                 cert_line, "certificate"),
                (good.replace("private_key = %s" % key, "private_key = %s" % pki.other_key),
                 cert_line, "private_key")]:
            ok, logged = reload(r, log, bad)
            assert not ok, logged
            assert re.search(r"\[error\] .*%s:%d: \[listener s\]: %s" % (
                re.escape(str(r.cfg)), line, why), logged), logged
            assert "still serving generation 2" in logged, logged
            assert peer_names(port, "meet.contoso.com", pki) == ["*.contoso.com"]
            assert tls_get(port, "/still", "meet.contoso.com", pki.ca).status == 200
            assert old.request("GET", "/old", host="meet.contoso.com").status == 200
    finally:
        old.close()
    # back to a good file, then more reloads while connections come and go
    ok, logged = reload(r, log, good)
    assert ok, logged
    for i in range(5):
        with TlsClient(port, "meet.contoso.com", pki.ca) as c:
            assert c.request("GET", "/k", host="meet.contoso.com").status == 200
            ok, logged = reload(r, log)
            assert ok, logged
            assert c.request("GET", "/k2", host="meet.contoso.com").status == 200
