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


def pool_of(lync, resp):
    """The pool of the backend that answered (backends tag answers with X-Be-Name)."""
    name = resp.header("X-Be-Name")
    assert name is not None, "answer not from a backend: %r %r" % (resp, resp.body[:200])
    for pool, bs in lync.lync_backends.items():
        if name in [b.name for b in bs]:
            return pool
    raise AssertionError("unknown backend %r" % name)


def check_every_route(lync, fetch):
    """Sends three targets per pool route of the topology through fetch(listener, port,
    target, host) and asserts each reached the route's pool with the target and the Host
    header byte-exact. Returns the number of requests."""
    bad = []
    n = 0
    for name, kv in lync.lync_routes:
        if "pool" not in kv:
            continue
        listener = kv["listeners"]
        port = lync.lync_ports[listener]
        host = kv["host"]
        base = kv.get("path", "/").rstrip("/")
        for target in [base + "/", base + "/x/y.aspx?a=1", (base or "/") if base else "/z"]:
            r = fetch(listener, port, target, host)
            n += 1
            if r.status != 200 or pool_of(lync, r) != kv["pool"]:
                bad.append("%s: %s %s -> %d %s" % (name, host, target, r.status,
                                                   r.header("X-Be-Name")))
                continue
            j = r.json()
            if j["target"] != target or [h for h in j["headers"] if h[0].lower() == "host"] \
                    != [["Host", host]]:
                bad.append("%s: backend saw %r %r" % (name, j["target"], j["headers"]))
    assert not bad, "\n".join(bad)
    return n
