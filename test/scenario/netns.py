"""
Network-namespace labs for scale-out scenarios (several ringedge instances, a balancer, the
backends, each in its own namespace with its own address), cleaned up whatever happens.

    with Lab() as lab:                  # skips (LabUnavailable) without root / netns support
        lb = lab.add("lb")              # namespace + veth to the lab's bridge + 10.77.x.N/24
        e1 = lab.add("edge1")
        p = e1.popen(["ringedge", "-c", cfg])     # killed at close if still running
        lb.run(["curl", "http://%s/" % e1.addr], timeout=10)

Layout: one "hub" namespace holds the bridge; each member namespace gets a veth pair whose
hub end is enslaved to the bridge and whose inner end is `eth0` with the member's address.
Nothing is created in the caller's namespace (other tests and engineers share this machine),
so two labs never collide on interface names; namespace names carry a per-process tag
"relab<PID>x<N>-" and labs of dead processes are removed by Lab.reap() (called on start).

Every command has a timeout; close() kills what popen() started (SIGTERM, then SIGKILL after
a bound), deletes member namespaces (which destroys their veths) and the hub. It is called by
the context manager, by atexit, and is idempotent.
"""
import atexit
import ipaddress
import itertools
import os
import re
import signal
import subprocess
import time

CMD_TIMEOUT = 10
_seq = itertools.count(1)


class LabUnavailable(Exception):
    """No root, no `ip`, or the kernel refuses network namespaces."""


def _ip(*args, timeout=CMD_TIMEOUT, check=True):
    p = subprocess.run(["ip"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(args), p.stderr.decode().strip()))
    return p


def list_netns():
    p = _ip("netns", "list", check=False)
    return [line.split()[0] for line in p.stdout.decode().splitlines() if line.strip()]


class Ns:
    """A member namespace: name, address (str), run()/popen() inside it."""

    def __init__(self, lab, short, full, addr):
        self.lab, self.short, self.name, self.addr = lab, short, full, addr

    def _argv(self, argv):
        return ["ip", "netns", "exec", self.name] + [str(a) for a in argv]

    def run(self, argv, timeout=CMD_TIMEOUT, check=False, **kw):
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return subprocess.run(self._argv(argv), timeout=timeout, check=check, **kw)

    def popen(self, argv, **kw):
        # own process group: close() signals the group (ip netns exec execs, but a shell
        # wrapper would leave children behind otherwise)
        p = subprocess.Popen(self._argv(argv), start_new_session=True, **kw)
        self.lab.procs.append(p)
        return p

    def __repr__(self):
        return "Ns(%s %s)" % (self.name, self.addr)


class Lab:
    def __init__(self, subnet="10.77.0.0/24"):
        if os.geteuid() != 0:
            raise LabUnavailable("network namespaces need root")
        self.tag = "relab%dx%d-" % (os.getpid(), next(_seq))
        self.net = ipaddress.ip_network(subnet)
        self.hosts = self.net.hosts()
        self.hub = self.tag + "hub"
        self.members = []
        self.procs = []
        self.closed = False
        Lab.reap()
        try:
            _ip("netns", "add", self.hub)
        except (RuntimeError, FileNotFoundError, subprocess.TimeoutExpired) as e:
            raise LabUnavailable(str(e))
        atexit.register(self.close)
        try:
            _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
            _ip("-n", self.hub, "link", "set", "br0", "up")
            _ip("-n", self.hub, "link", "set", "lo", "up")
        except Exception:
            self.close()
            raise

    @staticmethod
    def reap():
        """Deletes the namespaces of labs whose process is gone (a crashed or killed run)."""
        for name in list_netns():
            m = re.match(r"relab(\d+)x\d+-", name)
            if m is None or int(m.group(1)) == os.getpid():
                continue
            try:
                os.kill(int(m.group(1)), 0)
                continue            # still running: not ours to touch
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
            _ip("netns", "del", name, check=False)

    def add(self, short):
        """A member namespace with lo up and eth0 = the next address of the subnet."""
        assert not self.closed and re.fullmatch(r"[a-z0-9]{1,8}", short), short
        idx = len(self.members) + 1
        full = self.tag + short
        addr = str(next(self.hosts))
        _ip("netns", "add", full)
        ns = Ns(self, short, full, addr)
        self.members.append(ns)
        hub_end = "v%d" % idx      # short, unique inside the hub namespace
        _ip("-n", self.hub, "link", "add", hub_end, "type", "veth", "peer", "name", "eth0",
            "netns", full)
        _ip("-n", self.hub, "link", "set", hub_end, "master", "br0")
        _ip("-n", self.hub, "link", "set", hub_end, "up")
        _ip("-n", full, "link", "set", "lo", "up")
        _ip("-n", full, "addr", "add", "%s/%d" % (addr, self.net.prefixlen), "dev", "eth0")
        _ip("-n", full, "link", "set", "eth0", "up")
        return ns

    def add_addr(self, ns):
        """One more address of the subnet on ns's eth0 (a VIP, a second client address)."""
        addr = str(next(self.hosts))
        _ip("-n", ns.name, "addr", "add", "%s/%d" % (addr, self.net.prefixlen), "dev", "eth0")
        return addr

    def close(self, grace=5.0):
        if self.closed:
            return
        self.closed = True
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(CMD_TIMEOUT)
        for ns in self.members:
            _ip("netns", "del", ns.name, check=False)
        _ip("netns", "del", self.hub, check=False)
        try:
            atexit.unregister(self.close)
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
