"""
The suite's own tools, without ringedge: the backend (backend.py) answers every mode the proxy
tests rely on, and the raw client parses them. If these fail, a proxy test failure means
nothing.
"""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import backend as be
from util.harness import free_port, wait_port
from util.http import Client, Closed, build_request, get, sha256_sink


def test_echo_records_request_byte_exact(backend_factory):
    b = backend_factory(name="fe01")
    with Client(b.port) as c:
        c.send(b"GET /owa/%252F/x%2Fy?a=b%20c HTTP/1.1\r\nHost: Owa.Contoso.com\r\n"
               b"X-One: 1\r\nx-two:  two \r\nX-One: 3\r\n\r\n")
        r = c.read_response()
    assert r.status == 200 and r.header("X-Be-Name") == "fe01"
    j = r.json()
    assert j["target"] == "/owa/%252F/x%2Fy?a=b%20c"
    assert j["headers"] == [["Host", "Owa.Contoso.com"], ["X-One", "1"], ["x-two", "two"],
                            ["X-One", "3"]]
    req = b.requests[0]
    assert req.target == b"/owa/%252F/x%2Fy?a=b%20c" and req.method == b"GET"
    assert req.head.startswith(b"GET /owa/%252F") and req.head.endswith(b"\r\n\r\n")
    assert b.count == 1


def test_keepalive_and_bodies(backend_factory):
    b = backend_factory()
    with Client(b.port) as c:
        r = c.request("POST", "/p", body=b"hello")
        assert r.json()["body"] == "hello" and r.json()["framing"] == "length"
        c.send(b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nT: 1\r\n\r\n")
        j = c.read_response().json()
        assert j["body"] == "abcde" and j["framing"] == "chunked" and j["seq"] == 2
        for mode, framing in [("fixed", "length"), ("chunked", "chunked")]:
            h, sink = sha256_sink()
            r = c.request(headers=[("X-Be-Mode", mode), ("X-Be-Size", "200000")], sink=sink)
            assert r.framing == framing and r.body_len == 200000
            assert h.hexdigest() == be.body_sha256(200000)
        r = c.request(headers=[("X-Be-Mode", "close"), ("X-Be-Size", "70000")])
        assert r.framing == "close" and r.body == be.body(70000)
    assert b.count == 5


def test_body_is_order_sensitive():
    # block indices make a swapped or repeated block visible in the checksum
    blocks = list(be.body_chunks(3 * be.BLOCK))
    assert len(blocks) == 3 and len(set(blocks)) == 3
    assert hashlib.sha256(b"".join(blocks)).hexdigest() == be.body_sha256(3 * be.BLOCK)
    swapped = blocks[1] + blocks[0] + blocks[2]
    assert hashlib.sha256(swapped).hexdigest() != be.body_sha256(3 * be.BLOCK)


def test_status_header_count_slow(backend_factory):
    b = backend_factory()
    r = get(b.port, headers=[("X-Be-Status", "503"), ("X-Be-Header", "Retry-After: 1")])
    assert r.status == 503 and r.header("Retry-After") == "1"
    r = get(b.port, headers=[("X-Be-Mode", "slow"), ("X-Be-Delay", "0.2")])
    assert r.status == 200
    assert get(b.port, headers=[("X-Be-Mode", "count")]).json() == {"count": 3}


def test_silent_and_reset(backend_factory):
    b = backend_factory()
    with Client(b.port, timeout=1) as c:
        c.send(build_request(headers=[("X-Be-Mode", "silent")]))
        assert not c.closed_by_peer(0.5)
    with Client(b.port) as c:
        c.send(build_request(headers=[("X-Be-Mode", "reset"), ("X-Be-Size", "100000")]))
        try:
            c.read_response()
            raise AssertionError("a reset body must not complete")
        except Closed:
            pass


def test_websocket_echo(backend_factory):
    b = backend_factory()
    with Client(b.port) as c:
        r = c.request(headers=[("X-Be-Mode", "ws"), ("Upgrade", "websocket"),
                               ("Connection", "Upgrade"),
                               ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                               ("Sec-WebSocket-Version", "13")])
        assert r.status == 101
        assert r.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        c.send(be.ws_frame(1, b"hi there", mask=b"abcd"))

        def rd(n):
            out = []
            c._exact(n, out.append)
            return b"".join(out)
        assert be.ws_read_frame(rd) == (1, b"hi there")


def test_standalone(tmp_path):
    port = free_port()
    p = subprocess.Popen([sys.executable, str(Path(be.__file__)), "--port", str(port),
                          "--name", "demo"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    try:
        assert wait_port("127.0.0.1", port, 10, p)
        r = get(port, "/meet/x")
        assert r.status == 200 and r.json()["server"] == "demo"
        assert r.json()["target"] == "/meet/x"
    finally:
        p.terminate()
        p.wait(10)


def test_sanitizer_reports_are_recognised():
    from util.harness import sanitizer_report
    asan = (b"log line\n=================================================================\n"
            b"==1234==ERROR: AddressSanitizer: heap-use-after-free on address 0x6020\n")
    ubsan = b"core/conn.c:42:7: runtime error: signed integer overflow\n"
    lsan = b"==99==ERROR: LeakSanitizer: detected memory leaks\n"
    for rep in (asan, ubsan, lsan):
        assert sanitizer_report(rep) is not None, rep
    assert "heap-use-after-free" in sanitizer_report(asan)
    clean = (b"2026-01-01T00:00:00Z [warn] AES-NI is OFF\n"
             b"127.0.0.1 h.example \"GET /error HTTP/1.1\" 502 0 p 127.0.0.1:1 3ms\n")
    assert sanitizer_report(clean) is None
