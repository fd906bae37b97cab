"""
PROXY protocol and real_ip_from applied (core/proxy/clientaddr.c): HAProxy in TCP mode with
`send-proxy-v2` and `send-proxy` in front of ringedge (plain and TLS listeners); the client's
own address reaches X-Forwarded-For, the access log and source_hash. A peer outside
proxy_protocol_from, and a malformed, truncated, oversized or doubled header, close that
connection only (logged). X-Forwarded-For from real_ip_from peers: rightmost untrusted wins.
"""
import shutil
import socket
import struct
import subprocess
import time

import pytest

from conftest import ProxySpec
from util.harness import free_port, wait_port
from util.http import Client, build_request, get
from util.pools import LogFollower, get_from, server_of
from util.tls import TlsClient, make_pki, tls_listener

pytestmark = pytest.mark.serving
needs_haproxy = pytest.mark.skipif(shutil.which("haproxy") is None, reason="no haproxy")

V2SIG = b"\r\n\r\n\x00\r\nQUIT\n"
HOST = "meet.contoso.com"


def v2(src, sport, dst="127.0.0.1", dport=443, cmd=0x21, tlvs=b""):
    body = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return V2SIG + bytes([cmd, 0x11]) + struct.pack("!H", len(body) + len(tlvs)) + body + tlvs


def xff(resp):
    return [v for k, v in resp.json()["headers"] if k.lower() == "x-forwarded-for"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def edge(proxy, backends, pp_from="127.0.0.0/8", tls_pki=None, balance=None, **lkv):
    """ringedge with a PROXY listener "pp" (TLS with tls_pki), a direct listener "d"."""
    spec = ProxySpec(workers=2)
    if tls_pki is not None:
        port = tls_listener(spec, "pp", [(tls_pki.lync, tls_pki.lync_key)],
                            proxy_protocol="on", proxy_protocol_from=pp_from, **lkv)
    else:
        port = spec.listener("pp", proxy_protocol="on", proxy_protocol_from=pp_from, **lkv)
    direct = spec.listener("d")
    spec.pool("p", backends, forwarded_for="on", **({"balance": balance} if balance else {}))
    spec.route("r", pool="p")
    r = proxy(spec)
    r.port, r.direct, r.log = port, direct, LogFollower(r.errlog)
    return r


@pytest.fixture
def haproxy(tmp_path):
    procs = []

    def start(target_port, source="127.0.0.1"):
        ports = {k: free_port() for k in ("v1", "v2")}
        cfg = tmp_path / ("haproxy%d.cfg" % len(procs))
        cfg.write_text("""
global
    maxconn 200
defaults
    mode tcp
    timeout connect 5s
    timeout client 20s
    timeout server 20s
frontend v1
    bind 127.0.0.1:{v1}
    default_backend v1
backend v1
    balance source
    hash-type consistent
    server s 127.0.0.1:{t} send-proxy source {src}
frontend v2
    bind 127.0.0.1:{v2}
    default_backend v2
backend v2
    balance source
    hash-type consistent
    server s 127.0.0.1:{t} send-proxy-v2 source {src}
""".format(t=target_port, src=source, **ports))
        p = subprocess.Popen(["haproxy", "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        procs.append(p)
        for k in ports:
            assert wait_port("127.0.0.1", ports[k], 10, p)
        return ports

    yield start
    for p in procs:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


@needs_haproxy
@pytest.mark.parametrize("key", ["v1", "v2"])
def test_haproxy_plain_client_address(proxy, backend_factory, haproxy, key):
    b = backend_factory(name="be")
    r = edge(proxy, [b])
    hp = haproxy(r.port)
    for src in ("127.0.0.7", "127.0.0.8"):
        resp = get_from(hp[key], src, "/pp/%s" % src)
        assert resp.status == 200, resp
        assert xff(resp) == [src], resp.json()["headers"]
        r.log.wait(r'^%s .*GET /pp/%s ' % (src.replace(".", r"\."), src.replace(".", r"\.")))
    # keep-alive through the balancer: the second request keeps the address
    s = socket.create_connection(("127.0.0.1", hp[key]), timeout=10)
    c = Client.__new__(Client)
    c.sock, c.buf, c.timeout, c.port, c.host = s, b"", 10, hp[key], "127.0.0.1"
    for i in range(2):
        c.send(build_request("GET", "/ka/%d" % i, "h.example", ()))
        assert xff(c.read_response()) == ["127.0.0.1"]
    c.close()


@needs_haproxy
@pytest.mark.parametrize("key", ["v1", "v2"])
def test_haproxy_tls_listener(proxy, backend_factory, haproxy, pki, key):
    """The header is read before TLS; the bytes after it are the ClientHello."""
    b = backend_factory(name="be")
    r = edge(proxy, [b], tls_pki=pki)
    hp = haproxy(r.port)
    for i in range(3):
        s = socket.socket()
        s.settimeout(10)
        s.bind(("127.0.0.%d" % (20 + i), 0))
        s.connect(("127.0.0.1", hp[key]))
        c = TlsClient.__new__(TlsClient)
        c.buf, c.timeout, c.port, c.host = b"", 10, hp[key], "127.0.0.1"
        from util.tls import client_context
        c.sock = client_context(pki.ca).wrap_socket(s, server_hostname=HOST)
        resp = c.request("GET", "/tls", HOST)
        assert resp.status == 200 and xff(resp) == ["127.0.0.%d" % (20 + i)], resp
        c.close()


@needs_haproxy
def test_haproxy_source_hash_uses_the_client_address(proxy, backend_factory, haproxy):
    """Through the balancer, each client gets the server a direct connection from the same
    address gets; the clients spread over the pool."""
    bs = [backend_factory(name="s%d" % i) for i in range(3)]
    r = edge(proxy, bs, balance="source_hash")
    hp = haproxy(r.port)
    seen = set()
    for i in range(2, 26):
        src = "127.0.0.%d" % i
        via = server_of(get_from(hp["v2"], src, "/sh"))
        assert via == server_of(get_from(r.direct, src, "/sh")), src
        seen.add(via)
    assert seen == {"s0", "s1", "s2"}


def test_untrusted_peer_closed_and_logged(proxy, backend_factory):
    b = backend_factory(name="be")
    r = edge(proxy, [b], pp_from="127.0.0.200/32")
    s = socket.socket()
    s.settimeout(5)
    s.bind(("127.0.0.9", 0))
    s.connect(("127.0.0.1", r.port))
    try:
        s.sendall(v2("10.1.2.3", 4000) + build_request("GET", "/x", "h", ()))
        assert s.recv(100) == b""
    except ConnectionResetError:
        pass
    s.close()
    r.log.wait(r"client 127\.0\.0\.9: PROXY protocol: peer not in proxy_protocol_from: closed")
    assert b.count == 0


def raw(port, data, close_write=False):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(data)
    if close_write:
        s.shutdown(socket.SHUT_WR)
    return s


def closed(s):
    try:
        return s.recv(100) == b""
    except ConnectionResetError:
        return True
    finally:
        s.close()


@pytest.mark.parametrize("name,data,why", [
    ("malformed v1", b"PROXY TCP4 1.2.3.4 5.6.7.8 x 80\r\nGET / HTTP/1.1\r\n\r\n", "bad port"),
    ("oversized v2", V2SIG + b"\x21\x11\x20\x00" + b"\0" * 64, "longer"),
    ("double header", v2("10.0.0.1", 1) + v2("10.0.0.2", 2) + b"GET / HTTP/1.1\r\n\r\n",
     "second PROXY header"),
    ("no header", b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", "signature"),
])
def test_bad_header_closes_that_connection_only(proxy, backend_factory, name, data, why):
    b = backend_factory(name="be")
    r = edge(proxy, [b])
    good = raw(r.port, v2("10.9.9.9", 999))     # a valid connection open meanwhile
    bad = raw(r.port, data)
    assert closed(bad), name
    r.log.wait(r"PROXY protocol: .*%s.*: closed" % why)
    c = Client.__new__(Client)
    c.sock, c.buf, c.timeout, c.port, c.host = good, b"", 10, r.port, "127.0.0.1"
    c.send(build_request("GET", "/good", "h.example", ()))
    resp = c.read_response()
    assert resp.status == 200 and xff(resp) == ["10.9.9.9"]
    c.close()
    r.log.wait(r"^10\.9\.9\.9 .*GET /good ")


def test_truncated_header_closed(proxy, backend_factory):
    b = backend_factory(name="be")
    r = edge(proxy, [b], header_timeout="1s")
    s = raw(r.port, v2("10.0.0.1", 1)[:20], close_write=True)      # EOF inside the header
    assert closed(s)
    r.log.wait(r"PROXY protocol: connection closed before the end of the header: closed")
    t0 = time.monotonic()
    s = raw(r.port, v2("10.0.0.1", 1)[:20])     # stalls: header_timeout
    assert closed(s) and time.monotonic() - t0 < 8
    r.log.wait(r"PROXY protocol: no complete header within header_timeout")
    assert b.count == 0


def test_local_header_keeps_the_peer(proxy, backend_factory):
    """v2 LOCAL (a balancer's health check): the connection's own address is the client."""
    b = backend_factory(name="be")
    r = edge(proxy, [b])
    s = raw(r.port, V2SIG + b"\x20\x00\x00\x00" + build_request("GET", "/hc", "h", ()))
    c = Client.__new__(Client)
    c.sock, c.buf, c.timeout, c.port, c.host = s, b"", 10, r.port, "127.0.0.1"
    assert xff(c.read_response()) == ["127.0.0.1"]
    c.close()


def test_real_ip_from(proxy, backend_factory):
    b = backend_factory(name="be")
    spec = ProxySpec()
    trusted = spec.listener("t", real_ip_from="127.0.0.0/8, 10.0.0.0/8")
    spec.pool("p", [b], forwarded_for="on")
    spec.route("r", pool="p")
    r = proxy(spec)
    log = LogFollower(r.errlog)
    h = [("X-Forwarded-For", "198.51.100.7, 10.1.1.1")]
    resp = get(trusted, "/rip", headers=h)
    # the rightmost untrusted address is the client: logged, and what ringedge appends
    assert xff(resp) == ["198.51.100.7, 10.1.1.1, 198.51.100.7"], resp.json()["headers"]
    log.wait(r"^198\.51\.100\.7 .*GET /rip ")
    # the next request on the same connection without the field: the peer again
    with Client(trusted) as c:
        assert xff(c.request("GET", "/a", "h", h))[-1].endswith(", 198.51.100.7")
        assert xff(c.request("GET", "/b", "h")) == ["127.0.0.1"]
