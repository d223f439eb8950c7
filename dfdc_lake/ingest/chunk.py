"""A chunk's work in plain Python (no Ray import): family groups through the stages into shards, then the
commit record.

A chunk is the unit of commit; its families are split into *family groups* (consecutive families of
at least ``ray.min_videos_per_task`` videos) that run as parallel tasks. Each try of a group writes
its own shards under ``chunks/<chunk>/<attempt>/f<NNN>-<try>/`` (``NNN``: the chunk index of its first
family; ``try``: 8 random hex digits), so groups, and a retried group and its dead try, never share a
file. :func:`commit_chunk_attempt` then names every group's shards in one commit record, written last.
If any group fails, nothing is committed: the shards written so far stay orphans that no reader sees
and that ``gc`` removes.

The Ray layer runs :func:`process_family_group` inside a task and commits on the driver; tests and
callers without Ray use :func:`process_chunk`, which does both in-process.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from dfdc_lake.config import Config
from dfdc_lake.errors import StorageError
from dfdc_lake.ingest.fault_points import hold_if_armed
from dfdc_lake.lake.commit import CommitRecord
from dfdc_lake.lake.lake import Lake
from dfdc_lake.lake.lock import LakeLock
from dfdc_lake.lake.shard import ShardInfo
from dfdc_lake.plan.chunks import Chunk, FamilyGroup, family_groups
from dfdc_lake.records import Family, Outcome, OutcomeStatus
from dfdc_lake.stages.family import FamilyProcessor

__all__ = [
    "GroupResult",
    "ProgressSink",
    "commit_chunk_attempt",
    "process_chunk",
    "process_family_group",
]

log = logging.getLogger(__name__)


@dataclass
class GroupResult:
    """What a family-group task hands back to the driver: small (no samples, only shard metadata)."""

    chunk_id: str
    first_family: int
    shards: list[ShardInfo]
    outcomes: list[Outcome]
    timings_s: dict[str, float]  # seconds per stage summed over the group's videos, plus write and total
    started_unix: float  # wall-clock span of the task, to tell how parallel a chunk's groups ran
    finished_unix: float


def _family_failed(family: Family, err: Exception) -> list[Outcome]:
    """Outcomes for a family whose processing raised (a bug, not bad input): the chunk still commits."""
    reason = f"{type(err).__name__}: {err}"
    return [
        Outcome(
            video_id=video.video_id,
            filename=video.filename,
            part=video.part,
            family_id=family.family_id,
            label=video.label,
            status=OutcomeStatus.ERROR,
            reason=reason,
        )
        for video in family.videos
    ]


class ProgressSink(Protocol):
    """Where a family group reports progress: each video as it finishes, then its family's final
    statuses (which replace that family's video reports: a family that fails as a whole is all errors)."""

    def video_done(self, family_id: str, status: str) -> None: ...

    def family_done(self, family_id: str, statuses: list[str]) -> None: ...


def process_family_group(
    group: FamilyGroup,
    lake: Lake,
    config: Config,
    attempt_id: str,
    processor: FamilyProcessor,
    progress: ProgressSink | None = None,
) -> GroupResult:
    """Run the families of ``group`` and publish their shards (not the commit record).

    Args:
        group: the families and the chunk they belong to.
        lake: the lake.
        config: the run's configuration; its hash goes into every row.
        attempt_id: the chunk attempt's id (every group of an attempt shares it).
        processor: the family processor (its detection may be remote).
        progress: told of each finished video and each finished family.

    Raises:
        StorageError: the source or the lake stayed unreachable; the chunk must not commit.
    """
    started_unix, started = time.time(), time.perf_counter()
    subdir = group.shard_subdir(secrets.token_hex(4))
    timings: defaultdict[str, float] = defaultdict(float)
    outcomes: list[Outcome] = []
    with lake.chunk_writer(group.chunk_id, attempt_id, config.lake, subdir) as writer:
        for family in group.families:
            try:
                result = processor.process(family, _video_hook(progress, family.family_id))
            except StorageError:
                raise  # the source is unreachable: fail the chunk, a rerun redoes it
            except Exception as err:  # a bug in a stage must not lose the other families
                log.exception("family %s of chunk %s failed", family.family_id, group.chunk_id)
                family_outcomes = _family_failed(family, err)
            else:
                t_write = time.perf_counter()
                for sample in result.samples:
                    writer.write(sample)
                for stage, seconds in result.timings_s.items():
                    timings[stage] += seconds
                timings["write"] += time.perf_counter() - t_write
                hold_if_armed("write")  # off unless the node-loss test turned fault points on here
                family_outcomes = result.outcomes
            outcomes.extend(family_outcomes)
            if progress is not None:
                progress.family_done(family.family_id, [outcome.status.value for outcome in family_outcomes])
    timings["total"] = time.perf_counter() - started
    return GroupResult(
        group.chunk_id, group.first_family, writer.shards, outcomes, dict(timings), started_unix, time.time()
    )


def _video_hook(progress: ProgressSink | None, family_id: str) -> Callable[[Outcome], None] | None:
    if progress is None:
        return None
    return lambda outcome: progress.video_done(family_id, outcome.status.value)


def _chunk_timings(results: Sequence[GroupResult]) -> dict[str, float]:
    """Stage seconds and ``total`` (task seconds) summed over the groups; ``wall`` from the first group's
    start to the last one's end. ``total / wall`` is how many groups ran at once on average."""
    timings: defaultdict[str, float] = defaultdict(float)
    for result in results:
        for key, seconds in result.timings_s.items():
            timings[key] += seconds
    if results:
        timings["wall"] = max(r.finished_unix for r in results) - min(r.started_unix for r in results)
    return {key: round(value, 3) for key, value in timings.items()}


def commit_chunk_attempt(
    chunk: Chunk,
    attempt_id: str,
    results: Sequence[GroupResult],
    lake: Lake,
    config: Config,
    lock: LakeLock | None = None,
) -> CommitRecord:
    """Commit one attempt of ``chunk`` from the results of all its family groups.

    Raises:
        LakeCommitError: the groups do not account for every video of the chunk exactly once, a shard
            is missing, or the record could not be written.
        LakeLockedError: ``lock`` is no longer held by this run.
    """
    ordered = sorted(results, key=lambda result: result.first_family)
    # videos= the plan's list, so the record refuses to commit unless every video has one outcome.
    record = CommitRecord.build(
        chunk_id=chunk.chunk_id,
        attempt_id=attempt_id,
        config_hash=config.config_hash(),
        shards=[shard for result in ordered for shard in result.shards],
        outcomes=[outcome for result in ordered for outcome in result.outcomes],
        videos=[video.filename for video in chunk.videos],
        timings_s=_chunk_timings(ordered),
    )
    lake.commit_chunk(record, lock)
    return record


def process_chunk(
    chunk: Chunk,
    lake: Lake,
    config: Config,
    attempt_id: str,
    processor: FamilyProcessor,
    progress: ProgressSink | None = None,
) -> CommitRecord:
    """Run every family group of ``chunk`` one after the other in this process, then commit it.

    Args:
        chunk: the planned chunk.
        lake: the lake.
        config: the run's configuration (``ray.min_videos_per_task`` sets the groups, as on Ray).
        attempt_id: unique per attempt, so a retried or concurrent attempt never overwrites shards.
        processor: the family processor.
        progress: told of each finished video and each finished family.

    Returns:
        The commit record that was written.
    """
    results = [
        process_family_group(group, lake, config, attempt_id, processor, progress)
        for group in family_groups(chunk, config.ray.min_videos_per_task)
    ]
    return commit_chunk_attempt(chunk, attempt_id, results, lake, config)
