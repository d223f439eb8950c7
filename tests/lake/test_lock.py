"""The lake lock: one holder at a time, waiting with a timeout, stale locks taken over."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from dfdc_lake.errors import LakeLockedError
from dfdc_lake.lake.lake import Lake
from dfdc_lake.lake.lock import LOCK_PATH, LakeLock, LockInfo, read_lock
from dfdc_lake.lake.storage import Storage
from dfdc_lake.lake.verify import gc_lake

_HOLD_SCRIPT = """
import sys, time
from dfdc_lake.lake.lock import LakeLock
from dfdc_lake.lake.lake import Lake
lock = Lake.open(sys.argv[1]).lock("subprocess-run", heartbeat_s=0).acquire()
print("held", flush=True)
time.sleep(120)
"""


def write_lock(storage: Storage, *, host: str, pid: int, age_s: float, owner: str = "old-run") -> None:
    now = time.time() - age_s
    info = LockInfo(owner, host, pid, "t0k3n", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", now)
    storage.write_bytes(LOCK_PATH, info.to_json())


def test_second_holder_raises_naming_the_holder(storage: Storage) -> None:
    with LakeLock(storage, owner="run-A", heartbeat_s=0):
        with pytest.raises(LakeLockedError, match="run-A") as err:
            LakeLock(storage, owner="run-B").acquire()
        assert socket.gethostname() in str(err.value) and str(os.getpid()) in str(err.value)
    assert read_lock(storage) is None  # released
    with LakeLock(storage, owner="run-B", heartbeat_s=0):
        assert read_lock(storage).owner == "run-B"  # type: ignore[union-attr]


def test_second_holder_waits_for_release(storage: Storage) -> None:
    first = LakeLock(storage, owner="run-A", heartbeat_s=0).acquire()
    timer = threading.Timer(1.0, first.release)
    timer.start()
    started = time.monotonic()
    with LakeLock(storage, owner="run-B", timeout_s=20, poll_s=0.2, heartbeat_s=0):
        waited = time.monotonic() - started
        assert read_lock(storage).owner == "run-B"  # type: ignore[union-attr]
    timer.join()
    assert 0.8 < waited < 15


def test_waiting_times_out(storage: Storage) -> None:
    with LakeLock(storage, owner="run-A", heartbeat_s=0):
        started = time.monotonic()
        with pytest.raises(LakeLockedError, match="run-A"):
            LakeLock(storage, owner="run-B", timeout_s=1.0, poll_s=0.2).acquire()
        assert 0.9 < time.monotonic() - started < 10


def test_stale_heartbeat_is_taken_over(storage: Storage) -> None:
    write_lock(storage, host="another-host", pid=1, age_s=3600)
    with LakeLock(storage, owner="run-B", heartbeat_s=0):
        assert read_lock(storage).owner == "run-B"  # type: ignore[union-attr]
    write_lock(storage, host="another-host", pid=1, age_s=5)  # fresh on another host: live
    with pytest.raises(LakeLockedError, match="old-run"):
        LakeLock(storage, owner="run-C").acquire()


def test_a_killed_holder_on_this_host_is_taken_over(storage: Storage, lake_url: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_SCRIPT, lake_url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LakeLockedError, match="subprocess-run"):
            LakeLock(storage, owner="run-B").acquire()
    finally:
        holder.kill()
        holder.wait()
    info = read_lock(storage)
    assert info is not None and info.pid == holder.pid  # the dead run's lock is still there...
    with LakeLock(storage, owner="run-B", heartbeat_s=0):  # ...and is taken over: its pid is dead
        assert read_lock(storage).owner == "run-B"  # type: ignore[union-attr]


def test_a_holder_notices_it_lost_the_lock(storage: Storage) -> None:
    first = LakeLock(storage, owner="run-A", heartbeat_s=0).acquire()
    time.sleep(0.05)
    second = LakeLock(
        storage, owner="run-B", stale_after_s=0.01, heartbeat_s=0
    ).acquire()  # A looks stale to B
    with pytest.raises(LakeLockedError, match="taken over"):
        first.heartbeat()
    with pytest.raises(LakeLockedError):
        first.check()
    first.release()  # must not remove B's lock
    assert read_lock(storage).owner == "run-B"  # type: ignore[union-attr]
    second.check()
    second.release()


def test_heartbeat_thread_refreshes_the_lock(storage: Storage) -> None:
    with LakeLock(storage, owner="run-A", heartbeat_s=0.2) as lock:
        before = read_lock(storage).heartbeat_unix  # type: ignore[union-attr]
        time.sleep(0.9)
        after = read_lock(storage).heartbeat_unix  # type: ignore[union-attr]
        assert after > before
        lock.check()


def test_gc_does_not_delete_while_a_live_run_holds_the_lock(storage: Storage) -> None:
    with LakeLock(storage, owner="ingest-run", heartbeat_s=0):
        assert gc_lake(Lake(storage), dry_run=True) == []
        with pytest.raises(LakeLockedError, match="ingest-run"):
            gc_lake(Lake(storage), dry_run=False)
    assert gc_lake(Lake(storage), dry_run=False) == []


@pytest.mark.s3
def test_seaweedfs_enforces_conditional_writes(s3_lake_url: str) -> None:
    """What the lock relies on, checked against the real server (no check-then-write fallback used)."""
    from dfdc_lake.lake.lake import open_storage

    storage = open_storage(s3_lake_url)
    assert storage.put_if_absent("x.json", b"1")
    assert not storage.put_if_absent("x.json", b"2")
    data, version = storage.read_versioned("x.json")  # type: ignore[misc]
    assert data == b"1"
    assert storage.put_if_version("x.json", b"3", version)
    assert not storage.put_if_version("x.json", b"4", version)
    assert not storage.delete_if_version("x.json", version)
    assert storage.read_bytes("x.json") == b"3"
    assert storage._conditional_supported  # type: ignore[attr-defined]
