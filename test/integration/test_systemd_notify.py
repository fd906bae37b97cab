"""
systemd's notify protocol for real: ringedge is started with NOTIFY_SOCKET naming a datagram
socket this test reads (what systemd does for a Type=notify unit), and the test checks what it
sends: READY=1 once serving, STATUS= lines with the client connections while running,
RELOADING=1 + MONOTONIC_USEC= then READY=1 on SIGHUP, READY=1 + STATUS= naming the error when
the reload is refused, STOPPING=1 on SIGTERM.
"""
import os
import re
import signal
import socket
import time

import pytest

from conftest import ProxySpec
from util.http import Client, get

pytestmark = pytest.mark.serving


class NotifySocket:
    """The AF_UNIX datagram socket systemd would listen on."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.seen = []

    def next(self, timeout=10):
        """The next message as a dict (key -> value), or None after timeout seconds."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return None
        msg = dict(line.split("=", 1) for line in data.decode().split("\n") if line)
        self.seen.append(msg)
        return msg

    def wait(self, pred, timeout=15, what="message"):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = self.next(max(0.05, end - time.monotonic()))
            if m is not None and pred(m):
                return m
        pytest.fail("no %s from ringedge within %ds; got %r" % (what, timeout, self.seen))

    def close(self):
        self.sock.close()


@pytest.fixture
def notify(tmp_path, monkeypatch):
    n = NotifySocket(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", n.path)
    monkeypatch.setenv("RINGEDGE_NOTIFY_STATUS_MS", "200")
    yield n
    n.close()


def edge(proxy, backend_factory, workers=2):
    b = backend_factory(name="b0")
    spec = ProxySpec(workers=workers)
    port = spec.listener("l")
    spec.pool("p", [b])
    spec.route("all", pool="p")
    r = proxy(spec)
    r.port = port
    return r


def test_ready_status_reload_refused_reload_stopping(proxy, backend_factory, notify):
    r = edge(proxy, backend_factory)
    m = notify.wait(lambda m: "READY" in m, what="READY=1")
    assert m["READY"] == "1" and m["STATUS"] == "serving with 2 workers", m
    # the listener accepts by the time READY=1 was sent
    assert get(r.port, "/x").status == 200

    # STATUS= while running counts the open client connections
    # and the requests per second since the previous STATUS= line
    def status(m, conns):
        x = re.fullmatch(r"serving: %s, (\d+) requests/s" % conns, m.get("STATUS", ""))
        return int(x.group(1)) if x else None

    with Client(r.port) as c:
        c.request("GET", "/held", "test.example")
        m = notify.wait(lambda m: status(m, "1 client connection") is not None,
                        what="STATUS= with the open connection")
        assert "READY" not in m and "RELOADING" not in m, m
        for _ in range(20):
            c.request("GET", "/held", "test.example")
        notify.wait(lambda m: (status(m, "1 client connection") or 0) > 0,
                    what="STATUS= with a request rate above 0 after 20 requests")
    notify.wait(lambda m: status(m, "0 client connections") is not None,
                what="STATUS= after the connection closed")

    # a good reload: RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC, as time.monotonic)
    t0 = time.monotonic_ns() // 1000
    r.signal(signal.SIGHUP)
    m = notify.wait(lambda m: "RELOADING" in m, what="RELOADING=1")
    t1 = time.monotonic_ns() // 1000
    assert m["RELOADING"] == "1", m
    assert t0 <= int(m["MONOTONIC_USEC"]) <= t1, (t0, m, t1)
    m = notify.wait(lambda m: "READY" in m, what="READY=1 after the reload")
    assert m["STATUS"] == "reloaded: generation 2 serving", m
    assert get(r.port, "/y").status == 200

    # a refused reload: READY=1 again (the old generation serves), STATUS= names the error
    text = r.cfg.read_text()
    r.cfg.write_text(text + "\n[route bad]\npath = /bad\npool = nosuch\n")
    bad_line = (text + "\n[route bad]\npath = /bad\n").count("\n") + 1
    r.signal(signal.SIGHUP)
    m = notify.wait(lambda m: "RELOADING" in m, what="RELOADING=1 (bad file)")
    assert int(m["MONOTONIC_USEC"]) >= t1, m
    m = notify.wait(lambda m: "READY" in m, what="READY=1 after the refused reload")
    assert m["STATUS"].startswith("reload refused: 1 error: %s:%d: " % (r.cfg, bad_line)), m
    assert "nosuch" in m["STATUS"], m
    assert get(r.port, "/z").status == 200

    # SIGTERM: STOPPING=1, and no STATUS= "serving" line after it
    r.signal(signal.SIGTERM)
    m = notify.wait(lambda m: "STOPPING" in m, what="STOPPING=1")
    assert m["STOPPING"] == "1", m
    assert r.stop() == 0
    while notify.next(0.3) is not None:
        pass
    after = notify.seen[notify.seen.index(m) + 1:]
    assert all(not x.get("STATUS", "").startswith("serving") for x in after), after


def test_reload_refused_for_a_bind_in_use(proxy, backend_factory, notify):
    # a new bind on a port another socket holds: the reload is refused, and says why
    r = edge(proxy, backend_factory, workers=1)
    notify.wait(lambda m: "READY" in m, what="READY=1")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        r.cfg.write_text(r.cfg.read_text().replace(
            "bind = 127.0.0.1:%d" % r.port,
            "bind = 127.0.0.1:%d\nbind = 127.0.0.1:%d" % (r.port, busy.getsockname()[1])))
        r.signal(signal.SIGHUP)
        notify.wait(lambda m: "RELOADING" in m, what="RELOADING=1")
        m = notify.wait(lambda m: "READY" in m, what="READY=1 after the refused reload")
        assert m["STATUS"] == "reload refused: cannot bind a new listener: " \
            "Address already in use", m
    finally:
        busy.close()


def test_nothing_sent_without_notify_socket(proxy, backend_factory, tmp_path, monkeypatch):
    # started by hand: no NOTIFY_SOCKET, nothing to send to; it serves and stops as before
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    r = edge(proxy, backend_factory, workers=1)
    assert get(r.port, "/").status == 200
    r.signal(signal.SIGHUP)
    assert r.stop() == 0
    assert "notify" not in r.stderr().lower()
