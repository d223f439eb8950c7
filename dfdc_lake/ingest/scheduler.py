"""Which family-group task runs next, and when a chunk commits.

Chunks are taken in plan order and split into family groups (``chunk.family_groups``); a chunk's tasks
are started largest estimated cost first (``chunk.largest_first``), so its longest task does not start
last and leave the other slots idle at its end. At most ``max_tasks`` run at once, so every CPU works
whether the source has one chunk or thousands, and chunks finish (and commit) roughly in plan order. A
chunk commits on the driver as soon as its last group is done; if one group fails after Ray's retries,
the chunk is reported failed at once, its remaining groups are not started, and it stays uncommitted
for a rerun.

:class:`FamilyTaskQueue` is the bookkeeping (plain Python); :func:`run_family_tasks` drives it with Ray.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from dfdc_lake.config import Config
from dfdc_lake.errors import LakeCommitError, NoSpaceError, StorageError
from dfdc_lake.ingest.chunk import (
    GroupResult,
    commit_chunk_attempt,
)
from dfdc_lake.ingest.progress import ProgressTracker
from dfdc_lake.lake.commit import new_attempt_id
from dfdc_lake.lake.lake import Lake
from dfdc_lake.lake.lock import LakeLock
from dfdc_lake.plan.chunks import Chunk, FamilyGroup, family_groups, largest_first

__all__ = ["ChunkAttempt", "FamilyTaskQueue", "run_family_tasks"]

log = logging.getLogger(__name__)


@dataclass
class ChunkAttempt:
    """One chunk being processed: its groups, the results so far, and whether it has failed."""

    chunk: Chunk
    attempt_id: str
    groups: list[FamilyGroup]  # in the order they start (``largest_first``)
    results: list[GroupResult] = field(default_factory=list)  # in the order they finished
    started: int = 0  # groups whose task was started: ``groups[:started]``
    error: str | None = None

    @property
    def chunk_id(self) -> str:
        return self.chunk.chunk_id


class FamilyTaskQueue:
    """Hands out family-group tasks, chunk after chunk and each chunk's largest first, under two limits,
    and says when a chunk is whole.

    Args:
        chunks: the chunks to process, in plan order.
        min_videos_per_task: how families are grouped (``ray.min_videos_per_task``).
        max_tasks: tasks running at once.
        max_chunks: chunks open at once (started, neither committed nor failed); 0 = no limit.
        new_attempt: makes a chunk attempt id.
    """

    def __init__(
        self,
        chunks: Sequence[Chunk],
        min_videos_per_task: int,
        max_tasks: int,
        max_chunks: int = 0,
        new_attempt: Callable[[], str] = new_attempt_id,
    ) -> None:
        if max_tasks < 1 or max_chunks < 0:
            raise ValueError(f"max_tasks must be >= 1 and max_chunks >= 0, got {max_tasks}, {max_chunks}")
        self._waiting = deque(chunks)
        self._min_videos = min_videos_per_task
        self._new_attempt = new_attempt
        self.max_tasks, self.max_chunks = max_tasks, max_chunks
        self.open: list[ChunkAttempt] = []
        self.running = 0  # tasks started and not yet finished (those of failed chunks included)

    @property
    def has_work(self) -> bool:
        """Whether a task is still to be started."""
        return bool(self._waiting) or any(a.started < len(a.groups) for a in self.open)

    def take(self) -> list[tuple[ChunkAttempt, FamilyGroup]]:
        """The tasks to start now (marked running): chunk after chunk, each chunk's largest first."""
        started: list[tuple[ChunkAttempt, FamilyGroup]] = []
        while self.running < self.max_tasks:
            attempt = next((a for a in self.open if a.started < len(a.groups)), None)
            if attempt is None:
                if not self._waiting or 0 < self.max_chunks <= len(self.open):
                    break
                chunk = self._waiting.popleft()
                groups = largest_first(family_groups(chunk, self._min_videos))
                attempt = ChunkAttempt(chunk, self._new_attempt(), groups)
                self.open.append(attempt)
            started.append((attempt, attempt.groups[attempt.started]))
            attempt.started += 1
            self.running += 1
        return started

    def done(self, attempt: ChunkAttempt, result: GroupResult) -> bool:
        """Record a finished group; True when it was the chunk's last one (commit it now)."""
        self.running -= 1
        if attempt.error is not None:
            return False  # the chunk failed already: this group's shards stay orphans
        attempt.results.append(result)
        if len(attempt.results) < len(attempt.groups):
            return False
        self.open.remove(attempt)
        return True

    def failed(self, attempt: ChunkAttempt, reason: str) -> bool:
        """Record a failed group; True the first time the chunk fails (report it now)."""
        self.running -= 1
        return self.abandon(attempt, reason)

    def abandon(self, attempt: ChunkAttempt, reason: str) -> bool:
        """Give up on a chunk (its unstarted groups are dropped); True if it was not failed already."""
        if attempt.error is not None:
            return False
        attempt.error = reason
        if attempt in self.open:
            self.open.remove(attempt)
        return True


def _error_text(err: BaseException) -> str:
    return f"{type(err).__name__}: {str(err)[:500]}"


def _out_of_space(err: BaseException, lake: Lake, chunk_id: str) -> NoSpaceError:
    """The run-stopping error for a full lake disk, from a task's error (Ray's carries it as ``cause``)
    or the driver's own."""
    cause = getattr(err, "cause", None) or err
    return NoSpaceError(
        f"the lake {lake.url} is out of space (chunk {chunk_id} stopped): {cause}; the chunks committed "
        "so far stay, and nothing of the others is committed: free some space, then rerun the same "
        "command to go on"
    )


def _settle(
    ref: Any, attempt: ChunkAttempt, queue: FamilyTaskQueue, lake: Lake, config: Config, lock: LakeLock
) -> tuple[str, str | None] | None:
    """Account for one finished task; ``(chunk_id, error or None)`` once its chunk is settled."""
    import ray

    try:
        result = ray.get(ref)
    except Exception as err:  # retries exhausted, or the task raised: the chunk stays uncommitted
        if isinstance(err, NoSpaceError) or isinstance(getattr(err, "cause", None), NoSpaceError):
            raise _out_of_space(err, lake, attempt.chunk_id) from err  # every next chunk would fail too
        return (attempt.chunk_id, _error_text(err)) if queue.failed(attempt, _error_text(err)) else None
    if not queue.done(attempt, result):
        return None
    try:
        commit_chunk_attempt(attempt.chunk, attempt.attempt_id, attempt.results, lake, config, lock)
    except NoSpaceError as err:
        raise _out_of_space(err, lake, attempt.chunk_id) from err
    except (LakeCommitError, StorageError) as err:  # a lost lock (LakeLockedError) stops the run instead
        queue.abandon(attempt, _error_text(err))
        return attempt.chunk_id, _error_text(err)
    return attempt.chunk_id, None


def run_family_tasks(
    todo: Sequence[Chunk],
    lake: Lake,
    config: Config,
    lock: LakeLock,
    tracker: ProgressTracker,
    max_tasks: int,
    lock_check_s: float = 30.0,
) -> Iterator[tuple[str, str | None]]:
    """Process ``todo`` as family-group Ray tasks and commit each chunk from the driver.

    ``lock`` is checked before every commit and every ``lock_check_s``; a lost lock raises
    ``LakeLockedError`` (the run stops, nothing more is committed).

    Yields:
        ``(chunk_id, None)`` when a chunk is committed, ``(chunk_id, reason)`` when it failed.
    """
    import ray

    from dfdc_lake.ingest.actors import FamilyTasks

    tasks = FamilyTasks(lake, config)
    queue = FamilyTaskQueue(todo, config.ray.min_videos_per_task, max_tasks, config.ray.chunks_in_flight)
    log.info("ingest: %d chunks, %d family tasks at a time, %d detection actors",
             len(todo), max_tasks, len(tasks.pool.actors))  # fmt: skip
    running: dict[Any, ChunkAttempt] = {}
    last_check = tracker.started_at = time.monotonic()  # the rate counts processing, not cluster start
    try:
        while queue.has_work or running:
            for attempt, group in queue.take():
                running[tasks.submit(group, attempt.attempt_id)] = attempt
            done, _ = ray.wait(list(running), num_returns=1, timeout=tracker.poll_interval_s)
            for ref in done:
                settled = _settle(ref, running.pop(ref), queue, lake, config, lock)
                if settled is not None:
                    if settled[1] is not None:
                        log.error("chunk %s failed and stays uncommitted: %s", *settled)
                    yield settled
            tracker.by_status.clear()
            tracker.record_counts(tasks.progress_counts())
            tracker.maybe_print()
            if time.monotonic() - last_check > lock_check_s:
                lock.check()  # raises if another run took the lock over: stop committing
                last_check = time.monotonic()
    finally:
        _stop_tasks(list(running))  # a run stopped early (a full disk, a lost lock): stop their writes
        tasks.close()


# How long a stopped run's tasks get to unwind (their shard writers drop their staging files) before
# they are killed; a killed task leaves its staging file for `gc`.
STOP_GRACE_S = 10.0


def _stop_tasks(refs: list[Any], grace_s: float = STOP_GRACE_S) -> None:
    """Interrupt ``refs`` (KeyboardInterrupt in the task), wait up to ``grace_s``, then kill the rest."""
    if not refs:
        return
    import ray

    for ref in refs:
        ray.cancel(ref, force=False)
    _, left = ray.wait(refs, num_returns=len(refs), timeout=grace_s)
    for ref in left:
        ray.cancel(ref, force=True)
