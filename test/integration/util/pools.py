"""
Helpers for the pools and reload suites: requests from a chosen loopback source address,
which server answered (backend.py tags every response with X-Be-Name), and a follower of
ringedge's stderr that waits for a log line without re-reading the whole file.
"""
import re
import socket
import time

from util.http import Client, build_request


def server_of(resp):
    name = resp.header("X-Be-Name")
    assert name is not None, "not answered by a backend: %r %r" % (resp, resp.body[:200])
    return name


def get_from(port, source, target="/", host="h.example", headers=(), timeout=10):
    """GET on a new connection whose client address is `source` (any 127.0.0.0/8 address)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    c = Client.__new__(Client)
    c.sock, c.buf, c.timeout, c.port, c.host = s, b"", timeout, port, "127.0.0.1"
    try:
        c.send(build_request("GET", target, host, headers))
        return c.read_response()
    finally:
        c.close()


class LogFollower:
    """Reads ringedge's stderr file from where it left off."""

    def __init__(self, path):
        self.path = path
        self.off = 0
        self.text = ""

    def _more(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                d = f.read()
        except OSError:
            return ""
        self.off += len(d)
        s = d.decode("utf-8", "replace")
        self.text += s
        return s

    def skip(self):
        """Forgets everything logged so far."""
        self._more()
        self.text = ""

    def wait(self, pattern, timeout=20):
        """Waits for a line matching pattern logged since the last skip()/wait(); returns
        the match. The text before and including it is consumed."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            self._more()
            m = rx.search(self.text)
            if m is not None:
                self.text = self.text[m.end():]
                return m
            if time.monotonic() > deadline:
                raise AssertionError("no log line /%s/ within %ss; got:\n%s" % (
                    pattern, timeout, self.text[-3000:]))
            time.sleep(0.005)


def reload(r, follower, text=None, timeout=20):
    """Writes text (if given) as r's config, sends SIGHUP and waits for the outcome line.
    Returns (ok, text logged by the reload)."""
    import signal
    if text is not None:
        r.cfg.write_text(text)
    follower.skip()
    r.signal(signal.SIGHUP)
    m = follower.wait(r"reload: (generation \d+ serving|.*still serving generation \d+)",
                      timeout)
    return "still serving" not in m.group(0), m.string[:m.end()]
