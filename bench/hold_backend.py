#!/usr/bin/env python3
"""bench/compare's long-poll backend (scenario 11): answers every request after holding it.

nginx (the backend of the other scenarios) cannot delay an answer without a module that
Debian's nginx-light lacks, so the long polls go to this: one asyncio process, TLS on one
port and plain HTTP on another, HTTP/1.1 keep-alive. A request's answer is held for the
seconds in `?hold=S` at the end of its target (or the `X-Be-Hold: S` header; at most
MAX_HOLD s, 0 or none: at once), then it is 200 with a 100-byte body. Thousands of pending
requests cost a coroutine each, not a thread. Raises RLIMIT_NOFILE to the hard limit.

  bench/hold_backend.py --tls-port P --http-port Q --cert chain.pem --key leaf.key
"""
import argparse
import asyncio
import asyncio.sslproto
import resource
import ssl

MAX_HOLD = 900.0
# asyncio gives every TLS connection a 256 KiB read buffer up front: 9,000 pending long polls
# took 4.5 GB. One TLS record (16 KiB plus overhead) is all a request head needs here.
asyncio.sslproto.SSLProtocol.max_size = 17 * 1024
BODY = b"x" * 99 + b"\n"


def hold_of(head):
    """Seconds to hold the request whose head (bytes, without the blank line) is given."""
    lines = head.split(b"\r\n")
    target = lines[0].split(b" ")[1] if len(lines[0].split(b" ")) > 2 else b""
    value = None
    if b"hold=" in target:
        value = target.rsplit(b"hold=", 1)[1].split(b"&")[0]
    for line in lines[1:]:
        name, _, v = line.partition(b":")
        if name.strip().lower() == b"x-be-hold":
            value = v.strip()
    try:
        return max(0.0, min(float(value), MAX_HOLD)) if value else 0.0
    except ValueError:
        return 0.0


async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            # Requests here have no body (ringbench sends GETs); a Content-Length is skipped.
            for line in head.split(b"\r\n")[1:]:
                name, _, v = line.partition(b":")
                if name.strip().lower() == b"content-length" and int(v) > 0:
                    await reader.readexactly(int(v))
            hold = hold_of(head[:-4])
            if hold > 0:
                await asyncio.sleep(hold)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY))
            await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError,
            ssl.SSLError, OSError, ValueError, IndexError):
        pass
    finally:
        writer.close()


async def main(a):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.cert, a.key)
    servers = [await asyncio.start_server(serve, "127.0.0.1", a.tls_port, ssl=ctx,
                                          backlog=4096),
               await asyncio.start_server(serve, "127.0.0.1", a.http_port, backlog=4096)]
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tls-port", type=int, required=True)
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        asyncio.run(main(args))
    except KeyboardInterrupt:
        pass
