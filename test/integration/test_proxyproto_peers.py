"""
The PROXY protocol parser (core/io/proxyproto.c) against a real sender: HAProxy in TCP mode
with `send-proxy` (v1), `send-proxy-v2` (IPv4 and IPv6, with TLVs: crc32c, unique-id, ssl) and
the LOCAL header of its health checks. The bytes HAProxy sends are captured by a plain socket
server and fed to build/test/unit/pp_decode (the parser as a filter). This checks the format
before the connection hook exists; the hook's own tests come with it.
"""
import shutil
import socket
import subprocess
import threading
import time

import pytest

from util.harness import build_dir, free_port, wait_port

pytestmark = pytest.mark.skipif(shutil.which("haproxy") is None, reason="no haproxy")


class Capture:
    """Accepts connections and keeps the first bytes of each (until a newline after the
    PROXY header, EOF, or 3 s)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.got = []
        self.lock = threading.Lock()
        self.stop = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._conn, args=(c,), daemon=True).start()

    def _conn(self, c):
        data = b""
        c.settimeout(0.3)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not data.endswith(b"!\n"):
            try:
                d = c.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not d:
                break
            data += d
        c.close()
        with self.lock:
            self.got.append(data)

    def wait_for(self, pred, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for d in self.got:
                    if pred(d):
                        return d
            time.sleep(0.05)
        raise AssertionError("nothing matching captured: %r" % self.got[-5:])

    def close(self):
        self.stop = True
        self.sock.close()


def decode(data):
    exe = build_dir() / "test" / "unit" / "pp_decode"
    assert exe.exists(), "%s not built" % exe
    p = subprocess.run([str(exe)], input=data, stdout=subprocess.PIPE, timeout=10)
    return p.stdout.decode().strip()


@pytest.fixture
def haproxy(tmp_path):
    cap = Capture()
    ports = {k: free_port() for k in ("v1", "v2", "tlv")}
    ports["v6"] = free_port(socket.AF_INET6, "::1")
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text("""
global
    maxconn 100
defaults
    mode tcp
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend v1
    bind 127.0.0.1:{v1}
    default_backend v1
backend v1
    server s 127.0.0.1:{cap} send-proxy
frontend v2
    bind 127.0.0.1:{v2}
    default_backend v2
backend v2
    server s 127.0.0.1:{cap} send-proxy-v2 check check-send-proxy inter 300ms
frontend v6
    bind [::1]:{v6}
    default_backend v2
frontend tlv
    bind 127.0.0.1:{tlv}
    unique-id-format rid-%ci-%cp
    default_backend tlv
backend tlv
    server s 127.0.0.1:{cap} send-proxy-v2 proxy-v2-options crc32c,unique-id,ssl
""".format(cap=cap.port, **ports))
    p = subprocess.Popen(["haproxy", "-db", "-f", str(cfg)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        for k in ("v1", "v2", "tlv"):
            assert wait_port("127.0.0.1", ports[k], 10, p), p.stdout.read()
        yield cap, ports
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
        cap.close()


def through(ports, key, source=("127.0.0.7", 0), family=socket.AF_INET):
    """Connects to HAProxy's frontend `key` from source, sends a marker; returns the
    client's (addr, port) and the marker."""
    s = socket.socket(family)
    s.settimeout(5)
    s.bind(source)
    s.connect((source[0] if family == socket.AF_INET6 else "127.0.0.1", ports[key]))
    addr = s.getsockname()
    marker = ("hello %s %d!\n" % (addr[0], addr[1])).encode()
    s.sendall(marker)
    time.sleep(0.2)
    s.close()
    return addr, marker


def test_haproxy_v1_and_v2_headers(haproxy):
    cap, ports = haproxy
    for key, ver in (("v1", 1), ("v2", 2)):
        (ip, port), marker = through(ports, key)
        data = cap.wait_for(lambda d: d.endswith(marker))
        out = decode(data)
        want = "PROXY v%d TCP4 %s:%d -> 127.0.0.1:%d" % (ver, ip, port, ports[key])
        assert out == "ok %d %s next=data" % (len(data) - len(marker), want), (out, data)


def test_haproxy_v2_ipv6(haproxy):
    cap, ports = haproxy
    try:
        (ip, port, _, _), marker = through(ports, "v6", ("::1", 0), socket.AF_INET6)
    except OSError as e:
        pytest.skip("no IPv6 loopback: %s" % e)
    data = cap.wait_for(lambda d: d.endswith(marker))
    out = decode(data)
    assert out == "ok %d PROXY v2 TCP6 [::1]:%d -> [::1]:%d next=data" % (
        len(data) - len(marker), port, ports["v6"]), (out, data)


def test_haproxy_v2_tlvs_walked(haproxy):
    cap, ports = haproxy
    (ip, port), marker = through(ports, "tlv")
    data = cap.wait_for(lambda d: d.endswith(marker))
    out = decode(data)
    assert out.startswith("ok %d PROXY v2 TCP4 %s:%d -> 127.0.0.1:%d tlvs=" % (
        len(data) - len(marker), ip, port, ports["tlv"])), (out, data)
    ntlvs = int(out.split("tlvs=")[1].split()[0])
    assert ntlvs >= 3, out      # crc32c, unique-id, ssl at least
    assert b"rid-%s-%d" % (ip.encode(), port) in data      # the unique-id TLV was sent


def test_haproxy_health_check_is_local(haproxy):
    cap, ports = haproxy
    # `check-send-proxy` health checks: a v2 LOCAL header and nothing else
    data = cap.wait_for(lambda d: d[:12] == b"\r\n\r\n\x00\r\nQUIT\n" and d[12] == 0x20)
    assert decode(data) == "ok 16 PROXY v2 LOCAL next=none", data
