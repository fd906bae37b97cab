"""
Load for the L4 scenarios, run inside the client namespace: one thread per source address,
each doing new-connection GETs to HOST:PORT in a loop for SECONDS (bounded: at most 20 per
second per thread). One JSON line per request: t (monotonic s), src, ok, instance (the
ringedge address the backend saw as its peer), xff (what the backend saw as the client),
err. Usage: l4client.py HOST PORT SECONDS SRC [SRC...]
"""
import json
import socket
import sys
import threading
import time

host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
sources = sys.argv[4:]
lock = threading.Lock()
t_end = time.monotonic() + seconds


def one(src):
    s = socket.socket()
    s.settimeout(2)
    s.bind((src, 0))
    try:
        s.connect((host, port))
        s.sendall(b"GET /l4 HTTP/1.1\r\nHost: lync.example\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError("status %r" % head[:40])
    j = json.loads(body)
    xff = [v for k, v in j["headers"] if k.lower() == "x-forwarded-for"]
    return j["peer"][0], xff[0] if xff else None


def loop(src):
    while time.monotonic() < t_end:
        t0 = time.monotonic()
        rec = {"t": t0, "src": src}
        try:
            rec["instance"], rec["xff"] = one(src)
            rec["ok"] = True
        except Exception as e:      # noqa: BLE001 - every failure is a record
            rec["ok"], rec["err"] = False, "%s: %s" % (type(e).__name__, e)
        with lock:
            print(json.dumps(rec), flush=True)
        time.sleep(max(0.0, 0.05 - (time.monotonic() - t0)))


ts = [threading.Thread(target=loop, args=(s,)) for s in sources]
for t in ts:
    t.start()
for t in ts:
    t.join()
