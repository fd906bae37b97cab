"""Black-box tests of bench/ringbench against small Python backends that count requests.

Each run uses -n so ringbench sends an exact number of requests; the backend's own count must
match ringbench's. Plain HTTP covers Content-Length, chunked and close-delimited bodies, keep-
alive, new connection per request and the open loop; TLS covers keep-alive, full handshakes
and ticket resumption against Python's ssl with a throwaway self-signed certificate, and
--tls-max 1.2 (TLS 1.2 ticket resumption) against a real ringedge TLS listener.
The closed loop's batch wait is checked by io_uring_enter counts (strace -c) and by exact
counts with fast and slow connections mixed.
The binary is $RINGEDGE_BUILD/bench/ringbench (RINGEDGE_BUILD defaults to "build").
"""
import http.server
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("RINGEDGE_BUILD", "build")
RINGBENCH = os.path.join(BUILD if os.path.isabs(BUILD) else os.path.join(ROOT, BUILD),
                         "bench", "ringbench")
BODY = b"x" * 100


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def count(self):
        with self.server.lock:
            self.server.count += 1
            self.server.paths[self.path] = self.server.paths.get(self.path, 0) + 1
            self.server.peers.add(self.client_address[0])

    def do_GET(self):
        self.count()
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"20\r\n" + b"c" * 32 + b"\r\n5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n")
        elif self.path == "/close":
            # No length: the body ends when the connection does.
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(BODY)
            self.close_connection = True
        elif self.path == "/short":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(BODY[:50])
            self.close_connection = True
        elif self.path == "/slow":
            time.sleep(1.5)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path.startswith("/hold/"):
            # A long poll: the answer comes after the given number of seconds.
            time.sleep(float(self.path[len("/hold/"):]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/one":
            # The whole response in one write (one segment), like nginx's 100-byte file.
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY)
        elif self.path == "/missing":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        with self.server.lock:
            self.server.posted.append(data)
        self.do_GET()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, tls_ctx=None):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.count = 0
        self.paths = {}
        self.posted = []
        self.peers = set()
        self.tls_ctx = tls_ctx

    def get_request(self):
        conn, addr = self.socket.accept()
        # Headers and body go out in separate writes: without this, Nagle + delayed ACK
        # add 40 ms to every response and the test would time the backend, not the client.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls_ctx is not None:
            # The handshake runs in the handler thread, not in the accept loop.
            conn = self.tls_ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        return conn, addr

    def handle_error(self, request, client_address):
        pass  # resets and aborted handshakes are part of the tests


def start(tls_ctx=None):
    srv = Server(tls_ctx)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    return srv


@pytest.fixture(scope="module")
def binary():
    if not os.path.exists(RINGBENCH):
        pytest.fail(f"{RINGBENCH} not built (set RINGEDGE_BUILD)")
    return RINGBENCH


@pytest.fixture()
def backend():
    srv = start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("cert")
    key, crt = d / "key.pem", d / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(crt), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    return str(crt), str(key)


@pytest.fixture()
def tls_backend(cert):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*cert)
    srv = start(ctx)
    yield srv
    srv.shutdown()
    srv.server_close()


def run(binary, *args, timeout=20, check=True):
    p = subprocess.run([binary, "-q", "--json", *args], capture_output=True, text=True,
                       timeout=timeout)
    if check:
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)
    return p


def url(srv, path="/", scheme="http", host="127.0.0.1"):
    return f"{scheme}://{host}:{srv.server_address[1]}{path}"


def no_errors(r):
    assert all(v == 0 for v in r["errors"].values()), r["errors"]


def test_keepalive_counts_match(binary, backend):
    r = run(binary, "-c", "4", "-t", "2", "-n", "400", url(backend))
    no_errors(r)
    assert r["requests"] == 400
    assert backend.count == 400
    assert r["status"]["2xx"] == 400
    assert r["connection"] == "keepalive" and r["mode"] == "closed"
    assert r["bytes_in"] > 400 * len(BODY)
    assert r["latency"]["count"] == 400
    assert 0 < r["latency"]["p50_us"] <= r["latency"]["p99_us"] <= r["latency"]["max_us"]
    assert r["target_local"] is True
    assert len(r["cpu"]) == 2


def test_new_conn_counts_match(binary, backend):
    r = run(binary, "-c", "4", "-n", "200", "--new-conn", url(backend))
    no_errors(r)
    assert r["requests"] == 200 == backend.count
    assert r["connects"] == 200


def test_framings_round_robin(binary, backend):
    urls = [url(backend, p) for p in ("/", "/chunked", "/close")]
    r = run(binary, "-c", "3", "-n", "300", *urls)
    no_errors(r)
    assert r["requests"] == 300 == backend.count
    # Each connection round-robins the URLs of its target: all three framings were parsed.
    assert set(backend.paths) == {"/", "/chunked", "/close"}
    assert min(backend.paths.values()) >= 90


def test_open_loop(binary, backend):
    r = run(binary, "-c", "4", "-R", "400", "-n", "200", url(backend))
    no_errors(r)
    assert r["mode"] == "open"
    assert r["requests"] == 200 == backend.count == r["sent"]
    # 200 requests at 400/s take about 0.5 s: the schedule, not the server, set the pace.
    assert 0.4 < r["duration_s"] < 2.0
    assert r["latency_uncorrected"]["count"] == 200
    assert r["latency"]["p99_us"] >= r["latency_uncorrected"]["p50_us"]


def test_open_loop_duration(binary, backend):
    r = run(binary, "-c", "4", "-R", "300", "-d", "1", url(backend))
    no_errors(r)
    # ringbench counts responses inside the 1 s window; the backend also saw the few in flight.
    assert 250 <= r["requests"] <= 330
    assert r["requests"] <= backend.count <= r["requests"] + 8
    assert r["unsent"] <= 4


class StallHandler(http.server.BaseHTTPRequestHandler):
    """Answers at once, except during the first STALL_S of every PERIOD_S (since T0)."""
    protocol_version = "HTTP/1.1"
    T0, PERIOD_S, STALL_S = time.monotonic(), 0.5, 0.1

    def log_message(self, *args):
        pass

    def do_GET(self):
        phase = (time.monotonic() - self.T0) % self.PERIOD_S
        if phase < self.STALL_S:
            time.sleep(self.STALL_S - phase)
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def test_open_loop_latency_from_intended_time_across_stalls(binary):
    # The backend stalls 100 ms of every 500 ms; 200 req/s intended over 2 s (4 periods), so
    # 20 % of the requests are intended inside a stall and cannot be answered before it ends:
    # their latency from the intended send time is at least the rest of the stall, uniform on
    # 0..100 ms. Percentile q above p80 is thus at least 100 ms * (q - 0.8) / 0.2 (p99: 95 ms),
    # whatever the machine's load (load only adds). With 4 connections each has about 5 slots
    # per stall: a client that measured from the actual send would see most of them short.
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StallHandler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    try:
        r = run(binary, "-c", "4", "-R", "200", "-d", "2", "--warmup", "500ms",
                f"http://127.0.0.1:{srv.server_address[1]}/", timeout=30)
    finally:
        srv.shutdown()
        srv.server_close()
    no_errors(r)
    assert r["mode"] == "open"
    # Every slot due in the window is accounted for: sent, or due and never sent.
    assert 395 <= r["sent"] + r["unsent"] <= 405, r
    assert r["latency"]["p99_us"] >= 0.9 * 95000, r["latency"]
    assert r["latency"]["p99.9_us"] >= 0.9 * 99500, r["latency"]
    assert r["latency"]["p90_us"] >= 0.9 * 50000, r["latency"]
    # The uncorrected p90 leaves out the waits the stalls forced on queued slots.
    assert r["latency_uncorrected"]["p90_us"] < r["latency"]["p90_us"]


def io_uring_enters(binary, argv, tmp_path):
    """io_uring_enter calls of one ringbench run (all threads), counted by strace -c."""
    out = tmp_path / "strace.txt"
    # LeakSanitizer cannot run under ptrace: an ASan build's leak check is off here.
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
    p = subprocess.run(["strace", "-f", "-c", "-e", "trace=io_uring_enter", "-o", str(out),
                        binary, "-q", "--json", *argv], capture_output=True, text=True,
                       timeout=60, env=env)
    assert p.returncode == 0, p.stderr
    for line in out.read_text().splitlines():
        f = line.split()
        if f and f[-1] == "io_uring_enter":
            return json.loads(p.stdout), int(f[3])
    raise AssertionError("no io_uring_enter line in strace -c output:\n" + out.read_text())


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
def test_one_io_uring_enter_per_request(binary, backend, tmp_path):
    # One connection, responses in one segment: each request is one io_uring_enter that
    # submits the send and the recv and waits for the send's inline completion plus the
    # response. Waiting for "one completion" returned at once with the send's, costing a
    # second enter per request (--eager-wake keeps that behaviour, so this test can tell
    # the two apart). The few extra enters are connect, the 50 ms tick and the end.
    n = 300
    r, enters = io_uring_enters(binary, ["-c", "1", "-n", str(n), url(backend, "/one")],
                                tmp_path)
    no_errors(r)
    assert r["requests"] == n == backend.count
    assert n <= enters < 1.3 * n, enters
    r, enters = io_uring_enters(binary, ["-c", "1", "-n", str(n), "--eager-wake",
                                         url(backend, "/one")], tmp_path)
    no_errors(r)
    assert enters >= 2 * n, enters


def test_batch_wait_fast_among_slow_connections(binary, tmp_path):
    # Closed loop waits for half of the requests out to answer (at most 200 us), here from 8
    # connections on (--batch-from 8; the default is 32). 4 of the 8 connections go to a
    # backend that takes 1.5 s per response, 4 to a fast one: the batch the wait asks for
    # cannot fill from the fast ones. Nothing may hang or be lost: exact counts on both
    # backends, no errors, with batching on and off.
    for extra in (["--batch-from", "8"], [], ["--eager-wake"]):
        fast, slow = start(), start()
        try:
            r = run(binary, "-c", "8", "-n", "120", "--timeout", "5s", *extra, url(fast),
                    url(slow, "/slow"), timeout=30)
            no_errors(r)
            assert r["requests"] == 120 == fast.count + slow.count
            assert 4 <= slow.count <= 8 and fast.count >= 112
            assert r["latency"]["count"] == 120
        finally:
            for srv in (fast, slow):
                srv.shutdown()
                srv.server_close()


def test_batch_wait_many_connections_counts_match(binary, backend):
    # 64 connections on 2 threads: batch waits of up to 16 responses per thread; every
    # request is answered and counted exactly once.
    r = run(binary, "-c", "64", "-t", "2", "-n", "3000", url(backend), timeout=60)
    no_errors(r)
    assert r["requests"] == 3000 == backend.count == r["latency"]["count"]
    assert r["status"]["2xx"] == 3000


def test_collect_after_filled_batch(binary, backend):
    # After a batch wait fills, the kernel has run only as many completions as the wait
    # still needed; responses that arrived while ringbench was being woken stay queued until
    # the next wait fills (a whole batch later). ringbench collects them at once (submit, run
    # the pending task work, no wait). --wait-stats reports how many collects ran and what
    # they brought: with 8 connections (batches of 4, --batch-from 8) against a backend
    # thread per connection, some responses always land in that window. Counts stay exact.
    p = subprocess.run([binary, "-q", "--json", "--wait-stats", "-c", "8", "-n", "3000",
                        "--batch-from", "8", url(backend)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    no_errors(r)
    assert r["requests"] == 3000 == backend.count == r["latency"]["count"]
    m = re.search(r"wait-stats thread 0: (\d+) collects after a filled batch brought (\d+) "
                  r"responses", p.stderr)
    assert m, p.stderr
    assert int(m.group(1)) > 0 and int(m.group(2)) > 0, p.stderr
    assert re.search(r"wait-stats thread 0: \d+ enters \(", p.stderr), p.stderr


def test_plain_waits_below_batch_from(binary, backend):
    # Below --batch-from connections per thread (default 32) every closed-loop wait asks for
    # one response (the sends just queued are added) and never collects; from it on, waits
    # ask for batches. --wait-stats says what the waits asked for on average.
    def asked(*args):
        p = subprocess.run([binary, "-q", "--json", "--wait-stats", *args, "-n", "3000",
                            url(backend)], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        r = json.loads(p.stdout)
        no_errors(r)
        assert r["requests"] == 3000 == r["latency"]["count"]
        m = re.search(r"wait-stats thread 0: \d+ enters .*asked ([\d.]+),", p.stderr)
        c = re.search(r"wait-stats thread 0: (\d+) collects", p.stderr)
        assert m and c, p.stderr
        return float(m.group(1)), int(c.group(1))

    before = backend.count
    a, collects = asked("-c", "8")
    assert a == 1.0 and collects == 0, (a, collects)
    a, collects = asked("-c", "8", "--batch-from", "8")
    assert a > 1.0 and collects > 0, (a, collects)
    a, collects = asked("-c", "32")
    assert a > 1.0 and collects > 0, (a, collects)
    assert backend.count - before == 9000


def test_post_body_and_headers(binary, backend, tmp_path):
    body = tmp_path / "body"
    body.write_bytes(b"0123456789" * 50)
    r = run(binary, "-c", "2", "-n", "20", "-m", "POST", "--body", str(body),
            "-H", "Host: example.test", "-H", "X-Bench: 1", url(backend))
    no_errors(r)
    assert backend.count == 20
    assert all(p == b"0123456789" * 50 for p in backend.posted)


def test_error_kinds(binary, backend):
    r = run(binary, "-c", "2", "-n", "6", url(backend, "/short"), check=False)
    assert r.returncode == 1  # nothing succeeded
    r = json.loads(r.stdout)
    assert r["errors"]["short_body"] == 6
    # Every response a status error: nothing succeeded (exit 1, like any all-error run).
    p = run(binary, "-c", "1", "-n", "3", "--expect-status", "200", url(backend, "/missing"),
            check=False)
    assert p.returncode == 1
    r = json.loads(p.stdout)
    assert r["status"]["4xx"] == 3 and r["errors"]["status"] == 3
    # --expect-status overrides the default (4xx/5xx are errors) exactly.
    r = run(binary, "-c", "1", "-n", "3", "--expect-status", "404", url(backend, "/missing"))
    assert r["status"]["4xx"] == 3 and r["errors"]["status"] == 0
    p = run(binary, "-c", "1", "-n", "3", "--expect-status", "404", url(backend), check=False)
    assert p.returncode == 1 and json.loads(p.stdout)["errors"]["status"] == 3
    r = run(binary, "-c", "2", "-n", "2", "--timeout", "300ms", url(backend, "/slow"), check=False)
    r = json.loads(r.stdout)
    assert r["errors"]["timeout"] == 2
    # Timed-out requests stay in the histogram (at their age when they timed out).
    assert r["latency"]["count"] == 2 and r["latency"]["min_us"] >= 300000


class Status503(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def server_503():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Status503)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_5xx_is_status_error_by_default(binary, server_503, backend):
    p = run(binary, "-c", "1", "-n", "5", url(server_503), check=False)
    assert p.returncode == 1, p.stderr  # nothing succeeded
    r = json.loads(p.stdout)
    assert r["status"]["5xx"] == 5 and r["errors"]["status"] == 5
    assert "first error: status 503" in p.stderr
    p = subprocess.run([binary, "-q", "-c", "1", "-n", "5", url(server_503)],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 1 and "status=5" in p.stdout
    assert "first error: status 503" in p.stdout
    # 4xx too; 2xx and 3xx are not errors.
    p = run(binary, "-c", "1", "-n", "3", url(backend, "/missing"), check=False)
    assert p.returncode == 1 and json.loads(p.stdout)["errors"]["status"] == 3
    no_errors(run(binary, "-c", "1", "-n", "3", url(backend)))


def test_closed_and_short_body_record_first_error(binary, backend):
    p = subprocess.run([binary, "-q", "-c", "1", "-n", "2", url(backend, "/short")],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 1
    assert "first error:" in p.stdout and "short body" in p.stdout, p.stdout
    # A server that accepts and closes without answering.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    stop = threading.Event()

    def closer():
        s.settimeout(0.1)
        while not stop.is_set():
            try:
                c, _ = s.accept()
            except OSError:
                continue
            c.recv(4096)
            c.close()

    t = threading.Thread(target=closer, daemon=True)
    t.start()
    try:
        p = subprocess.run([binary, "-q", "-c", "1", "-n", "2",
                            f"http://127.0.0.1:{s.getsockname()[1]}/"],
                           capture_output=True, text=True, timeout=20)
    finally:
        stop.set()
        t.join()
        s.close()
    assert p.returncode == 1
    assert "closed=" in p.stdout and "closed=0" not in p.stdout, p.stdout
    assert "first error:" in p.stdout and "closed the connection" in p.stdout, p.stdout


def test_long_option_bad_value_named(binary):
    for opt in ("--timeout", "--warmup", "--ramp", "--expect-status", "--batch-from"):
        p = subprocess.run([binary, opt, "abc", "http://127.0.0.1:1/"], capture_output=True,
                           text=True, timeout=10)
        assert p.returncode == 2
        assert "bad value for %s: 'abc'" % opt in p.stderr, p.stderr
    p = subprocess.run([binary, "-c", "abc", "http://127.0.0.1:1/"], capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 2 and "bad value for -c: 'abc'" in p.stderr, p.stderr
    p = subprocess.run([binary, "--batch-from", "1", "http://127.0.0.1:1/"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "bad value for --batch-from: '1'" in p.stderr, p.stderr


def test_tls_options_need_https(binary):
    for args in (["--resume"], ["--tls-max", "1.2"]):
        p = subprocess.run([binary, *args, "http://127.0.0.1:1/", "http://127.0.0.1:2/"],
                           capture_output=True, text=True, timeout=10)
        assert p.returncode == 2, (args, p.stderr)
        assert "%s needs an https:// URL" % args[0] in p.stderr, p.stderr


def test_bad_url_and_refused(binary):
    p = subprocess.run([binary, "ftp://x/"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "only http:// and https://" in p.stderr
    p = subprocess.run([binary, "http://127.0.0.1:99999/"], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 2 and "bad port" in p.stderr
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    p = subprocess.run([binary, "-d", "1", f"http://127.0.0.1:{port}/"], capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 1 and "Connection refused" in p.stderr


def test_text_output(binary, backend):
    p = subprocess.run([binary, "-q", "-c", "2", "-n", "50", url(backend)], capture_output=True,
                       text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    for word in ("p50", "p99.99", "max", "2xx=50", "Client CPU", "same host"):
        assert word in p.stdout


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
class TestTLS:
    def test_keepalive(self, binary, tls_backend, cert):
        r = run(binary, "-c", "2", "-n", "100", "--cacert", cert[0],
                url(tls_backend, scheme="https", host="localhost"))
        no_errors(r)
        assert r["requests"] == 100 == tls_backend.count
        assert r["tls"]["handshakes"] == 2 and r["tls"]["version"].startswith("TLS")

    def test_verification_fails_without_ca(self, binary, tls_backend):
        p = run(binary, "-c", "1", "-n", "2", url(tls_backend, scheme="https", host="localhost"),
                check=False)
        assert p.returncode == 1
        assert json.loads(p.stdout)["errors"]["tls"] >= 1
        assert tls_backend.count == 0

    def test_new_conn_full_handshakes(self, binary, tls_backend):
        r = run(binary, "-k", "-c", "2", "-n", "40", "--new-conn",
                url(tls_backend, scheme="https"))
        no_errors(r)
        assert r["requests"] == 40 == tls_backend.count
        assert r["tls"]["full"] == 40 and r["tls"]["resumed"] == 0

    def test_resume(self, binary, tls_backend):
        r = run(binary, "-k", "-c", "2", "-n", "40", "--resume", url(tls_backend, scheme="https"))
        no_errors(r)
        assert r["requests"] == 40 == tls_backend.count
        # Each connection's first handshake is full; the rest resume with its ticket.
        assert r["tls"]["handshakes"] == 40
        assert r["tls"]["resumed"] >= 36
        assert r["tls"]["resumption_rate"] >= 0.9


def test_tls_max_bad_value(binary):
    for bad in ("1.1", "1.4", "tls1.2", ""):
        p = subprocess.run([binary, "--tls-max", bad, "https://127.0.0.1:1/"],
                           capture_output=True, text=True, timeout=10)
        assert p.returncode == 2, (bad, p.stderr)
        assert "--tls-max '%s': want 1.2 or 1.3" % bad in p.stderr, p.stderr


@pytest.mark.serving
@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_tls12_resume_against_ringedge(binary, cert, proxy, backend_factory):
    # A real ringedge TLS listener (TLS 1.2 and 1.3, tickets on): --tls-max 1.2 negotiates
    # TLS 1.2, and --resume resumes with TLS 1.2 tickets (no key exchange), not only 1.3 PSKs.
    from conftest import ProxySpec
    from util.tls import tls_listener

    b = backend_factory(name="fe")
    spec = ProxySpec()
    spec.section("tls", protocols="TLSv1.2 TLSv1.3", session_tickets="on")
    port = tls_listener(spec, "s", [cert])
    spec.pool("p", [b])
    spec.route("all", pool="p")
    proxy(spec)
    target = f"https://localhost:{port}/"

    r = run(binary, "-c", "2", "-n", "40", "--tls-max", "1.2", "--resume", "--cacert", cert[0],
            target)
    no_errors(r)
    assert r["requests"] == 40 == b.count
    assert r["tls"]["version"] == "TLSv1.2" and r["tls"]["max"] == "1.2", r["tls"]
    assert r["tls"]["handshakes"] == 40 and r["tls"]["resume_failed"] == 0
    # Each connection's first handshake is full; the rest resume with its ticket.
    assert r["tls"]["resumed"] >= 36, r["tls"]

    r = run(binary, "-c", "2", "-n", "10", "--tls-max", "1.2", "--new-conn", "--cacert",
            cert[0], target)
    no_errors(r)
    assert r["tls"]["version"] == "TLSv1.2" and r["tls"]["full"] == 10
    assert r["tls"]["resumed"] == 0

    # The default offers 1.3, which this listener prefers.
    r = run(binary, "-c", "1", "-n", "4", "--resume", "--cacert", cert[0], target)
    no_errors(r)
    assert r["tls"]["version"] == "TLSv1.3" and r["tls"]["max"] == "1.3", r["tls"]
    assert r["tls"]["resumed"] >= 3


# ---- --idle: held connections, the second request on a sample, limits, long polls ----

def test_idle_holds_all_and_samples_second_requests(binary, backend):
    r = run(binary, "--idle", "40", "--idle-sample", "8", "-t", "2", "-d", "3s",
            url(backend))
    no_errors(r)
    idle = r["idle"]
    assert idle["wanted"] == 40 and idle["open"] == 40 and idle["open_max"] == 40
    assert idle["answered"] == 40 and idle["waiting"] == 0 and idle["limit"] == "none"
    assert idle["rss_held_kib"] >= idle["rss_before_kib"] > 0
    # 40 first requests, then 8 second ones; only the second ones are in the histogram.
    assert r["requests"] == 48 and backend.count == 48
    assert r["latency"]["count"] == 8


def test_idle_text_report_says_all_held(binary, backend):
    p = subprocess.run([binary, "-q", "--idle", "10", "-d", "500ms", url(backend)],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    assert "10 of 10 connections open" in p.stdout
    assert "bytes per connection" in p.stdout and "Held all 10" in p.stdout


def test_idle_stops_at_fd_limit_and_says_why(binary, backend):
    def low_nofile():
        import resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))
    p = subprocess.run([binary, "-q", "--json", "--idle", "100", "-d", "1s", url(backend)],
                       capture_output=True, text=True, timeout=20, preexec_fn=low_nofile)
    r = json.loads(p.stdout)
    idle = r["idle"]
    assert 0 < idle["open_max"] < 40 and idle["limit"] == "fd", idle
    # the client's memory is still read at the limit (its /proc file was opened before)
    assert idle["rss_held_kib"] > 0 and idle["client_bytes_per_conn"] > 0, idle
    assert "will stop there" in p.stderr
    p = subprocess.run([binary, "-q", "--idle", "100", "-d", "500ms", url(backend)],
                       capture_output=True, text=True, timeout=20, preexec_fn=low_nofile)
    assert "open-file limit (RLIMIT_NOFILE)" in p.stdout and "ulimit -n" in p.stdout


def test_idle_source_range_spreads_addresses(binary, backend):
    r = run(binary, "--idle", "12", "--source", "127.0.0.0/24", "-d", "500ms", url(backend))
    no_errors(r)
    assert r["idle"]["open"] == 12
    # Addresses 127.0.0.1 .. 127.0.0.12, one per connection in turn.
    assert backend.peers == {"127.0.0.%d" % i for i in range(1, 13)}


def test_idle_long_poll_pending(binary, backend):
    # Every first request is held 3 s by the backend: at the midpoint (1 s) all 10 are open
    # and waiting; the run ends before the answers, which is not an error.
    r = run(binary, "--idle", "10", "--idle-sample", "0", "-d", "2s", url(backend, "/hold/3"))
    idle = r["idle"]
    assert idle["open"] == 10 and idle["waiting"] == 10 and idle["answered"] == 0, idle
    assert r["requests"] == 0


def test_idle_bad_combinations(binary, backend):
    for extra in (["-R", "10"], ["-n", "5"], ["--new-conn"]):
        p = run(binary, "--idle", "5", *extra, url(backend), check=False)
        assert p.returncode == 2 and "--idle" in p.stderr
    p = run(binary, "--idle", "5", "--source", "10.0.0.0/99", url(backend), check=False)
    assert p.returncode == 2 and "prefix length" in p.stderr


def test_idle_tls(binary, tls_backend):
    r = run(binary, "-k", "--idle", "10", "--idle-sample", "5", "-d", "4s",
            url(tls_backend, scheme="https"))
    no_errors(r)
    assert r["idle"]["open"] == 10 and r["requests"] == 15
    assert r["tls"]["handshakes"] == 10


def test_idle_long_poll_through_test_backend_hold(binary):
    # test/integration/backend.py's hold parameter (header and ?hold=): the answers come
    # after 0.4 s, inside the hold, so every connection has its first response at the
    # midpoint; the second request (?hold= in the target) is held too.
    import backend as be
    srv = be.Backend().start()
    try:
        r = run(binary, "--idle", "6", "--idle-sample", "3", "-d", "2s",
                "http://127.0.0.1:%d/lp?hold=0.4" % srv.port)
        no_errors(r)
        assert r["idle"]["open"] == 6 and r["idle"]["answered"] == 6
        assert r["requests"] == 9
        assert r["latency"]["min_us"] >= 400000
        r = run(binary, "--idle", "4", "--idle-sample", "0", "-d", "1s", "-H", "X-Be-Hold: 5",
                "http://127.0.0.1:%d/" % srv.port)
        assert r["idle"]["waiting"] == 4 and r["idle"]["answered"] == 0
    finally:
        srv.stop()


def one_shot_server(answer):
    """A listener that reads each request's first bytes, sends answer (b"": none) and closes.
    Returns (port, stop)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(128)
    ls.settimeout(0.2)
    done = threading.Event()

    def serve():
        while not done.is_set():
            try:
                s, _ = ls.accept()
            except OSError:
                continue
            s.settimeout(2)
            try:
                s.recv(4096)
                s.sendall(answer)
            except OSError:
                pass
            s.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()

    def stop():
        done.set()
        t.join(5)
        ls.close()
    return ls.getsockname()[1], stop


def test_idle_says_the_server_dropped_them(binary):
    # Not a local limit: the server closes every connection before answering. The report
    # says so, with the count, the kind and the first error (not "no limit", not "fd").
    port, stop = one_shot_server(b"")
    try:
        p = run(binary, "--idle", "8", "-d", "1s", "http://127.0.0.1:%d/" % port, check=False)
        idle = json.loads(p.stdout)["idle"]
        assert idle["limit"] == "errors" and idle["open_max"] < 8, idle
        assert "not a local limit" in idle["why"], idle
        assert "8 were closed by the server before a response" in idle["why"], idle
        assert "first error: 127.0.0.1:%d closed" % port in idle["why"], idle
    finally:
        stop()


def test_idle_says_the_server_does_not_keep_alive(binary):
    port, stop = one_shot_server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                 b"Connection: close\r\n\r\nok")
    try:
        p = run(binary, "--idle", "5", "-d", "1s", "http://127.0.0.1:%d/" % port, check=False)
        idle = json.loads(p.stdout)["idle"]
        assert idle["limit"] == "closed", idle
        assert "ended 5 connections with their response" in idle["why"], idle
    finally:
        stop()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_idle_long_poll_through_bench_hold_backend(binary, cert):
    # bench/compare's scenario 11 backend: every request held ?hold=S seconds, TLS and plain,
    # keep-alive; pending long polls are "waiting", short holds answer after S.
    ports = [free_port(), free_port()]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p = subprocess.Popen([sys.executable, os.path.join(root, "bench", "hold_backend.py"),
                          "--tls-port", str(ports[0]), "--http-port", str(ports[1]),
                          "--cert", cert[0], "--key", cert[1]],
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        r = run(binary, "--idle", "6", "--idle-sample", "0", "-d", "1s",
                "http://127.0.0.1:%d/lp?hold=30" % ports[1])
        assert r["idle"]["waiting"] == 6 and r["idle"]["answered"] == 0, r["idle"]
        r = run(binary, "-k", "--idle", "4", "--idle-sample", "4", "-d", "2s",
                "https://127.0.0.1:%d/lp?hold=0.3" % ports[0])
        no_errors(r)
        assert r["idle"]["answered"] == 4 and r["requests"] == 8
        assert r["latency"]["min_us"] >= 300000
    finally:
        p.terminate()
        p.wait(10)
