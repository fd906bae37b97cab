"""
Starting and checking the real ringedge binary.

The binary is $RINGEDGE_BUILD/core/ringedge; RINGEDGE_BUILD is a build directory, absolute or
relative to the repository root, default "build". Every run is checked for sanitizer reports
(an ASan/UBSan build prints them on stderr and may still exit 0) and for an abnormal exit.
"""
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

# What an ASan / UBSan / LSan build prints when it finds something.
SANITIZER_RE = re.compile(
    rb"(ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: AddressSanitizer|"
    rb"runtime error: |SUMMARY: (Address|Undefined|Leak|Thread)Sanitizer|"
    rb"==\d+==ERROR|ThreadSanitizer)")


def build_dir():
    b = Path(os.environ.get("RINGEDGE_BUILD", "build"))
    return b if b.is_absolute() else REPO / b


def binary():
    return build_dir() / "core" / "ringedge"


def is_sanitized():
    """True for an AddressSanitizer build of ringedge (it links libasan): several times
    slower, which load tests with fixed timeouts must allow for."""
    import subprocess
    out = subprocess.run(["ldd", str(binary())], capture_output=True, text=True).stdout
    return "libasan" in out


def sanitizer_env(env=None):
    """Environment for a ringedge run: keep the caller's sanitizer options, else ask for
    reports that never abort silently (halt_on_error stays on for ASan: a bug is a bug)."""
    e = dict(os.environ if env is None else env)
    e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:halt_on_error=1")
    e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=0")
    return e


def sanitizer_report(data):
    """The first sanitizer report line in data (bytes), or None."""
    m = SANITIZER_RE.search(data)
    if m is None:
        return None
    start = data.rfind(b"\n", 0, m.start()) + 1
    end = data.find(b"\n", m.end())
    return data[start:end if end >= 0 else len(data)].decode("latin-1")


class CliResult:
    def __init__(self, args, rc, out, err):
        self.args, self.rc, self.out, self.err = args, rc, out, err

    @property
    def lines(self):
        """stderr lines, without the empty last one."""
        return [x for x in self.err.split("\n") if x != ""]

    def __repr__(self):
        return "ringedge %s -> exit %d\n--- stdout\n%s--- stderr\n%s" % (
            " ".join(map(str, self.args)), self.rc, self.out, self.err)


def run_cli(*args, cwd=None, timeout=60):
    """Runs `ringedge ARGS` to completion; fails on a sanitizer report or a signal death."""
    p = subprocess.run([str(binary())] + [str(a) for a in args], cwd=cwd, env=sanitizer_env(),
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    r = CliResult(args, p.returncode, p.stdout.decode("utf-8", "replace"),
                  p.stderr.decode("utf-8", "replace"))
    rep = sanitizer_report(p.stderr)
    assert rep is None, "sanitizer report: %s\n%r" % (rep, r)
    assert p.returncode >= 0, "killed by signal %d\n%r" % (-p.returncode, r)
    return r


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    """A TCP port free right now on host. The kernel does not hand out a just-released
    ephemeral port again at once, so the race with other processes is small; Ringedge.start()
    retries on EADDRINUSE anyway."""
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def reserve_port(host="127.0.0.1"):
    """(port, socket): a port bound, not listening, with SO_REUSEPORT, so ringedge (which binds
    with SO_REUSEPORT) can bind it too while the kernel hands it to no one else, and a
    concurrent free_port() elsewhere cannot pick it. Close the socket when the test ends."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((host, 0))
    return s.getsockname()[1], s


def wait_port(host, port, timeout, proc=None):
    """Waits until host:port accepts; returns False on timeout or if proc exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Ini:
    """Builds an INI file section by section, keys in order; a list value repeats the key."""

    def __init__(self):
        self.sections = []

    def section(self, header, **kv):
        items = []
        for k, v in kv.items():
            for one in (v if isinstance(v, (list, tuple)) else [v]):
                items.append((k, one))
        self.sections.append((header, items))
        return self

    def text(self):
        out = []
        for header, items in self.sections:
            out.append("[%s]" % header)
            out.extend("%s = %s" % kv for kv in items)
            out.append("")
        return "\n".join(out)


class Ringedge:
    """One `ringedge -c FILE` process. start() waits until every listener port accepts;
    stop() sends SIGTERM and checks for exit 0 and a clean stderr."""

    def __init__(self, workdir, config_text, ports, name="ringedge"):
        self.workdir = Path(workdir)
        self.cfg = self.workdir / ("%s.ini" % name)
        self.cfg.write_text(config_text)
        self.errlog = self.workdir / ("%s.stderr" % name)
        self.outlog = self.workdir / ("%s.stdout" % name)
        self.ports = list(ports)
        self.proc = None
        self.stopped = False

    def start(self, timeout=15):
        self._err = open(self.errlog, "wb")
        self._out = open(self.outlog, "wb")
        self.proc = subprocess.Popen([str(binary()), "-c", str(self.cfg)], cwd=self.workdir,
                                     env=sanitizer_env(), stdin=subprocess.DEVNULL,
                                     stdout=self._out, stderr=self._err)
        for p in self.ports:
            if not wait_port("127.0.0.1", p, timeout, self.proc):
                rc = self.proc.poll()
                if rc is None:
                    self.kill()
                self._close_logs()
                self.stopped = True
                raise StartError("ringedge did not accept on port %d (exit %r)\n%s" % (
                    p, rc, self.stderr()))
        return self

    def stderr(self):
        try:
            return self.errlog.read_bytes().decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def _close_logs(self):
        for f in (getattr(self, "_err", None), getattr(self, "_out", None)):
            if f is not None and not f.closed:
                f.close()

    def stop(self, timeout=30):
        """SIGTERM, wait; returns the exit code. Raises AssertionError on a hang (then kills),
        a non-zero exit or a sanitizer report."""
        if self.stopped or self.proc is None:
            return None
        self.stopped = True
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError("ringedge did not exit %ds after SIGTERM\n%s" % (
                    timeout, self.stderr()[-4000:]))
        finally:
            self._close_logs()
        self.check_exit(rc)
        return rc

    def check_exit(self, rc):
        err = self.errlog.read_bytes()
        rep = sanitizer_report(err)
        assert rep is None, "sanitizer report from ringedge: %s\n%s" % (
            rep, err[-8000:].decode("utf-8", "replace"))
        assert rc == 0, "ringedge exited with %s after SIGTERM\n%s" % (
            rc if rc >= 0 else "signal %d" % -rc, err[-4000:].decode("utf-8", "replace"))


class StartError(Exception):
    pass


def serving_implemented():
    """False while `ringedge -c FILE` still says the data plane is not implemented (checked by
    running it on a minimal valid configuration, not guessed)."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        port = free_port()
        ini = Ini()
        ini.section("global", workers=1, access_log="off")
        ini.section("listener l", bind="127.0.0.1:%d" % port)
        ini.section("pool p", server="127.0.0.1:9")
        ini.section("route r", pool="p")
        cfg = Path(d) / "probe.ini"
        cfg.write_text(ini.text())
        with open(Path(d) / "probe.err", "wb") as errf:
            p = subprocess.Popen([str(binary()), "-c", str(cfg)], env=sanitizer_env(),
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=errf)
            try:
                wait_port("127.0.0.1", port, 10, p)
            finally:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        return b"not implemented" not in (Path(d) / "probe.err").read_bytes()
