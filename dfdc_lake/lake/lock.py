"""The lake lock (``_lock.json``): one ingest (or gc) at a time per lake.

Acquire is a conditional create (``If-None-Match: *`` on S3, ``link()`` locally). The holder rewrites
the lock with a fresh heartbeat every ``heartbeat_s`` as a conditional replace on the version it last
wrote (``If-Match``), so a holder that lost its lock finds out. A lock is stale when its heartbeat is
older than ``stale_after_s`` or its process is dead on this host; a stale lock is taken over with a
conditional replace on the version that was judged stale, so two contenders cannot both win.
Heartbeat ages compare the holder's clock with ours: hosts are assumed to agree within minutes.
On an S3 server without conditional writes the storage falls back to check-then-write (see
``s3_storage``); then two runs starting in the same instant could both believe they hold the lock.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import asdict, dataclass
from types import TracebackType

from dfdc_lake.errors import LakeLockedError, StorageError
from dfdc_lake.lake.runs import utc_now_iso
from dfdc_lake.lake.storage import Storage

__all__ = ["DEFAULT_STALE_AFTER_S", "LOCK_PATH", "LakeLock", "LockInfo", "lock_is_stale", "read_lock"]

log = logging.getLogger(__name__)
LOCK_PATH = "_lock.json"
DEFAULT_STALE_AFTER_S = 600.0


@dataclass(frozen=True)
class LockInfo:
    """What ``_lock.json`` says about its holder."""

    owner: str
    host: str
    pid: int
    token: str
    acquired_at: str
    heartbeat_at: str
    heartbeat_unix: float

    def describe(self) -> str:
        """``owner`` (pid, host, last heartbeat) for messages."""
        return f"{self.owner!r} (pid {self.pid} on {self.host}, last heartbeat {self.heartbeat_at})"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1).encode()


_UNKNOWN_HOLDER = LockInfo(
    owner="unknown", host="?", pid=0, token="", acquired_at="", heartbeat_at="?", heartbeat_unix=0.0
)


def _parse(data: bytes) -> LockInfo | None:
    try:
        return LockInfo(**json.loads(data))
    except (ValueError, TypeError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_is_stale(info: LockInfo | None, stale_after_s: float = DEFAULT_STALE_AFTER_S) -> bool:
    """Whether a lock may be taken over: unreadable, heartbeat too old, or its process dead on this host."""
    if info is None:
        return True
    if time.time() - info.heartbeat_unix > stale_after_s:
        return True
    return info.host == socket.gethostname() and not _pid_alive(info.pid)


def read_lock(storage: Storage) -> LockInfo | None:
    """The current lock holder, or None when the lake is not locked (an unreadable lock reads as None)."""
    found = storage.read_versioned(LOCK_PATH)
    return None if found is None else _parse(found[0])


class LakeLock:
    """Hold a lake's lock: ``with lake.lock(owner=run_id, timeout_s=60): ...``.

    Args:
        storage: the lake's storage.
        owner: who holds it (a run id, "gc"); shown to whoever waits.
        timeout_s: how long to wait for a live holder before raising LakeLockedError (0: do not wait).
        stale_after_s: heartbeat age after which a lock is taken over.
        heartbeat_s: seconds between heartbeats (default ``stale_after_s / 4``); 0 disables the thread.
        poll_s: seconds between tries while waiting.
    """

    def __init__(
        self,
        storage: Storage,
        owner: str,
        *,
        timeout_s: float = 0.0,
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        heartbeat_s: float | None = None,
        poll_s: float = 2.0,
    ) -> None:
        if stale_after_s <= 0 or timeout_s < 0:
            raise ValueError("stale_after_s must be > 0 and timeout_s >= 0")
        self.storage = storage
        self.owner, self.timeout_s, self.stale_after_s, self.poll_s = owner, timeout_s, stale_after_s, poll_s
        self.heartbeat_s = stale_after_s / 4 if heartbeat_s is None else heartbeat_s
        self.token = secrets.token_hex(8)
        self._acquired_at = ""
        self._version: str | None = None
        self._lost = False
        self._stop = threading.Event()
        self._mutex = threading.Lock()  # the heartbeat thread and the caller share _version
        self._thread: threading.Thread | None = None

    @property
    def held(self) -> bool:
        return self._version is not None and not self._lost

    def _payload(self) -> bytes:
        info = LockInfo(
            owner=self.owner,
            host=socket.gethostname(),
            pid=os.getpid(),
            token=self.token,
            acquired_at=self._acquired_at,
            heartbeat_at=utc_now_iso(),
            heartbeat_unix=time.time(),
        )
        return info.to_json()

    def _confirm(self) -> bool:
        """Read the lock back: is it ours? (Also learns the version to heartbeat against.)"""
        found = self.storage.read_versioned(LOCK_PATH)
        info = None if found is None else _parse(found[0])
        if found is None or info is None or info.token != self.token:
            return False
        self._version = found[1]
        return True

    def _try_acquire(self) -> LockInfo | None:
        """One try. Returns None when acquired, else the live holder."""
        self._acquired_at = utc_now_iso()
        found = None
        for _ in range(5):  # a lock released between our create and our read: try the create again
            if self.storage.put_if_absent(LOCK_PATH, self._payload()) and self._confirm():
                return None
            if (found := self.storage.read_versioned(LOCK_PATH)) is not None:
                break
        if found is None:
            return _UNKNOWN_HOLDER
        holder, version = _parse(found[0]), found[1]
        if holder is not None and holder.token == self.token:  # our own earlier try landed after all
            self._version = version
            return None
        if lock_is_stale(holder, self.stale_after_s):
            what = holder.describe() if holder else "an unreadable lock"
            if self.storage.put_if_version(LOCK_PATH, self._payload(), version) and self._confirm():
                log.warning("took over the stale lock of %s on %s", what, self.storage.root)
                return None
            holder = read_lock(self.storage)
        return holder or _UNKNOWN_HOLDER

    def acquire(self) -> LakeLock:
        """Take the lock, waiting up to ``timeout_s`` for a live holder; LakeLockedError names the holder."""
        deadline = time.monotonic() + self.timeout_s
        while (holder := self._try_acquire()) is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LakeLockedError(
                    f"lake {self.storage.root} is locked by {holder.describe()}; wait for it to finish, or "
                    f"if it died the lock is taken over once its heartbeat is {self.stale_after_s:.0f}s old"
                )
            time.sleep(min(self.poll_s, remaining))
        self._lost = False
        if self.heartbeat_s > 0:
            self._stop.clear()
            self._thread = threading.Thread(target=self._beat, name=f"lake-lock-{self.owner}", daemon=True)
            self._thread.start()
        return self

    def heartbeat(self) -> None:
        """Refresh the heartbeat; LakeLockedError if the lock was taken over meanwhile."""
        with self._mutex:
            if self._version is None or self._lost:
                raise LakeLockedError(f"lock on {self.storage.root} is not held by {self.owner!r}")
            if not (
                self.storage.put_if_version(LOCK_PATH, self._payload(), self._version) and self._confirm()
            ):
                self._lost = True
                raise LakeLockedError(f"lock on {self.storage.root} was taken over from {self.owner!r}")

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                self.heartbeat()
            except LakeLockedError as err:
                log.error("%s", err)
                return
            except StorageError as err:  # an outage: keep trying; staleness needs many missed beats
                log.warning("lock heartbeat failed: %s", err)

    def check(self) -> None:
        """Raise LakeLockedError unless the lake's lock is still ours (reads it)."""
        with self._mutex:
            if self._version is not None and not self._lost and self._confirm():
                return
            self._lost = True
            raise LakeLockedError(f"lock on {self.storage.root} is no longer held by {self.owner!r}")

    def release(self) -> None:
        """Stop the heartbeat and remove the lock if it is still ours."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        with self._mutex:
            if self._version is not None and not self._lost:
                self.storage.delete_if_version(LOCK_PATH, self._version)
            self._version = None

    def __enter__(self) -> LakeLock:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
