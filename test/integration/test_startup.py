"""
Start-up of the real binary: `[global] user` drops privileges after binding (every thread),
the log files stay writable and reopenable by that user, and a bind address another process
already listens on refuses start-up (SO_REUSEPORT would silently share it).
"""
import os
import re
import socket
import subprocess
import time

import pytest

from conftest import ProxySpec
from util import harness
from util.http import Client, get

pytestmark = pytest.mark.serving


def status_ids(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid", "Groups"):
                out[k] = v.split()
    return out


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")
def test_user_drops_privileges_after_binding(proxy, backend_factory, monkeypatch):
    # LeakSanitizer reads /proc/self/task at exit, which a process that dropped privileges
    # (no longer dumpable) cannot open: leak checking is off for this one test (every other
    # test keeps it), so an ASan build reports no false "fatal error".
    monkeypatch.setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0:halt_on_error=1")
    b = backend_factory(name="u")
    spec = ProxySpec(workers=2, user="nobody")
    port = spec.listener("l")
    spec.pool("p", [b])
    spec.route("r", pool="p")
    r = proxy(spec)
    # the port accepts from listen(), before the drop: wait for it to be done
    deadline = time.monotonic() + 10
    while "running as user" not in r.stderr() and time.monotonic() < deadline:
        time.sleep(0.01)
    ids = status_ids(r.proc.pid)
    assert ids["Uid"] == ["65534"] * 4 and ids["Gid"] == ["65534"] * 4, ids
    # every thread, not only the main one
    for tid in os.listdir("/proc/%d/task" % r.proc.pid):
        with open("/proc/%d/task/%s/status" % (r.proc.pid, tid)) as f:
            assert re.search(r"^Uid:\s+65534\s+65534\s+65534\s+65534$", f.read(), re.M)
    assert "running as user nobody" in r.stderr()
    with Client(port) as c:
        assert c.request("GET", "/", "h.example").status == 200


def writable_by_nobody(path):
    """Can uid/gid 65534 create files in path (every parent directory traversable)?"""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            os._exit(0 if os.access(path, os.W_OK | os.X_OK) else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")
def test_user_can_write_and_reopen_its_logs(proxy, backend_factory, monkeypatch):
    # the log files are created by root before the drop (the check, error_log) and given to
    # the user, as nginx does, so the workers can open the access log and SIGUSR1 can reopen
    # both in a directory the user may write (like /var/log/ringedge owned by it)
    import shutil
    import signal
    import tempfile
    monkeypatch.setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0:halt_on_error=1")
    d = tempfile.mkdtemp(prefix="ringedge-user-", dir="/tmp")
    try:
        os.chmod(d, 0o755)
        os.chown(d, 65534, 65534)
        if not writable_by_nobody(d):
            pytest.skip("user nobody cannot reach %s here (e.g. a chroot whose / is 0700)" % d)
        alog, elog = os.path.join(d, "access.log"), os.path.join(d, "error.log")
        b = backend_factory(name="u")
        spec = ProxySpec(workers=2, user="nobody", access_log=alog, error_log=elog)
        port = spec.listener("l")
        spec.pool("p", [b])
        spec.route("r", pool="p")
        r = proxy(spec)

        def wait_in(path, text):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if os.path.exists(path) and text in open(path).read():
                    return True
                time.sleep(0.05)
            return False

        assert wait_in(elog, "running as user nobody"), r.stderr()
        assert get(port, "/one", host="h.example").status == 200
        assert wait_in(alog, "GET /one "), open(elog).read()[-2000:]
        assert os.stat(alog).st_uid == 65534 and os.stat(elog).st_uid == 65534
        os.rename(alog, alog + ".1")
        os.rename(elog, elog + ".1")
        r.signal(signal.SIGUSR1)
        assert wait_in(elog, "error log reopened"), open(elog + ".1").read()[-2000:]
        for i in range(5):
            assert get(port, "/two%d" % i, host="h.example").status == 200
        assert wait_in(alog, "GET /two4 ")
        assert "Permission denied" not in open(elog).read() + open(elog + ".1").read()
        r.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_refuses_port_another_process_listens_on(tmp_path):
    other = socket.socket()
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)   # the worst case
    other.bind(("127.0.0.1", 0))
    other.listen(8)
    port = other.getsockname()[1]
    try:
        ini = harness.Ini()
        ini.section("global", workers=1, access_log="off")
        ini.section("listener l", bind="127.0.0.1:%d" % port)
        ini.section("pool p", server="127.0.0.1:9")
        ini.section("route r", pool="p")
        cfg = tmp_path / "busy.ini"
        cfg.write_text(ini.text())
        p = subprocess.run([str(harness.binary()), "-c", str(cfg)], env=harness.sanitizer_env(),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        err = p.stderr.decode()
        assert p.returncode == 1, err
        assert re.search(r"%s:6: bind 127\.0\.0\.1:%d: address already in use" % (
            re.escape(str(cfg)), port), err), err
        assert harness.sanitizer_report(p.stderr) is None
    finally:
        other.close()
