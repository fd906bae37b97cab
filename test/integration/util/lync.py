"""
config/lync-edge.ini turned into a loopback test topology: the same listeners (plain, on free
ports), the same pools (each server a local backend.Backend named after the real server), the
same routes verbatim. TLS keys are dropped until the TLS issue; everything else stays.
"""
import re

from util.harness import REPO

LYNC = REPO / "config" / "lync-edge.ini"
TLS_KEYS = {"tls", "certificate", "private_key", "ca", "verify", "sni", "health_check",
            "health_interval", "protocols", "session_tickets"}


def parse_ini(path):
    """[(header, [(key, value)])] in file order; inline ` ;` comments removed."""
    out = []
    for line in path.read_text().split("\n"):
        s = line.strip()
        if not s or s[0] in ";#":
            continue
        if s.startswith("["):
            out.append((s[1:s.index("]")].strip(), []))
            continue
        k, _, v = s.partition("=")
        v = re.split(r"\s;", v, 1)[0].strip()
        out[-1][1].append((k.strip(), v))
    return out


def lync_topology(spec, make_backend, tls=None):
    """Adds lync-edge.ini's sections to spec (a conftest.ProxySpec). make_backend(name) starts
    a backend. Returns (ports {listener: port}, backends {pool: [Backend]}, routes
    [(name, {key: value})]).

    tls=None: every listener and pool plain. Else a dict that keeps TLS where the file has
    it: "pairs" [(certificate, private_key)] for the tls = on listeners, "ca" and "sni" (for
    pools without one) for the tls = on pools, whose servers "make_tls_backend"(name) starts.
    """
    from util.tls import tls_listener
    sections = parse_ini(LYNC)
    ports, backends, routes = {}, {}, []
    for header, items in sections:
        kind, _, name = header.partition(" ")
        is_tls = ("tls", "on") in items
        if kind == "listener":
            kv = {k: v for k, v in items if k not in TLS_KEYS and k != "bind"}
            if tls and is_tls:
                ports[name] = tls_listener(spec, name, tls["pairs"], **kv)
            else:
                ports[name] = spec.listener(name, **kv)
        elif kind == "pool":
            servers = []
            for k, v in items:
                if k == "server":
                    mk = tls["make_tls_backend"] if tls and is_tls else make_backend
                    b = mk(name="%s/%s" % (name, v))
                    backends.setdefault(name, []).append(b)
                    servers.append(b)
            kv = {k: v for k, v in items if k not in TLS_KEYS and k != "server"}
            if tls and is_tls:
                kv.update(tls="on", ca=tls["ca"], verify="on",
                          sni=dict(items).get("sni", tls["sni"]))
            spec.pool(name, servers, **kv)
        elif kind == "route":
            kv = dict(items)
            spec.route(name, **kv)
            routes.append((name, kv))
    return ports, backends, routes
