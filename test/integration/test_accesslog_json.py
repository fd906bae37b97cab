"""
access_log_format = json: one JSON object per line with fixed keys; quotes, backslashes,
control bytes and bytes that are not UTF-8 in the target and the User-Agent are escaped so that
every line parses with json.loads. The line format stays the default.
"""
import json
import time

import pytest

from conftest import ProxySpec
from util.http import Client
from util.tls import make_pki, tls_listener, TlsClient

pytestmark = pytest.mark.serving

KEYS = ["time", "client_addr", "client_port", "listener", "host", "method", "target", "version",
        "user_agent", "status", "bytes_in", "bytes_out", "request_ms", "backend",
        "backend_connect_ms", "backend_response_ms", "termination", "tls_version",
        "tls_cipher", "tls_resumed", "ntlm_pinned", "user", "queue_ms", "retries"]


def esc_view(b):
    """What the log shows for bytes b: valid UTF-8 as it is, any other byte as U+00XX."""
    out, i = [], 0
    while i < len(b):
        for n in (4, 3, 2, 1):
            try:
                ch = b[i:i + n].decode("utf-8")
                if len(ch) == 1:
                    out.append(ch)
                    i += n
                    break
            except UnicodeDecodeError:
                continue
        else:
            out.append(chr(b[i]))
            i += 1
    return "".join(out)


def read_lines(path, n, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        data = path.read_bytes() if path.exists() else b""
        lines = data.split(b"\n")[:-1]
        if len(lines) >= n or time.monotonic() > deadline:
            return [json.loads(line.decode("utf-8")) for line in lines]
        time.sleep(0.1)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_json_lines_escape_everything(proxy, backend_factory, pki, tmp_path):
    b = backend_factory(name="fe01")
    log = tmp_path / "access.json"
    spec = ProxySpec(workers=1, access_log=str(log), access_log_format="json")
    web = spec.listener("web")
    tls = tls_listener(spec, "tls", [(pki.lync, pki.lync_key)])
    spec.pool("p", [b])
    spec.route("r", pool="p")
    proxy(spec)

    # the target may hold quotes and backslashes; a byte outside visible ASCII there is
    # refused by the parser (400); the User-Agent may hold any obs-text byte (RFC 9110 5.5)
    targets = [b'/q"uote\\back', b"/utf8-\xc3\xa9", b"/latin1-\xe9\xff", b"/pct%00%22",
               b"/a", b"/b", b"/c"]
    agents = [b'ua "quoted" \\ back', b"ua-utf8", b"ua", b"ua-\xc3\xa9\xe2\x82\xac",
              b"ua-\xff\xfe-bytes", b"ua-overlong-\xc0\xaf-surrogate-\xed\xa0\x80",
              b"ua-\xf0\x9f\x98\x80-\x80"]
    sent = []
    for t, ua in zip(targets, agents):
        with Client(web) as c:   # a refused request closes its connection
            c.send(b"GET " + t + b" HTTP/1.1\r\nHost: h.example\r\nUser-Agent: " + ua +
                   b"\r\n\r\n")
            sent.append((t, ua, c.read_response().status))
    # control bytes in the target: the parser refuses them (400) and the line is still JSON
    with Client(web) as c:
        c.send(b"GET /ctl\x01\x1f HTTP/1.1\r\nHost: h.example\r\n\r\n")
        assert c.read_response().status == 400
    with Client(web) as c:
        c.send(b"GET /ua-ctl HTTP/1.1\r\nHost: h.example\r\nUser-Agent: a\x01b\x7f\r\n\r\n")
        st = c.read_response().status
    with TlsClient(tls, "meet.contoso.com", pki.ca) as c:
        assert c.request("GET", "/tls", "meet.contoso.com").status == 200

    lines = read_lines(log, len(sent) + 3)
    assert len(lines) == len(sent) + 3, lines
    for entry in lines:
        assert list(entry) == KEYS  # fixed keys, fixed order
    for (t, ua, status), e in zip(sent, lines):
        assert e["status"] == status
        if status == 200:
            assert e["target"] == esc_view(t) and e["user_agent"] == esc_view(ua), e
            assert e["method"] == "GET" and e["version"] == "HTTP/1.1"
            assert e["host"] == "h.example" and e["listener"] == "web"
            assert e["backend"] == "127.0.0.1:%d" % b.port and e["termination"] == "ok"
            assert e["backend_connect_ms"] is not None and e["backend_response_ms"] >= 0
            assert e["bytes_in"] > len(t) and e["bytes_out"] > 0
            assert e["tls_version"] is None and e["tls_resumed"] is False
            assert e["ntlm_pinned"] is False and e["client_addr"] == "127.0.0.1"
            assert 0 < e["client_port"] < 65536
    assert [s for (_, _, s) in sent] == [200, 400, 400, 200, 200, 200, 200]
    bad = lines[len(sent)]
    assert bad["status"] == 400 and bad["backend"] is None and bad["target"] is None
    assert bad["termination"] == "refused_request"
    for (t, ua, status), e in zip(sent, lines):
        if status != 200:   # refused by the parser (a byte a target may not hold)
            assert status == 400 and e["termination"] == "refused_request"
    uactl = lines[len(sent) + 1]
    assert uactl["status"] == st
    if st == 200:
        assert uactl["user_agent"] == "a\x01b\x7f"
    t = lines[-1]
    assert t["listener"] == "tls" and t["tls_version"] in ("TLSv1.3", "TLSv1.2")
    assert t["tls_cipher"] and t["status"] == 200
    raw = log.read_bytes()
    raw.decode("utf-8")  # the whole file is valid UTF-8
    assert b"\\u0001" in raw or st != 200


def test_line_format_stays_default(proxy, backend_factory, tmp_path):
    b = backend_factory(name="fe01")
    log = tmp_path / "access.log"
    spec = ProxySpec(workers=1, access_log=str(log))
    web = spec.listener("web")
    spec.pool("p", [b])
    spec.route("r", pool="p")
    proxy(spec)
    with Client(web) as c:
        assert c.request("GET", "/plain", "h.example").status == 200
    deadline = time.monotonic() + 10
    while b"/plain" not in (log.read_bytes() if log.exists() else b""):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    line = log.read_bytes().decode().strip()
    assert not line.startswith("{") and '"GET /plain HTTP/1.1"' in line
