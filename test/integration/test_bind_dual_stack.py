"""
0.0.0.0:PORT and [::]:PORT in one configuration (config/lync-edge.ini binds 443 and 80 both
ways): the IPv6 socket is IPv6 only, so both bind and each family reaches its own socket. With
Linux's default (net.ipv6.bindv6only = 0) a [::] socket also takes IPv4 and the second bind
failed with "address already in use". Wildcard binds are made in a network namespace of the
test's own (unshare --net), never on the machine's interfaces.
"""
import os
import shutil
import subprocess

import pytest

from util import harness

pytestmark = [
    pytest.mark.serving,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None or
                       shutil.which("ip") is None or shutil.which("curl") is None,
                       reason="needs root, unshare, ip and curl for a network namespace"),
]

SCRIPT = r'''
set -u
ip link set lo up
"$1" -c "$2" 2>"$3" &
pid=$!
for i in $(seq 100); do
    grep -q serving "$3" && break
    kill -0 $pid 2>/dev/null || { echo "exited"; exit 0; }
    sleep 0.1
done
for a in 127.0.0.1 '[::1]'; do
    echo "$a $(curl -sS -g -o /dev/null -w '%{http_code}' -H 'Host: x.test' "http://$a:8080/p")"
done
kill -TERM $pid
wait $pid
echo "exit $?"
'''


def test_ipv4_and_ipv6_wildcards_on_one_port(tmp_path):
    cfg = tmp_path / "dual.ini"
    cfg.write_text("[global]\nworkers = 2\n"
                   "[listener l]\nbind = 0.0.0.0:8080\nbind = [::]:8080\n"
                   "[route r]\npath = /\nredirect = https\n")
    log = tmp_path / "dual.stderr"
    r = subprocess.run(["unshare", "--net", "sh", "-c", SCRIPT, "dual", str(harness.binary()),
                        str(cfg), str(log)], capture_output=True, text=True, timeout=60,
                       env=harness.sanitizer_env())
    err = log.read_text() if log.exists() else ""
    assert r.stdout.splitlines() == ["127.0.0.1 301", "[::1] 301", "exit 0"], \
        (r.stdout, r.stderr, err)
    assert harness.sanitizer_report(err.encode()) is None, err
