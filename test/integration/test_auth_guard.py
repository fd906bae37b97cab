"""
The auth guard in the stream (issue 12, docs/auth-guard.md): real processes only. ringedge in
front of ntlm_backend.py (gss-ntlmssp verifying NTLMv2, an AD-like lockout counter), real
clients (curl --ntlm, Python's GSSAPI NTLM initiator, http.client for Basic / oauthtoken /
WebTicket), sprays from several loopback source addresses. Every loop is bounded in count.
"""
import base64
import concurrent.futures as cf
import http.client
import signal
import socket
import time
import urllib.parse

import pytest

import test_auth_backend as ab
from test_auth_backend import ntlm_backend  # noqa: F401 (the fixture)
from conftest import ProxySpec

pytestmark = pytest.mark.serving

AD_THRESHOLD = 10     # the backend's lockout threshold (AD-like)
FLOOR = 0.3           # min_answer_time in the tests (seconds)
SPRAY_ADDRS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]


def edge(proxy, be, mode="on", guard=None, route=None, pool=None):
    spec = ProxySpec(workers=2)
    port = spec.listener("l")
    spec.pool("iis", [be.port], **(pool or {}))
    spec.route("all", path="/", pool="iis", auth_guard=mode, **(route or {}))
    g = {"min_answer_time": "%dms" % int(FLOOR * 1000), "default_domain": "contoso"}
    g.update(guard or {})
    spec.section("auth_guard", **g)
    return port, proxy(spec)


def request(port, method, path, body=None, headers=None, src="127.0.0.1"):
    """(status, headers list, body, elapsed seconds) of one request on a new connection."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20, source_address=(src, 0))
    h = {"Host": "lync.contoso.com"}
    h.update(headers or {})
    t0 = time.monotonic()
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        return r.status, r.getheaders(), data, time.monotonic() - t0
    finally:
        c.close()


def basic(port, user, pw, src="127.0.0.1"):
    tok = base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()
    return request(port, "GET", "/abs/", headers={"Authorization": "Basic " + tok}, src=src)


def oauth(port, user, pw, src="127.0.0.1"):
    form = urllib.parse.urlencode({"grant_type": "password", "username": user, "password": pw})
    return request(port, "POST", "/WebTicket/oauthtoken", form,
                   {"Content-Type": "application/x-www-form-urlencoded"}, src)


def soap(user, pw):
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    return ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>'
            '<Security xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-'
            'wssecurity-secext-1.0.xsd"><UsernameToken><Username>%s</Username>'
            '<Password Type="PasswordText">%s</Password></UsernameToken></Security>'
            '</s:Header><s:Body/></s:Envelope>') % (b64(user), b64(pw))


def webticket(port, user, pw, src="127.0.0.1"):
    return request(port, "POST", "/WebTicket/WebTicketService.svc/Auth", soap(user, pw),
                   {"Content-Type": "text/xml"}, src)


def auth_fields(headers):
    return sorted(v for k, v in headers if k.lower() == "www-authenticate")


def wait_log(r, text, timeout=5):
    """The access log line is written after the response went out: wait for it."""
    deadline = time.monotonic() + timeout
    while text not in r.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    return text in r.stderr()


def local_answers(r):
    """Access log lines of requests answered by ringedge itself on pool iis (no server)."""
    return [ln for ln in r.stderr().splitlines() if " iis - " in ln]


def test_spray_is_stopped_and_the_user_keeps_signing_in(proxy, ntlm_backend):
    be = ntlm_backend(threshold=AD_THRESHOLD)
    port, r = edge(proxy, be)
    # alice signs in from her usual address: it becomes familiar
    assert ab.curl_ntlm(port, "CONTOSO\\alice", "Secret1") == 200
    users = ["alice", "bob", "carol"] + ["user%03d" % i for i in range(197)]
    jobs = []
    for pw in ("Winter2026!", "Password1", "Welcome1"):
        for i, u in enumerate(users):
            jobs.append((basic, "CONTOSO\\" + u, pw, SPRAY_ADDRS[i % 3]))
    # lyncsmash-style WebTicket and oauthtoken runs against the same users
    for pw in ("Spring2026", "Summer2026", "Autumn2026"):
        for i, u in enumerate(users[:40]):
            jobs.append((webticket, "CONTOSO\\" + u, pw, SPRAY_ADDRS[i % 3]))
            jobs.append((oauth, u + "@contoso.com", pw, SPRAY_ADDRS[(i + 1) % 3]))
    assert len(jobs) == 600 + 240
    legit = []
    with cf.ThreadPoolExecutor(24) as ex:
        futs = [ex.submit(f, port, u, p, s) for f, u, p, s in jobs]
        # during the spray alice keeps signing in from her familiar address
        for _ in range(4):
            legit.append(ab.curl_ntlm(port, "CONTOSO\\alice", "Secret1"))
            legit.append(ab.gssapi_ntlm(port, "CONTOSO\\alice", "Secret1")[0])
        res = [f.result() for f in futs]
    assert legit == [200] * 8
    assert all(st in (401, 400, 500) for st, _, _, _ in res), {st for st, _, _, _ in res}
    st = be.stats()
    worst = max(st["failures"].values())
    assert worst < AD_THRESHOLD, st["failures"]
    assert st["locked"] == []
    # most attempts never reached the directory
    assert st["requests"] < len(jobs) / 2, st["requests"]
    err = r.stderr()
    # each spraying address is locked, and that is logged once
    for a in SPRAY_ADDRS:
        assert err.count("auth guard: locked address %s " % a) == 1, a
    assert "127.0.0.1 " not in "".join(ln for ln in err.splitlines() if "locked" in ln)
    assert ab.curl_ntlm(port, "CONTOSO\\alice", "Secret1") == 200


def test_local_answers_look_like_real_failures(proxy, ntlm_backend):
    be = ntlm_backend(threshold=100)
    port, r = edge(proxy, be, guard={"user_failures": 3})
    src = "127.0.0.5"
    real = [basic(port, "CONTOSO\\bob", "guess%d" % i, src) for i in range(3)]
    before = be.stats()["requests"]
    local = basic(port, "CONTOSO\\bob", "guess9", src)
    # (GET /stats counts itself)
    assert be.stats()["requests"] == before + 1, "a locked user's attempt reached the backend"
    assert local[0] == real[0][0] == 401
    assert auth_fields(local[1]) == auth_fields(real[0][1]) == sorted(
        ["Negotiate", "NTLM", 'Basic realm="ntlm_backend"'])
    assert local[3] >= FLOOR, local[3]
    # NTLM (curl) and the body kinds of the same user are answered locally too
    assert ab.curl_ntlm(port, "CONTOSO\\bob", "guess10") == 401
    real_o = oauth(port, "alice@contoso.com", "x", src)
    lo = oauth(port, "bob@contoso.com", "guess11", src)
    assert lo[0] == real_o[0] == 400 and lo[2] == real_o[2] and lo[3] >= FLOOR
    real_w = webticket(port, "CONTOSO\\carol", "x", src)
    lw = webticket(port, "CONTOSO\\bob", "guess12", src)
    assert lw[0] == real_w[0] == 500 and lw[2] == real_w[2] and lw[3] >= FLOOR
    assert be.failures("contoso\\bob") == 3
    # the same wrong password again (Basic) counts once and is answered locally
    carol = [basic(port, "CONTOSO\\carol", "same", "127.0.0.6") for _ in range(3)]
    assert [c[0] for c in carol] == [401] * 3
    assert be.failures("contoso\\carol") == 2   # the webticket above + one "same"
    # the access log names the user
    assert wait_log(r, "user=contoso\\bob")
    # the locks survive a reload
    r.signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "reload: generation 2 serving" not in r.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    before = be.stats()["requests"]
    assert basic(port, "CONTOSO\\bob", "Hunter2!", src)[0] == 401
    assert be.stats()["requests"] == before + 1


def test_log_only_forwards_everything(proxy, ntlm_backend):
    be = ntlm_backend(threshold=100)
    port, r = edge(proxy, be, mode="log_only", guard={"user_failures": 3})
    for i in range(6):
        assert basic(port, "CONTOSO\\bob", "g%d" % i, "127.0.0.7")[0] == 401
    assert be.failures("contoso\\bob") == 6
    err = r.stderr()
    assert "would answer contoso\\bob from 127.0.0.7 locally" in err
    assert "auth guard: locked user contoso\\bob" in err
    assert basic(port, "CONTOSO\\bob", "Hunter2!", "127.0.0.7")[0] == 200


def raw(port, data, src="127.0.0.1"):
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(src, 0))
    try:
        s.sendall(data)
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                return out
            out += b
    finally:
        s.close()


def status_of(resp):
    return int(resp.split(b" ", 2)[1]) if resp.startswith(b"HTTP/1.1 ") else 0


def test_malformed_inputs_are_forwarded_or_refused(proxy, ntlm_backend):
    be = ntlm_backend(threshold=100)
    port, r = edge(proxy, be, guard={"body_limit": "1k"})
    t3 = bytearray(b"NTLMSSP\0\x03\0\0\0" + b"\0" * 60)
    bad_ntlm = [b"NTLMSSP\0\x03\0\0\0", bytes(t3[:40]),
                bytes(t3[:28]) + b"\x10\x00\x10\x00\xff\xff\x00\x00" + bytes(t3[36:]),
                bytes(t3[:36]) + b"\x03\x00\x03\x00\x40\x00\x00\x00" + bytes(t3[44:60]) +
                b"\x01\0\0\0" + b"abc",
                b"NTLMSSQ\0\x03\0\0\0" + b"\0" * 60]
    for m in bad_ntlm:
        for scheme in ("NTLM", "Negotiate"):
            st, _, _, _ = request(port, "GET", "/abs/", headers={
                "Authorization": "%s %s" % (scheme, base64.b64encode(m).decode())})
            assert st in (400, 401), (scheme, m)
    for v in ("NTLM !!!notbase64", "Basic ===", "Negotiate " + "A" * 20000, "NTLM"):
        resp = raw(port, b"GET /abs/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   b"Authorization: " + v.encode() + b"\r\n\r\n")
        assert status_of(resp) in (400, 401, 431), (v[:20], resp[:80])
    for body in (b"grant_type=password&username=%zz&password=1", b"grant_type=password",
                 b"\xff\xfe&&&==", b""):
        st, _, _, _ = request(port, "POST", "/WebTicket/oauthtoken", body,
                              {"Content-Type": "application/x-www-form-urlencoded"})
        assert st == 400
    for body in (b"<Username>!!!</Username>", b"<Username", b"<<<>>>", b"\0" * 100):
        st, _, _, _ = request(port, "POST", "/WebTicket/WebTicketService.svc/Auth", body,
                              {"Content-Type": "text/xml"})
        assert st == 500
    # over body_limit: 413 without reading the body; chunked on those paths: 411
    st, _, _, _ = request(port, "POST", "/WebTicket/oauthtoken", b"a" * 2000,
                          {"Content-Type": "application/x-www-form-urlencoded"})
    assert st == 413
    # ... also when the head and the whole body arrive in one segment
    resp = raw(port, b"POST /WebTicket/oauthtoken HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n"
               b"\r\n" + b"a" * 2000)
    assert status_of(resp) == 413
    resp = raw(port, b"POST /WebTicket/WebTicketService.svc/Auth HTTP/1.1\r\nHost: x\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    assert status_of(resp) == 411
    # a body that arrives in pieces is read whole, then forwarded unchanged
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    form = urllib.parse.urlencode({"grant_type": "password", "username": "bob@contoso.com",
                                   "password": "Hunter2!"}).encode()
    s.sendall(b"POST /WebTicket/oauthtoken HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
              b"Content-Type: application/x-www-form-urlencoded\r\n"
              b"Content-Length: %d\r\n\r\n" % len(form) + form[:10])
    time.sleep(0.2)
    s.sendall(form[10:])
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    assert status_of(out) == 200 and b"access_token" in out
    assert wait_log(r, '"POST /WebTicket/oauthtoken HTTP/1.1" 200')
    assert wait_log(r, "user=contoso\\bob")


def test_auth_schemes_and_hidden_fields(proxy, ntlm_backend, backend_factory):
    be = ntlm_backend(threshold=100)
    port, r = edge(proxy, be, mode="off", route={"auth_schemes": "negotiate,basic"})
    # NTLM is refused here (401, challenges of the allowed schemes); no credentials pass
    st, h, _, _ = request(port, "GET", "/abs/", headers={"Authorization": "NTLM TlRMTVNTUAAB"})
    assert st == 401 and "NTLM" not in auth_fields(h)
    assert ab.curl_ntlm(port, "CONTOSO\\alice", "Secret1") == 401
    assert be.stats()["successes"] == {}
    assert basic(port, "CONTOSO\\alice", "Secret1")[0] == 200
    # hide_response_header per pool and per route
    b = backend_factory(name="fe")
    spec = ProxySpec()
    p2 = spec.listener("l")
    spec.pool("fe", [b.port], hide_response_header="X-MS-Server-Fqdn")
    spec.route("all", path="/", pool="fe", hide_response_header="x-powered-by")
    proxy(spec, name="hide")
    st, h, _, _ = request(p2, "GET", "/", headers={"X-Be-Header": "X-MS-Server-Fqdn: fe01.lan",
                                                    "X-Be-Header-2": "x"})
    c = http.client.HTTPConnection("127.0.0.1", p2, timeout=10)
    c.putrequest("GET", "/")
    for v in ("X-MS-Server-Fqdn: fe01.contoso.local", "X-Powered-By: ASP.NET",
              "X-Keep: yes"):
        c.putheader("X-Be-Header", v)
    c.endheaders()
    resp = c.getresponse()
    resp.read()
    names = [k.lower() for k, _ in resp.getheaders()]
    c.close()
    assert resp.status == 200
    assert "x-keep" in names and "x-ms-server-fqdn" not in names and "x-powered-by" not in names


def test_client_limits(proxy, backend_factory):
    b = backend_factory(name="fe")
    spec = ProxySpec(workers=2)
    port = spec.listener("l", client_max_connections=3, client_request_rate=5,
                         client_request_burst=5, client_limits_exempt="127.0.0.9/32")
    spec.pool("fe", [b.port])
    spec.route("all", path="/", pool="fe")
    r = proxy(spec)

    def conn(src):
        return socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(src, 0))

    def served(s):
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            return s.recv(65536).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    # 7 connections from one address: the two workers accept them in any order, 3 are served
    conns = [conn("127.0.0.8") for _ in range(7)]
    time.sleep(0.5)
    ok = [served(s) for s in conns]
    assert ok.count(True) == 3, ok
    held = [s for s, o in zip(conns, ok) if o]
    refused = [s for s, o in zip(conns, ok) if not o]
    exempt = [conn("127.0.0.9") for _ in range(8)]
    assert all(served(s) for s in exempt)
    held.pop().close()
    time.sleep(0.2)
    s = conn("127.0.0.8")
    assert served(s)
    for x in held + refused + exempt + [s]:
        x.close()
    err = r.stderr()
    assert "client 127.0.0.8" in err and "is at client_max_connections (3)" in err
    assert err.count("is at client_max_connections") <= 2   # at most once a second
    # request rate: a burst of 5, then 429 + Retry-After; the exempt network is not limited
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5,
                                   source_address=("127.0.0.10", 0))
    got = []
    for _ in range(12):
        c.request("GET", "/", headers={"Host": "x"})
        resp = c.getresponse()
        resp.read()
        got.append((resp.status, resp.getheader("Retry-After")))
    c.close()
    assert got[0] == (200, None) and (429, "1") in got, got
    assert sum(1 for st, _ in got if st == 200) <= 5 + 2, got
    for _ in range(12):
        assert request(port, "GET", "/", src="127.0.0.9")[0] == 200
