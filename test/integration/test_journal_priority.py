"""
Error-log lines under systemd: when stderr is the journal (JOURNAL_STREAM holds the
device:inode of fd 2, systemd's documented check), every line starts with its syslog priority
(<3> error, <4> warn, <6> info, <7> debug) so `journalctl -p err` shows errors only. The test
plays the journal: ringedge's stderr is a pipe the test reads, JOURNAL_STREAM names that pipe.
"""
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from util import harness
from util.harness import free_port, wait_port

pytestmark = pytest.mark.serving

LINE_RE = re.compile(r"^(<\d>)?\d{4}-\d\d-\d\dT[\d:.]+Z \[(\w+)\] ")
PRIO = {"error": "<3>", "warn": "<4>", "info": "<6>", "debug": "<7>"}


def run_edge(tmp_path, journal_stream, error_log=None, log_level="debug"):
    """Starts ringedge with stderr on a pipe, JOURNAL_STREAM computed from the pipe by
    journal_stream(st) (None: unset); sends a bad reload (errors) and SIGTERM. Returns the
    stderr text."""
    port = free_port()
    cfg = tmp_path / "j.ini"
    glob = "[global]\nworkers = 1\nlog_level = %s\n" % log_level
    if error_log is not None:
        glob += "error_log = %s\n" % error_log
    good = glob + ("[pool p]\nserver = 127.0.0.1:9\nsni = x.test\n"  # sni on a plain pool warns
                   "[listener l]\nbind = 127.0.0.1:%d\n"
                   "[route r]\npath = /\nredirect = https\n" % port)
    cfg.write_text(good)
    rfd, wfd = os.pipe()
    env = harness.sanitizer_env()
    env.pop("JOURNAL_STREAM", None)
    st = os.fstat(wfd)
    js = journal_stream(st)
    if js is not None:
        env["JOURNAL_STREAM"] = js
    proc = subprocess.Popen([str(harness.binary()), "-c", str(cfg)], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=wfd)
    os.close(wfd)
    chunks = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(
        lambda: os.read(rfd, 65536), b"")), daemon=True)
    reader.start()
    try:
        assert wait_port("127.0.0.1", port, 15, proc), b"".join(chunks)
        cfg.write_text(good + "[route bad]\npath = /bad\npool = nosuch\n")
        proc.send_signal(signal.SIGHUP)
        time.sleep(1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        reader.join(10)
        os.close(rfd)
    return b"".join(chunks).decode("utf-8", "replace")


def levels(text):
    """[(prefix or None, level name)] of every error-log line."""
    out = []
    for line in text.splitlines():
        m = LINE_RE.match(line)
        assert m, "not an error-log line: %r\n%s" % (line, text)
        out.append((m.group(1), m.group(2)))
    return out


def test_priority_prefix_when_stderr_is_the_journal(tmp_path):
    text = run_edge(tmp_path, lambda st: "%d:%d" % (st.st_dev, st.st_ino))
    got = levels(text)
    assert {lv for _, lv in got} >= {"error", "warn", "info"}, text
    for prefix, lv in got:
        assert prefix == PRIO[lv], (prefix, lv, text)
    # what `journalctl -p err` would show: the refused reload, nothing else
    errs = [line for line in text.splitlines() if line.startswith(("<0>", "<1>", "<2>", "<3>"))]
    assert errs and all("[error]" in e for e in errs), errs
    assert any('unknown pool "nosuch"' in e for e in errs), errs


@pytest.mark.parametrize("stream", [None, "other", "garbage"])
def test_no_prefix_when_stderr_is_not_the_journal(tmp_path, stream):
    # unset, naming another file (a shell redirected stderr after systemd set it), or junk
    js = {None: lambda st: None,
          "other": lambda st: "%d:%d" % (st.st_dev, st.st_ino + 1),
          "garbage": lambda st: "x:y"}[stream]
    got = levels(run_edge(tmp_path, js))
    assert got and all(p is None for p, _ in got), got


def test_error_log_file_has_no_prefix_and_the_journal_copy_has(tmp_path):
    # error_log = FILE: the file gets plain lines; the start-up lines copied to the journal
    # (the stderr ringedge was started with) keep their priorities
    log = tmp_path / "error.log"
    text = run_edge(tmp_path, lambda st: "%d:%d" % (st.st_dev, st.st_ino), error_log=log)
    journal = levels(text)
    assert journal and all(p == PRIO[lv] for p, lv in journal), text
    assert any("serving" in line for line in text.splitlines()), text
    filed = levels(log.read_text())
    assert all(p is None for p, _ in filed), log.read_text()
    assert any(lv == "error" for _, lv in filed), log.read_text()
