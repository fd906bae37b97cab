"""
Protocol defects found by an outside conformance suite and with real TLS stacks (issue 13),
each through the real proxy: OPTIONS * (routed by host), 1xx to an HTTP/1.0 client, a
chunk-size line with trailing whitespace, trailer fields that must not be forwarded, the
status of an overlong request line, a TLS close_notify that comes in the same read as the
last data, and IP-address SANs. Rules: docs/http1.md, docs/tls.md.
"""
import socket
import ssl
import threading
import time

import pytest

from conftest import ProxySpec
from util.http import Client, raw_exchange

pytestmark = pytest.mark.serving

H = b"Host: h.example\r\n"


@pytest.fixture
def edge(proxy, backend_factory):
    b = backend_factory(name="be")
    spec = ProxySpec(workers=1)
    port = spec.listener("l", header_timeout="5s")
    spec.pool("p", [b])
    spec.route("r", pool="p")
    r = proxy(spec)
    r.port, r.backend = port, b
    return r


def rejected(edge, raw, status):
    """raw gets status and the connection is closed; nothing reaches the backend."""
    before = edge.backend.count
    resp, c = raw_exchange(edge.port, raw)
    try:
        assert resp is not None, "closed without a status for %r" % raw[:100]
        assert resp.status == status, "%r -> %r" % (raw[:100], resp)
        assert c.closed_by_peer(5), "connection left open after %d" % status
    finally:
        c.close()
    return before


# ---- 3. chunk-size line with trailing whitespace ----

@pytest.mark.parametrize("line", [b"5 \r\n", b"5\t\r\n", b"5;a=b \r\n", b"5;a \r\n"],
                         ids=["sp", "tab", "after-value", "after-name"])
def test_chunk_size_trailing_whitespace_is_400(edge, line):
    # relayed byte for byte, "5 \r\n" would make the backend parse a line the grammar does
    # not have: refused like the other malformed chunk lines (docs/http1.md)
    raw = (b"POST /c HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n" + line +
           b"hello\r\n0\r\n\r\n")
    rejected(edge, raw, 400)
    assert all(q.body != b"hello" for q in edge.backend.requests)
    with Client(edge.port) as c:
        assert c.request("GET", "/after", host="h.example").status == 200


def test_chunk_ext_with_bws_before_semicolon_is_relayed(edge):
    # "5 ;ext" is in RFC 9112 7.1.1's grammar (BWS ";"): accepted, the body arrives whole
    with Client(edge.port) as c:
        c.send(b"POST /c HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
               b"5 ;ext\r\nhello\r\n6\t; a = b\r\n world\r\n0 ;last\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.json()["body"] == "hello world"


def test_chunk_size_trailing_whitespace_in_response_is_502(proxy, backend_factory):
    def handler(be, conn, req):
        conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n"
                  b"0\r\n\r\n")
        return False
    bad = backend_factory(name="bad", handler=handler)
    spec = ProxySpec()
    port = spec.listener("l")
    spec.pool("p", [bad])
    spec.route("r", pool="p")
    proxy(spec)
    with Client(port) as c:
        r = c.request("GET", "/x", host="h.example")
        assert r.status == 502 and b"hello" not in r.body



# ---- 4. trailer fields that must not be forwarded ----

class RawChunkBackend:
    """Reads one chunked request per connection and keeps the raw body bytes it got (size
    lines, data, last chunk and trailer section), answers 200 with no body."""

    def __init__(self):
        self.bodies = []
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, s):
        s.settimeout(10)
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                d = s.recv(65536)
                if not d:
                    return
                buf += d
            body = buf.split(b"\r\n\r\n", 1)[1]
            # the body ends with the last chunk and the trailer section's empty line
            while not (b"\r\n0\r\n" in b"\r\n" + body and body.endswith(b"\r\n\r\n")):
                d = s.recv(65536)
                if not d:
                    return
                body += d
            self.bodies.append(body)
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        except OSError:
            pass
        finally:
            s.close()

    def stop(self):
        self.lsock.close()


FORBIDDEN_TRAILERS = [b"Host: evil.example", b"Content-Length: 5", b"Authorization: Basic eA==",
                      b"X-Forwarded-For: 10.6.6.6", b"Transfer-Encoding: chunked",
                      b"Cookie: session=stolen", b"Content-Type: text/evil"]


@pytest.mark.parametrize("split", [False, True], ids=["one-read", "split-reads"])
def test_forbidden_request_trailers_do_not_reach_the_backend(proxy, split):
    # RFC 9110 6.5.1: framing, routing, authentication, request modifiers... must not be
    # trusted as trailers; a backend that merges trailers into the header section would.
    # split: the trailer section arrives over several reads (held back, filtered at the end)
    b = RawChunkBackend()
    try:
        spec = ProxySpec(workers=1)
        port = spec.listener("l")
        spec.pool("p", ["127.0.0.1:%d" % b.port])
        spec.route("r", pool="p")
        proxy(spec)
        parts = [b"POST /t HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                 b"5\r\nhello\r\n0\r\nX-Sum: 99\r\nHo",
                 b"st: evil.example\r\n" +
                 b"".join(t + b"\r\n" for t in FORBIDDEN_TRAILERS[1:]),
                 b"Server-Timing: x;dur=1\r\n\r", b"\n"]
        with Client(port) as c:
            if split:
                for part in parts:
                    c.send(part)
                    time.sleep(0.1)
            else:
                c.send(b"".join(parts))
            r = c.read_response()
            assert r.status == 200
        assert len(b.bodies) == 1
        got = b.bodies[0]
        assert got.startswith(b"5\r\nhello\r\n0\r\n"), got
        assert b"X-Sum: 99\r\n" in got and b"Server-Timing: x;dur=1\r\n" in got, got
        for t in FORBIDDEN_TRAILERS:
            assert t not in got, got
        assert got.endswith(b"\r\n\r\n")
    finally:
        b.stop()

# ---- 5. request line over the limit: what overflowed decides the status ----

def test_overlong_method_is_501_not_414(edge):
    # RFC 9112 3: a method longer than any implemented is 501; 414 is for the target only
    rejected(edge, b"M" * 100000 + b" / HTTP/1.1\r\n" + H + b"\r\n", 501)
    rejected(edge, b"M" * 9000, 501)


def test_overlong_target_is_still_414(edge):
    rejected(edge, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + H + b"\r\n", 414)


def test_endless_empty_lines_are_400(edge):
    rejected(edge, b"\r\n" * 5000, 400)


# ---- 6. TLS close_notify in the same read as the last data ----

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    from util.tls import make_pki
    return make_pki(tmp_path_factory.mktemp("pki"))


def bio_handshake(sock, obj, inc, out, deadline):
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            bio_flush(sock, out)
            if not bio_fill(sock, inc, deadline):
                raise ConnectionError("closed during the handshake")
    bio_flush(sock, out)


def bio_flush(sock, out):
    data = out.read()
    if data:
        sock.sendall(data)


def bio_fill(sock, inc, deadline):
    sock.settimeout(max(0.05, deadline - time.monotonic()))
    try:
        d = sock.recv(65536)
    except socket.timeout:
        return False
    if not d:
        inc.write_eof()
        return False
    inc.write(d)
    return True


def wait_close_notify(sock, obj, inc, out, deadline):
    """Like asyncio's SSL transport and others: our close_notify went out, wait for the
    peer's before closing TCP. True when it came."""
    while time.monotonic() < deadline:
        try:
            obj.unwrap()
            bio_flush(sock, out)
            return True
        except ssl.SSLWantReadError:
            bio_flush(sock, out)
            if not bio_fill(sock, inc, deadline):
                if inc.eof:
                    return False
        except (ssl.SSLError, OSError):
            return False
    return False


class CloseNotifyOrigin:
    """A TLS origin (ssl.MemoryBIO, so the bytes on the wire are exactly what we want):
    reads one request head, answers `Connection: close` without a length, and sends the
    last body bytes and its close_notify in ONE send; it closes TCP only after the peer's
    close_notify (or after `patience` seconds). .got_notify counts peers that sent one."""

    def __init__(self, cert, key, body=b"the-end-of-a-close-delimited-body", patience=30,
                 delay=0.0, linger=0.0):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.body, self.patience, self.delay, self.linger = body, patience, delay, linger
        self.got_notify = 0
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, s):
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = self.ctx.wrap_bio(inc, out, server_side=True)
        deadline = time.monotonic() + 10
        try:
            bio_handshake(s, obj, inc, out, deadline)
            buf = b""
            while b"\r\n\r\n" not in buf:
                try:
                    buf += obj.read(65536)
                except ssl.SSLWantReadError:
                    if not bio_fill(s, inc, deadline):
                        return
            time.sleep(self.delay)
            if b"\r\nupgrade: websocket" in buf.lower():
                # a wss origin that ends the tunnel: its close frame and close_notify
                import backend as be
                key = [ln.split(b":", 1)[1].strip().decode() for ln in buf.split(b"\r\n")
                       if ln.lower().startswith(b"sec-websocket-key:")][0]
                obj.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          b"Connection: Upgrade\r\nSec-WebSocket-Accept: " +
                          be.ws_accept_key(key).encode() + b"\r\n\r\n")
                bio_flush(s, out)
                time.sleep(0.2)
                obj.write(be.ws_frame(1, self.body) + be.ws_frame(8, b"\x03\xe8"))
            else:
                obj.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + self.body)
            try:
                obj.unwrap()    # queues our close_notify; the peer's is not there yet
            except ssl.SSLWantReadError:
                pass
            bio_flush(s, out)   # last data + close_notify: one send
            if wait_close_notify(s, obj, inc, out, time.monotonic() + self.patience):
                self.got_notify += 1
                # a stack that keeps TCP open a while after the exchange of close_notify
                time.sleep(self.linger)
        except (OSError, ssl.SSLError, ConnectionError):
            pass
        finally:
            s.close()

    def stop(self):
        self.stopped = True
        self.lsock.close()


def read_to_eof(sock, limit):
    sock.settimeout(limit)
    data = b""
    while True:
        d = sock.recv(65536)
        if not d:
            return data
        data += d


@pytest.mark.parametrize("linger", [0, 30], ids=["fin-after-our-notify", "fin-much-later"])
def test_backend_close_notify_with_last_bytes_ends_the_response(proxy, pki, linger):
    # plain listener -> TLS pool; the origin's close-delimited body ends with its
    # close_notify in the same segment and its FIN waits for ours (and, with linger, comes
    # 30 s after that): the response must end at once, on the close_notify alone (the
    # bound is a hang check: the defect took the origin's 30 s patience)
    o = CloseNotifyOrigin(pki.be, pki.be_key, linger=linger)
    try:
        spec = ProxySpec(workers=1)
        port = spec.listener("l")
        spec.pool("p", ["127.0.0.1:%d" % o.port], tls="on", ca=pki.ca,
                  sni="backend.contoso.local")
        spec.route("r", pool="p")
        proxy(spec)
        for i in range(3):
            s = socket.create_connection(("127.0.0.1", port))
            try:
                t0 = time.monotonic()
                s.sendall(b"GET /%d HTTP/1.1\r\nHost: h.example\r\n\r\n" % i)
                data = read_to_eof(s, 40)
                took = time.monotonic() - t0
            finally:
                s.close()
            assert data.startswith(b"HTTP/1.1 200") and data.endswith(o.body), data[-200:]
            assert took < 5, "response %d took %.1f s to end" % (i, took)
        # and ringedge answered close_notify with close_notify
        deadline = time.monotonic() + 5
        while o.got_notify < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert o.got_notify == 3
    finally:
        o.stop()


def test_wss_origin_close_notify_ends_the_tunnel(proxy, pki):
    # a WebSocket tunnel to a TLS origin that sends its last frames and close_notify
    # together, then waits for ours: the client sees the tunnel end at once
    import base64
    import os
    o = CloseNotifyOrigin(pki.be, pki.be_key, linger=30)
    try:
        spec = ProxySpec(workers=1)
        port = spec.listener("l")
        spec.pool("p", ["127.0.0.1:%d" % o.port], tls="on", ca=pki.ca,
                  sni="backend.contoso.local")
        spec.route("r", pool="p")
        proxy(spec)
        key = base64.b64encode(os.urandom(16))
        s = socket.create_connection(("127.0.0.1", port))
        try:
            s.sendall(b"GET /ws HTTP/1.1\r\nHost: h.example\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                      b"Sec-WebSocket-Key: " + key + b"\r\n\r\n")
            t0 = time.monotonic()
            data = read_to_eof(s, 40)
            took = time.monotonic() - t0
        finally:
            s.close()
        assert data.startswith(b"HTTP/1.1 101"), data[:200]
        assert o.body in data and data.endswith(b"\x88\x02\x03\xe8"), data[-100:]
        assert took < 5, "the tunnel took %.1f s to end" % took
    finally:
        o.stop()


def test_client_close_notify_with_last_request_bytes_ends_the_exchange(proxy, backend_factory,
                                                                         pki):
    # a TLS client sends its request and close_notify together, then waits for ours before
    # closing TCP (asyncio's way): ringedge must see the end of stream at once (as a FIN:
    # the client gave up, 499) and answer close_notify, not sit until the slow backend
    # answers 15 s later
    from util.tls import tls_listener

    def slow(be, conn, req):
        time.sleep(15)
        return True
    b = backend_factory(name="slow", handler=slow)
    spec = ProxySpec(workers=1)
    port = tls_listener(spec, "l", [(pki.lync, pki.lync_key)])
    spec.pool("p", [b])
    spec.route("r", pool="p")
    proxy(spec)
    ctx = ssl.create_default_context(cafile=pki.ca)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="meet.contoso.com")
    s = socket.create_connection(("127.0.0.1", port))
    try:
        bio_handshake(s, obj, inc, out, time.monotonic() + 10)
        t0 = time.monotonic()
        obj.write(b"GET /slow HTTP/1.1\r\nHost: meet.contoso.com\r\n\r\n")
        try:
            obj.unwrap()
        except ssl.SSLWantReadError:
            pass
        bio_flush(s, out)       # request + close_notify: one send
        got = wait_close_notify(s, obj, inc, out, time.monotonic() + 25)
        took = time.monotonic() - t0
    finally:
        s.close()
    assert got, "no close_notify from ringedge"
    assert took < 5, "the exchange took %.1f s to end" % took


# ---- 7. IP-address SANs ----

@pytest.fixture(scope="module")
def ip_cert(pki, tmp_path_factory):
    """A leaf signed by the test CA with DNS:ip.contoso.com, IP:127.0.0.1, IP:::1."""
    from pathlib import Path
    from util.tls import _key, _run
    d = str(tmp_path_factory.mktemp("ipcert"))
    _key(d, "ip", "ec")
    _run("req", "-new", "-key", "ip.key", "-subj", "/CN=ip.contoso.com", "-out", "ip.csr",
         cwd=d)
    Path(d, "ip.ext").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:ip.contoso.com,IP:127.0.0.1,"
        "IP:::1\n")
    _run("x509", "-req", "-in", "ip.csr", "-CA", pki.ca, "-CAkey", pki.ca_key,
         "-CAcreateserial", "-days", "30", "-sha256", "-extfile", "ip.ext", "-out", "ip.pem",
         cwd=d)
    return Path(d, "ip.pem").as_posix(), Path(d, "ip.key").as_posix()


def test_listener_covers_an_ip_host_with_an_ip_san(proxy, backend_factory, pki, ip_cert):
    # https://127.0.0.1/ : no SNI (RFC 6066), Host 127.0.0.1:PORT; the certificate lists
    # IP:127.0.0.1, so the request is served, not 421 (RFC 9110 4.3.4, RFC 6125)
    from util.tls import TlsClient, tls_listener
    b = backend_factory(name="be")
    spec = ProxySpec(workers=1)
    port = tls_listener(spec, "l", [ip_cert, (pki.lync, pki.lync_key)])
    spec.pool("p", [b])
    spec.route("r", pool="p")
    proxy(spec)
    with TlsClient(port, "127.0.0.1", pki.ca) as c:     # Python checks the IP SAN too
        r = c.request("GET", "/ip", host="127.0.0.1:%d" % port)
        assert r.status == 200, r
        r = c.request("GET", "/ip", host="127.0.0.1")
        assert r.status == 200, r
        # an address the certificate does not list is still misdirected
        r = c.request("GET", "/ip", host="127.0.0.2:%d" % port)
        assert r.status == 421, r
    with TlsClient(port, "meet.contoso.com", pki.ca) as c:
        # the DNS certificate chosen by SNI covers no IP
        assert c.request("GET", "/x", host="127.0.0.1").status == 421


def test_pool_named_by_ip_verifies_the_ip_san(proxy, pki, ip_cert):
    from util.tls import TlsBackend
    good = TlsBackend(ip_cert[0], ip_cert[1], name="ip").start()
    dns_only = TlsBackend(pki.be, pki.be_key, name="dns").start()
    try:
        spec = ProxySpec(workers=1)
        port = spec.listener("l")
        # no sni: the server's address is the name verified
        spec.pool("ip", ["127.0.0.1:%d" % good.port], tls="on", ca=pki.ca)
        spec.pool("dns", ["127.0.0.1:%d" % dns_only.port], tls="on", ca=pki.ca)
        spec.route("ip", path="/ip", pool="ip")
        spec.route("dns", path="/dns", pool="dns")
        r = proxy(spec)
        with Client(port) as c:
            resp = c.request("GET", "/ip/x", host="h.example")
            assert resp.status == 200 and resp.header("X-Be-Name") == "ip", resp
        with Client(port) as c:
            # a certificate without that IP SAN still fails verification
            assert c.request("GET", "/dns/x", host="h.example").status == 502
        assert "name mismatch" in r.stderr()
    finally:
        good.stop()
        dns_only.stop()


# ---- 1. OPTIONS * is about the server as a whole ----

def read_all(s, limit=10):
    s.settimeout(limit)
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            return data
        data += d


def test_options_asterisk_is_routed_by_host_and_forwarded(proxy, backend_factory):
    # RFC 9110 9.3.7: OPTIONS * is about the server as a whole: routed by host alone (as
    # path "/"), forwarded with its target "*" byte-exact, not answered 404 by the edge
    a = backend_factory(name="a")
    other = backend_factory(name="other")
    spec = ProxySpec(workers=1)
    port = spec.listener("l")
    spec.pool("a", [a])
    spec.pool("other", [other])
    spec.route("a", host="a.example", pool="a")
    spec.route("o", host="b.example", path="/only", pool="other")
    proxy(spec)
    with Client(port) as c:
        c.send(b"OPTIONS * HTTP/1.1\r\nHost: a.example\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.header("X-Be-Name") == "a", r
        assert r.json()["method"] == "OPTIONS" and r.json()["target"] == "*"
        # still keep-alive, and a host whose routes all need a path other than / is 404
        c.send(b"OPTIONS * HTTP/1.1\r\nHost: b.example\r\n\r\n")
        assert c.read_response().status == 404
    assert a.count == 1 and other.count == 0


# ---- 2. no 1xx to an HTTP/1.0 client ----

def interim_backend(interim):
    def handler(be, conn, req):
        conn.send(interim + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        return True
    return handler


@pytest.mark.parametrize("interim", [
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
], ids=["100", "103", "100+103"])
def test_no_interim_response_to_an_http10_client(proxy, backend_factory, interim):
    # RFC 9110 15.2: a server must not send a 1xx to an HTTP/1.0 client
    b = backend_factory(name="be", handler=interim_backend(interim))
    spec = ProxySpec(workers=1)
    port = spec.listener("l")
    spec.pool("p", [b])
    spec.route("r", pool="p")
    proxy(spec)
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET /x HTTP/1.0\r\nHost: h.example\r\n\r\n")
        data = read_all(s)
    assert data.startswith(b"HTTP/1.1 200 "), data
    assert b" 100 " not in data and b" 103 " not in data and b"Link:" not in data, data
    assert data.endswith(b"hello")
    # an HTTP/1.1 client still gets them
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET /x HTTP/1.1\r\nHost: h.example\r\nConnection: close\r\n\r\n")
        data = read_all(s)
    assert data.startswith(b"HTTP/1.1 10"), data
    assert data.endswith(b"hello")
