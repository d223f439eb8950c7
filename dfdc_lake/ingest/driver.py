"""The ingest driver: catalog -> chunk plan -> Ray chunk tasks -> commit records, resumable per chunk.

A rerun with the same config skips every committed chunk; ``redo`` or a changed config reprocesses.
The driver holds the lake lock for the whole run, so two runs on one lake never interleave commits.
"""

from __future__ import annotations

import logging
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import TextIO

from dfdc_lake.config import Config
from dfdc_lake.errors import ConfigError
from dfdc_lake.ingest.progress import ProgressTracker
from dfdc_lake.lake.lake import Lake
from dfdc_lake.lake.lock import LakeLock
from dfdc_lake.lake.runs import PlannedChunk, RunPlan, RunRecord, SourceCounts, utc_now_iso
from dfdc_lake.plan.chunks import Chunk, plan_chunks
from dfdc_lake.plan.counts import format_summary, summarize_plan
from dfdc_lake.ray_cluster import connect_ray
from dfdc_lake.source.catalog import load_catalog
from dfdc_lake.units import format_duration

__all__ = ["IngestReport", "ingest"]

log = logging.getLogger(__name__)

LOCK_CHECK_INTERVAL_S = 30.0


@dataclass
class IngestReport:
    run_id: str
    total_chunks: int
    skipped_chunks: list[str]
    committed_chunks: list[str] = field(default_factory=list)
    failed_chunks: dict[str, str] = field(default_factory=dict)
    total_videos: int = 0
    outcomes_by_status: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    processing_s: float = 0.0  # from the first chunk submitted to the last one finished

    @property
    def ok(self) -> bool:
        return not self.failed_chunks


def _select_chunks(chunks: list[Chunk], committed: set[str], redo: list[str]) -> list[Chunk]:
    known = {chunk.chunk_id for chunk in chunks}
    unknown = sorted(set(redo) - known)
    if unknown:
        raise ConfigError(f"--redo names chunks that are not in the plan: {', '.join(unknown)}")
    skip = committed - set(redo)
    return [chunk for chunk in chunks if chunk.chunk_id not in skip]


def _in_flight_limit(config: Config) -> int:
    """Family tasks running at once: ``ray.tasks_in_flight``, else one per CPU slot of a decoder."""
    import ray

    if config.ray.tasks_in_flight > 0:
        return config.ray.tasks_in_flight
    cpus = float(ray.cluster_resources().get("CPU", 1.0))
    return max(1, int(cpus // config.ray.cpus_per_decoder))


def _run_chunks(
    todo: list[Chunk],
    lake: Lake,
    config: Config,
    tracker: ProgressTracker,
    lock: LakeLock,
    report: IngestReport,
) -> None:
    """Run the chunks' families as parallel Ray tasks; the driver commits each chunk once it is whole."""
    from dfdc_lake.ingest.scheduler import run_family_tasks

    limit = _in_flight_limit(config)
    settled = run_family_tasks(todo, lake, config, lock, tracker, limit, LOCK_CHECK_INTERVAL_S)
    for chunk_id, error in settled:
        if error is None:
            report.committed_chunks.append(chunk_id)
        else:  # the chunk stays uncommitted; a rerun redoes it
            report.failed_chunks[chunk_id] = error


def _run_record(
    run_id: str,
    source: str,
    config: Config,
    chunks: list[Chunk],
    todo: list[Chunk],
    source_counts: SourceCounts | None = None,
) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        source=source,
        config=config,
        config_hash=config.config_hash(),
        plan=RunPlan(
            videos_per_chunk=config.lake.videos_per_chunk,
            chunks=[PlannedChunk(chunk_id=c.chunk_id, videos=[v.filename for v in c.videos]) for c in chunks],
        ),
        todo=sorted(chunk.chunk_id for chunk in todo),
        source_counts=source_counts,
    )


def _new_report(run_id: str, chunks: list[Chunk], todo: list[Chunk]) -> IngestReport:
    todo_ids = {chunk.chunk_id for chunk in todo}
    return IngestReport(
        run_id=run_id,
        total_chunks=len(chunks),
        skipped_chunks=[c.chunk_id for c in chunks if c.chunk_id not in todo_ids],
        total_videos=sum(c.num_videos for c in chunks),
    )


def _finished(run: RunRecord, report: IngestReport) -> RunRecord:
    """The run record as rewritten at the end of the run."""
    return run.model_copy(
        update={
            "finished_at": utc_now_iso(),
            "committed": report.committed_chunks,
            "failed": report.failed_chunks,
            "wall_s": round(report.wall_s, 3),
        }
    )


def ingest(
    source: str,
    lake: Lake,
    config: Config | None = None,
    *,
    redo: list[str] | None = None,
    address: str | None = None,
    stream: TextIO | None = None,
    lock_wait_s: float = 0.0,
    progress_every_s: float = 5.0,
) -> IngestReport:
    """Ingest a DFDC source (root, part folder or zips; local or s3://) into ``lake``.

    Args:
        source: DFDC source URL.
        lake: the lake (``Lake.open(url)``).
        config: processing configuration (defaults if None).
        redo: chunk ids to reprocess even though they are committed.
        address: Ray cluster to join; None joins ``RAY_ADDRESS`` or starts a local Ray.
        stream: where progress lines go (stderr by default).
        lock_wait_s: how long to wait for another run's lock before giving up.
        progress_every_s: seconds between progress lines when ``stream`` is not a terminal (a terminal
            gets one live line, rewritten at most once a second).

    Returns:
        What was skipped, committed and failed. Failed chunks stay uncommitted; rerun to redo them.
    """
    config = config or Config()
    started = time.monotonic()
    run_id = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
    catalog = load_catalog(source)
    families = catalog.families()
    chunks = plan_chunks(families, config.lake.videos_per_chunk)
    config_hash = config.config_hash()
    summary = summarize_plan(catalog, chunks, config, families=families)  # counts; `plan` also estimates
    print(format_summary(summary, prefix="[ingest] "), file=stream or sys.stderr, flush=True)
    with lake.lock(run_id, timeout_s=lock_wait_s) as lock:
        lake.ensure_manifest()
        todo = _select_chunks(chunks, lake.committed_chunk_ids(config_hash), list(redo or []))
        report = _new_report(run_id, chunks, todo)
        run = _run_record(run_id, source, config, chunks, todo, summary.counts)
        lake.write_run(run)
        tracker = ProgressTracker(
            total_videos=report.total_videos,
            skipped_videos=report.total_videos - sum(c.num_videos for c in todo),
            stream=stream or sys.stderr,
            min_interval_s=progress_every_s,
        )
        print(
            f"[ingest] run {run_id}: {len(chunks)} chunks ({report.total_videos} videos), "
            f"{len(report.skipped_chunks)} already committed, {len(todo)} to process; config {config_hash}",
            file=tracker.stream,
            flush=True,
        )
        if todo:
            connect_ray(address)
            _run_chunks(todo, lake, config, tracker, lock, report)
            report.processing_s = time.monotonic() - tracker.started_at
        tracker.maybe_print(force=True)
        report.outcomes_by_status = dict(tracker.by_status)
        report.wall_s = time.monotonic() - started
        lake.write_run(_finished(run, report))
    print(
        f"[ingest] done in {format_duration(report.wall_s)}: {len(report.committed_chunks)} committed, "
        f"{len(report.skipped_chunks)} skipped, {len(report.failed_chunks)} failed",
        file=tracker.stream,
        flush=True,
    )
    return report
