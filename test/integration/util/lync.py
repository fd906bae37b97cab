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


def lync_topology(spec, make_backend):
    """Adds lync-edge.ini's sections to spec (a conftest.ProxySpec). make_backend(name) starts
    a backend. Returns (ports {listener: port}, backends {pool: [Backend]}, routes
    [(name, {key: value})])."""
    sections = parse_ini(LYNC)
    ports, backends, routes = {}, {}, []
    for header, items in sections:
        kind, _, name = header.partition(" ")
        if kind == "listener":
            kv = {k: v for k, v in items if k not in TLS_KEYS and k != "bind"}
            ports[name] = spec.listener(name, **kv)
        elif kind == "pool":
            servers = []
            for k, v in items:
                if k == "server":
                    b = make_backend(name="%s/%s" % (name, v))
                    backends.setdefault(name, []).append(b)
                    servers.append(b)
            kv = {k: v for k, v in items if k not in TLS_KEYS and k != "server"}
            spec.pool(name, servers, **kv)
        elif kind == "route":
            kv = dict(items)
            spec.route(name, **kv)
            routes.append((name, kv))
    return ports, backends, routes
