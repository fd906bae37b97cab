"""
ACME client (core/acme) against Debian's pebble: first issuance for the five Lync names with
HTTP-01, the same with TLS-ALPN-01 only, RSA certificate keys, and renewal forced by a short
lifetime. Until the listeners answer challenges themselves (the stream integration), the
challenges are answered by test/tools/acme_run from the same responder table the data plane
will read. The issued chain is checked with `openssl verify -verify_hostname` against pebble's
root (management port /roots/0) and served by a Python ssl server that a Python ssl client
verifies for each name.
"""
import re
import socket
import ssl
import subprocess
import threading

import pytest

from util import acme

pytestmark = pytest.mark.skipif(not acme.available(),
                                reason="pebble / pebble-challtestsrv not installed "
                                       "(apt-get install pebble)")


@pytest.fixture
def pebble(tmp_path):
    assert acme.acme_run_bin().exists(), "acme_run not built (needs libcurl + jansson)"
    p = acme.Pebble(tmp_path).start()
    yield p
    p.stop()


def served_names_ok(tmp_path, crt, key, root_pem, names):
    """Serves crt/key with Python ssl and connects with SNI = each name, verifying against
    pebble's root; returns the names whose handshake or hostname check failed."""
    srv_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    srv_ctx.load_cert_chain(str(crt), str(key))
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    ls.settimeout(10)
    port = ls.getsockname()[1]
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                c, _ = ls.accept()
            except OSError:
                return
            try:
                with srv_ctx.wrap_socket(c, server_side=True) as s:
                    s.sendall(b"ok")
            except (OSError, ssl.SSLError):
                pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    cli = ssl.create_default_context(cadata=root_pem)
    bad = []
    try:
        for n in names:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                    with cli.wrap_socket(raw, server_hostname=n) as s:
                        if s.recv(2) != b"ok":
                            bad.append(n)
            except (OSError, ssl.SSLError) as e:
                bad.append("%s: %s" % (n, e))
    finally:
        stop.set()
        ls.close()
        t.join(5)
    return bad


def check_issued(tmp_path, pebble, out, names, key_header=None):
    state = tmp_path / "state"
    crt, key = state / "edge.crt", state / "edge.key"
    assert crt.exists() and key.exists(), out
    chain = crt.read_text()
    assert chain.count("BEGIN CERTIFICATE") >= 2, "leaf + intermediate expected:\n" + chain
    assert (key.stat().st_mode & 0o777) == 0o600
    if key_header:
        assert key_header in key.read_text()
    root = pebble.roots()
    assert acme.verify_chain(tmp_path, chain, root, names) == []
    # a name the certificate does not cover must fail the same check (the check can fail)
    assert acme.verify_chain(tmp_path, chain, root, ["other.example.test"]) != []
    assert served_names_ok(tmp_path, crt, key, root, names) == []
    # no temporary file left behind by the atomic writes
    assert sorted(p.name for p in state.iterdir()) == ["edge.crt", "edge.key", "edge.lock"]


def test_http01_five_lync_names(tmp_path, pebble):
    r = acme.run_acme(pebble, tmp_path, acme.LYNC_NAMES, challenge="http-01")
    assert r.returncode == 0, r.stdout
    assert r.stdout.count("http-01 challenge for") == 5, r.stdout
    assert "tls-alpn-01" not in r.stdout
    assert "created account key" in r.stdout
    check_issued(tmp_path, pebble, r.stdout, acme.LYNC_NAMES, "BEGIN EC PRIVATE KEY")
    # pebble really fetched each token from our responder
    log = pebble.log_path.read_text()
    for n in acme.LYNC_NAMES:
        assert "http://%s:%d/.well-known/acme-challenge/" % (n, pebble.http_port) in log


def test_tlsalpn01_only_five_lync_names(tmp_path, pebble):
    r = acme.run_acme(pebble, tmp_path, acme.LYNC_NAMES, challenge="tls-alpn-01")
    assert r.returncode == 0, r.stdout
    assert r.stdout.count("tls-alpn-01 challenge for") == 5, r.stdout
    assert "http-01 challenge" not in r.stdout
    check_issued(tmp_path, pebble, r.stdout, acme.LYNC_NAMES)
    assert "Attempting to validate w/ HTTP" not in pebble.log_path.read_text()


def test_existing_account_key_and_rsa_certificate(tmp_path, pebble):
    """An RSA 3072 account key made by openssl (PKCS#8) is used as is (RS256), and the
    certificate key is RSA 2048."""
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:3072", "-out", str(tmp_path / "account.key")],
                   check=True, capture_output=True, timeout=60)
    before = (tmp_path / "account.key").read_bytes()
    r = acme.run_acme(pebble, tmp_path, acme.LYNC_NAMES[:2], extra=["--key-type", "rsa2048"])
    assert r.returncode == 0, r.stdout
    assert "created account key" not in r.stdout
    assert (tmp_path / "account.key").read_bytes() == before
    check_issued(tmp_path, pebble, r.stdout, acme.LYNC_NAMES[:2], "BEGIN RSA PRIVATE KEY")
    txt = subprocess.run(["openssl", "x509", "-noout", "-text", "-in",
                          str(tmp_path / "state" / "edge.crt")],
                         capture_output=True, text=True, check=True).stdout
    assert "Public-Key: (2048 bit)" in txt


def test_second_run_reuses_account(tmp_path, pebble):
    r1 = acme.run_acme(pebble, tmp_path, acme.LYNC_NAMES[:1])
    assert r1.returncode == 0, r1.stdout
    r2 = acme.run_acme(pebble, tmp_path, acme.LYNC_NAMES[:1])
    assert r2.returncode == 0, r2.stdout
    acct = re.findall(r"account (\S+) \((created|existing)\)", r1.stdout + r2.stdout)
    assert [a[1] for a in acct] == ["created", "existing"], acct
    assert acct[0][0] == acct[1][0]


def test_renewal_forced_by_short_lifetime(tmp_path):
    """A 12 s certificate: the scheduler renews it when a third of its lifetime is left,
    without a restart, and each renewal replaces both files."""
    p = acme.Pebble(tmp_path, validity=12).start()
    try:
        r = acme.run_acme(p, tmp_path, acme.LYNC_NAMES[:2], once=False, run_for=14,
                          extra=["--retry-min", "1000"])
    finally:
        p.stop()
    assert r.returncode == 0, r.stdout
    assert "stopped cleanly" in r.stdout
    issued = r.stdout.count("certificate issued and saved")
    assert issued >= 2, r.stdout
    assert "renewal scheduled at" in r.stdout
    assert "(a third of the lifetime left)" in r.stdout
    assert "[error]" not in r.stdout, r.stdout
