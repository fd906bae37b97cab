"""bench/compare scenarios 7-10: the Lync workload (many idle TLS long-poll clients, a trickle
of requests) and the floor. Imported by bench/compare, which owns the proxies and the backend.

  7  idle scale: memory per idle TLS connection (RSS, PSS) at 1,000 / 5,000 / 18,000 held
     connections (quick: 200 / 500 / 1,000) opened over a ramp of 250 a second, each set on a
     freshly started proxy, and the proxy's
     CPU over a quiet minute (quick: 3 s) while they are held. (ringbench --idle by hand
     also sends a second request on a sample of them: docs/benchmarking.md.)
  8  idle clients do not tax active ones: open-loop p50/p99/p99.9 on 50 active TLS connections
     with none vs 15,000 (quick: 1,000) idle TLS connections held.
  9  accept storm: 15,000 (quick: 1,000) new TLS connections as fast as one ringbench thread
     opens them: handshakes/s and the time until every one has its first response.
  11 long polls (scenario 7 with a pending request on every connection): N clients, each with
     a long poll the backend holds (bench/hold_backend.py, ?hold=S) for the whole measurement,
     at 1,000 / 5,000 / 9,000 (quick: 200 / 500): proxy memory per pending long poll (RSS,
     PSS), and its CPU while they wait. Each needs a client and a backend socket at the proxy,
     so 9,000 is what a 20,000 fd limit allows.
  10 the floor: bench/cpu_relay (a byte relay with no HTTP, io_uring) through scenario 2's
     load; every proxy's CPU per request as a multiple of it (plain) and its TLS cost above it.
"""
import os
import queue
import signal
import subprocess
import threading
import time

IDLE_COUNTS = {False: (1000, 5000, 18000), True: (200, 500, 1000)}
LP_COUNTS = {False: (1000, 5000, 9000), True: (200, 500)}
QUIET_S = {False: 60, True: 3}
LAT_IDLE = {False: 15000, True: 1000}
STORM = {False: 15000, True: 1000}
LAT_RATE = {False: 2000, True: 500}	# scenario 8 without a scenario 6 rate to reuse
RAMP_RATE = 250		# scenario 7: new idle clients per second (one ringbench thread must keep up)
OPEN_RATE = 150		# budget for opening TLS connections (per s) before giving up waiting


class IdleHold:
    """ringbench --idle N in the background, on the client CPU. Its stderr says when all are
    open and when all have their first response (bench/ringbench.c idle_sample)."""

    def __init__(self, bench, url, n, hold_s, sample=0, second_s=None, ramp_s=0, timeout_s=120):
        argv = ["taskset", "-c", bench.client_cpu, bench.rb, "-q", "--json", "-t", "1",
                "--expect-status", "200", "--timeout", "%ds" % timeout_s, "--idle", str(n),
                "--idle-sample", str(sample), "-d", "%ds" % hold_s, "--ramp", "%gs" % ramp_s]
        if second_s is not None:
            argv += ["--idle-second", "%ds" % second_s]
        if url.startswith("https"):
            argv += ["--cacert", bench.d + "/ca.pem"]
        self.n, self.hold_s = n, hold_s
        self.p = subprocess.Popen(argv + [url], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.err = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stderr:
            self.err.append(line.rstrip())
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, what, timeout):
        """Seconds (ringbench's clock) until 'all N <what>', or None (midpoint, exit, timeout)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=max(0.1, end - time.monotonic()))
            except queue.Empty:
                break
            if line is None or "midpoint" in line:
                return None
            if ("all %d %s after " % (self.n, what)) in line:
                return float(line.rsplit(" ", 1)[1].rstrip("s\n"))
        return None

    def finish(self, stop=False):
        """ringbench's JSON; stop=True ends the hold now (SIGINT: it reports what it held)."""
        if stop and self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        try:
            out, _ = self.p.communicate(timeout=self.hold_s + 120)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, _ = self.p.communicate()
        import json
        try:
            return json.loads(out)
        except ValueError:
            return {"error": "ringbench exit %s: %s" % (self.p.returncode,
                                                       " | ".join(self.err[-3:]))}


def log_marks(d):
    """Sizes of bench/compare's log files now (the proxy's output, nginx's error logs)."""
    marks = {}
    for f in sorted(os.listdir(d)):
        if f.endswith(".log"):
            marks[f] = os.path.getsize(os.path.join(d, f))
    return marks


def log_news(d, marks, keep=4):
    """What each log got since marks: its line count and last lines (why a set fell short:
    the proxy's timeouts, the backend's "worker_connections are not enough", ...)."""
    out = {}
    for f in sorted(os.listdir(d)):
        if not f.endswith(".log"):
            continue
        with open(os.path.join(d, f), "rb") as fh:
            fh.seek(marks.get(f, 0))
            lines = [x for x in fh.read().decode(errors="replace").splitlines() if x.strip()]
        if lines:
            out[f] = {"lines": len(lines), "last": [x[:300] for x in lines[-keep:]]}
    return out


def idle_env(env, nofile):
    """Configs raised so the proxy, not its config, is the limit: every connection slot the
    fd limit allows (idle clients hold one fd each at the proxy; the backend is pooled)."""
    return dict(env, MAXCONN=max(1024, nofile - 500))


def scale(c, name, res, quick, longpoll=False):
    """Scenario 7 for one proxy: c is bench/compare's context (see compare.lync_context).
    longpoll: scenario 11, the same with every first request held by bench/hold_backend.py
    (c.start(name, longpoll=True) points the proxy at it) until the set is let go."""
    quiet = QUIET_S[quick]
    for n in (LP_COUNTS if longpoll else IDLE_COUNTS)[quick]:
        key = ("s11_longpoll_tls_%d" if longpoll else "s7_idle_tls_%d") % n
        proc, notes = c.start(name, longpoll=longpoll)
        try:
            url = c.bench.url(name, True, c.SMALL)
            why = notes.get("tls") or c.bench.probe(url, 100)
            if why:
                res[key] = c.na(name, why)
                continue
            c.log("%s %s: %d idle TLS connections%s, quiet %d s" % (
                name, key, n, " each with a pending long poll" if longpoll else "", quiet))
            time.sleep(0.3)
            m0 = c.memory_kib(proc.pid)
            marks = log_marks(c.d)
            # Clients arrive over a ramp (RAMP_RATE/s), as they do at an edge: opened all at
            # once, every proxy's peak of concurrent handshakes would stay in its allocator
            # and be counted as idle cost (scenario 9 is that burst).
            ramp = n / RAMP_RATE
            budget = ramp + n / OPEN_RATE + 10
            hold_s = int(budget + quiet + 120)
            if longpoll:
                # held past the end of the run: ringbench is stopped (SIGINT) while all wait
                url += "?hold=%d" % (hold_s + 60)
            # a pending long poll is not a timeout: ringbench's --timeout outlasts the hold
            h = IdleHold(c.bench, url, n, hold_s, ramp_s=ramp, sample=0,
                         timeout_s=hold_s + 120 if longpoll else 120)
            secs = h.wait_for("waiting" if longpoll else "answered", budget + 60)
            time.sleep(1.0)
            m1 = c.memory_kib(proc.pid)
            c0, t0 = c.cpu_seconds(proc.pid), time.monotonic()
            time.sleep(quiet)
            quiet_util = (c.cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0)
            j = h.finish(stop=True)
            idle = j.get("idle", {})
            held = n if secs is not None else idle.get(
                "waiting" if longpoll else "open", 0)
            r = {"connections": n, "opened": held,
                 "all_waiting_s" if longpoll else "all_answered_s": secs,
                 "rss_kib_before": m0[0], "pss_kib_before": m0[1],
                 "rss_kib_held": m1[0], "pss_kib_held": m1[1],
                 "quiet_s": quiet, "quiet_cpu_util": quiet_util, "longpoll": longpoll,
                 "waiting_at_end": idle.get("waiting"),
                 "open_at_end": idle.get("open"), "limit": idle.get("limit"),
                 "why": idle.get("why"), "errors": j.get("errors"),
                 "status": j.get("status"), "logs": log_news(c.d, marks),
                 "client_bytes_per_conn": idle.get("client_bytes_per_conn"),
                 "ringbench_error": j.get("error")}
            if held:
                r["rss_per_conn_b"] = (m1[0] - m0[0]) * 1024 / held
                r["pss_per_conn_b"] = (m1[1] - m0[1]) * 1024 / held
            res[key] = r
        finally:
            proc.stop()


def tail(c, name, res, quick, rate):
    """Scenario 8 for one proxy: the same open loop without and with the idle set held."""
    secs, warm = c.DURATION[quick]
    n = LAT_IDLE[quick]
    proc, notes = c.start(name)
    try:
        url = c.bench.url(name, True, c.SMALL)
        why = notes.get("tls") or c.bench.probe(url, 100)
        if why:
            res["s8_tls_open_idle0"] = res["s8_tls_open_idle"] = c.na(name, why)
            return
        c.log("%s s8: 50 active TLS connections at %d req/s, no idle ones" % (name, rate))
        res["s8_tls_open_idle0"] = c.bench.run(proc, c.backend, url,
                                               ["-c", "50", "-R", str(rate)], secs, warm)
        budget = n / OPEN_RATE + 10
        h = IdleHold(c.bench, url, n, int(budget + secs + warm + 120))
        opened = h.wait_for("answered", budget + 60)
        c.log("%s s8: the same with %d idle TLS connections held (%s)" % (
            name, n, "all open" if opened is not None else "NOT all open"))
        r = c.bench.run(proc, c.backend, url, ["-c", "50", "-R", str(rate)], secs, warm)
        j = h.finish(stop=True)
        r["idle_held"] = j.get("idle", {}).get("open")
        r["idle_wanted"] = n
        res["s8_tls_open_idle"] = r
    finally:
        proc.stop()


def storm(c, name, res, quick):
    """Scenario 9 for one proxy: N new TLS connections at once (no ramp), one request each."""
    n = STORM[quick]
    proc, notes = c.start(name)
    try:
        url = c.bench.url(name, True, c.SMALL)
        why = notes.get("tls") or c.bench.probe(url, 100)
        if why:
            res["s9_accept_storm"] = c.na(name, why)
            return
        c.log("%s s9: accept storm of %d TLS connections" % (name, n))
        budget = n / OPEN_RATE + 30
        c0 = c.cpu_seconds(proc.pid)
        h = IdleHold(c.bench, url, n, int(budget + 30))
        secs = h.wait_for("answered", budget + 30)
        cpu = c.cpu_seconds(proc.pid) - c0
        j = h.finish(stop=True)
        idle = j.get("idle", {})
        res["s9_accept_storm"] = {
            "connections": n, "all_answered_s": secs,
            "handshakes_per_s": n / secs if secs else None,
            "answered": idle.get("answered"), "limit": idle.get("limit"),
            "proxy_cpu_ms_per_handshake": cpu * 1000 / n if secs else None,
            "client_cpu": j.get("cpu"), "errors": j.get("errors"),
            "ringbench_error": j.get("error")}
    finally:
        proc.stop()


def floor_proc(c):
    """bench/cpu_relay (io_uring) on the proxy CPU, edge plain port -> backend plain port."""
    exe = os.path.join(c.d, "cpu_relay")
    if not os.path.exists(exe):
        subprocess.run(["cc", "-O2", "-o", exe, os.path.join(c.HERE, "cpu_relay.c"), "-luring"],
                       check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return c.Proc("floor", [exe, "uring", str(c.ports["EDGE_HTTP"]),
                            str(c.ports["BACKEND_HTTP"])], c.args.proxy_cpu,
                  c.d + "/floor.log", [c.ports["EDGE_HTTP"]])


def fmt_kb(b):
    return "-" if b is None else "%.1f KB" % (b / 1000)


def scale_lines(out, results, proxies, get, prefix, title):
    """Scenario 7's (or 11's) lines: one per count, and why a proxy held fewer."""
    keys = sorted({k for p in proxies for k in results.get(p, {}) if k.startswith(prefix)},
                  key=lambda k: int(k.rsplit("_", 1)[1]))
    if keys:
        out.append("  " + title)
    for k in keys:
        cells = []
        for p in proxies:
            r = get(p, k)
            if "na" in r or not r:
                cells.append("%s n/a" % p)
                continue
            cells.append("%s %s / %s, %.2f%% CPU%s" % (
                p, fmt_kb(r.get("rss_per_conn_b")), fmt_kb(r.get("pss_per_conn_b")),
                100 * (r.get("quiet_cpu_util") or 0),
                "" if r.get("opened") == r.get("connections") else
                " (held %s of %s)" % (r.get("opened"), r.get("connections"))) + (
                " (%d first answers 5xx)" % (r.get("status") or {}).get("5xx")
                if (r.get("status") or {}).get("5xx") else ""))
        out.append("    %6s: %s" % (k.rsplit("_", 1)[1], "; ".join(cells)))
        for p in proxies:
            r = get(p, k)
            if r.get("opened") != r.get("connections") and r.get("why"):
                out.append("            %s: %s" % (p, r["why"]))
            if r.get("opened") != r.get("connections") or any(
                    (r.get("errors") or {}).values()):
                for f, v in sorted((r.get("logs") or {}).items()):
                    out.append("            %s: %s: %d new lines, last: %s" % (
                        p, f, v["lines"], v["last"][-1]))


def report(results, proxies):
    """Text lines for scenarios 7-11 (after bench/compare's main table)."""
    out = []
    get = lambda p, k: (results.get(p) or {}).get(k) or {}	# noqa: E731
    for prefix, title in (("s7_idle_tls_", "scenario 7, idle TLS connections: proxy memory "
                           "per connection RSS / PSS; proxy CPU while idle"),
                          ("s11_longpoll_tls_", "scenario 11, TLS connections each with a "
                           "pending long poll: proxy memory per connection RSS / PSS; CPU")):
        scale_lines(out, results, proxies, get, prefix, title)
    if any(get(p, "s8_tls_open_idle") for p in proxies):
        out.append("  scenario 8, open loop on 50 TLS connections: p50 / p99 / p99.9 (us), "
                   "no idle vs idle held")
        for p in proxies:
            a, b = get(p, "s8_tls_open_idle0"), get(p, "s8_tls_open_idle")
            if "latency" not in a or "latency" not in b:
                out.append("    %s: n/a" % p)
                continue
            f = lambda r: "%.0f / %.0f / %.0f" % tuple(	# noqa: E731
                r["latency"][x] for x in ("p50_us", "p99_us", "p99.9_us"))
            out.append("    %-8s none: %s   %s idle: %s" % (p, f(a), b.get("idle_held"), f(b)))
    if any(get(p, "s9_accept_storm") for p in proxies):
        out.append("  scenario 9, accept storm (new TLS connections at once, one ringbench "
                   "thread): handshakes/s, time until all served, proxy CPU per handshake")
        for p in proxies:
            r = get(p, "s9_accept_storm")
            if not r.get("handshakes_per_s"):
                out.append("    %s: n/a %s" % (p, r.get("na") or r.get("ringbench_error") or
                                               "(not all served)"))
                continue
            out.append("    %-8s %.0f/s, %.1f s for %d, %.3f ms CPU each" % (
                p, r["handshakes_per_s"], r["all_answered_s"], r["connections"],
                r["proxy_cpu_ms_per_handshake"]))
    fl = get("floor", "s2_plain_keepalive")
    fcpu = fl.get("proxy_cpu_s")
    if fcpu and fl.get("requests"):
        f_us = fcpu * 1e6 / fl["requests"]
        out.append("  scenario 10, the floor (bench/cpu_relay, io_uring, no HTTP): %.2f us CPU "
                   "per request in scenario 2's load" % f_us)
        for p in proxies:
            s2, s1 = get(p, "s2_plain_keepalive"), get(p, "s1_tls_keepalive")
            cells = []
            if s2.get("proxy_cpu_s") and s2.get("requests"):
                cells.append("plain %.2fx the floor" % (s2["proxy_cpu_s"] * 1e6 /
                                                          s2["requests"] / f_us))
            if s1.get("proxy_cpu_s") and s1.get("requests"):
                cells.append("TLS %.2f us above it" % (s1["proxy_cpu_s"] * 1e6 /
                                                        s1["requests"] - f_us))
            out.append("    %-8s %s" % (p, ", ".join(cells) or "n/a (run scenarios 1, 2)"))
    return out
