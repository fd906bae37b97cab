"""
The auth guard across instances (issue 14, docs/scale-out.md): two ringedge instances in
front of the same NTLM/Basic backend (ntlm_backend.py, an AD-like failure counter); a
password spray of one user alternates between them. Local counting with `instances = 2`
and shared counting in a real redis-server (started here, no persistence) each keep the
failures that reach the directory at the threshold, where two unaware instances let twice
as many through. Redis stopped: store_unreachable = open falls back to the per-instance
thresholds, logged. Skipped while the guard is not hooked into the stream (the build says
so at start-up); the hook and gstore_attach() make it run.
"""
import base64
import http.client
import shutil
import socket
import subprocess
import time

import pytest

import test_auth_backend as ab
from test_auth_backend import ntlm_backend  # noqa: F401 (the fixture)
from conftest import ProxySpec
from util.harness import free_port

pytestmark = [pytest.mark.serving,
              pytest.mark.skipif(shutil.which("redis-server") is None,
                                 reason="no redis-server")]

THRESHOLD = 4


def basic(port, user, pw, src):
    """Status of one Basic attempt on a new connection from src."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20, source_address=(src, 0))
    tok = base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()
    try:
        c.request("GET", "/abs/", headers={"Host": "lync.contoso.com",
                                          "Authorization": "Basic " + tok})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


@pytest.fixture
def redis():
    port = free_port()
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                          "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    p.port = port
    yield p
    p.kill()
    p.wait(10)


def pair(proxy, be, guard):
    out = []
    for name in ("a", "b"):
        spec = ProxySpec(workers=1)
        port = spec.listener("l")
        spec.pool("iis", [be.port])
        spec.route("all", path="/", pool="iis", auth_guard="on")
        g = {"min_answer_time": "0ms", "default_domain": "contoso",
             "user_failures": str(THRESHOLD)}
        g.update(guard)
        spec.section("auth_guard", **g)
        r = proxy(spec, name=name)
        if "not enforced by this build" in r.stderr():
            pytest.skip("the auth guard is not hooked into the stream in this build")
        r.port = port
        out.append(r)
    return out


def spray(a, b, user, n):
    """n wrong passwords for user, alternating instances and source addresses."""
    for i in range(n):
        basic((a, b)[i % 2].port, user, "guess%d" % i, "127.0.0.%d" % (20 + i % 8))


@pytest.mark.parametrize("mode", ["unaware", "instances", "redis"])
def test_spray_over_two_instances(proxy, ntlm_backend, redis, mode):
    be = ntlm_backend()
    guard = {"unaware": {}, "instances": {"instances": "2"},
             "redis": {"store": "redis://127.0.0.1:%d" % redis.port}}[mode]
    a, b = pair(proxy, be, guard)
    spray(a, b, "CONTOSO\\victim", 12)
    reached = be.failures("contoso\\victim")
    if mode == "unaware":
        assert reached == 2 * THRESHOLD     # each instance let its own threshold through
    elif mode == "instances":
        assert reached == THRESHOLD          # 2 per instance
    else:
        # shared: the threshold, plus at most one on the instance that had not locked yet
        assert THRESHOLD <= reached <= THRESHOLD + 1
        assert "failures counted in redis://" in a.stderr()


def test_redis_down_falls_back_to_per_instance(proxy, ntlm_backend, redis):
    be = ntlm_backend()
    a, b = pair(proxy, be, {"store": "redis://127.0.0.1:%d" % redis.port, "instances": "2",
                            "store_timeout": "50ms"})
    redis.kill()
    redis.wait(10)
    spray(a, b, "CONTOSO\\eve", 12)
    assert be.failures("contoso\\eve") == THRESHOLD
    assert "unreachable" in a.stderr() and "unreachable" in b.stderr()
