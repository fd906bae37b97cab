"""
The Debian packaging in the tree (debian/, docs/man/): the shipped ringedge.ini(5) carries the
key reference generated from the loader's table, the configuration the package installs passes
`ringedge -t`, and the systemd unit passes `systemd-analyze verify` and says what the service
needs (Type=notify, the -t before the HUP, CAP_NET_BIND_SERVICE only, hardening, a descriptor
limit for max_connections). Building and installing the package itself is
test/package/install-test.sh (on a fresh Debian 12 through ../shared/tools/fresh-debian).
"""
import re
import shutil
import subprocess

import pytest

from util.harness import REPO

MAN = REPO / "docs" / "man"
UNIT = REPO / "debian" / "ringedge.service"


def unit_settings():
    out = {}
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            k, v = line.split("=", 1)
            out.setdefault(k, []).append(v)
    return out


def test_man_page_carries_the_generated_key_reference(cli):
    r = cli("--config-reference=man")
    assert r.rc == 0 and r.out.startswith(".SS [global]\n"), r
    page = (MAN / "ringedge.ini.5").read_text()
    m = re.search(r'^\.\\" BEGIN GENERATED[^\n]*\n(.*)^\.\\" END GENERATED$', page, re.S | re.M)
    assert m, "ringedge.ini.5 lost its generated-part markers"
    assert m.group(1) == r.out, \
        "docs/man/ringedge.ini.5 is stale: put `ringedge --config-reference=man` between its markers"


def test_man_reference_names_every_key_of_the_markdown_one(cli):
    md = cli("--config-reference").out
    man = cli("--config-reference=man").out
    keys = re.findall(r"^\| `([a-z_]+)`", md, re.M)
    assert len(keys) > 30, md
    assert re.findall(r"^\\fB([a-z_\\-]+)\\fR", man, re.M) == keys
    assert cli("--config-reference=html").rc == 1


@pytest.mark.skipif(shutil.which("man") is None, reason="man-db not installed")
@pytest.mark.parametrize("page", ["ringedge.8", "ringedge.ini.5", "ringbench.1"])
def test_man_pages_render_without_warnings(page):
    r = subprocess.run(["man", "--warnings", "-l", "-Tutf8", "-Z", str(MAN / page)],
                       capture_output=True, text=True, timeout=60,
                       env={"LC_ALL": "C.UTF-8", "MANWIDTH": "80", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_shipped_config_passes_check(cli, tmp_path):
    # the file postinst leaves behind: debian/make-config.sh's output, with the self-signed
    # certificate postinst generates (same openssl command) in place of /etc/ringedge/
    key, crt = tmp_path / "edge.key", tmp_path / "edge.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "3650", "-subj",
                    "/CN=webext.contoso.com", "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True, timeout=60)
    text = subprocess.run([str(REPO / "debian" / "make-config.sh"),
                           str(REPO / "config" / "lync-edge.ini")],
                          check=True, capture_output=True, text=True).stdout
    postinst = (REPO / "debian" / "ringedge.postinst").read_text()
    assert "crt=/etc/ringedge/edge.pem" in postinst and "key=/etc/ringedge/edge.key" in postinst
    assert "certificate = /etc/ringedge/edge.pem" in text
    # the example line for line after the header, but for the servers (contoso's internal
    # hosts resolve nowhere else) and the pools' CA
    example = (REPO / "config" / "lync-edge.ini").read_text().splitlines()
    tail = text.splitlines()[-len(example):]
    changed = [(a, b) for a, b in zip(tail, example) if a != b]
    assert changed and all(a.split(" = ")[0] == b.split(" = ")[0] in ("server", "ca")
                           for a, b in changed), changed
    assert not any(a.startswith("server = ") and "contoso" in a.split(";")[0]
                   for a, _ in changed), changed
    (tmp_path / "ringedge.ini").write_text(text.replace("/etc/ringedge/", str(tmp_path) + "/"))
    r = cli("-t", "-c", "ringedge.ini")
    assert r.rc == 0 and r.out == "configuration ok\n", r


def test_unit_settings():
    s = unit_settings()
    assert s["Type"] == ["notify"]
    assert s["User"] == ["ringedge"]
    assert s["ExecReload"] == ["/usr/sbin/ringedge -t -c ${CONFIG}", "/bin/kill -HUP $MAINPID"]
    assert s["AmbientCapabilities"] == ["CAP_NET_BIND_SERVICE"]
    assert s["CapabilityBoundingSet"] == ["CAP_NET_BIND_SERVICE"]
    for k in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
        assert s[k] == ["yes"], k
    assert s["ProtectSystem"] == ["strict"]
    assert any("/var/log/ringedge" in v for v in s["ReadWritePaths"])
    # LimitNOFILE: 2 descriptors per connection of the example's max_connections, + 25 %
    example = (REPO / "config" / "lync-edge.ini").read_text()
    maxc = int(re.search(r"^max_connections = (\d+)", example, re.M).group(1))
    assert int(s["LimitNOFILE"][0]) >= 2 * maxc * 1.25


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd not installed")
def test_unit_verifies_clean(tmp_path, ringedge_bin):
    # the unit as installed, but with the built binary (man pages: the install test checks
    # them on the installed package)
    unit = tmp_path / "ringedge.service"
    unit.write_text(UNIT.read_text().replace("/usr/sbin/ringedge", str(ringedge_bin)))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout + r.stderr == "", r.stdout + r.stderr
