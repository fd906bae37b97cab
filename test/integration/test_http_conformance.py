"""
Protocol defects found by an outside conformance suite and with real TLS stacks (issue 13),
each through the real proxy: a chunk-size line with trailing whitespace, trailer fields that
must not be forwarded, the status of an overlong request line, a TLS close_notify that comes
in the same read as the last data, and IP-address SANs. Rules: docs/http1.md, docs/tls.md.
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


# ---- 5. request line over the limit: what overflowed decides the status ----

def test_overlong_method_is_501_not_414(edge):
    # RFC 9112 3: a method longer than any implemented is 501; 414 is for the target only
    rejected(edge, b"M" * 100000 + b" / HTTP/1.1\r\n" + H + b"\r\n", 501)
    rejected(edge, b"M" * 9000, 501)


def test_overlong_target_is_still_414(edge):
    rejected(edge, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + H + b"\r\n", 414)


def test_endless_empty_lines_are_400(edge):
    rejected(edge, b"\r\n" * 5000, 400)
