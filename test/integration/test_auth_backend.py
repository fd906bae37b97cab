"""
The real NTLM acceptor backend of the auth guard's tests (ntlm_backend.py: gss-ntlmssp
verifying NTLMv2 against a user file, auth state per TCP connection as IIS keeps it, an
AD-like lockout counter), proven with real clients through today's ringedge (NTLM pinning):
`curl --ntlm`, Python's GSSAPI NTLM initiator (python3-gssapi + gss-ntlmssp), Basic, the
oauthtoken form and the WebTicket SOAP request. Right password: 200; wrong: the kind's failure;
the backend's counter moves by exactly one per failure and locks at its threshold.
The spray tests come when the guard is hooked into the stream.
"""
import base64
import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from conftest import ProxySpec

pytestmark = pytest.mark.serving

HERE = Path(__file__).resolve().parent
USERS = "CONTOSO:alice:Secret1\nCONTOSO:bob:Hunter2!\nCONTOSO:carol:Pa55word\n"
THRESHOLD = 5


class NtlmBackend:
    def __init__(self, tmp_path, threshold=THRESHOLD):
        self.users = tmp_path / "ntlm_users"
        self.users.write_text(USERS)
        env = dict(os.environ, NTLM_USER_FILE=str(self.users))
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", str(HERE / "ntlm_backend.py"), "--port", "0",
             "--threshold", str(threshold)],
            stdout=subprocess.PIPE, stderr=open(tmp_path / "ntlm_backend.err", "wb"), env=env)
        line = self.proc.stdout.readline().decode()
        assert line.startswith("ready "), "ntlm_backend did not start: %r" % line
        self.port = int(line.split()[1])

    def stats(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", "/stats")
        r = c.getresponse()
        data = json.loads(r.read())
        c.close()
        return data

    def failures(self, user):
        return self.stats()["failures"].get(user, 0)

    def stop(self):
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def ntlm_backend(tmp_path):
    made = []

    def make(**kw):
        b = NtlmBackend(tmp_path, **kw)
        made.append(b)
        return b
    yield make
    for b in made:
        b.stop()


def edge(proxy, be):
    spec = ProxySpec()
    port = spec.listener("l")
    spec.pool("iis", [be.port])
    spec.route("all", path="/", pool="iis")
    proxy(spec)
    return port


def curl_ntlm(port, user, pw, path="/abs/"):
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                        "20", "--ntlm", "-u", "%s:%s" % (user, pw),
                        "http://127.0.0.1:%d%s" % (port, path)],
                       capture_output=True, timeout=30)
    return int(r.stdout or b"0")


def gssapi_ntlm(port, user, pw, scheme="NTLM", path="/abs/"):
    """The NTLM handshake with Python's GSSAPI initiator (gss-ntlmssp) on one connection."""
    import gssapi
    mech = gssapi.OID.from_int_seq("1.3.6.1.4.1.311.2.2.10")
    name = gssapi.Name(user, gssapi.NameType.user)
    creds = gssapi.raw.acquire_cred_with_password(name, pw.encode(), usage="initiate",
                                                  mechs=[mech]).creds
    ctx = gssapi.SecurityContext(name=gssapi.Name("HTTP@edge", gssapi.NameType.hostbased_service),
                                 creds=creds, usage="initiate", mech=mech)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        c.request("GET", path, headers={"Host": "lync.contoso.com"})
        r = c.getresponse()
        r.read()
        assert r.status == 401
        offered = [v.split()[0] for k, v in r.getheaders() if k.lower() == "www-authenticate"]
        assert scheme in offered, offered
        tok = ctx.step()
        c.request("GET", path, headers={"Host": "lync.contoso.com", "Authorization":
                                        "%s %s" % (scheme, base64.b64encode(tok).decode())})
        r = c.getresponse()
        r.read()
        assert r.status == 401
        chal = [v for k, v in r.getheaders() if k.lower() == "www-authenticate"][0]
        assert chal.split()[0] == scheme
        tok = ctx.step(base64.b64decode(chal.split()[1]))
        c.request("GET", path, headers={"Host": "lync.contoso.com", "Authorization":
                                        "%s %s" % (scheme, base64.b64encode(tok).decode())})
        r = c.getresponse()
        body = r.read()
        if r.status == 200:
            # the connection is authenticated now (IIS keeps it): no credentials needed
            c.request("GET", path, headers={"Host": "lync.contoso.com"})
            r2 = c.getresponse()
            assert r2.status == 200 and r2.read() == body
        return r.status, body
    finally:
        c.close()


def post(port, path, body, ctype):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        c.request("POST", path, body=body, headers={"Host": "lync.contoso.com",
                                                    "Content-Type": ctype})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def oauth(port, user, pw):
    form = urllib.parse.urlencode({"grant_type": "password", "username": user, "password": pw})
    return post(port, "/WebTicket/oauthtoken", form, "application/x-www-form-urlencoded")


def webticket(port, user, pw):
    """The request lyncsmash sends (SOAP WS-Trust, WS-Security UsernameToken)."""
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    soap = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
        '<s:Header><Security s:mustUnderstand="1" xmlns="http://docs.oasis-open.org/wss/2004/'
        '01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><UsernameToken>'
        '<Username>%s</Username><Password Type="PasswordText">%s</Password>'
        '</UsernameToken></Security></s:Header><s:Body><RequestSecurityToken '
        'xmlns="http://docs.oasis-open.org/ws-sx/ws-trust/200512"><TokenType>'
        'urn:component:Microsoft.Rtc.WebAuthentication.2010:user-cwt-1</TokenType>'
        '</RequestSecurityToken></s:Body></s:Envelope>') % (b64(user), b64(pw))
    return post(port, "/WebTicket/WebTicketService.svc/Auth", soap, "text/xml")


def basic(port, user, pw):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        c.request("GET", "/abs/", headers={"Host": "lync.contoso.com", "Authorization":
                                           "Basic " + base64.b64encode(
                                               ("%s:%s" % (user, pw)).encode()).decode()})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_curl_ntlm_through_ringedge(proxy, ntlm_backend):
    be = ntlm_backend()
    port = edge(proxy, be)
    assert curl_ntlm(port, "CONTOSO\\alice", "Secret1") == 200
    assert be.stats()["successes"].get("contoso\\alice") == 1
    assert curl_ntlm(port, "CONTOSO\\alice", "wrong") == 401
    assert be.failures("contoso\\alice") == 1
    assert curl_ntlm(port, "CONTOSO\\alice", "wrong2") == 401
    assert be.failures("contoso\\alice") == 2
    # a bare name takes the directory's domain, as on IIS
    assert curl_ntlm(port, "bob", "Hunter2!") == 200
    assert be.failures("contoso\\bob") == 0


def test_python_gssapi_ntlm_through_ringedge(proxy, ntlm_backend):
    be = ntlm_backend()
    port = edge(proxy, be)
    for scheme in ("NTLM", "Negotiate"):
        st, body = gssapi_ntlm(port, "CONTOSO\\carol", "Pa55word", scheme)
        assert st == 200 and body == b"hello contoso\\carol\n"
    st, _ = gssapi_ntlm(port, "CONTOSO\\carol", "Password", "Negotiate")
    assert st == 401
    assert be.failures("contoso\\carol") == 1
    assert be.stats()["successes"]["contoso\\carol"] == 2


def test_password_kinds_through_ringedge(proxy, ntlm_backend):
    be = ntlm_backend()
    port = edge(proxy, be)
    assert basic(port, "CONTOSO\\bob", "Hunter2!")[0] == 200
    assert basic(port, "bob@contoso.com", "nope")[0] == 401
    st, body = oauth(port, "bob@contoso.com", "Hunter2!")
    assert st == 200 and "access_token" in json.loads(body)
    st, body = oauth(port, "CONTOSO\\bob", "nope")
    assert st == 400 and json.loads(body)["error"] == "invalid_grant"
    st, body = webticket(port, "CONTOSO\\bob", "Hunter2!")
    assert st == 200 and b"RequestedSecurityToken" in body
    st, body = webticket(port, "CONTOSO\\bob", "nope")
    assert st == 500 and b"No valid security token" in body
    assert be.failures("contoso\\bob") == 3
    assert be.stats()["successes"]["contoso\\bob"] == 3


def test_backend_locks_like_ad(proxy, ntlm_backend):
    """What the guard must prevent: THRESHOLD failures lock the account in the directory, and
    then even the right password fails, whatever the kind."""
    be = ntlm_backend()
    port = edge(proxy, be)
    kinds = [lambda p: curl_ntlm(port, "CONTOSO\\alice", p),
             lambda p: basic(port, "CONTOSO\\alice", p)[0],
             lambda p: oauth(port, "alice@contoso.com", p)[0],
             lambda p: webticket(port, "CONTOSO\\alice", p)[0],
             lambda p: gssapi_ntlm(port, "CONTOSO\\alice", p)[0]]
    for i in range(THRESHOLD):
        assert kinds[i % len(kinds)]("guess%d" % i) != 200
    st = be.stats()
    assert st["failures"]["contoso\\alice"] == THRESHOLD
    assert st["locked"] == ["contoso\\alice"]
    assert curl_ntlm(port, "CONTOSO\\alice", "Secret1") == 401
    assert oauth(port, "alice", "Secret1")[0] == 400
    # other users are not affected
    assert curl_ntlm(port, "CONTOSO\\bob", "Hunter2!") == 200
