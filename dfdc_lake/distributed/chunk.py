"""Process one chunk end to end: its families through the stages, samples into shards, then the commit.

Plain Python (no Ray import): the Ray layer calls ``process_chunk`` inside a task, tests call it directly.
The commit record is the last write; if anything before it fails, the chunk's shards stay orphans
that no reader sees and that ``gc`` removes.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable

from dfdc_lake.config import Config
from dfdc_lake.distributed.plan import Chunk
from dfdc_lake.errors import StorageError
from dfdc_lake.lake.commit import CommitRecord, commit_chunk
from dfdc_lake.lake.writers import ChunkWriter
from dfdc_lake.records import Family, Outcome, OutcomeStatus
from dfdc_lake.stages.family import FamilyProcessor

__all__ = ["process_chunk"]

log = logging.getLogger(__name__)


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


def process_chunk(
    chunk: Chunk,
    lake: str,
    config: Config,
    attempt_id: str,
    processor: FamilyProcessor,
    on_family: Callable[[list[str]], None] | None = None,
) -> CommitRecord:
    """Run every family of ``chunk``, write its shards under ``attempt_id`` and commit it.

    Args:
        chunk: the planned chunk.
        lake: lake root URL (local path or ``s3://``).
        config: the run's configuration; its hash goes into every row and the record.
        attempt_id: unique per attempt, so a retried or concurrent attempt never overwrites shards.
        processor: the family processor (its detection may be remote).
        on_family: called with the outcome statuses of each finished family (progress).

    Returns:
        The commit record that was written.
    """
    started = time.perf_counter()
    timings: defaultdict[str, float] = defaultdict(float)
    outcomes: list[Outcome] = []
    with ChunkWriter.from_config(lake, chunk.chunk_id, attempt_id, config.lake) as writer:
        for family in chunk.families:
            try:
                result = processor.process(family)
            except StorageError:
                raise  # the source is unreachable: fail the chunk, a rerun redoes it
            except Exception as err:  # a bug in a stage must not lose the other families
                log.exception("family %s of chunk %s failed", family.family_id, chunk.chunk_id)
                family_outcomes = _family_failed(family, err)
            else:
                t_write = time.perf_counter()
                for sample in result.samples:
                    writer.write(sample)
                for stage, seconds in result.timings_s.items():
                    timings[stage] += seconds
                timings["write"] += time.perf_counter() - t_write
                family_outcomes = result.outcomes
            outcomes.extend(family_outcomes)
            if on_family is not None:
                on_family([outcome.status.value for outcome in family_outcomes])
    timings["total"] = time.perf_counter() - started
    # videos= the plan's list, so the record refuses to commit unless every video has one outcome.
    record = CommitRecord.build(
        chunk_id=chunk.chunk_id,
        attempt_id=attempt_id,
        config_hash=config.config_hash(),
        shards=writer.shards,
        outcomes=outcomes,
        videos=[video.filename for video in chunk.videos],
        timings_s={key: round(value, 3) for key, value in timings.items()},
    )
    commit_chunk(lake, record)
    return record
