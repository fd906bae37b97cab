"""Smoke tests of the benchmark harnesses around ringbench (never a speed assertion).

bench/wrk_parity runs wrk and ringbench alternated against its own pinned nginx backend and
reports ratios plus what the server paid (its CPU per request) and how often the client's CPU
went idle; bench/wake_rtt times cross-CPU wake-ups. These only check that the tools run end to
end on this machine and report what docs/benchmarking.md says they report, so that a change
to ringbench's output or options cannot silently break them.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("RINGEDGE_BUILD", "build")
BUILD_DIR = BUILD if os.path.isabs(BUILD) else os.path.join(ROOT, BUILD)
TWO_CPUS = (os.cpu_count() or 1) >= 2


@pytest.mark.skipif(not TWO_CPUS, reason="needs two CPUs")
def test_wake_rtt_reports_both_modes():
    p = subprocess.run([os.path.join(BUILD_DIR, "bench", "wake_rtt"), "-n", "300"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    for mode in ("blocking", "polling"):
        m = re.search(r"^%s\s+CPU 0 <-> CPU 1, 300 round trips: p50 ([\d.]+) us, "
                      r"p90 ([\d.]+) us, p99 ([\d.]+) us$" % mode, p.stdout, re.M)
        assert m, p.stdout
        p50, p90, p99 = (float(x) for x in m.groups())
        assert 0 < p50 <= p90 <= p99, p.stdout
    bad = subprocess.run([os.path.join(BUILD_DIR, "bench", "wake_rtt"), "-a", "1", "-b", "1"],
                         capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2 and "two distinct CPUs" in bad.stderr, bad.stderr


@pytest.mark.skipif(not TWO_CPUS or shutil.which("wrk") is None or shutil.which("nginx") is None,
                    reason="needs two CPUs, wrk and nginx")
@pytest.mark.parametrize("extra", [[], ["--no-cpu-halt"]])
def test_wrk_parity_runs_and_reports_server_cost(tmp_path, extra):
    if extra and not os.access("/dev/cpu_dma_latency", os.W_OK):
        pytest.skip("/dev/cpu_dma_latency not writable")
    out = tmp_path / "parity.json"
    p = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "wrk_parity"), "--rounds",
                        "1", "--duration", "1", "--conns", "2", "--modes", "plain", "--build",
                        BUILD_DIR, "--json", str(out)] + extra,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr + p.stdout
    assert re.search(r"^plain\s+2\s+[\d,]+ \(", p.stdout, re.M), p.stdout
    assert "server us/req wrk/rb" in p.stdout, p.stdout
    assert ("/dev/cpu_dma_latency held at 0" in p.stdout) == bool(extra), p.stdout
    j = json.loads(out.read_text())
    assert j["no_cpu_halt"] == bool(extra)
    tools = {r["tool"]: r for r in j["runs"]}
    assert set(tools) == {"wrk", "ringbench"}, j["runs"]
    for r in tools.values():
        assert "error" not in r, r
        assert r["rps"] > 0 and r["cpu_s"] > 0 and not r["errors"], r
        # Present in every run (clock ticks: a 1 s run at -c2 may round to 0 seconds).
        assert r["server_cpu_s"] >= 0, r
        if os.path.isdir("/sys/devices/system/cpu/cpu0/cpuidle"):
            assert r["client_cpu_idle"] >= 0, r
