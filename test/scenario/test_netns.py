"""
Self-test of the namespace lab (netns.py): members reach each other over the bridge, the
caller's namespace cannot reach them, processes and namespaces are gone after close(), and a
crashed run's namespaces are reaped. Run as root:

    /usr/bin/python3 -m pytest -q -p no:cacheprovider test/scenario/test_netns.py
"""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from netns import Lab, LabUnavailable, list_netns  # noqa: E402

ECHO = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 7007)); s.listen(4); print("ready", flush=True)
s.settimeout(20)
while True:
    c, a = s.accept(); c.sendall(b"hello " + a[0].encode() + b"\n"); c.close()
"""

CLIENT = r"""
import socket, sys
c = socket.create_connection((sys.argv[1], 7007), timeout=5)
print(c.recv(100).decode().strip())
"""


@pytest.fixture
def lab():
    try:
        lab = Lab()
    except LabUnavailable as e:
        pytest.skip(str(e))
    yield lab
    lab.close()


def test_members_talk_over_the_bridge_and_are_cleaned_up(lab):
    a, b, c = lab.add("a"), lab.add("b"), lab.add("c")
    assert len({a.addr, b.addr, c.addr}) == 3
    srv = a.popen([sys.executable, "-c", ECHO, a.addr], stdout=subprocess.PIPE, text=True)
    assert srv.stdout.readline().strip() == "ready"
    for ns in (b, c):
        r = ns.run([sys.executable, "-c", CLIENT, a.addr], text=True)
        assert r.returncode == 0 and r.stdout.strip() == "hello %s" % ns.addr, r
    # a second address on b is a distinct client address
    extra = lab.add_addr(b)
    r = b.run([sys.executable, "-c",
               "import socket,sys; c=socket.socket(); c.bind((sys.argv[2],0)); "
               "c.settimeout(5); c.connect((sys.argv[1],7007)); print(c.recv(100).decode())",
               a.addr, extra], text=True)
    assert r.stdout.strip() == "hello %s" % extra, r
    # the caller's namespace has no route into the lab
    r = subprocess.run([sys.executable, "-c", CLIENT, a.addr], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=15)
    assert r.returncode != 0
    names = [ns.name for ns in (a, b, c)] + [lab.hub]
    assert set(names) <= set(list_netns())
    lab.close()
    assert srv.poll() is not None               # the server was stopped
    assert not set(names) & set(list_netns())   # and every namespace deleted
    lab.close()                                 # idempotent


def test_reap_removes_namespaces_of_a_dead_run():
    # a child process makes a lab and dies without cleaning up (SIGKILL)
    code = ("import sys, os, signal; sys.path.insert(0, %r); from netns import Lab; "
            "l = Lab(); l.add('x'); print(l.tag, flush=True); "
            "os.kill(os.getpid(), signal.SIGKILL)" % str(Path(__file__).resolve().parent))
    p = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                       timeout=30)
    if p.returncode != -9 or not p.stdout.strip():
        pytest.skip("cannot create a lab here: %r" % p)
    tag = p.stdout.strip()
    left = [n for n in list_netns() if n.startswith(tag)]
    assert len(left) == 2, left                 # hub + x left behind
    Lab.reap()
    assert not [n for n in list_netns() if n.startswith(tag)]


def test_close_kills_a_process_that_ignores_sigterm(lab):
    a = lab.add("a")
    p = a.popen([sys.executable, "-c",
                 "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                 "print('up', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "up"
    t = time.monotonic()
    lab.close(grace=1.0)
    assert p.poll() is not None and time.monotonic() - t < 15
    assert os.path.exists("/proc/%d" % p.pid) is False or p.returncode is not None
