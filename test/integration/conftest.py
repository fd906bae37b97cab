"""
Fixtures of the ringedge integration suite. Run from the repository root:

    RINGEDGE_BUILD=build /usr/bin/python3 -m pytest -q test/integration

Every ringedge process a test starts is stopped with SIGTERM at teardown and must exit 0 with
no sanitizer report on stderr; backends are in-process threads (backend.py).
"""
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from util import harness  # noqa: E402
from util.harness import Ini, Ringedge, reserve_port  # noqa: E402

_serving = None


def serving():
    """Whether `ringedge -c FILE` serves (probed once per session by running it)."""
    global _serving
    if _serving is None:
        _serving = harness.binary().exists() and harness.serving_implemented()
    return _serving


def pytest_collection_modifyitems(config, items):
    # Data-plane tests are marked `serving`; they are skipped only while the binary itself
    # says serving is not implemented, never to hide a failure.
    marked = [i for i in items if i.get_closest_marker("serving")]
    if marked and not serving():
        skip = pytest.mark.skip(reason="ringedge -c says serving is not implemented yet")
        for i in marked:
            i.add_marker(skip)


def pytest_configure(config):
    config.addinivalue_line("markers", "serving: needs `ringedge -c FILE` to serve")


@pytest.fixture(scope="session")
def ringedge_bin():
    b = harness.binary()
    assert b.exists(), "%s not built: ninja -C %s (or set RINGEDGE_BUILD)" % (
        b, harness.build_dir())
    return b


@pytest.fixture
def cli(ringedge_bin, tmp_path):
    """run_cli(*args) with the working directory in tmp_path."""
    def run(*args, **kw):
        kw.setdefault("cwd", tmp_path)
        return harness.run_cli(*args, **kw)
    return run


class ProxySpec(Ini):
    """An Ini whose listeners get free loopback ports: listener() returns the port."""

    def __init__(self, workers=1, **glob):
        super().__init__()
        glob.setdefault("workers", workers)
        glob.setdefault("access_log", "stderr")
        glob.setdefault("log_level", "info")
        self.section("global", **glob)
        self.ports = {}
        self.holds = []

    def listener(self, name, **kv):
        port, hold = reserve_port()
        self.holds.append(hold)
        kv = dict(bind="127.0.0.1:%d" % port, **kv)
        self.section("listener %s" % name, **kv)
        self.ports[name] = port
        return port

    def pool(self, name, servers, **kv):
        srv = ["127.0.0.1:%d" % s if isinstance(s, int) else
               "127.0.0.1:%d" % s.port if hasattr(s, "port") else s for s in servers]
        self.section("pool %s" % name, server=srv, **kv)

    def route(self, name, **kv):
        self.section("route %s" % name, **kv)

    def admin(self, **kv):
        """[admin] on a free loopback port: admin_port and ports["admin"] (waited for at
        start like the listeners)."""
        port = harness.free_port()
        self.section("admin", listen="127.0.0.1:%d" % port, **kv)
        self.admin_port = self.ports["admin"] = port
        return port

    def release(self):
        for h in self.holds:
            h.close()
        self.holds = []


def bad_good_edge(proxy, bad, good):
    """One listener: /bad -> pool "bad" (a misbehaving backend), everything else -> pool
    "good". Starts ringedge; returns it with .port set."""
    spec = ProxySpec()
    port = spec.listener("l")
    spec.pool("bad", [bad])
    spec.pool("good", [good])
    spec.route("bad", path="/bad", pool="bad")
    spec.route("good", path="/", pool="good")
    r = proxy(spec)
    r.port = port
    return r


def simple(proxy, backend_factory, listener=None, pool=None, workers=1, **glob):
    """One listener "l", one backend "be" in pool "p", a catch-all route; extra keywords go to
    [global]. Starts ringedge; returns it with .port and .backend set."""
    b = backend_factory(name="be")
    spec = ProxySpec(workers=workers, **glob)
    port = spec.listener("l", **(listener or {}))
    spec.pool("p", [b], **(pool or {}))
    spec.route("r", pool="p")
    r = proxy(spec)
    r.port, r.backend = port, b
    return r


@pytest.fixture
def proxy(ringedge_bin, tmp_path):
    """start(spec) -> Ringedge, serving spec; stopped and checked at teardown."""
    started = []

    def start(spec, name="ringedge", timeout=15):
        r = Ringedge(tmp_path, spec.text(), spec.ports.values(), name=name)
        r.spec = spec
        started.append(r)
        r.start(timeout)
        return r

    yield start
    errors = []
    for r in started:
        try:
            r.stop()
        except AssertionError as e:
            errors.append(str(e))
        finally:
            r.spec.release()
    assert not errors, "\n\n".join(errors)


@pytest.fixture
def backend_factory():
    """backend_factory(name=..., handler=...) -> a started backend.Backend; all stopped at
    teardown."""
    import backend as be
    made = []

    def make(**kw):
        b = be.Backend(**kw).start()
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop()


@pytest.fixture
def capped_splice(tmp_path, monkeypatch):
    """Ringedge started after this runs with util/splice_cap.c preloaded: splice(2) into a
    socket moves at most 4096 bytes a call, so every drain of a 256 KiB pipe is partial but
    never EAGAIN (what a peer that keeps reading does now and then under load)."""
    shim = tmp_path / "splice_cap.so"
    src = Path(__file__).parent / "util" / "splice_cap.c"
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", str(shim), str(src), "-ldl"],
                   check=True, timeout=60)
    monkeypatch.setenv("LD_PRELOAD", str(shim))
    monkeypatch.setenv("SPLICE_CAP", "4096")
    opts = os.environ.get("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:halt_on_error=1")
    monkeypatch.setenv("ASAN_OPTIONS", opts + ":verify_asan_link_order=0")


@pytest.fixture
def nofile():
    """Raises RLIMIT_NOFILE (soft and, as root, hard) to at least n; restored after."""
    old = resource.getrlimit(resource.RLIMIT_NOFILE)

    def raise_to(n):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < n:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
                return
            except (ValueError, OSError):
                n = hard
        if soft == resource.RLIM_INFINITY or soft < n:
            resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))

    yield raise_to
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, old)
    except (ValueError, OSError):
        pass


os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
