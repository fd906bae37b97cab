"""
/status (HTML) and /status.json on the admin listener. The page is loaded in headless Chromium
(Debian's `chromium`): the rendered DOM is checked and a screenshot is saved into the test's
tmp directory (status.png).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import ProxySpec
from util import harness
from util.http import Client, get
from util.tls import make_pki, tls_listener

pytestmark = pytest.mark.serving

CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def status_edge(proxy, backend_factory, pki):
    be = backend_factory(name="fe01")
    spec = ProxySpec(workers=2)
    spec.listener("web")
    tls_listener(spec, "edge443", [(pki.lync, pki.lync_key)])
    spec.pool("fe", [be])
    spec.pool("dead", [harness.free_port()], health_check="/", health_interval="200ms")
    spec.route("meet", host="meet.contoso.com", path="/meet", pool="fe")
    spec.route("dead", path="/dead", pool="dead")
    spec.route("all", path="/", pool="fe")
    spec.admin()
    r = proxy(spec)
    r.web, r.admin = spec.ports["web"], spec.admin_port
    return r


def status_json(port):
    resp = get(port, "/status.json")
    assert resp.status == 200 and resp.header("Content-Type") == "application/json"
    return json.loads(resp.body)


def openssl_not_after(pem):
    out = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in", pem],
                         capture_output=True, text=True, check=True).stdout
    t = time.strptime(out.strip().split("=", 1)[1], "%b %d %H:%M:%S %Y %Z")
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", t)


def wait_dead_down(port):
    deadline = time.monotonic() + 10
    while True:
        doc = status_json(port)
        dead = [p for p in doc["pools"] if p["name"] == "dead"][0]["servers"][0]
        if dead["state"] == "down" and dead["last_check"] is not None:
            return doc
        assert time.monotonic() < deadline, doc
        time.sleep(0.1)


def test_status_json(proxy, backend_factory, pki):
    r = status_edge(proxy, backend_factory, pki)
    status_json(r.admin)  # the first view starts the rate window
    with Client(r.web) as c:
        for i in range(20):
            assert c.request("GET", "/x%d" % i, "h.example").status == 200
        time.sleep(1.2)
        doc = wait_dead_down(r.admin)
    assert doc["state"] == "serving" and doc["workers"] == 2
    ls = {l["name"]: l for l in doc["listeners"]}
    assert set(ls) == {"web", "edge443"}
    assert ls["web"]["requests_total"] == 20 and ls["web"]["current_connections"] == 1
    assert ls["web"]["requests_per_second"] > 0
    cert = ls["edge443"]["certificates"][0]
    assert sorted(cert["names"]) == sorted(["lyncdiscover.contoso.com", "dialin.contoso.com",
                                            "meet.contoso.com", "webext.contoso.com"])
    assert cert["not_after"] == openssl_not_after(pki.lync)
    assert 25 <= cert["days_left"] <= 31
    assert [(x["name"], x["host"], x["path"], x["target"]) for x in doc["routes"]] == [
        ("meet", "meet.contoso.com", "/meet", "fe"), ("dead", "*", "/dead", "dead"),
        ("all", "*", "/", "fe")]
    pools = {p["name"]: p for p in doc["pools"]}
    fe = pools["fe"]["servers"][0]
    assert fe["state"] == "up" and fe["requests_total"] == 20 and fe["idle"] >= 1
    assert fe["reason"] == "no health check (passive only)"
    dead = pools["dead"]["servers"][0]
    assert dead["state"] == "down" and dead["reason"] == "health check failed"
    assert dead["check_failures_total"] >= 1
    assert pools["fe"]["pinned"] == 0


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (scripts/setup.sh)")
def test_status_page_in_chromium(proxy, backend_factory, pki, tmp_path):
    r = status_edge(proxy, backend_factory, pki)
    for i in range(5):
        assert get(r.web, "/p%d" % i, "h.example").status == 200
    wait_dead_down(r.admin)
    url = "http://127.0.0.1:%d/status" % r.admin
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--user-data-dir=%s" % (tmp_path / "chromium"), "--window-size=1200,900"]
    env = dict(os.environ, HOME=str(tmp_path))
    dom = subprocess.run(base + ["--dump-dom", url], capture_output=True, text=True,
                         timeout=120, env=env)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    text = re.sub(r"<[^>]+>", " ", html)
    text = re.sub(r"\s+", " ", text)
    assert "<title>ringedge status</title>" in html
    assert "ringedge 0.1.0 — serving" in text or "ringedge 0.1.0 &mdash; serving" in text, text
    for h in ["Listeners", "Pools", "Routes", "Certificates"]:
        assert "<h2>%s</h2>" % h in html
    # listener rows: name, bind, TLS, current, total, requests
    assert re.search(r"web 127\.0\.0\.1:%d no 0 \d+ 5 " % r.web, text), text
    assert re.search(r"fe 127\.0\.0\.1:\d+ up no health check \(passive only\) - 0 \d+ 0 5 0 0",
                     text), text
    assert re.search(r"dead 127\.0\.0\.1:\d+ down health check failed \d{4}-\d\d-\d\dT", text)
    assert "meet.contoso.com" in text and openssl_not_after(pki.lync) in text
    assert '<td class="down">down</td>' in html and '<td class="up">up</td>' in html
    shot = tmp_path / "status.png"
    res = subprocess.run(base + ["--screenshot=%s" % shot, url], capture_output=True,
                         text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10000
    print("screenshot: %s" % shot)


def test_status_shows_draining(proxy, backend_factory, pki):
    r = status_edge(proxy, backend_factory, pki)
    assert status_json(r.admin)["state"] == "serving"
    with Client(r.web) as c:
        c.send(b"GET /slow HTTP/1.1\r\nHost: h\r\nX-Be-Mode: slow\r\nX-Be-Delay: 1\r\n\r\n")
        time.sleep(0.2)
        r.signal(signal.SIGTERM)
        time.sleep(0.2)
        doc = status_json(r.admin)
        assert doc["state"] == "draining"
        assert "draining" in get(r.admin, "/status").body.decode()
        assert c.read_response().status == 200
