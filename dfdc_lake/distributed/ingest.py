"""The ingest driver: catalog -> chunk plan -> Ray chunk tasks -> commit records, resumable per chunk.

A rerun with the same config skips every committed chunk; ``redo`` or a changed config reprocesses.
The driver holds the lake lock for the whole run, so two runs on one lake never interleave commits.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from dfdc_lake.config import Config
from dfdc_lake.distributed.plan import Chunk, plan_chunks
from dfdc_lake.distributed.progress import ProgressTracker, format_duration
from dfdc_lake.errors import ConfigError
from dfdc_lake.lake.commit import committed_chunk_ids, write_lake_manifest
from dfdc_lake.lake.lock import LakeLock
from dfdc_lake.lake.runs import write_run_record
from dfdc_lake.source.catalog import load_catalog

__all__ = ["IngestReport", "connect_ray", "ingest"]

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


def _live_local_cluster() -> str | None:
    """The address of a cluster started with ``ray start`` on this machine, if its GCS still answers.

    Ray records the latest one in ``<temp dir>/ray_current_cluster``; a stale record (the cluster has
    stopped) would make ``ray.init`` wait on a dead address, so it is probed first.
    """
    import socket
    import tempfile

    record = Path(os.environ.get("RAY_TMPDIR", tempfile.gettempdir())) / "ray" / "ray_current_cluster"
    try:
        address = record.read_text().strip().splitlines()[0]
        host, port = address.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=1.0):
            return address
    except (OSError, ValueError, IndexError):
        return None


def connect_ray(address: str | None = None) -> None:
    """Join a Ray cluster, or start a local one.

    ``address`` (or ``RAY_ADDRESS``, set by ``ray job submit``) names the cluster; without either, a live
    cluster started with ``ray start`` on this machine is joined (what ``ray submit`` relies on, on the
    head node), else a local Ray is started. ``address="local"`` always starts a private one.
    """
    import ray

    if ray.is_initialized():
        return
    target = address or os.environ.get("RAY_ADDRESS") or _live_local_cluster() or "local"
    log.info("ray: %s", "starting a local cluster" if target == "local" else f"joining {target}")
    if (
        target != "local"
        and "RAY_AUTH_MODE" not in os.environ
        and (Path.home() / ".ray" / "auth_token").exists()
    ):
        # `ray start --head` turns token auth on when this token exists, but a joining client only sends
        # it in token mode; a cluster without auth accepts a token-mode client too.
        os.environ["RAY_AUTH_MODE"] = "token"
    ray.init(address=target, logging_level=logging.WARNING)


def _select_chunks(chunks: list[Chunk], committed: set[str], redo: list[str]) -> list[Chunk]:
    known = {chunk.chunk_id for chunk in chunks}
    unknown = sorted(set(redo) - known)
    if unknown:
        raise ConfigError(f"--redo names chunks that are not in the plan: {', '.join(unknown)}")
    skip = committed - set(redo)
    return [chunk for chunk in chunks if chunk.chunk_id not in skip]


def _in_flight_limit(config: Config) -> int:
    import ray

    if config.ray.chunks_in_flight > 0:
        return config.ray.chunks_in_flight
    cpus = float(ray.cluster_resources().get("CPU", 1.0))
    return max(1, int(cpus // config.ray.cpus_per_decoder))


def _run_chunks(
    todo: list[Chunk],
    lake: str,
    config: Config,
    tracker: ProgressTracker,
    lock: LakeLock,
    report: IngestReport,
) -> None:
    import ray

    from dfdc_lake.distributed.actors import ProgressActor, make_detector_pool, run_chunk_task

    pool = make_detector_pool(config)
    progress = ProgressActor.remote()  # type: ignore[attr-defined]
    limit = _in_flight_limit(config)
    log.info(
        "ingest: %d chunks to process, %d at a time, %d detection actors", len(todo), limit, len(pool.actors)
    )
    pending = list(reversed(todo))
    last_check = tracker.started_at = time.monotonic()  # the rate counts processing, not cluster start
    running: dict[Any, Chunk] = {}
    while pending or running:
        while pending and len(running) < limit:
            chunk = pending.pop()
            running[run_chunk_task(chunk, lake, config, pool, progress)] = chunk
        done, _ = ray.wait(list(running), num_returns=1, timeout=2.0)
        for ref in done:
            chunk = running.pop(ref)
            try:
                result = ray.get(ref)
                report.committed_chunks.append(chunk.chunk_id)
                log.debug("committed %s: %s", chunk.chunk_id, result)
            except Exception as err:  # the chunk stays uncommitted; a rerun redoes it
                report.failed_chunks[chunk.chunk_id] = f"{type(err).__name__}: {str(err)[:500]}"
                log.error(
                    "chunk %s failed after retries: %s", chunk.chunk_id, report.failed_chunks[chunk.chunk_id]
                )
        tracker.by_status.clear()
        tracker.record_counts(ray.get(progress.snapshot.remote()))
        tracker.maybe_print()
        if time.monotonic() - last_check > LOCK_CHECK_INTERVAL_S:
            lock.check()  # raises if another run took the lock over: stop committing
            last_check = time.monotonic()
    for actor in pool.actors:
        ray.kill(actor)
    ray.kill(progress)


def ingest(
    source: str,
    lake: str,
    config: Config | None = None,
    *,
    redo: list[str] | None = None,
    address: str | None = None,
    stream: TextIO | None = None,
    lock_wait_s: float = 0.0,
) -> IngestReport:
    """Ingest a DFDC source (root, part folder or zips; local or s3://) into ``lake``.

    Args:
        source: DFDC source URL.
        lake: lake root URL (local path or ``s3://``).
        config: processing configuration (defaults if None).
        redo: chunk ids to reprocess even though they are committed.
        address: Ray cluster to join; None joins ``RAY_ADDRESS`` or starts a local Ray.
        stream: where progress lines go (stderr by default).
        lock_wait_s: how long to wait for another run's lock before giving up.

    Returns:
        What was skipped, committed and failed. Failed chunks stay uncommitted; rerun to redo them.
    """
    config = config or Config()
    started = time.monotonic()
    run_id = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
    catalog = load_catalog(source)
    chunks = plan_chunks(catalog.families(), config.lake.videos_per_chunk)
    config_hash = config.config_hash()
    with LakeLock(lake, owner=run_id, timeout_s=lock_wait_s) as lock:
        write_lake_manifest(lake)
        todo = _select_chunks(chunks, committed_chunk_ids(lake, config_hash), list(redo or []))
        todo_ids = {chunk.chunk_id for chunk in todo}
        report = IngestReport(
            run_id=run_id,
            total_chunks=len(chunks),
            skipped_chunks=[c.chunk_id for c in chunks if c.chunk_id not in todo_ids],
            total_videos=sum(c.num_videos for c in chunks),
        )
        run_payload: dict[str, Any] = {
            "run_id": run_id,
            "source": source,
            "config": config.model_dump(mode="json"),
            "config_hash": config_hash,
            "plan": {
                "videos_per_chunk": config.lake.videos_per_chunk,
                "chunks": [
                    {"chunk_id": c.chunk_id, "videos": [v.filename for v in c.videos]} for c in chunks
                ],
            },
            "todo": sorted(todo_ids),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        write_run_record(lake, run_id, run_payload)
        tracker = ProgressTracker(
            total_videos=report.total_videos,
            skipped_videos=report.total_videos - sum(c.num_videos for c in todo),
            stream=stream or sys.stderr,
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
        run_payload.update(
            finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            committed=report.committed_chunks,
            failed=report.failed_chunks,
            wall_s=round(report.wall_s, 3),
        )
        write_run_record(lake, run_id, run_payload)
    print(
        f"[ingest] done in {format_duration(report.wall_s)}: {len(report.committed_chunks)} committed, "
        f"{len(report.skipped_chunks)} skipped, {len(report.failed_chunks)} failed",
        file=tracker.stream,
        flush=True,
    )
    return report
