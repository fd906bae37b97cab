#!/usr/bin/python3
"""
A real NTLM acceptor as a backend, for the auth guard's tests (issue 12).

NTLM is verified by gss-ntlmssp (Debian's GSSAPI NTLMSSP mechanism, through python3-gssapi)
against a user file, `DOMAIN:user:password` per line, which gss-ntlmssp reads from the
NTLM_USER_FILE environment variable. (Debian 12 has no python3-spnego; gss-ntlmssp is the
same kind of acceptor: a real NTLMv2 implementation, not a hand-written check.)

It behaves like IIS with Windows authentication on a Lync/SfB external web service:
- authentication state is per TCP connection: `Authorization: NTLM|Negotiate <type 1>` gets
  401 with the type-2 challenge on that connection; the type 3 on the same connection gets 200
  (the connection is then authenticated) or 401 `WWW-Authenticate: NTLM` + `Negotiate`;
- a request without credentials gets 401 with `WWW-Authenticate: Negotiate`, `NTLM` and
  `Basic realm=...` (one field each, as IIS sends them);
- `Authorization: Basic` is checked against the same users;
- `POST /WebTicket/oauthtoken` (grant_type=password form): 200 JSON access_token, else 400
  `{"error":"invalid_grant"}` (RFC 6749 5.2);
- `POST /WebTicket/WebTicketService.svc/Auth` (SOAP, WS-Security UsernameToken with
  base64("DOMAIN\\user") and base64(password), as lyncsmash sends): 200 with a token, else 500
  with a SOAP fault "No valid security token" (the exact status of a real SfB server is not
  documented; lyncsmash only tells 200 from the rest);
- an AD-like lockout counter per user (`DOMAIN\\user`, lower case): every failed password
  counts (like AD's badPwdCount, a repeated identical password too); at `--threshold` the
  account is locked and even the right password fails; `GET /stats` returns the counters as
  JSON ({"failures": {user: n}, "locked": [user], "successes": {user: n}, "requests": n}).

Run: NTLM_USER_FILE=users python3 ntlm_backend.py --port N [--threshold 10]; it prints
"ready PORT" on stdout once listening. Loopback only.
"""
import argparse
import base64
import json
import os
import re
import socket
import struct
import sys
import threading
import urllib.parse

import gssapi

NTLM_OID = gssapi.OID.from_int_seq("1.3.6.1.4.1.311.2.2.10")
MAX_HEAD = 65536
MAX_BODY = 1 << 20


class Directory:
    """The users and the AD-like lockout counters."""

    def __init__(self, path, threshold):
        self.users = {}
        self.default_domain = ""
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if not line or line.startswith("#"):
                    continue
                dom, user, pw = line.split(":", 2)
                self.users[self.key(dom, user)] = pw
                self.default_domain = self.default_domain or dom
        self.threshold = threshold
        self.lock = threading.Lock()
        self.failures = {}
        self.successes = {}
        self.locked = set()
        self.requests = 0

    @staticmethod
    def key(dom, user):
        return ("%s\\%s" % (dom, user)).lower()

    def split(self, name):
        if "\\" in name:
            dom, user = name.split("\\", 1)
        elif "@" in name:
            user, dom = name.rsplit("@", 1)
            dom = dom.split(".")[0]
        else:
            dom, user = self.default_domain, name
        return self.key(dom, user)

    def is_locked(self, key):
        with self.lock:
            return key in self.locked

    def record(self, key, ok):
        with self.lock:
            if ok:
                self.successes[key] = self.successes.get(key, 0) + 1
                return
            n = self.failures.get(key, 0) + 1
            self.failures[key] = n
            if self.threshold and n >= self.threshold:
                self.locked.add(key)

    def check_password(self, name, password):
        key = self.split(name)
        ok = not self.is_locked(key) and self.users.get(key) == password
        self.record(key, ok)
        return ok, key

    def stats(self):
        with self.lock:
            return {"failures": dict(self.failures), "successes": dict(self.successes),
                    "locked": sorted(self.locked), "requests": self.requests}


def ntlm_type3_user(msg):
    """(domain, user) of a type-3 message (the failure must be counted on someone)."""
    def field(off, uni):
        ln, _, at = struct.unpack_from("<HHI", msg, off)
        raw = msg[at:at + ln]
        return raw.decode("utf-16-le" if uni else "latin-1", "replace")
    uni = struct.unpack_from("<I", msg, 60)[0] & 1
    return field(28, uni), field(36, uni)


class Conn:
    """One client TCP connection and its authentication state (as IIS keeps it)."""

    def __init__(self, srv, sock):
        self.srv = srv
        self.sock = sock
        self.buf = b""
        self.ctx = None
        self.user = None       # authenticated user of this connection

    def read_request(self):
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > MAX_HEAD:
                return None
            d = self.sock.recv(65536)
            if not d:
                return None
            self.buf += d
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        fields = []
        for ln in lines[1:]:
            k, v = ln.split(":", 1)
            fields.append((k.strip().lower(), v.strip()))
        hdr = dict(fields)
        n = int(hdr.get("content-length", "0"))
        if n > MAX_BODY:
            return None
        while len(self.buf) < n:
            d = self.sock.recv(65536)
            if not d:
                return None
            self.buf += d
        body, self.buf = self.buf[:n], self.buf[n:]
        return method, target, hdr, body

    def send(self, status, reason, fields=(), body=b"", ctype="text/plain"):
        head = "HTTP/1.1 %d %s\r\n" % (status, reason)
        for k, v in fields:
            head += "%s: %s\r\n" % (k, v)
        head += "Content-Type: %s\r\nContent-Length: %d\r\n\r\n" % (ctype, len(body))
        self.sock.sendall(head.encode("latin-1") + body)

    def challenge(self, extra=()):
        self.send(401, "Unauthorized", list(extra) + [
            ("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM"),
            ("WWW-Authenticate", 'Basic realm="ntlm_backend"')], b"401 Unauthorized\n")

    def serve(self):
        try:
            while True:
                req = self.read_request()
                if req is None:
                    return
                with self.srv.dir.lock:
                    self.srv.dir.requests += 1
                self.handle(*req)
                if req[2].get("connection", "").lower() == "close":
                    return
        except (OSError, ValueError):
            return
        finally:
            self.sock.close()

    def handle(self, method, target, hdr, body):
        d = self.srv.dir
        path = target.split("?", 1)[0]
        if path == "/stats":
            return self.send(200, "OK", body=json.dumps(d.stats()).encode(),
                             ctype="application/json")
        if method == "POST" and path.lower() == "/webticket/oauthtoken":
            return self.oauth(body)
        if method == "POST" and path.lower() == "/webticket/webticketservice.svc/auth":
            return self.webticket(body)
        auth = hdr.get("authorization", "")
        scheme, _, tok = auth.partition(" ")
        scheme = scheme.lower()
        if scheme in ("ntlm", "negotiate") and tok:
            return self.ntlm(scheme, tok.strip())
        if scheme == "basic":
            try:
                name, _, pw = base64.b64decode(tok, validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return self.send(400, "Bad Request", body=b"bad basic\n")
            ok, key = d.check_password(name, pw)
            if ok:
                return self.send(200, "OK", body=("hello %s\n" % key).encode())
            return self.challenge()
        if self.user is not None:
            return self.send(200, "OK", body=("hello %s\n" % self.user).encode())
        return self.challenge()

    def ntlm(self, scheme, tok):
        d = self.srv.dir
        name = "Negotiate" if scheme == "negotiate" else "NTLM"
        try:
            msg = base64.b64decode(tok, validate=True)
        except ValueError:
            return self.send(400, "Bad Request", body=b"bad token\n")
        if len(msg) < 12 or msg[:8] != b"NTLMSSP\0":
            return self.send(400, "Bad Request", body=b"not NTLM\n")
        mtype = struct.unpack_from("<I", msg, 8)[0]
        if mtype == 1:
            self.ctx = gssapi.SecurityContext(
                creds=gssapi.Credentials(usage="accept", mechs=[NTLM_OID]), usage="accept")
            self.user = None
            # gss-ntlmssp wants the 8-byte Version field that MS-NLMP makes optional and
            # curl leaves out (a 32-byte type 1): pad it with zeros, as "no version"
            no_version = len(msg) < 40
            if no_version:
                msg += b"\0" * (40 - len(msg))
            try:
                out = self.ctx.step(msg)
            except gssapi.exceptions.GSSError:
                self.ctx = None
                return self.send(400, "Bad Request", body=b"bad type 1\n")
            if no_version and len(out) >= 24:
                # ...and such a client (curl) echoes NEGOTIATE_VERSION into a type 3 that
                # has no Version field, which gss-ntlmssp then cannot decode: do not offer
                # it (the flags are not covered by the NTLMv2 response)
                flags = struct.unpack_from("<I", out, 20)[0] & ~0x02000000
                out = out[:20] + struct.pack("<I", flags) + out[24:]
            return self.send(401, "Unauthorized", [
                ("WWW-Authenticate", "%s %s" % (name, base64.b64encode(out).decode()))],
                b"401 challenge\n")
        if mtype != 3 or self.ctx is None or len(msg) < 64:
            self.ctx = None
            return self.challenge()
        dom, user = ntlm_type3_user(msg)
        key = d.key(dom or d.default_domain, user)
        ctx, self.ctx = self.ctx, None
        ok = False
        if not d.is_locked(key):
            try:
                ctx.step(msg)
                ok = ctx.complete
            except gssapi.exceptions.GSSError:
                ok = False
        d.record(key, ok)
        if ok:
            self.user = key
            return self.send(200, "OK", body=("hello %s\n" % key).encode())
        return self.challenge()

    def oauth(self, body):
        form = urllib.parse.parse_qs(body.decode("latin-1"))
        if form.get("grant_type", [""])[0] != "password" or "username" not in form:
            return self.send(400, "Bad Request", body=b'{"error":"unsupported_grant_type"}',
                             ctype="application/json")
        ok, key = self.srv.dir.check_password(form["username"][0],
                                              form.get("password", [""])[0])
        if ok:
            tok = base64.b64encode(os.urandom(24)).decode()
            return self.send(200, "OK", body=json.dumps(
                {"access_token": tok, "token_type": "Bearer", "expires_in": 28800}).encode(),
                ctype="application/json")
        return self.send(400, "Bad Request", body=b'{"error":"invalid_grant"}',
                         ctype="application/json")

    def webticket(self, body):
        text = body.decode("utf-8", "replace")

        def elem(local):
            m = re.search(r"<(?:[\w.-]+:)?%s(?:\s[^>]*)?>\s*([^<]*?)\s*</" % local, text)
            return m.group(1) if m else None
        user, pw = elem("Username"), elem("Password")
        try:
            name = base64.b64decode(user or "", validate=True).decode()
            password = base64.b64decode(pw or "", validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            name = None
        if name:
            ok, _ = self.srv.dir.check_password(name, password)
            if ok:
                return self.send(200, "OK", body=SOAP_OK.encode(), ctype="text/xml")
        return self.send(500, "Internal Server Error", body=SOAP_FAULT.encode(),
                         ctype="text/xml")


SOAP_OK = ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
           '<RequestSecurityTokenResponse xmlns="http://docs.oasis-open.org/ws-sx/ws-trust/200512">'
           '<RequestedSecurityToken>cwt-token</RequestedSecurityToken>'
           '</RequestSecurityTokenResponse></s:Body></s:Envelope>')
SOAP_FAULT = ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>'
              '<faultcode xmlns:a="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-'
              'wssecurity-secext-1.0.xsd">a:FailedAuthentication</faultcode>'
              '<faultstring xml:lang="en-US">No valid security token.</faultstring>'
              '</s:Fault></s:Body></s:Envelope>')


class Server:
    def __init__(self, port, users, threshold):
        self.dir = Directory(users, threshold)
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", port))
        self.ls.listen(128)
        self.port = self.ls.getsockname()[1]

    def run(self):
        while True:
            s, _ = self.ls.accept()
            threading.Thread(target=Conn(self, s).serve, daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--threshold", type=int, default=10)
    ap.add_argument("--users", default=os.environ.get("NTLM_USER_FILE"))
    a = ap.parse_args()
    if not a.users:
        sys.exit("ntlm_backend: --users FILE or NTLM_USER_FILE is required")
    os.environ["NTLM_USER_FILE"] = os.path.abspath(a.users)
    srv = Server(a.port, a.users, a.threshold)
    print("ready %d" % srv.port, flush=True)
    srv.run()


if __name__ == "__main__":
    main()
