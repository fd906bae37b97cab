"""
TLS test material: a throw-away PKI made with the openssl CLI, a TLS client over util.http's
Client, and a TLS backend (backend.Backend with each accepted socket wrapped by Python's ssl).

PKI (make_pki(dir) -> Pki, paths as str):
    ca, ca_key          the trusted root
    lync, lync_key      ECDSA P-256 leaf: webext, meet, dialin, lyncdiscover.contoso.com
    other, other_key    RSA-2048 leaf: other.fabrikam.com
    wild, wild_key      ECDSA P-256 leaf: *.contoso.com
    be, be_key          backend leaf: backend.contoso.local, webext-int.contoso.local, localhost
    evil_ca, evil, evil_key   an unrelated CA and a backend leaf (same names) signed by it
"""
import os
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import backend as be  # noqa: E402
from util.harness import reserve_port  # noqa: E402
from util.http import Client  # noqa: E402

LYNC_NAMES = ["webext.contoso.com", "meet.contoso.com", "dialin.contoso.com",
              "lyncdiscover.contoso.com"]
BACKEND_NAMES = ["backend.contoso.local", "webext-int.contoso.local", "localhost"]


def _run(*args, cwd):
    p = subprocess.run(["openssl"] + list(args), cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    assert p.returncode == 0, "openssl %s: %s" % (" ".join(args), p.stderr.decode())


def _key(d, name, kind):
    if kind == "ec":
        _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
             name + ".key", cwd=d)
    else:
        _run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
             name + ".key", cwd=d)


def _ca(d, name):
    _key(d, name, "ec")
    _run("req", "-x509", "-new", "-key", name + ".key", "-sha256", "-days", "30", "-subj",
         "/CN=%s" % name, "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", name + ".pem", cwd=d)


def _leaf(d, name, ca, kind, sans):
    _key(d, name, kind)
    _run("req", "-new", "-key", name + ".key", "-subj", "/CN=%s" % sans[0], "-out",
         name + ".csr", cwd=d)
    ext = Path(d) / (name + ".ext")
    ext.write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,"
                   "keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n" %
                   ",".join("DNS:" + s for s in sans))
    _run("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
         "-CAcreateserial", "-days", "30", "-sha256", "-extfile", name + ".ext", "-out",
         name + ".pem", cwd=d)


class Pki:
    pass


def make_pki(d):
    d = str(d)
    os.makedirs(d, exist_ok=True)
    _ca(d, "ca")
    _ca(d, "evil_ca")
    _leaf(d, "lync", "ca", "ec", LYNC_NAMES)
    _leaf(d, "other", "ca", "rsa", ["other.fabrikam.com"])
    _leaf(d, "wild", "ca", "ec", ["*.contoso.com"])
    _leaf(d, "be", "ca", "ec", BACKEND_NAMES)
    _leaf(d, "evil", "evil_ca", "ec", BACKEND_NAMES)
    p = Pki()
    p.dir = d
    for n in ["ca", "evil_ca", "lync", "other", "wild", "be", "evil"]:
        setattr(p, n, os.path.join(d, n + ".pem"))
        setattr(p, n + "_key", os.path.join(d, n + ".key"))
    return p


def client_context(ca, min_version=None, max_version=None):
    ctx = ssl.create_default_context(cafile=ca)
    if min_version is not None:
        ctx.minimum_version = min_version
    if max_version is not None:
        ctx.maximum_version = max_version
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class TlsClient(Client):
    """util.http.Client over TLS: sni is the server name sent and verified."""

    def __init__(self, port, sni, ca, host="127.0.0.1", timeout=10, ctx=None, session=None):
        Client.__init__(self, port, host=host, timeout=timeout)
        ctx = ctx or client_context(ca)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=sni, session=session)


def tls_get(port, target, host, ca, sni=None, headers=(), timeout=10, **kw):
    with TlsClient(port, sni or host.split(":")[0].lower(), ca, timeout=timeout) as c:
        return c.request("GET", target, host, headers, **kw)


class TlsBackend(be.Backend):
    """backend.Backend speaking TLS (Python ssl, OpenSSL): cert/key, TLS 1.2-1.3, tickets on.
    .handshakes counts accepted handshakes, .resumed how many resumed a session."""

    def __init__(self, cert, key, **kw):
        be.Backend.__init__(self, **kw)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self.handshakes = 0
        self.resumed = 0
        self.tls_errors = []
        self.tls_lock = threading.Lock()

    def _serve(self, s, cid, peer):
        try:
            s.settimeout(10)
            ss = self.ctx.wrap_socket(s, server_side=True)
            ss.settimeout(None)
        except (ssl.SSLError, OSError) as e:
            with self.tls_lock:
                self.tls_errors.append(str(e))
            with self.lock:
                self.conns.pop(cid, None)
            s.close()
            return
        with self.lock:
            if cid in self.conns:
                self.conns[cid] = ss    # wrap_socket detached s: stop() must shut ss
        with self.tls_lock:
            self.handshakes += 1
            self.resumed += 1 if ss.session_reused else 0
        be.Backend._serve(self, ss, cid, peer)


def s_client(port, *args, data=b"", timeout=15):
    """Runs `openssl s_client -connect 127.0.0.1:PORT ARGS` with data on stdin (then waits
    for the server to close: send Connection: close); returns (returncode, stdout+stderr)."""
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port] +
                       list(args) + (["-ign_eof"] if data else []), input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def curl(port, url_host, path, ca, *args, timeout=30):
    """curl over TLS to https://url_host:PORT/path resolved to 127.0.0.1; returns the
    CompletedProcess (stdout bytes)."""
    return subprocess.run(["curl", "-sS", "--max-time", str(timeout), "--cacert", ca,
                           "--resolve", "%s:%d:127.0.0.1" % (url_host, port)] + list(args) +
                          ["https://%s:%d%s" % (url_host, port, path)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout + 5)


def raw_tls_socket(port):
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def tls_listener(spec, name, pairs, **kv):
    """Adds a TLS listener on a held free port to spec (a conftest.ProxySpec) with the
    certificate/private_key pairs in order (first = default); returns the port."""
    port, hold = reserve_port()
    spec.holds.append(hold)
    items = [("bind", "127.0.0.1:%d" % port), ("tls", "on")]
    for cert, key in pairs:
        items += [("certificate", cert), ("private_key", key)]
    items += list(kv.items())
    spec.sections.append(("listener %s" % name, items))
    spec.ports[name] = port
    return port
