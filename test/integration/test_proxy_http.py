"""
HTTP/1.1 semantics through the real proxy: keep-alive and pipelining, every response framing
(length, chunked, close-delimited, none), large bodies both ways (the splice path) checked by
sha256, request bodies, hop-by-hop fields, X-Forwarded-*, the access log line, HTTP/1.0
clients (a chunked response is de-chunked and close-delimited) and 204/304/HEAD heads.
"""
import hashlib
import re
import socket
import subprocess
import time

import pytest

import backend as be
from conftest import ProxySpec, simple
from util.http import Client, build_request, get, sha256_sink

pytestmark = pytest.mark.serving


@pytest.fixture
def edge(proxy, backend_factory):
    b = backend_factory(name="be")
    spec = ProxySpec(workers=2)
    port = spec.listener("l")
    spec.pool("p", [b])
    spec.route("r", pool="p")
    r = proxy(spec)
    r.port, r.backend = port, b
    return r


def test_keepalive_1000_requests_one_connection(edge):
    with Client(edge.port) as c:
        for i in range(1000):
            r = c.request("GET", "/k/%d" % i, host="h.example")
            assert r.status == 200, (i, r)
            j = r.json()
            assert j["target"] == "/k/%d" % i, (i, j)
    assert edge.backend.count == 1000
    assert [q.target for q in edge.backend.requests] == [b"/k/%d" % i for i in range(1000)]


def test_backend_connections_are_reused(edge):
    with Client(edge.port) as c:
        for i in range(200):
            assert c.request("GET", "/r/%d" % i, host="h.example").status == 200
    conns = {q.conn_id for q in edge.backend.requests}
    # keepalive = 32 by default: 200 sequential requests need far fewer than 200 connections
    assert len(conns) <= 20, len(conns)


def test_pipelined_requests_answered_in_order(edge):
    with Client(edge.port) as c:
        c.send(b"".join(build_request("GET", "/p/%d" % i, "h.example") for i in range(20)))
        for i in range(20):
            r = c.read_response()
            assert r.status == 200 and r.json()["target"] == "/p/%d" % i


def test_http10_client(edge):
    with Client(edge.port) as c:
        c.send(b"GET /ten HTTP/1.0\r\nHost: h.example\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.json()["target"] == "/ten"
        assert c.closed_by_peer(5)
    with Client(edge.port) as c:
        c.send(b"GET /ten HTTP/1.0\r\nHost: h.example\r\nConnection: keep-alive\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        c.send(b"GET /ten2 HTTP/1.0\r\nHost: h.example\r\n\r\n")
        assert c.read_response().json()["target"] == "/ten2"


def test_connection_close_from_client(edge):
    with Client(edge.port) as c:
        r = c.request("GET", "/c", host="h.example", headers=[("Connection", "close")])
        assert r.status == 200
        assert c.closed_by_peer(5)


@pytest.mark.parametrize("mode, size", [("fixed", 0), ("fixed", 1), ("fixed", 300000),
                                        ("chunked", 0), ("chunked", 12345),
                                        ("chunked", 2000000), ("close", 0), ("close", 777),
                                        ("close", 3000000)])
def test_response_framings(edge, mode, size):
    with Client(edge.port) as c:
        h, sink = sha256_sink()
        r = c.request("GET", "/f", host="h.example", sink=sink,
                      headers=[("X-Be-Mode", mode), ("X-Be-Size", str(size)),
                               ("X-Be-Chunk", "1000")])
        assert r.status == 200 and r.body_len == size
        assert h.hexdigest() == be.body_sha256(size)
        if r.framing != "close":
            # the client connection survives a close-delimited backend response if the proxy
            # re-framed it
            r = c.request("GET", "/after", host="h.example")
            assert r.status == 200 and r.json()["target"] == "/after"


@pytest.mark.parametrize("status", [204, 304])
def test_responses_without_body(edge, status):
    with Client(edge.port) as c:
        r = c.request("GET", "/nb", host="h.example", headers=[("X-Be-Status", str(status))])
        assert r.status == status and r.body == b""
        r = c.request("GET", "/after", host="h.example")
        assert r.status == 200 and r.json()["target"] == "/after"


def test_head_response_has_no_body(edge):
    with Client(edge.port) as c:
        r = c.request("HEAD", "/h", host="h.example",
                      headers=[("X-Be-Mode", "fixed"), ("X-Be-Size", "5000")])
        assert r.status == 200 and r.header("Content-Length") == "5000"
        r = c.request("GET", "/after", host="h.example")
        assert r.status == 200 and r.json()["target"] == "/after"


def te_no_body_handler(b, conn, req):
    """Answers HEAD, and a GET with If-None-Match (304), with Transfer-Encoding: chunked and,
    as RFC 9112 6.3 says, no body at all; anything else the usual way."""
    if req.method == b"HEAD" or req.first("if-none-match") is not None:
        status = b"200 OK" if req.method == b"HEAD" else b"304 Not Modified"
        conn.send(b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain\r\n"
                  b"Transfer-Encoding: chunked\r\nETag: \"v1\"\r\n\r\n")
        return True
    return be.Backend.respond(b, conn, req)


@pytest.mark.parametrize("method, headers, status", [
    ("HEAD", [], 200), ("GET", [("If-None-Match", '"v1"')], 304)])
def test_bodyless_chunked_response_keeps_transfer_encoding(proxy, backend_factory, method,
                                                          headers, status):
    # the field says what a GET would have carried (RFC 9112 6.1): it passes as-is (HAProxy
    # 2.6 does too), no body (not even a last chunk) follows, and the connection goes on
    b = backend_factory(name="te", handler=te_no_body_handler)
    spec = ProxySpec()
    port = spec.listener("l")
    spec.pool("p", [b])
    spec.route("r", pool="p")
    proxy(spec)
    with Client(port) as c:
        r = c.request(method, "/te", host="h.example", headers=headers)
        assert r.status == status, r
        assert r.all("Transfer-Encoding") == ["chunked"], r.raw_head
        assert r.header("Content-Length") is None, r.raw_head
        assert r.header("ETag") == '"v1"', r.raw_head
        for i in range(3):
            r = c.request("GET", "/after/%d" % i, host="h.example")
            assert r.status == 200 and r.json()["target"] == "/after/%d" % i, r
        assert not c.closed_by_peer(0.2) and c.buf == b""
    assert [q.method for q in b.requests] == [method.encode()] + [b"GET"] * 3


def test_head_chunked_response_to_http10_client(proxy, backend_factory):
    # an HTTP/1.0 client never gets Transfer-Encoding (RFC 9112 6.1), even on a HEAD
    b = backend_factory(name="te", handler=te_no_body_handler)
    spec = ProxySpec()
    port = spec.listener("l")
    spec.pool("p", [b])
    spec.route("r", pool="p")
    proxy(spec)
    with Client(port) as c:
        r = c.request("HEAD", "/te", host="h.example", version="HTTP/1.0",
                      headers=[("Connection", "keep-alive")])
        assert r.status == 200 and r.header("Transfer-Encoding") is None, r.raw_head
        r = c.request("GET", "/after", host="h.example", version="HTTP/1.0")
        assert r.status == 200 and r.json()["target"] == "/after", r


def test_100mb_download_checksum(edge):
    size = 100 * 1024 * 1024
    with Client(edge.port, timeout=60) as c:
        h, sink = sha256_sink()
        r = c.request("GET", "/big", host="h.example", sink=sink,
                      headers=[("X-Be-Mode", "fixed"), ("X-Be-Size", str(size))])
        assert r.status == 200 and r.body_len == size
        assert h.hexdigest() == be.body_sha256(size)
        assert c.request("GET", "/after", host="h.example").status == 200


def test_100mb_upload_checksum(edge):
    size = 100 * 1024 * 1024
    with Client(edge.port, timeout=60) as c:
        c.send(b"POST /up HTTP/1.1\r\nHost: h.example\r\nContent-Length: %d\r\n\r\n" % size)
        for chunk in be.body_chunks(size):
            c.send(chunk)
        r = c.read_response()
        assert r.status == 200
        j = r.json()
        assert j["body_len"] == size and j["body_sha256"] == be.body_sha256(size)
        assert c.request("GET", "/after", host="h.example").status == 200


def curl(*args):
    """Runs curl with a 120 s --max-time; returns (http_code, bytes). Asserts curl's exit code:
    a timeout after the head (exit 28) also prints the status and leaves a truncated body."""
    p = subprocess.run(["curl", "-sS", "--max-time", "120", "-w",
                        "%{http_code} %{size_upload} %{size_download}"] + list(args),
                       capture_output=True, timeout=180)
    code, up, down = p.stdout.split()[-3:]
    assert p.returncode == 0, ("curl exit %d after %s bytes up, %s bytes down: %r" %
                               (p.returncode, up.decode(), down.decode(), p.stderr))
    return code, int(float(up)), int(float(down))


def test_100mb_both_directions_with_curl(edge, tmp_path):
    # a real client: curl uploads 100 MB and downloads 100 MB through the proxy
    size = 100 * 1024 * 1024
    up = tmp_path / "up.bin"
    with open(up, "wb") as f:
        for chunk in be.body_chunks(size):
            f.write(chunk)
    down = tmp_path / "down.bin"
    code, sent, _ = curl("-o", "/dev/null", "-H", "Host: h.example", "--data-binary",
                         "@%s" % up, "http://127.0.0.1:%d/up" % edge.port)
    assert code == b"200" and sent == size, (code, sent)
    q = edge.backend.requests[-1]
    assert q.body_len == size and q.body_sha256 == be.body_sha256(size)
    code, _, got = curl("-o", str(down), "-H", "Host: h.example", "-H", "X-Be-Mode: fixed",
                        "-H", "X-Be-Size: %d" % size, "http://127.0.0.1:%d/down" % edge.port)
    assert code == b"200" and got == size == down.stat().st_size, (code, got)
    h = hashlib.sha256()
    with open(down, "rb") as f:
        for blk in iter(lambda: f.read(1 << 20), b""):
            h.update(blk)
    assert h.hexdigest() == be.body_sha256(size)


@pytest.fixture
def capped_splice_edge(proxy, backend_factory, capped_splice):
    """A proxy whose every splice drain is partial (conftest capped_splice)."""
    return simple(proxy, backend_factory)


def test_splice_partial_drains_download_ends(capped_splice_edge):
    # the body's last bytes sit in the pipe after the 8 splice rounds; the backend sends
    # nothing more: the pump must wait for the client (POLLOUT), not for the backend
    edge, size = capped_splice_edge, 2 * 1024 * 1024
    for i in range(3):
        with Client(edge.port, timeout=10) as c:
            h, sink = sha256_sink()
            r = c.request("GET", "/big", host="h.example", sink=sink,
                          headers=[("X-Be-Mode", "fixed"), ("X-Be-Size", str(size + i))])
            assert r.status == 200 and r.body_len == size + i, (i, r.body_len)
            assert h.hexdigest() == be.body_sha256(size + i)
            assert c.request("GET", "/after", host="h.example").status == 200


def test_splice_partial_drains_upload_ends(capped_splice_edge):
    # the same at the end of a request body: the client sends nothing more until it is answered
    edge, size = capped_splice_edge, 2 * 1024 * 1024
    for i in range(3):
        with Client(edge.port, timeout=10) as c:
            c.send(b"POST /up HTTP/1.1\r\nHost: h.example\r\nContent-Length: %d\r\n\r\n"
                   % (size + i))
            for chunk in be.body_chunks(size + i):
                c.send(chunk)
            r = c.read_response()
            j = r.json()
            assert r.status == 200 and j["body_len"] == size + i, (i, j["body_len"])
            assert j["body_sha256"] == be.body_sha256(size + i)
            assert c.request("GET", "/after", host="h.example").status == 200


@pytest.mark.parametrize("size", [0, 1, 65536, 1000000])
def test_post_content_length(edge, size):
    data = be.body(size)
    with Client(edge.port) as c:
        r = c.request("POST", "/post", host="h.example", body=data)
        j = r.json()
        assert r.status == 200 and j["body_len"] == size
        assert j["body_sha256"] == hashlib.sha256(data).hexdigest()
        r = c.request("PUT", "/put", host="h.example", body=b"x")
        assert r.json()["method"] == "PUT" and r.json()["body"] == "x"


@pytest.mark.parametrize("size, step", [(0, 1), (10, 3), (1000000, 65536), (300000, 1)])
def test_post_chunked(edge, size, step):
    data = be.body(size)
    enc = b"".join(b"%x;e=1\r\n%s\r\n" % (len(data[i:i + step]), data[i:i + step])
                   for i in range(0, size, step)) + b"0\r\nX-Tr: 1\r\n\r\n"
    with Client(edge.port) as c:
        c.send(b"POST /chunked HTTP/1.1\r\nHost: h.example\r\nTransfer-Encoding: chunked\r\n"
               b"\r\n" + enc)
        r = c.read_response()
        j = r.json()
        assert r.status == 200 and j["body_len"] == size
        assert j["body_sha256"] == hashlib.sha256(data).hexdigest()
        assert j["framing"] in ("chunked", "length")
        assert c.request("GET", "/after", host="h.example").json()["target"] == "/after"


def test_hop_by_hop_request_fields_removed(edge):
    hdrs = [("X-First", "1"), ("Connection", "X-Hop-A, keep-alive"), ("X-Hop-A", "a"),
            ("Keep-Alive", "timeout=5"), ("Proxy-Connection", "keep-alive"),
            ("TE", "trailers"), ("Trailer", "X-T"), ("Upgrade", "h2c"),
            ("Connection", "X-Hop-B"), ("X-Hop-B", "b"), ("X-Last", "2"),
            ("x-first", "3")]
    with Client(edge.port) as c:
        r = c.request("GET", "/hop", host="h.example", headers=hdrs)
        assert r.status == 200
        got = r.json()["headers"]
    names = [k.lower() for k, _ in got]
    for hop in ["connection", "x-hop-a", "x-hop-b", "keep-alive", "proxy-connection", "te",
                "trailer", "upgrade"]:
        assert hop not in names, (hop, got)
    # end-to-end fields pass in order, repeated ones too
    e2e = [[k, v] for k, v in got if k.lower() in ("host", "x-first", "x-last")]
    assert e2e == [["Host", "h.example"], ["X-First", "1"], ["X-Last", "2"], ["x-first", "3"]]


def test_hop_by_hop_response_fields_removed(edge):
    extra = ["Connection: X-Bhop", "X-Bhop: 1", "Keep-Alive: timeout=1",
             "Proxy-Connection: keep-alive", "TE: trailers", "Trailer: X-T", "Upgrade: h2c",
             "X-End: kept"]
    with Client(edge.port) as c:
        r = c.request("GET", "/hop", host="h.example",
                      headers=[("X-Be-Header", e) for e in extra])
        assert r.status == 200
        names = [k.lower() for k, _ in r.headers]
        for hop in ["x-bhop", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"]:
            assert hop not in names, (hop, r.headers)
        assert all("x-bhop" not in v.lower() for v in r.all("Connection")), r.headers
        assert r.header("X-End") == "kept"
        assert c.request("GET", "/after", host="h.example").status == 200


def test_connection_cannot_strip_framing_or_host(edge):
    # "Connection: Host, Content-Length" must not make the proxy drop routing or framing
    with Client(edge.port) as c:
        r = c.request("POST", "/x", host="h.example", body=b"hello",
                      headers=[("Connection", "Host, Content-Length")])
        assert r.status == 200
        j = r.json()
        assert j["body"] == "hello"
        assert ["Host", "h.example"] in j["headers"]
        assert c.request("GET", "/after", host="h.example").status == 200


def xff_proxy(proxy, backend_factory, on):
    b = backend_factory(name="be")
    spec = ProxySpec()
    port = spec.listener("l")
    spec.pool("p", [b], forwarded_for="on" if on else "off")
    spec.route("r", pool="p")
    proxy(spec)
    return port


def test_forwarded_for_on(proxy, backend_factory):
    port = xff_proxy(proxy, backend_factory, True)
    r = get(port, "/x", host="h.example")
    j = r.json()
    xff = [v for k, v in j["headers"] if k.lower() == "x-forwarded-for"]
    xfp = [v for k, v in j["headers"] if k.lower() == "x-forwarded-proto"]
    assert xff == ["127.0.0.1"], j["headers"]
    assert xfp == ["http"], j["headers"]
    # a client's own X-Forwarded-For: the proxy's hop is last
    r = get(port, "/x", host="h.example", headers=[("X-Forwarded-For", "203.0.113.9")])
    xff = ",".join(v for k, v in r.json()["headers"] if k.lower() == "x-forwarded-for")
    assert [x.strip() for x in xff.split(",")][-1] == "127.0.0.1", xff


def test_forwarded_for_joins_client_lines(proxy, backend_factory):
    # like nginx's $proxy_add_x_forwarded_for: the client's lines become ONE field, values
    # joined with ", ", the client address last; X-Forwarded-Proto replaces the client's
    port = xff_proxy(proxy, backend_factory, True)
    r = get(port, "/x", host="h.example", headers=[("X-Forwarded-For", "1.2.3.4"),
                                                   ("X-Forwarded-Proto", "https"),
                                                   ("x-forwarded-for", "5.6.7.8")])
    h = r.json()["headers"]
    assert [v for k, v in h if k.lower() == "x-forwarded-for"] == \
        ["1.2.3.4, 5.6.7.8, 127.0.0.1"], h
    assert [v for k, v in h if k.lower() == "x-forwarded-proto"] == ["http"], h


def test_forwarded_for_off(proxy, backend_factory):
    port = xff_proxy(proxy, backend_factory, False)
    names = [k.lower() for k, _ in get(port, "/x", host="h.example").json()["headers"]]
    assert "x-forwarded-for" not in names and "x-forwarded-proto" not in names
    # the client's own lines pass untouched
    r = get(port, "/x", host="h.example", headers=[("X-Forwarded-For", "1.2.3.4"),
                                                   ("X-Forwarded-For", "5.6.7.8")])
    h = r.json()["headers"]
    assert [[k, v] for k, v in h if k.lower() == "x-forwarded-for"] == \
        [["X-Forwarded-For", "1.2.3.4"], ["X-Forwarded-For", "5.6.7.8"]], h


def test_access_log_line(proxy, backend_factory, tmp_path):
    b = backend_factory(name="be")
    log = tmp_path / "access.log"
    spec = ProxySpec(access_log=str(log))
    port = spec.listener("l")
    spec.pool("mypool", [b])
    spec.route("r", host="h.example", pool="mypool")
    r = proxy(spec)
    with Client(port) as c:
        assert c.request("GET", "/logged?q=1", host="h.example",
                         headers=[("X-Be-Mode", "fixed"), ("X-Be-Size", "12345")]).status == 200
        assert c.request("POST", "/second", host="h.example", body=b"abc").status == 200
    assert get(port, "/nowhere", host="unrouted.example").status == 404
    r.stop()
    lines = [x for x in log.read_text().split("\n") if x]
    assert len(lines) == 3, lines
    server = "127.0.0.1:%d" % b.port
    for line, req, status, size in [(lines[0], 'GET /logged?q=1 HTTP/1.1', 200, 12345),
                                    (lines[1], 'POST /second HTTP/1.1', 200, None),
                                    (lines[2], 'GET /nowhere HTTP/1.1', 404, None)]:
        assert "127.0.0.1" in line, line                      # client
        assert req in line, line                              # request line
        assert re.search(r"(^|\s)%d(\s|$)" % status, line), line
        nums = [int(x) for x in re.findall(r"(?<![\w.:/-])(\d+)(?![\w.:/-])", line)]
        if size is not None:
            # bytes sent: the body, or the body and the head
            assert any(size <= n < size + 4096 for n in nums), line
        assert re.search(r"\d+(\.\d+)?\s*ms|(^|\s)\d+(\.\d+)?(\s|$)", line), line  # ms
    assert "h.example" in lines[0] and "unrouted.example" in lines[2]
    assert "mypool" in lines[0] and server in lines[0], lines[0]
    assert "mypool" in lines[1] and server in lines[1], lines[1]
    assert server not in lines[2]


def test_sigusr1_reopens_rotated_logs(proxy, backend_factory, tmp_path):
    """Log rotation as with nginx: rename the files, send SIGUSR1; ringedge writes to new
    files at those paths (error_log and access_log) and the renamed ones get nothing more."""
    import signal
    import time
    b = backend_factory(name="be")
    alog, elog = tmp_path / "access.log", tmp_path / "error.log"
    spec = ProxySpec(workers=2, access_log=str(alog), error_log=str(elog))
    port = spec.listener("l")
    spec.pool("p", [b])
    spec.route("r", pool="p")
    r = proxy(spec)
    assert get(port, "/before", host="h.example").status == 200

    def wait_for(path, text, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists() and text in path.read_text():
                return True
            time.sleep(0.05)
        return False

    assert wait_for(alog, "GET /before ") and wait_for(elog, "serving")
    # start-up lines go to both (the terminal sees them), later ones to the file only
    assert "serving" in r.stderr()
    alog.rename(tmp_path / "access.log.1")
    elog.rename(tmp_path / "error.log.1")
    r.signal(signal.SIGUSR1)
    assert wait_for(elog, "error log reopened"), (tmp_path / "error.log.1").read_text()
    # each worker reopens on its own event: every later request lands in the new file
    deadline = time.monotonic() + 10
    for i in range(20):
        assert get(port, "/after%d" % i, host="h.example").status == 200
    assert wait_for(alog, "GET /after19 ")
    while time.monotonic() < deadline and not all(
            "GET /after%d " % i in alog.read_text() for i in range(20)):
        time.sleep(0.05)
    old_access = (tmp_path / "access.log.1").read_text()
    assert "GET /before " in old_access and "/after" not in old_access
    assert all("GET /after%d " % i in alog.read_text() for i in range(20))
    assert "SIGUSR1: reopening log files" in (tmp_path / "error.log.1").read_text()
    assert "SIGUSR1" not in r.stderr()
    r.stop()
    assert "stopped" in elog.read_text() and "stopped" not in \
        (tmp_path / "error.log.1").read_text()


# addr time "host" "request line" status bytes pool server total_ms backend_ms queue_len
# queued_ms retries
ALOG_LINE = re.compile(r'^(\S+) (\S+) "([^"]*)" "([^"]*)" (\d+) (\d+) (\S+) (\S+) (\d+) (-?\d+)'
                       r' (\d+) (\d+) (\d+)$')


def alog_proxy(proxy, backend_factory, tmp_path, handler=None):
    b = backend_factory(name="be", handler=handler)
    spec = ProxySpec(access_log=str(tmp_path / "access.log"))
    port = spec.listener("l")
    spec.pool("p", [b])
    spec.route("r", pool="p")
    r = proxy(spec)
    r.port, r.backend, r.alog = port, b, tmp_path / "access.log"
    return r


def wait_alog(r, reqline, timeout=20):
    """The parsed access log line of reqline (the worker writes it once per loop iteration,
    after the client saw the outcome), or None after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        text = r.alog.read_text() if r.alog.exists() else ""
        for line in text.split("\n"):
            if '"%s"' % reqline in line:
                m = ALOG_LINE.match(line)
                assert m, line
                return m
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def wait_stderr(r, text, timeout=20):
    deadline = time.monotonic() + timeout
    while text not in r.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    return text in r.stderr()


def backend_blamed(r):
    """Error log lines about a backend ("... [level] backend HOST:PORT (pool P): why")."""
    return [x for x in r.stderr().split("\n") if "] backend " in x]


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_access_log_client_closed_before_response_head_is_499(proxy, backend_factory,
                                                              tmp_path, how):
    # a long poll the client gives up on: nothing was answered, the line says 499 ("client
    # closed request", as nginx logs it) and the error log blames the client, not the backend
    r = alog_proxy(proxy, backend_factory, tmp_path)
    c = Client(r.port)
    c.send(build_request("GET", "/poll", "h.example",
                         [("X-Be-Mode", "slow"), ("X-Be-Delay", "60")]))
    assert r.backend.wait_requests(1) == 1
    if how == "rst":
        be.rst(c.sock)
    else:
        c.close()
    m = wait_alog(r, "GET /poll HTTP/1.1")
    assert m is not None, r.stderr()[-3000:]
    assert (m.group(5), m.group(6)) == ("499", "0"), m.group(0)
    assert m.group(7) == "p" and m.group(8) == "127.0.0.1:%d" % r.backend.port, m.group(0)
    assert wait_stderr(r, "client 127.0.0.1: closed the connection before the response head")
    assert not backend_blamed(r), r.stderr()[-3000:]
    assert get(r.port, "/after", host="h.example").status == 200


def stalled_body_handler(b, conn, req):
    """200 with Content-Length 100000, 1000 body bytes, then nothing until the proxy
    closes (bounded: 60 s)."""
    if req.target != b"/stall":
        return be.Backend.respond(b, conn, req)
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + be.body(1000))
    conn.sock.settimeout(60)
    try:
        conn.sock.recv(1)
    except OSError:
        pass
    return False


@pytest.mark.parametrize("how", ["stalled", "flowing"])
def test_access_log_client_closed_mid_body_keeps_status(proxy, backend_factory, tmp_path,
                                                        how):
    # the head was sent: the line keeps the status the client got and the bytes it was sent
    r = alog_proxy(proxy, backend_factory, tmp_path, handler=stalled_body_handler)
    size = 100000 if how == "stalled" else 256 * 1024 * 1024
    if how == "stalled":
        target, hdrs, want = "/stall", [], 1000
    else:
        target, hdrs, want = "/big", [("X-Be-Mode", "fixed"), ("X-Be-Size", str(size))], 1
    c = Client(r.port)
    c.send(build_request("GET", target, "h.example", hdrs))
    deadline = time.monotonic() + 20
    while b"\r\n\r\n" not in c.buf or len(c.buf) - c.buf.index(b"\r\n\r\n") - 4 < want:
        assert time.monotonic() < deadline, c.buf[:300]
        c._fill()
    head = c.buf[:c.buf.index(b"\r\n\r\n") + 4]
    assert head.startswith(b"HTTP/1.1 200 "), head
    if how == "stalled":
        c.close()       # FIN: seen by the recv kept armed while the response is relayed
    else:
        be.rst(c.sock)  # unread bytes, data still flowing: the next send fails
    m = wait_alog(r, "GET %s HTTP/1.1" % target)
    assert m is not None, r.stderr()[-3000:]
    assert m.group(5) == "200", m.group(0)
    sent = int(m.group(6))
    if how == "stalled":
        assert sent == len(head) + 1000, (m.group(0), len(head))
        assert wait_stderr(r, "client 127.0.0.1: closed the connection during the response")
    else:
        assert len(head) < sent < size, m.group(0)
    assert not backend_blamed(r), r.stderr()[-3000:]
    assert get(r.port, "/after", host="h.example").status == 200


@pytest.mark.parametrize("framing", ["length", "chunked"])
@pytest.mark.parametrize("how", ["fin", "rst"])
def test_client_closes_during_request_body(proxy, backend_factory, tmp_path, framing, how):
    # an upload the client abandons half-way is the client's doing: nothing is sent back, the
    # access log says 400 (nginx: "client prematurely closed connection"), the backend is
    # not blamed (no 502), and the proxy serves on
    r = alog_proxy(proxy, backend_factory, tmp_path)
    part = be.body(1000)
    if framing == "length":
        hdrs, data = [("Content-Length", "100000")], part
    else:
        hdrs, data = [("Transfer-Encoding", "chunked")], b"3e8\r\n" + part + b"\r\n"
    head = "POST /upload HTTP/1.1\r\nHost: h.example\r\n%s\r\n\r\n" % "\r\n".join(
        "%s: %s" % h for h in hdrs)
    c = Client(r.port)
    c.send(head.encode() + data)
    time.sleep(0.3)                 # the head and the part went through to the backend
    if how == "rst":
        be.rst(c.sock)
    else:
        c.sock.shutdown(socket.SHUT_WR)
        c.sock.settimeout(10)
        got = b""
        try:
            while True:
                d = c.sock.recv(65536)
                if not d:
                    break
                got += d
        except (ConnectionResetError, socket.timeout):
            pass
        assert got == b"", got[:200]        # no 502 (nor anything else) to the client
        c.close()
    m = wait_alog(r, "POST /upload HTTP/1.1")
    assert m is not None, r.stderr()[-3000:]
    assert m.group(5) == "400", m.group(0)
    assert wait_stderr(r, "closed the connection during the request body after")
    assert not backend_blamed(r), r.stderr()[-3000:]
    assert get(r.port, "/after", host="h.example").status == 200


def test_start_up_warnings_reach_error_log_and_stderr(proxy, backend_factory, tmp_path):
    """Warnings from the configuration (ca on a plain pool) and from building the first
    generation go to error_log as well as to the stderr ringedge was started with."""
    import time
    b = backend_factory(name="be")
    elog = tmp_path / "error.log"
    spec = ProxySpec(error_log=str(elog))
    port = spec.listener("l")
    spec.pool("p", [b], ca=str(tmp_path / "ca.pem"))
    (tmp_path / "ca.pem").write_text("")
    spec.route("r", pool="p")
    r = proxy(spec)
    assert get(port, "/x", host="h.example").status == 200
    deadline = time.monotonic() + 10
    while "serving" not in elog.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    text = elog.read_text()
    for out in (text, r.stderr()):
        assert "[pool p] sets ca/sni but tls = off" in out, out
        assert "serving" in out, out


# ---- HTTP/1.0 clients ------------------------------------------------------------------

@pytest.mark.parametrize("size, step", [(0, 4096), (1, 4096), (10000, 1000), (300000, 7000)])
def test_http10_client_gets_chunked_response_dechunked(proxy, backend_factory, size, step):
    r = simple(proxy, backend_factory)
    with Client(r.port) as c:
        c.send(b"GET /ten HTTP/1.0\r\nHost: h.example\r\nX-Be-Mode: chunked\r\n"
               b"X-Be-Size: %d\r\nX-Be-Chunk: %d\r\n\r\n" % (size, step))
        resp = c.read_response()
        assert resp.status == 200, resp
        assert resp.header("Transfer-Encoding") is None, resp
        assert resp.header("Content-Length") is None, resp
        assert resp.header("Connection", "").lower() == "close", resp
        assert resp.framing == "close"
        assert resp.body == be.body(size)
    # same with keep-alive asked: a close-delimited body still ends the connection
    with Client(r.port) as c:
        c.send(b"GET /ten HTTP/1.0\r\nHost: h.example\r\nConnection: keep-alive\r\n"
               b"X-Be-Mode: chunked\r\nX-Be-Size: %d\r\nX-Be-Chunk: %d\r\n\r\n" % (size, step))
        resp = c.read_response()
        assert resp.framing == "close" and resp.body == be.body(size)


def test_http10_keepalive_with_content_length_keeps_connection(proxy, backend_factory):
    r = simple(proxy, backend_factory)
    with Client(r.port) as c:
        for i in range(3):
            c.send(b"GET /k%d HTTP/1.0\r\nHost: h.example\r\nConnection: keep-alive\r\n"
                   b"X-Be-Mode: fixed\r\nX-Be-Size: 100\r\n\r\n" % i)
            resp = c.read_response()
            assert resp.status == 200 and resp.body == be.body(100), resp
            assert resp.header("Connection", "").lower() == "keep-alive", resp
        assert not c.closed_by_peer(0.3)


# ---- 204 / 304 -------------------------------------------------------------------------

def test_304_keeps_content_length_and_fields_no_body(proxy, backend_factory):
    r = simple(proxy, backend_factory)
    with Client(r.port) as c:
        for i in range(3):
            c.send(build_request("GET", "/nm%d" % i, "h.example", [
                ("X-Be-Mode", "fixed"), ("X-Be-Size", "1234"), ("X-Be-Status", "304"),
                ("X-Be-Header", 'ETag: "v1"'),
                ("X-Be-Header", "Cache-Control: max-age=60")]))
            resp = c.read_response()
            assert resp.status == 304, resp
            # the representation's length, passed through unmodified; never a body
            assert resp.all("Content-Length") == ["1234"], resp
            assert resp.header("ETag") == '"v1"', resp
            assert resp.header("Cache-Control") == "max-age=60", resp
            assert resp.header("Transfer-Encoding") is None, resp
        # nothing followed any 304 head: the next response parses right away
        assert c.request("GET", "/next", host="h.example").json()["target"] == "/next"
        assert c.buf == b""


def test_204_fields_kept_no_body(proxy, backend_factory):
    r = simple(proxy, backend_factory)
    with Client(r.port) as c:
        for mode in ("fixed", "chunked", "echo"):
            c.send(build_request("DELETE", "/x", "h.example", [
                ("X-Be-Mode", mode), ("X-Be-Status", "204"),
                ("X-Be-Header", "X-Request-Id: abc")]))
            resp = c.read_response()
            assert resp.status == 204, resp
            assert resp.header("X-Request-Id") == "abc", resp
            assert resp.header("Transfer-Encoding") is None, resp
            assert resp.header("Content-Length") is None, resp
        assert c.request("GET", "/next", host="h.example").json()["target"] == "/next"
        assert c.buf == b""


def test_head_content_length_passed_unmodified(proxy, backend_factory):
    r = simple(proxy, backend_factory)
    with Client(r.port) as c:
        resp = c.request("HEAD", "/h", host="h.example",
                         headers=[("X-Be-Mode", "fixed"), ("X-Be-Size", "777")])
        assert resp.status == 200 and resp.all("Content-Length") == ["777"], resp
        assert c.request("GET", "/next", host="h.example").json()["target"] == "/next"
