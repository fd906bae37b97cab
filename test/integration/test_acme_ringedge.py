"""
The ACME client inside the real ringedge (not the acme_run tool), against Debian's pebble:
the control thread starts the ACME thread after dropping privileges, an issued certificate
makes the control thread rebuild the generation, a reload restarts the thread only when the
[acme] sections changed, and SIGTERM stops it.
"""
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import ProxySpec
from util import acme, harness
from util.pools import LogFollower, reload

pytestmark = [pytest.mark.serving,
              pytest.mark.skipif(not acme.available(),
                                 reason="pebble / pebble-challtestsrv not installed "
                                        "(apt-get install pebble)")]


def acme_spec(tmp_path, pebble, backend, names, **acme_kv):
    spec = ProxySpec(workers=1)
    spec.listener("plain")
    spec.pool("app", [backend])
    spec.route("all", pool="app")
    kv = dict(directory=pebble.directory, ca=pebble.ca, accept_terms="yes",
              contact="hostmaster@example.test", names=",".join(names),
              state_dir=str(tmp_path / "state"), account_key=str(tmp_path / "account.key"),
              retry_min="1s", retry_max="2s")
    kv.update(acme_kv)
    spec.section("acme edge", **kv)
    return spec


def test_thread_started_issues_reloads_and_restarts_on_change(tmp_path, proxy,
                                                             backend_factory):
    """Validation is switched off in pebble (PEBBLE_VA_ALWAYS_VALID): this is the control
    plane only. The issued files make the control thread reload (generation 2) by itself;
    a SIGHUP with the same [acme] section keeps the thread, a changed one restarts it."""
    p = acme.Pebble(tmp_path, env={"PEBBLE_VA_ALWAYS_VALID": "1"}).start()
    try:
        b = backend_factory()
        spec = acme_spec(tmp_path, p, b, acme.LYNC_NAMES[:2])
        r = proxy(spec)
        log = LogFollower(r.errlog)
        log.wait(r"acme: thread started for 1 certificate")
        log.wait(r"acme\[edge\]: certificate issued and saved", 60)
        log.wait(r"acme: new certificate files: reloading", 10)
        log.wait(r"reload: generation 2 serving", 10)
        assert (tmp_path / "state" / "edge.crt").exists()
        assert (tmp_path / "state" / "edge.key").stat().st_mode & 0o777 == 0o600
        ok, text = reload(r, log)
        assert ok, text
        assert "restarting the ACME thread" not in text
        spec2 = acme_spec(tmp_path, p, b, acme.LYNC_NAMES[:3])
        ok, text = reload(r, log, spec2.text().replace(
            "bind = 127.0.0.1:%d" % spec2.ports["plain"],
            "bind = 127.0.0.1:%d" % spec.ports["plain"]))
        spec2.release()
        assert ok, text
        assert "[acme] sections changed: restarting the ACME thread" in text, text
        assert "acme: thread started for 1 certificate" in text, text
        # the new thread finds the saved certificate and schedules its renewal
        deadline = time.monotonic() + 20
        while r.stderr().count("acme[edge]: renewal scheduled at") < 2:
            assert time.monotonic() < deadline, r.stderr()[-3000:]
            time.sleep(0.1)
        assert "[error]" not in r.stderr()
    finally:
        p.stop()


def test_state_dir_created_for_user(tmp_path, proxy, backend_factory):
    """As root with [global] user: the state directory is created before the drop and given
    to the user, so the ACME thread (running as the user) can write it."""
    import pwd
    if os.geteuid() != 0:
        pytest.skip("needs root to drop privileges")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    # a directory the user can traverse (pytest's tmp_path parents are root's, 0700)
    base = Path(tempfile.mkdtemp(prefix="ringedge-acme-"))
    os.chmod(base, 0o755)
    p = acme.Pebble(tmp_path, env={"PEBBLE_VA_ALWAYS_VALID": "1"}).start()
    try:
        acct = base / "acct"
        acct.mkdir()
        os.chown(acct, nobody.pw_uid, nobody.pw_gid)
        shutil.copy(p.ca, base / "ca.pem")
        os.chmod(base / "ca.pem", 0o644)
        b = backend_factory()
        spec = acme_spec(tmp_path, p, b, acme.LYNC_NAMES[:1],
                         state_dir=str(base / "var" / "acme"),
                         account_key=str(acct / "account.key"), ca=str(base / "ca.pem"))
        spec.sections[0][1].append(("user", "nobody"))
        r = proxy(spec)
        log = LogFollower(r.errlog)
        log.wait(r"acme\[edge\]: certificate issued and saved", 60)
        st = (base / "var" / "acme").stat()
        assert st.st_uid == nobody.pw_uid and st.st_mode & 0o777 == 0o700
        assert (base / "var" / "acme" / "edge.crt").stat().st_uid == nobody.pw_uid
    finally:
        p.stop()
        shutil.rmtree(base, ignore_errors=True)


def peer_cert(port, name, cadata=None):
    """The certificate ringedge serves for SNI name: (DER, verified). With cadata the
    handshake verifies the chain and the host name against it."""
    if cadata is None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cadata=cadata)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=name) as s:
            return s.getpeercert(binary_form=True)


def test_placeholder_then_issued_chain(tmp_path, proxy, backend_factory, cli):
    """A TLS listener with acme = edge and no certificate: `ringedge -t` and the start accept
    it and serve a self-signed placeholder (logged) for the section's names; once issued,
    the control thread's reload serves the real chain, which verifies against pebble's root
    for each of the five Lync names (no restart: same pid)."""
    p = acme.Pebble(tmp_path, env={"PEBBLE_VA_ALWAYS_VALID": "1"}).start()
    try:
        b = backend_factory()
        # an unreachable directory first: the placeholder stays in service
        spec = acme_spec(tmp_path, p, b, acme.LYNC_NAMES,
                         directory="https://127.0.0.1:%d/dir" % p.dns_mgmt)
        port = spec.listener("web", tls="on", acme="edge")
        (tmp_path / "t.ini").write_text(spec.text())
        t = cli("-t", "-c", str(tmp_path / "t.ini"))
        assert t.rc == 0, t
        assert "configuration ok" in t.out
        r = proxy(spec)
        log = LogFollower(r.errlog)
        log.wait(r"listener web: no ACME certificate yet, serving a self-signed placeholder")
        log.wait(r"acme\[edge\]: .*; retry 1 in", 30)
        root = p.roots()
        der = peer_cert(port, acme.LYNC_NAMES[0])
        x = ssl.DER_cert_to_PEM_cert(der)
        with pytest.raises(ssl.SSLError):
            peer_cert(port, acme.LYNC_NAMES[0], root)
        # placeholder covers the names
        txt = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"],
                             input=x, capture_output=True, text=True, check=True).stdout
        for n in acme.LYNC_NAMES:
            assert "DNS:" + n in txt, txt
        # the right directory: issued, swapped in by the control thread's reload
        pid = r.proc.pid
        ok, text = reload(r, log, spec.text().replace(
            "https://127.0.0.1:%d/dir" % p.dns_mgmt, p.directory))
        assert ok, text
        log.wait(r"acme\[edge\]: certificate issued and saved", 60)
        log.wait(r"reload: generation \d+ serving", 20)
        for n in acme.LYNC_NAMES:
            assert peer_cert(port, n, root)
        assert peer_cert(port, acme.LYNC_NAMES[0]) != der
        assert r.proc.pid == pid and r.alive()
    finally:
        p.stop()


def own_ports_spec(tmp_path, p, backend, challenge, plain=True):
    """Pebble validates against ringedge itself: its httpPort is ringedge's plain listener,
    its tlsPort ringedge's TLS listener (acme = edge)."""
    spec = acme_spec(tmp_path, p, backend, acme.LYNC_NAMES, challenge=challenge)
    if plain:
        spec.section("listener plain80", bind="127.0.0.1:%d" % p.http_port)
        spec.ports["plain80"] = p.http_port
    spec.section("listener web", bind="127.0.0.1:%d" % p.tls_port, tls="on", acme="edge")
    spec.ports["web"] = p.tls_port
    return spec


def http_get(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                return data.decode("latin-1")
            data += d


def test_http01_answered_by_ringedge(tmp_path, proxy, backend_factory):
    p = acme.Pebble(tmp_path).start()
    try:
        b = backend_factory()
        r = proxy(own_ports_spec(tmp_path, p, b, "http-01"))
        log = LogFollower(r.errlog)
        log.wait(r"acme\[edge\]: certificate issued and saved", 90)
        log.wait(r"reload: generation \d+ serving", 20)
        root = p.roots()
        for n in acme.LYNC_NAMES:
            assert peer_cert(p.tls_port, n, root)
        plog = p.log_path.read_text()
        for n in acme.LYNC_NAMES:
            assert "http://%s:%d/.well-known/acme-challenge/" % (n, p.http_port) in plog
        # no challenge pending now: an unknown token is 404 here, not routed
        resp = http_get(p.http_port, "/.well-known/acme-challenge/unknown-token")
        assert resp.startswith("HTTP/1.1 404"), resp
        assert "[error]" not in r.stderr()
    finally:
        p.stop()


def test_tlsalpn01_answered_by_ringedge(tmp_path, proxy, backend_factory):
    p = acme.Pebble(tmp_path).start()
    try:
        b = backend_factory()
        r = proxy(own_ports_spec(tmp_path, p, b, "tls-alpn-01", plain=False))
        log = LogFollower(r.errlog)
        log.wait(r"listener web: no ACME certificate yet, serving a self-signed placeholder")
        log.wait(r"acme\[edge\]: certificate issued and saved", 90)
        log.wait(r"reload: generation \d+ serving", 20)
        root = p.roots()
        for n in acme.LYNC_NAMES:
            assert peer_cert(p.tls_port, n, root)
        plog = p.log_path.read_text()
        assert "Attempting to validate w/ HTTP" not in plog
        assert "[error]" not in r.stderr()
    finally:
        p.stop()


RINGBENCH = harness.build_dir() / "bench" / "ringbench"


def test_renewal_under_tls_load_no_failure(tmp_path, proxy, backend_factory):
    """12 s certificates (pebble certificateValidityPeriod): the ACME thread renews at a
    third of the lifetime left, each time the control thread swaps the generation, while
    ringbench keeps TLS keep-alive connections busy and another ringbench makes a full
    handshake per request: no request fails (both exit 0 with --expect-status 200)."""
    assert RINGBENCH.exists(), "ringbench not built"
    p = acme.Pebble(tmp_path, validity=12).start()
    try:
        b = backend_factory()
        spec = own_ports_spec(tmp_path, p, b, "http-01")
        r = proxy(spec)
        log = LogFollower(r.errlog)
        log.wait(r"acme\[edge\]: certificate issued and saved", 90)
        log.wait(r"reload: generation \d+ serving", 20)
        url = "https://127.0.0.1:%d/" % p.tls_port
        common = ["-d", "15s", "--timeout", "5s", "--expect-status", "200", "-k", "-q",
                  "-H", "Host: %s" % acme.LYNC_NAMES[0]]
        ka = subprocess.Popen([str(RINGBENCH), "-c", "4", *common, url],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        nc = subprocess.Popen([str(RINGBENCH), "-c", "2", "--new-conn", *common, url],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out_ka, _ = ka.communicate(timeout=60)
        out_nc, _ = nc.communicate(timeout=60)
        err = r.stderr()
        assert err.count("acme[edge]: certificate issued and saved") >= 2, err[-3000:]
        assert len(re.findall(r"reload: generation \d+ serving", err)) >= 2, err[-3000:]
        assert ka.returncode == 0, out_ka
        assert nc.returncode == 0, out_nc
        assert "still serving generation" not in err, err[-3000:]
    finally:
        p.stop()


def test_failed_renewal_keeps_current_certificate(tmp_path, proxy, backend_factory):
    """Pebble stops after the first issuance: each renewal attempt fails with one log line
    and a retry, the issued certificate stays in service, other listeners are unaffected."""
    p = acme.Pebble(tmp_path, validity=45).start()
    try:
        b = backend_factory()
        r = proxy(own_ports_spec(tmp_path, p, b, "http-01"))
        log = LogFollower(r.errlog)
        log.wait(r"acme\[edge\]: certificate issued and saved", 90)
        log.wait(r"reload: generation \d+ serving", 20)
        root = p.roots()
        der = peer_cert(p.tls_port, acme.LYNC_NAMES[0], root)
    finally:
        p.stop()
    log.wait(r"acme\[edge\]: GET https://127\.0\.0\.1:\d+/dir: .*; retry 1 in", 60)
    log.wait(r"acme\[edge\]: .*; retry 2 in", 20)
    assert peer_cert(p.tls_port, acme.LYNC_NAMES[0], root) == der
    assert http_get(p.http_port, "/").startswith("HTTP/1.1 200"), "plain listener"
    assert r.alive()
