#!/usr/bin/env python3
"""Idle keep-alive connections for bench/compare (scenario 5).

Opens N connections to HOST:PORT (TLS verified against --cacert when --tls), sends one
keep-alive GET on each and reads the whole response, then holds them all open. Prints one line
"READY ok=N failed=M first_error=..." on stdout and waits for a line (or EOF) on stdin before
closing them. Standard library only; raises RLIMIT_NOFILE as far as the hard limit allows.
Every connect and read has a timeout, and the whole set is bounded by --time-limit.
"""
import argparse
import resource
import socket
import ssl
import sys
import time


def read_response(s, deadline):
    """Reads one response with a Content-Length body; returns the status code."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        if time.monotonic() > deadline:
            raise TimeoutError("response head timeout")
        chunk = s.recv(16384)
        if not chunk:
            raise ConnectionError("closed before the response head")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        if name.strip().lower() == b"transfer-encoding":
            raise ValueError("chunked response: use a Content-Length file")
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("short body")
        body += chunk
    return status


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--cacert")
    ap.add_argument("--sni", default="localhost")
    ap.add_argument("--path", default="/100.txt")
    ap.add_argument("-n", type=int, default=5000)
    ap.add_argument("--time-limit", type=float, default=120.0)
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.n + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    ctx = None
    if a.tls:
        ctx = ssl.create_default_context(cafile=a.cacert)
        ctx.check_hostname = True
    req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (a.path, a.sni, a.port)).encode()
    held, failed, first_error = [], 0, ""
    end = time.monotonic() + a.time_limit
    for _ in range(a.n):
        if time.monotonic() > end:
            failed += a.n - len(held) - failed
            first_error = first_error or "time limit"
            break
        s = None
        try:
            s = socket.create_connection((a.host, a.port), timeout=5)
            if ctx is not None:
                s = ctx.wrap_socket(s, server_hostname=a.sni)
            s.sendall(req)
            status = read_response(s, time.monotonic() + 5)
            if status != 200:
                raise ValueError("status %d" % status)
            held.append(s)
        except (OSError, ValueError, TimeoutError) as e:
            failed += 1
            first_error = first_error or ("%s: %s" % (type(e).__name__, e))
            if s is not None:
                s.close()
    print("READY ok=%d failed=%d first_error=%s" % (len(held), failed,
                                                     first_error.replace(" ", "_") or "-"),
          flush=True)
    sys.stdin.readline()
    # Every held connection must still be open: a proxy that dropped idle connections
    # early would look cheap.
    alive = 0
    for s in held:
        try:
            s.setblocking(False)
            try:
                data = s.recv(1)
                alive += 1 if data else 0
            except (ssl.SSLWantReadError, BlockingIOError):
                alive += 1
        except OSError:
            pass
        s.close()
    print("ALIVE %d" % alive, flush=True)


if __name__ == "__main__":
    main()
