"""
/metrics on the admin listener: every line parses under a strict parser of the Prometheus text
format (util/prom.py), and the values move as traffic passes: connections, requests and
responses by class, bytes, request errors, TLS full/resumed/failed handshakes, backend
connection errors and reuses, health check failures, server status, the latency histogram.
"""
import socket
import ssl
import time

import pytest

from conftest import ProxySpec
from util import harness, prom
from util.http import Client, get
from util.tls import client_context, make_pki, tls_listener, TlsClient

pytestmark = pytest.mark.serving


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def scrape(port):
    resp = get(port, "/metrics")
    assert resp.status == 200
    assert resp.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    return prom.parse(resp.body.decode("utf-8"))


def test_strict_parser_rejects_bad_expositions():
    good = ("# HELP x_total A.\n# TYPE x_total counter\nx_total{a=\"b\\\"c\"} 3\n"
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\n"
            "h_count 2\n")
    fams = prom.parse(good)
    assert prom.value(fams, "x_total", a='b"c') == 3
    for bad in [good[:-1],                                      # no final newline
                good + "x_total{a=\"b\\\"c\"} 4\n",             # duplicate series
                good.replace("h_count 2", "h_count 3"),         # +Inf bucket != count
                good.replace("x_total{", "x_total {"),          # space before labels
                good.replace("3\n# TYPE h", "three\n# TYPE h"),  # bad value
                good.replace("counter", "countr"),               # bad type
                good + "x_total{a=\"z\"} 1\n",                  # family split in two
                good.replace("x_total", "x"),                   # counter without _total
                good.replace("a=\"b", "a=\"\\t")]:              # bad escape
        with pytest.raises(ValueError):
            prom.parse(bad)


def metrics_edge(proxy, backend_factory, pki, tmp_path):
    be = backend_factory(name="fe01")
    dead = harness.free_port()           # nothing listens there
    spec = ProxySpec(workers=2)
    spec.listener("web")
    tls_listener(spec, "tls", [(pki.lync, pki.lync_key)])
    spec.pool("fe", [be], keepalive=8)
    spec.pool("dead", [dead], max_fails=1, connect_timeout="1s")
    spec.pool("probed", [harness.free_port()], health_check="/", health_interval="200ms")
    spec.route("dead", path="/dead", pool="dead")
    spec.route("probed", path="/probed", pool="probed")
    spec.route("all", path="/", pool="fe")
    spec.admin()
    r = proxy(spec)
    r.web, r.tls, r.admin = spec.ports["web"], spec.ports["tls"], spec.admin_port
    return r


def test_metrics_parse_and_move(proxy, backend_factory, pki, tmp_path):
    r = metrics_edge(proxy, backend_factory, pki, tmp_path)
    deadline = time.monotonic() + 10
    while True:  # the harness's port probes have been seen closing
        m0 = scrape(r.admin)
        if (all(x[2] == 0 for x in m0["ringedge_frontend_current_sessions"]["samples"]) and
                all(x[2] >= 1 for x in m0["ringedge_frontend_sessions_total"]["samples"])):
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    names = set(m0)
    for n in ["ringedge_process_start_time_seconds", "ringedge_process_build_info",
              "ringedge_frontend_current_sessions", "ringedge_frontend_sessions_total",
              "ringedge_frontend_http_requests_total", "ringedge_frontend_http_responses_total",
              "ringedge_frontend_bytes_in_total", "ringedge_frontend_bytes_out_total",
              "ringedge_frontend_request_errors_total",
              "ringedge_frontend_denied_connections_total",
              "ringedge_frontend_tls_full_handshakes_total",
              "ringedge_frontend_tls_resumed_handshakes_total",
              "ringedge_frontend_tls_failed_handshakes_total",
              "ringedge_backend_http_responses_total", "ringedge_backend_response_time_seconds",
              "ringedge_backend_ntlm_pinned_connections", "ringedge_server_status",
              "ringedge_server_backup", "ringedge_server_current_sessions",
              "ringedge_server_idle_connections_current", "ringedge_server_sessions_total",
              "ringedge_server_connection_errors_total", "ringedge_server_connection_reuses_total",
              "ringedge_server_check_failures_total"]:
        assert n in names, n
    assert abs(prom.value(m0, "ringedge_process_start_time_seconds") - time.time()) < 600
    # the harness connected once to every port to see it up: values below are deltas
    base = lambda n, **kw: prom.value(m0, n, **kw)  # noqa: E731

    # plain traffic: 5 requests on one keep-alive connection, then one bad request
    with Client(r.web) as c:
        for i in range(5):
            assert c.request("GET", "/x%d" % i, "h.example").status == 200
        # an open connection counts as current
        m1 = scrape(r.admin)
        assert (prom.value(m1, "ringedge_frontend_current_sessions", proxy="web") -
                base("ringedge_frontend_current_sessions", proxy="web")) == 1
    with Client(r.web) as c:
        c.send(b"GET /x HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n")
        assert c.read_response().status == 400
    with Client(r.web) as c:
        assert c.request("GET", "/dead", "h.example").status in (502, 503)
    # TLS: a full handshake, a resumed one (same session), a failed one
    ctx = client_context(pki.ca)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2   # a session to resume right after
    with TlsClient(r.tls, "meet.contoso.com", pki.ca, ctx=ctx) as c:
        assert c.request("GET", "/t", "meet.contoso.com").status == 200
        sess = c.sock.session
    with TlsClient(r.tls, "meet.contoso.com", pki.ca, ctx=ctx, session=sess) as c:
        assert c.request("GET", "/t", "meet.contoso.com").status == 200
        resumed = c.sock.session_reused
    with socket.create_connection(("127.0.0.1", r.tls), timeout=5) as s:
        s.sendall(b"\x16\x03\x01\x00\x05hello-not-tls" * 4)
        try:
            s.recv(100)
        except OSError:
            pass

    deadline = time.monotonic() + 10
    while True:
        m = scrape(r.admin)
        ok = (prom.value(m, "ringedge_frontend_current_sessions", proxy="web") == 0 and
              prom.value(m, "ringedge_server_check_failures_total", proxy="probed") >= 1 and
              prom.value(m, "ringedge_frontend_tls_failed_handshakes_total", proxy="tls") >=
              base("ringedge_frontend_tls_failed_handshakes_total", proxy="tls") + 1)
        if ok or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    v = lambda n, **kw: prom.value(m, n, **kw) - base(n, **kw)  # noqa: E731
    assert v("ringedge_frontend_sessions_total", proxy="web") == 3
    assert v("ringedge_frontend_current_sessions", proxy="web") == 0
    assert v("ringedge_frontend_http_requests_total", proxy="web") == 6
    assert v("ringedge_frontend_http_responses_total", proxy="web", code="2xx") == 5
    assert v("ringedge_frontend_http_responses_total", proxy="web", code="5xx") == 1
    assert v("ringedge_frontend_bytes_in_total", proxy="web") > 5 * 30
    assert v("ringedge_frontend_bytes_out_total", proxy="web") > 5 * 100
    # the unparsable request is an error answered 400, not a request head
    assert v("ringedge_frontend_http_responses_total", proxy="web", code="4xx") == 1
    assert v("ringedge_frontend_request_errors_total", proxy="web") == 1
    assert v("ringedge_frontend_tls_full_handshakes_total", proxy="tls") >= 1
    assert (v("ringedge_frontend_tls_full_handshakes_total", proxy="tls") +
            v("ringedge_frontend_tls_resumed_handshakes_total", proxy="tls")) == 2
    assert resumed  # session tickets are on by default
    assert v("ringedge_frontend_tls_resumed_handshakes_total", proxy="tls") == 1
    assert v("ringedge_frontend_tls_failed_handshakes_total", proxy="tls") == 1
    assert v("ringedge_backend_http_responses_total", proxy="fe", code="2xx") == 7
    assert v("ringedge_backend_response_time_seconds_count", proxy="fe") == 7
    assert v("ringedge_backend_response_time_seconds_bucket", proxy="fe", le="+Inf") == 7
    assert v("ringedge_server_sessions_total", proxy="fe") == 7
    # 4 of the 5 keep-alive requests and the second TLS one... reuse pooled connections
    assert v("ringedge_server_connection_reuses_total", proxy="fe") >= 4
    assert v("ringedge_server_idle_connections_current", proxy="fe") >= 1
    assert v("ringedge_server_connection_errors_total", proxy="dead") >= 1
    assert prom.value(m, "ringedge_server_check_failures_total", proxy="probed") >= 1
    assert prom.value(m, "ringedge_server_check_failures_total", proxy="fe") == 0
    assert prom.value(m, "ringedge_server_status", proxy="probed") == 0
    assert prom.value(m, "ringedge_server_status", proxy="fe") == 1
    assert prom.value(m, "ringedge_server_backup", proxy="fe") == 0
    assert prom.value(m, "ringedge_backend_ntlm_pinned_connections", proxy="fe") == 0


def test_ntlm_pinned_gauge(proxy, backend_factory):
    """An NTLM handshake pins its backend connection: the pool's pinned gauge is 1 while the
    client connection lives, the pinned requests count, and the gauge is 0 once it closes."""
    from test_pools_ntlm import NtlmServer
    srv = NtlmServer()
    b = backend_factory(name="n0", handler=srv.handler)
    spec = ProxySpec(workers=1)
    port = spec.listener("web")
    spec.pool("lync", [b])
    spec.route("r", pool="lync")
    spec.admin()
    proxy(spec)
    g = lambda n: prom.value(scrape(spec.admin_port), n, proxy="lync")  # noqa: E731
    assert g("ringedge_backend_ntlm_pinned_connections") == 0
    with Client(port) as c:
        hdr = [("X-Client", "A")]
        assert c.request("GET", "/abs", "h", hdr + [("Authorization", "NTLM type1-A")]
                         ).status == 401
        assert c.request("GET", "/abs", "h", hdr + [("Authorization", "NTLM type3-A")]
                         ).status == 200
        assert c.request("GET", "/abs", "h", hdr).status == 200
        assert g("ringedge_backend_ntlm_pinned_connections") == 1
        assert g("ringedge_backend_ntlm_pinned_requests_total") == 2
    deadline = time.monotonic() + 10
    while g("ringedge_backend_ntlm_pinned_connections") != 0:
        assert time.monotonic() < deadline, "pinned gauge stuck after the client closed"
        time.sleep(0.1)
    assert not srv.leaks


def test_queue_and_retry_metrics(proxy, backend_factory):
    """max_conns = 1 with three requests held 1 s each: two wait in the queue, and the
    pool's queue gauge, queued and queue-time counters show it; a pool whose only server
    refuses retries its connect after a backoff (retries = 2) and counts both. (issues 11 and 13)"""
    import threading
    b = backend_factory(name="q0")
    spec = ProxySpec(workers=1)
    port = spec.listener("web")
    spec.pool("q", [b], max_conns=1)
    spec.pool("rd", [harness.free_port()], retries=2, connect_timeout="1s")
    spec.route("r", pool="q")
    spec.route("rd", path="/rd", pool="rd")
    spec.admin()
    proxy(spec)
    g = lambda n, p="q": prom.value(scrape(spec.admin_port), n, proxy=p)  # noqa: E731
    assert g("ringedge_backend_current_queue") == 0
    assert g("ringedge_backend_queued_total") == 0
    results = []

    def one(i):
        with Client(port, timeout=30) as c:
            results.append(c.request("GET", "/hold/%d" % i, "h",
                                     [("X-Be-Hold", "1")]).status)

    ts = [threading.Thread(target=one, args=(i,)) for i in range(3)]
    for t in ts:
        t.start()
    deadline = time.monotonic() + 10
    while g("ringedge_backend_current_queue") < 1:
        assert time.monotonic() < deadline, "no request ever waited in the queue"
        time.sleep(0.05)
    for t in ts:
        t.join(30)
    assert results == [200, 200, 200]
    assert g("ringedge_backend_current_queue") == 0
    assert g("ringedge_backend_queued_total") >= 1
    assert g("ringedge_backend_queue_time_seconds_total") > 0
    assert g("ringedge_backend_queue_full_total") == 0
    with Client(port) as c:
        assert c.request("GET", "/rd", "h").status == 502
    assert g("ringedge_backend_retries_total", "rd") == 2


def test_denied_connections(proxy, backend_factory):
    """Connections refused by a policy count in denied_connections_total: one over
    client_max_connections, and one from a peer outside proxy_protocol_from."""
    b = backend_factory(name="d0")
    spec = ProxySpec(workers=1)
    port = spec.listener("web", client_max_connections=1)
    pp = spec.listener("pp", proxy_protocol="on", proxy_protocol_from="10.0.0.0/8")
    spec.pool("p", [b])
    spec.route("r", pool="p")
    spec.admin()
    proxy(spec)
    g = lambda p: prom.value(scrape(spec.admin_port),  # noqa: E731
                             "ringedge_frontend_denied_connections_total", proxy=p)
    def refused_on_pp():
        s = socket.create_connection(("127.0.0.1", pp), timeout=10)
        try:
            s.sendall(b"PROXY TCP4 192.0.2.1 192.0.2.2 1000 80\r\nGET / HTTP/1.1\r\n"
                      b"Host: h\r\n\r\n")
            assert s.recv(100) == b""
        except ConnectionResetError:
            pass
        finally:
            s.close()

    # The harness's readiness probe counts on "pp" too (127.0.0.1 is untrusted), whenever the
    # worker gets to it. One refused connection first: the worker accepts in order, so once
    # it has been closed on us every probe before it is counted, and the baseline is final.
    refused_on_pp()
    w0, p0 = g("web"), g("pp")
    with Client(port) as c:
        assert c.request("GET", "/x", "h").status == 200
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            s.sendall(b"GET /y HTTP/1.1\r\nHost: h\r\n\r\n")
            assert s.recv(100) == b""       # closed right after accept
        except ConnectionResetError:
            pass
        finally:
            s.close()
    refused_on_pp()
    deadline = time.monotonic() + 10
    while g("web") < w0 + 1 or g("pp") < p0 + 1:
        assert time.monotonic() < deadline, (w0, g("web"), p0, g("pp"))
        time.sleep(0.05)
    assert g("web") == w0 + 1 and g("pp") == p0 + 1
