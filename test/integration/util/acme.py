"""
Debian's pebble (Let's Encrypt's test ACME server) for the ACME tests: its own CA and HTTPS
certificate made with openssl, pebble-challtestsrv as its DNS server answering 127.0.0.1 for
every name (so the five Lync names resolve to loopback), httpPort/tlsPort pointing at ports the
test's challenge responder listens on, PEBBLE_VA_NOSLEEP=1. Everything under tmp_path; both
processes are killed at stop().
"""
import json
import os
import shutil
import signal
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from util import harness

LYNC_NAMES = ["lyncext.example.test", "meet.example.test", "dialin.example.test",
              "lyncdiscover.example.test", "owa.example.test"]


def available():
    return shutil.which("pebble") is not None and shutil.which("pebble-challtestsrv") is not None


def acme_run_bin():
    return harness.build_dir() / "test" / "acme_run"


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


class Pebble:
    def __init__(self, tmp, nonce_reject=0, env=None, validity=None):
        self.dir = Path(tmp) / "pebble"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.wfe = harness.free_port()
        self.mgmt = harness.free_port()
        self.dns = harness.free_port()
        self.dns_mgmt = harness.free_port()
        self.http_port = harness.free_port()
        self.tls_port = harness.free_port()
        self.nonce_reject = nonce_reject
        self.extra_env = env or {}
        self.validity = validity
        self.procs = []
        self._certs()

    def _certs(self):
        d = self.dir
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj",
                 "/CN=pebble test WFE CA", cwd=d)
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", "wfe.key", "-out", "wfe.csr", "-subj", "/CN=localhost", cwd=d)
        (d / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        _openssl("x509", "-req", "-in", "wfe.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", "wfe.pem", "-days", "2", "-extfile", "ext.cnf",
                 cwd=d)
        self.ca = str(d / "ca.pem")

    @property
    def directory(self):
        return "https://127.0.0.1:%d/dir" % self.wfe

    def start(self):
        cfg = {"pebble": {
            "listenAddress": "127.0.0.1:%d" % self.wfe,
            "managementListenAddress": "127.0.0.1:%d" % self.mgmt,
            "certificate": str(self.dir / "wfe.pem"),
            "privateKey": str(self.dir / "wfe.key"),
            "httpPort": self.http_port,
            "tlsPort": self.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }}
        if self.validity is not None:
            cfg["pebble"]["certificateValidityPeriod"] = self.validity
        (self.dir / "pebble.json").write_text(json.dumps(cfg))
        self.dns_log = open(self.dir / "challtestsrv.log", "wb")
        self.procs.append(subprocess.Popen(
            ["pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
             "-dns01", "127.0.0.1:%d" % self.dns, "-http01", "", "-https01", "",
             "-tlsalpn01", "", "-doh", "", "-management", "127.0.0.1:%d" % self.dns_mgmt],
            stdout=self.dns_log, stderr=subprocess.STDOUT)
            if self._has_doh() else subprocess.Popen(
            ["pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
             "-dns01", "127.0.0.1:%d" % self.dns, "-http01", "", "-https01", "",
             "-tlsalpn01", "", "-management", "127.0.0.1:%d" % self.dns_mgmt],
            stdout=self.dns_log, stderr=subprocess.STDOUT))
        # PEBBLE_AUTHZREUSE=0: every order really validates every name (pebble reuses a
        # valid authorization half of the time by default)
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_AUTHZREUSE="0",
                   PEBBLE_WFE_NONCEREJECT=str(self.nonce_reject), **self.extra_env)
        self.log_path = self.dir / "pebble.log"
        self.log = open(self.log_path, "wb")
        self.procs.append(subprocess.Popen(
            ["pebble", "-config", str(self.dir / "pebble.json"),
             "-dnsserver", "127.0.0.1:%d" % self.dns],
            stdout=self.log, stderr=subprocess.STDOUT, env=env))
        assert harness.wait_port("127.0.0.1", self.wfe, 20, self.procs[-1]), \
            "pebble did not listen: %s" % self.log_path.read_text()
        assert harness.wait_port("127.0.0.1", self.dns_mgmt, 20, self.procs[0]), \
            "pebble-challtestsrv did not start: %s" % (self.dir / "challtestsrv.log").read_text()
        return self

    @staticmethod
    def _has_doh():
        out = subprocess.run(["pebble-challtestsrv", "-h"], capture_output=True, text=True)
        return "-doh" in out.stdout + out.stderr

    def roots(self):
        """PEM of pebble's issuing root, from its management port (/roots/0)."""
        ctx = ssl.create_default_context(cafile=self.ca)
        with urllib.request.urlopen("https://127.0.0.1:%d/roots/0" % self.mgmt,
                                    context=ctx, timeout=10) as r:
            return r.read().decode()

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs = []


def run_acme(pebble, tmp, names, challenge="http-01", once=True, run_for=0, extra=(),
             directory=None, state=None, account_key=None, timeout=120, name="edge",
             respond=True):
    """Runs acme_run; returns the CompletedProcess (stdout+stderr text in .stdout)."""
    tmp = Path(tmp)
    args = [str(acme_run_bin()),
            "--directory", directory or pebble.directory,
            "--ca", pebble.ca,
            "--state", str(state or tmp / "state"),
            "--account-key", str(account_key or tmp / "account.key"),
            "--names", ",".join(names), "--name", name,
            "--challenge", challenge,
            "--contact", "hostmaster@example.test",
            "--timeout", "5000", "--poll-max", "30000"]
    if respond and challenge in ("http-01", "both"):
        args += ["--http-port", str(pebble.http_port)]
    if respond and challenge in ("tls-alpn-01", "both"):
        args += ["--tls-port", str(pebble.tls_port)]
    args += list(extra)
    args += ["--once"] if once else ["--run-for", str(run_for)]
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, env=harness.sanitizer_env())


def verify_chain(tmp, chain_pem, root_pem, names):
    """openssl verify of the leaf against pebble's root (intermediates from the chain) and
    -verify_hostname for each name; returns a list of failures (empty = all good)."""
    tmp = Path(tmp)
    certs = [c + "-----END CERTIFICATE-----\n"
             for c in chain_pem.split("-----END CERTIFICATE-----") if "BEGIN" in c]
    (tmp / "leaf.pem").write_text(certs[0])
    (tmp / "inter.pem").write_text("".join(certs[1:]))
    (tmp / "root.pem").write_text(root_pem)
    bad = []
    for n in names:
        r = subprocess.run(["openssl", "verify", "-CAfile", str(tmp / "root.pem"),
                            "-untrusted", str(tmp / "inter.pem"), "-verify_hostname", n,
                            str(tmp / "leaf.pem")], capture_output=True, text=True, timeout=30)
        if r.returncode != 0 or ": OK" not in r.stdout:
            bad.append("%s: %s%s" % (n, r.stdout, r.stderr))
    return bad
