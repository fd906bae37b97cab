"""
ACME with a state directory shared by several instances (docs/acme.md "Several instances"):
the instance holding STATE_DIR/NAME.lock renews, the others do not order anything and pick
the lock holder's new files up. The "other instance" here is the test itself holding the
flock, then dropping a certificate into the directory, so the behaviour is deterministic.
"""
import fcntl
import shutil
import threading
import time

import pytest

from util import acme

pytestmark = pytest.mark.skipif(not acme.available(),
                                reason="pebble / pebble-challtestsrv not installed "
                                       "(apt-get install pebble)")


@pytest.fixture
def pebble(tmp_path):
    assert acme.acme_run_bin().exists(), "acme_run not built (needs libcurl + jansson)"
    p = acme.Pebble(tmp_path).start()
    yield p
    p.stop()


def test_lock_holder_renews_others_pick_up(tmp_path, pebble):
    # a certificate issued earlier (by "the other instance"), kept aside
    first = tmp_path / "first"
    r = acme.run_acme(pebble, first, acme.LYNC_NAMES[:2], state=first / "state",
                      account_key=first / "account.key")
    assert r.returncode == 0, r.stdout

    shared = tmp_path / "shared"
    shared.mkdir()
    lock = open(shared / "edge.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)     # the other instance is renewing
    orders_before = pebble.log_path.read_text().count("POST /order-plz")

    def drop_files():
        # the lock holder finishes: key then certificate, as acme.c writes them
        time.sleep(2.5)
        shutil.copy(first / "state" / "edge.key", shared / ".edge.key.tmp")
        (shared / ".edge.key.tmp").rename(shared / "edge.key")
        shutil.copy(first / "state" / "edge.crt", shared / ".edge.crt.tmp")
        (shared / ".edge.crt.tmp").rename(shared / "edge.crt")

    t = threading.Thread(target=drop_files)
    t.start()
    try:
        r = acme.run_acme(pebble, tmp_path, acme.LYNC_NAMES[:2], once=False, run_for=5,
                          state=shared, extra=["--retry-min", "1000"])
    finally:
        t.join()
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
    assert r.returncode == 0, r.stdout
    assert "stopped cleanly" in r.stdout
    assert "edge.lock is locked by another instance, which renews" in r.stdout, r.stdout
    assert "picked up a new certificate in %s" % shared in r.stdout, r.stdout
    assert "renewal scheduled at" in r.stdout
    assert "[error]" not in r.stdout, r.stdout
    # it ordered nothing while the lock was held
    assert pebble.log_path.read_text().count("POST /order-plz") == orders_before
    # and it did not touch the files it picked up
    assert (shared / "edge.crt").read_bytes() == (first / "state" / "edge.crt").read_bytes()


def test_lock_free_means_this_instance_renews(tmp_path, pebble):
    """The lock file exists but nobody holds it: this instance takes it and issues."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "edge.lock").write_text("")
    r = acme.run_acme(pebble, tmp_path, acme.LYNC_NAMES[:1], state=state)
    assert r.returncode == 0, r.stdout
    assert (state / "edge.crt").exists()
