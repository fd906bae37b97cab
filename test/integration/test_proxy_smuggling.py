"""
Request smuggling and limits through the real proxy, on raw sockets. Each bad request gets
its status (400, 414, 431, 501) and the connection is closed (after a framing error the
proxy cannot know where the next request starts); nothing reaches the backend; a second
connection opened before the bad one keeps working. The same defects in a backend's response
are a 502 to the client. Statuses: docs/http1.md, core/http/h1.c.
"""
import re
import time

import pytest

from conftest import ProxySpec, bad_good_edge
from util.http import Client, Closed, build_request, get, raw_exchange

pytestmark = pytest.mark.serving

H = b"Host: h.example\r\n"


@pytest.fixture
def edge(proxy, backend_factory):
    b = backend_factory(name="be")
    spec = ProxySpec(workers=2)
    port = spec.listener("l", header_timeout="5s")
    spec.pool("p", [b])
    spec.route("r", pool="p")
    r = proxy(spec)
    r.port, r.backend = port, b
    return r


def check_rejected(edge, raw, status, body_error=False):
    witness = Client(edge.port)
    try:
        r = witness.request("GET", "/before", host="h.example")
        assert r.status == 200
        before = edge.backend.count
        resp, c = raw_exchange(edge.port, raw)
        try:
            assert resp is not None, "closed without a status for %r" % raw[:200]
            assert resp.status == status, "%r -> %r" % (raw[:200], resp)
            assert c.closed_by_peer(5), "connection left open after %d" % status
        finally:
            c.close()
        if not body_error:
            # the head never reached the backend
            assert edge.backend.count == before
            assert all(q.target != b"/bad" for q in edge.backend.requests)
        # the connection opened before still works, and so does a new one
        r = witness.request("GET", "/after", host="h.example")
        assert r.status == 200 and r.json()["target"] == "/after"
    finally:
        witness.close()
    with Client(edge.port) as c:
        assert c.request("GET", "/new", host="h.example").status == 200


BAD_HEADS = {
    # framing (smuggling)
    "cl-and-te": (b"POST /bad HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    "te-and-cl": (b"POST /bad HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n"
                  b"Content-Length: 5\r\n\r\n0\r\n\r\n", 400),
    "cl-differ": (b"POST /bad HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n"
                  b"Content-Length: 6\r\n\r\nhello!", 400),
    "cl-list-differ": (b"POST /bad HTTP/1.1\r\n" + H + b"Content-Length: 5, 6\r\n\r\nhello!", 400),
    "cl-alpha": (b"POST /bad HTTP/1.1\r\n" + H + b"Content-Length: abc\r\n\r\n", 400),
    "cl-negative": (b"POST /bad HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n", 400),
    "cl-plus": (b"POST /bad HTTP/1.1\r\n" + H + b"Content-Length: +5\r\n\r\nhello", 400),
    "cl-hex": (b"POST /bad HTTP/1.1\r\n" + H + b"Content-Length: 0x5\r\n\r\nhello", 400),
    "cl-empty": (b"POST /bad HTTP/1.1\r\n" + H + b"Content-Length: \r\n\r\n", 400),
    "cl-overflow": (b"POST /bad HTTP/1.1\r\n" + H +
                    b"Content-Length: 99999999999999999999999\r\n\r\n", 400),
    "te-not-final-chunked": (b"POST /bad HTTP/1.1\r\n" + H +
                             b"Transfer-Encoding: chunked, gzip\r\n\r\n", 400),
    "te-gzip-only": (b"POST /bad HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\n", 400),
    "te-chunked-twice": (b"POST /bad HTTP/1.1\r\n" + H +
                         b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400),
    "te-unknown-coding": (b"POST /bad HTTP/1.1\r\n" + H +
                          b"Transfer-Encoding: x-custom, chunked\r\n\r\n0\r\n\r\n", 501),
    "te-http10": (b"POST /bad HTTP/1.0\r\n" + H +
                  b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    # syntax
    "obs-fold": (b"GET /bad HTTP/1.1\r\n" + H + b"X-A: 1\r\n  folded\r\n\r\n", 400),
    "obs-fold-tab": (b"GET /bad HTTP/1.1\r\n" + H + b"X-A: 1\r\n\tfolded\r\n\r\n", 400),
    "bare-lf-everywhere": (b"GET /bad HTTP/1.1\nHost: h.example\n\n", 400),
    "bare-lf-in-field": (b"GET /bad HTTP/1.1\r\n" + H + b"X-A: 1\nX-B: 2\r\n\r\n", 400),
    "bare-lf-request-line": (b"GET /bad HTTP/1.1\n" + H + b"\r\n", 400),
    "bare-cr-in-field": (b"GET /bad HTTP/1.1\r\n" + H + b"X-A: 1\rX-B: 2\r\n\r\n", 400),
    "bare-cr-request-line": (b"GET /bad HTTP/1.1\r" + H + b"\r\n", 400),
    "nul-in-value": (b"GET /bad HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", 400),
    "ctl-in-value": (b"GET /bad HTTP/1.1\r\n" + H + b"X-A: a\x01b\r\n\r\n", 400),
    "del-in-value": (b"GET /bad HTTP/1.1\r\n" + H + b"X-A: a\x7fb\r\n\r\n", 400),
    "esc-in-value": (b"GET /bad HTTP/1.1\r\n" + H + b"X-A: a\x1bb\r\n\r\n", 400),
    "nul-in-target": (b"GET /bad\x00x HTTP/1.1\r\n" + H + b"\r\n", 400),
    "ctl-in-target": (b"GET /bad\x01x HTTP/1.1\r\n" + H + b"\r\n", 400),
    "nul-in-name": (b"GET /bad HTTP/1.1\r\n" + H + b"X-\x00A: 1\r\n\r\n", 400),
    "space-before-colon": (b"GET /bad HTTP/1.1\r\n" + H + b"X-A : 1\r\n\r\n", 400),
    "tab-before-colon": (b"GET /bad HTTP/1.1\r\n" + H + b"X-A\t: 1\r\n\r\n", 400),
    "host-space-before-colon": (b"GET /bad HTTP/1.1\r\nHost : h.example\r\n\r\n", 400),
    "name-paren": (b"GET /bad HTTP/1.1\r\n" + H + b"X(A): 1\r\n\r\n", 400),
    "name-at": (b"GET /bad HTTP/1.1\r\n" + H + b"X@A: 1\r\n\r\n", 400),
    "name-space": (b"GET /bad HTTP/1.1\r\n" + H + b"X A: 1\r\n\r\n", 400),
    "name-8bit": (b"GET /bad HTTP/1.1\r\n" + H + b"X\xffA: 1\r\n\r\n", 400),
    "name-empty": (b"GET /bad HTTP/1.1\r\n" + H + b": 1\r\n\r\n", 400),
    "missing-host": (b"GET /bad HTTP/1.1\r\nX-A: 1\r\n\r\n", 400),
    "repeated-host": (b"GET /bad HTTP/1.1\r\n" + H + b"Host: other.example\r\n\r\n", 400),
    "repeated-host-same": (b"GET /bad HTTP/1.1\r\n" + H + H + b"\r\n", 400),
    "space-in-target": (b"GET /bad x HTTP/1.1\r\n" + H + b"\r\n", 400),
    "cl-space-before-colon": (b"POST /bad HTTP/1.1\r\n" + H + b"Content-Length : 5\r\n\r\n"
                              b"hello", 400),
    "te-space-before-colon": (b"POST /bad HTTP/1.1\r\n" + H + b"Transfer-Encoding : chunked"
                              b"\r\n\r\n0\r\n\r\n", 400),
    "te-vtab": (b"POST /bad HTTP/1.1\r\n" + H + b"Transfer-Encoding:\x0bchunked\r\n\r\n"
                b"0\r\n\r\n", 400),
    "host-invalid": (b"GET /bad HTTP/1.1\r\nHost: h.example/evil\r\n\r\n", 400),
}


@pytest.mark.parametrize("case", sorted(BAD_HEADS))
def test_bad_request_head(edge, case):
    raw, status = BAD_HEADS[case]
    check_rejected(edge, raw, status)


BAD_CHUNKS = {
    "size-alpha": b"zz\r\nhello\r\n0\r\n\r\n",
    "size-negative": b"-5\r\nhello\r\n0\r\n\r\n",
    "size-empty": b"\r\nhello\r\n0\r\n\r\n",
    "size-overflow": b"10000000000000000\r\nhello\r\n0\r\n\r\n",
    "size-overflow-long": b"f" * 40 + b"\r\nhello\r\n0\r\n\r\n",
    "size-0x": b"0x5\r\nhello\r\n0\r\n\r\n",
    "size-space-inside": b"5 5\r\nhello\r\n0\r\n\r\n",
    "data-without-crlf": b"5\r\nhelloXX0\r\n\r\n",
    "size-bare-lf": b"5\nhello\r\n0\r\n\r\n",
    "extension-too-long": b"5;" + b"e" * 5000 + b"\r\nhello\r\n0\r\n\r\n",
    "trailers-too-large": b"5\r\nhello\r\n0\r\nX-T: " + b"v" * 9000 + b"\r\n\r\n",
    "trailer-obs-fold": b"5\r\nhello\r\n0\r\nX-T: 1\r\n folded\r\n\r\n",
}


@pytest.mark.parametrize("case", sorted(BAD_CHUNKS))
def test_bad_chunked_request_body(edge, case):
    raw = (b"POST /bad HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n" +
           BAD_CHUNKS[case])
    check_rejected(edge, raw, 400, body_error=True)


def test_good_chunked_and_identical_cl_list_accepted(edge):
    # the strictness above must not reject what is valid
    with Client(edge.port) as c:
        c.send(b"POST /ok HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
               b"5;name=val\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.json()["body"] == "hello0123456789"
        c.send(b"POST /ok HTTP/1.1\r\n" + H + b"Content-Length: 5, 5\r\n\r\nhello")
        r = c.read_response()
        assert r.status == 200 and r.json()["body"] == "hello"
        c.send(b"GET /ok HTTP/1.1\r\nhOsT:h.example\r\nX-Sp:   v  \r\nx-tab:\tv\t\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert ["X-Sp", "v"] in r.json()["headers"] and ["x-tab", "v"] in r.json()["headers"]


# ---- limits ----

def test_request_line_limit(edge):
    # 8 KiB request line: just under passes, over is 414
    with Client(edge.port) as c:
        t = "/" + "a" * (8192 - len("GET  HTTP/1.1\r\n") - 1 - 64)
        r = c.request("GET", t, host="h.example")
        assert r.status == 200 and r.json()["target"] == t
    check_rejected(edge, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + H + b"\r\n", 414)


def test_request_line_limit_without_end(edge):
    # the limit holds before the line ends, too (no waiting for a CRLF that never comes)
    check_rejected(edge, b"GET /" + b"a" * 20000, 414)


def test_header_block_size_limit(edge):
    # 32 KiB of field lines: 30 KiB passes, 40 KiB is 431
    fields = [("X-F%02d" % i, "v" * 1000) for i in range(30)]
    with Client(edge.port) as c:
        r = c.request("GET", "/ok", host="h.example", headers=fields)
        assert r.status == 200 and len(r.json()["headers"]) == 31
    big = build_request("GET", "/bad", "h.example", [("X-F%02d" % i, "v" * 1000)
                                                     for i in range(40)])
    check_rejected(edge, big, 431)


def test_header_one_huge_field(edge):
    check_rejected(edge, build_request("GET", "/bad", "h.example", [("X-Big", "v" * 40000)]),
                   431)


def test_header_field_count_limit(edge):
    # 100 field lines pass (Host + 99), 101 is 431
    with Client(edge.port) as c:
        r = c.request("GET", "/ok", host="h.example",
                      headers=[("X-%d" % i, "1") for i in range(99)])
        assert r.status == 200 and len(r.json()["headers"]) >= 100
    check_rejected(edge, build_request("GET", "/bad", "h.example",
                                       [("X-%d" % i, "1") for i in range(100)]), 431)


def test_header_limit_without_end(edge):
    # a head that never ends is cut at the limit, not buffered forever
    check_rejected(edge, b"GET /bad HTTP/1.1\r\n" + H + b"X-A: " + b"v" * 50000, 431)


# ---- the same defects in a response: 502 ----

BAD_RESPONSES = {
    "cl-and-te": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"0\r\n\r\n",
    "cl-differ": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "cl-alpha": b"HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\nhello",
    "cl-negative": b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello",
    "cl-overflow": b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nhello",
    "obs-fold": b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n",
    "bare-lf": b"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
    "bare-lf-field": b"HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 0\r\n\r\n",
    "bare-cr-field": b"HTTP/1.1 200 OK\r\nX-A: 1\rContent-Length: 0\r\n\r\n",
    "nul-in-value": b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n",
    "ctl-in-value": b"HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 0\r\n\r\n",
    "space-before-colon": b"HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 0\r\n\r\n",
    "name-invalid": b"HTTP/1.1 200 OK\r\nX(A): 1\r\nContent-Length: 0\r\n\r\n",
    "status-alpha": b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
    "status-short": b"HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
    "not-http": b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
    "too-many-fields": b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(120))
                       + b"Content-Length: 0\r\n\r\n",
    "header-too-large": b"HTTP/1.1 200 OK\r\nX-Big: " + b"v" * 40000 +
                        b"\r\nContent-Length: 0\r\n\r\n",
}


def bad_backend(raw):
    def handler(be, conn, req):
        conn.send(raw)
        return False
    return handler


@pytest.mark.parametrize("case", sorted(BAD_RESPONSES))
def test_bad_response_is_502(proxy, backend_factory, case):
    good = backend_factory(name="good")
    bad = backend_factory(name="bad", handler=bad_backend(BAD_RESPONSES[case]))
    r = bad_good_edge(proxy, bad, good)
    port = r.port
    with Client(port) as witness:
        assert witness.request("GET", "/x", host="h.example").status == 200
        with Client(port) as c:
            r = c.request("GET", "/bad/1", host="h.example")
            assert r.status == 502, r
            assert b"hello" not in r.body and "X-A" not in dict(r.headers)
        assert bad.count == 1
        assert witness.request("GET", "/y", host="h.example").status == 200


@pytest.mark.parametrize("chunks", [b"zz\r\nhello\r\n0\r\n\r\n", b"f" * 40 + b"\r\nhello\r\n",
                                    b"5\r\nhelloXX0\r\n\r\n"],
                         ids=["alpha", "overflow", "no-crlf"])
def test_bad_chunked_response(proxy, backend_factory, chunks):
    # a framing defect in body bytes that came with the head: nothing went to the client
    # yet, so it gets a 502 (never the invalid framing) and the error log says what and where
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
    bad = backend_factory(name="bad", handler=bad_backend(raw))
    good = backend_factory(name="good")
    r = bad_good_edge(proxy, bad, good)
    port = r.port
    with Client(port) as c:
        resp = c.request("GET", "/bad/1", host="h.example")
        assert resp.status == 502, resp
        assert b"hello" not in resp.body
    assert re.search(r"\[error\] backend 127\.0\.0\.1:%d \(pool bad\): bad chunked response "
                     r"body: .+ at body byte \d+" % bad.port, r.stderr()), r.stderr()[-2000:]
    with Client(port) as c:
        assert c.request("GET", "/x", host="h.example").status == 200


def test_bad_chunk_after_the_head_went_out(proxy, backend_factory):
    # the head and a first chunk went to the client, then a bad chunk size: no second
    # response is possible, the client connection is cut, the error log says why
    def handler(b, conn, req):
        conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        time.sleep(0.5)
        conn.send(b"zz\r\nworld\r\n0\r\n\r\n")
        return False
    bad = backend_factory(name="bad", handler=handler)
    good = backend_factory(name="good")
    r = bad_good_edge(proxy, bad, good)
    port = r.port
    with Client(port) as c:
        with pytest.raises(Closed):
            c.request("GET", "/bad/1", host="h.example")
    deadline = time.monotonic() + 10
    want = re.compile(r"\[error\] backend 127\.0\.0\.1:%d \(pool bad\): bad chunked "
                      r"response body \(.+ at body byte \d+\) during the response body" %
                      bad.port)
    while not want.search(r.stderr()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert want.search(r.stderr()), r.stderr()[-2000:]
    assert get(port, "/x", host="h.example").status == 200
