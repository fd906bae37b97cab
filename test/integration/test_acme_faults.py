"""
ACME client faults against Debian's pebble: an unreachable directory, badNonce answers
(PEBBLE_WFE_NONCEREJECT=50), an order that goes invalid (nobody answers the challenge: logged
with the server's problem document), a wrong account key file, a state directory that cannot
be written. Each: one clear [error] line per attempt naming the cause, a retry scheduled with
a growing delay, no crash (the ACME thread is stopped cleanly and the tool exits 0), and
nothing good is destroyed (the bad account key file is left as it was).
"""
import re

import pytest

from util import acme, harness

pytestmark = pytest.mark.skipif(not acme.available(),
                                reason="pebble / pebble-challtestsrv not installed "
                                       "(apt-get install pebble)")


@pytest.fixture
def pebble(tmp_path):
    assert acme.acme_run_bin().exists(), "acme_run not built (needs libcurl + jansson)"
    p = acme.Pebble(tmp_path).start()
    yield p
    p.stop()


def run_scheduler(pebble, tmp_path, seconds=4, **kw):
    """The ACME thread for `seconds` with a 1 s first retry; returns the log after checking
    the process stopped cleanly with no sanitizer report."""
    r = acme.run_acme(pebble, tmp_path, acme.LYNC_NAMES, once=False, run_for=seconds,
                      extra=["--retry-min", "1000"], **kw)
    assert r.returncode == 0, r.stdout
    assert "stopped cleanly" in r.stdout, r.stdout
    assert harness.sanitizer_report(r.stdout.encode()) is None, r.stdout
    return r.stdout


def errors(log):
    return [l for l in log.splitlines() if "[error]" in l]


def assert_retried(log, why):
    """Every attempt failed with one error line that says `why` and schedules a retry; the
    delays double (1 s, 2 s, ...)."""
    errs = errors(log)
    assert len(errs) >= 2, log
    for e in errs:
        assert re.search(why, e), e
    delays = [int(m) for m in re.findall(r"; retry \d+ in (\d+) s$", "\n".join(errs), re.M)]
    assert len(delays) == len(errs), log
    assert delays[:2] == [1, 2], delays
    assert "certificate issued" not in log


def test_unreachable_directory(tmp_path, pebble):
    dead = "https://127.0.0.1:%d/dir" % harness.free_port()
    log = run_scheduler(pebble, tmp_path, directory=dead)
    assert_retried(log, r"acme\[edge\]: GET %s: (Couldn't|Could not|Failed to) connect"
                   % re.escape(dead))


def test_directory_stopped_between_retries(tmp_path, pebble):
    """pebble stopped: the same clear line, and nothing written to the state directory."""
    pebble.stop()
    log = run_scheduler(pebble, tmp_path)
    assert_retried(log, r"GET https://127\.0\.0\.1:\d+/dir: (Couldn't|Could not|Failed to) "
                        r"connect")
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["edge.lock"]


def test_bad_nonce_is_retried_with_the_fresh_nonce(tmp_path):
    p = acme.Pebble(tmp_path, nonce_reject=50).start()
    try:
        r = acme.run_acme(p, tmp_path, acme.LYNC_NAMES)
    finally:
        p.stop()
    assert r.returncode == 0, r.stdout
    # with 50 % of nonces rejected over ~25 signed requests, badNonce is certain in practice
    # (0.5^25); each is retried, never reported as a failure
    assert "badNonce, retrying with the fresh nonce" in r.stdout, r.stdout
    assert errors(r.stdout) == []
    assert (tmp_path / "state" / "edge.crt").exists()


def test_invalid_order_logs_problem_document(tmp_path, pebble):
    log = run_scheduler(pebble, tmp_path, respond=False)
    assert_retried(log, r"order https://\S+ is invalid: authorization for \S+\.example\.test "
                        r"is invalid: \{.*\"type\":\"urn:ietf:params:acme:error:\w+\"")
    assert '"detail":' in errors(log)[0]


def test_wrong_account_key_file(tmp_path, pebble):
    bad = tmp_path / "account.key"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnot a key\n-----END CERTIFICATE-----\n")
    before = bad.read_bytes()
    log = run_scheduler(pebble, tmp_path)
    assert_retried(log, r"account key %s: not a PEM EC P-256 or RSA private key"
                   % re.escape(str(bad)))
    assert bad.read_bytes() == before   # never replaced by a new key
    assert "sign-me-up" not in pebble.log_path.read_text()   # server never contacted


def test_state_directory_not_writable(tmp_path, pebble):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be\n")
    state = blocker / "acme"
    log = run_scheduler(pebble, tmp_path, state=state)
    assert_retried(log, r"state directory %s: cannot create: Not a directory"
                   % re.escape(str(state)))
    # checked before anything is asked of the server
    assert "new-order" not in pebble.log_path.read_text()
    assert "order-plz" not in pebble.log_path.read_text()
