"""``status``: what a lake holds, from its commit records, its latest run record and its lock."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from dfdc_lake.io.s3_settings import redact
from dfdc_lake.lake.lock import lock_is_stale
from dfdc_lake.lake.runs import RunRecord

if TYPE_CHECKING:
    from dfdc_lake.lake.lake import Lake

__all__ = ["lake_status"]

_MAX_LISTED_PENDING = 50


def _run_summary(run: RunRecord | None, committed: dict[str, str]) -> dict[str, Any]:
    if run is None:
        return {
            "latest_run": None,
            "chunks_planned": None,
            "chunks_pending": None,
            "pending_chunk_ids": [],
            "source_counts": None,
        }
    planned = run.plan.chunk_ids
    pending = [c for c in planned if committed.get(c) != run.config_hash]
    return {
        "latest_run": run.model_dump(include={"run_id", "started_at", "finished_at", "config_hash"}),
        "chunks_planned": len(planned),
        "chunks_pending": len(pending),
        "pending_chunk_ids": pending[:_MAX_LISTED_PENDING],
        # what the latest run's catalog found odd in the source; None for runs recorded before it was kept
        "source_counts": None if run.source_counts is None else run.source_counts.model_dump(),
    }


def lake_status(lake: Lake) -> dict[str, Any]:
    """A JSON-able summary of the lake.

    Keys: ``lake``, ``manifest``, ``chunks_committed``, ``chunks_planned`` / ``chunks_pending`` (from the
    latest run record's plan; None without one), ``pending_chunk_ids`` (first 50), ``videos`` (total and
    ``by_status``), ``samples``, ``shards_by_format``, ``bytes_by_format``, ``config_hashes`` (hash ->
    chunks), ``latest_run``, ``source_counts`` (the latest run's catalog: unlisted, missing and duplicate
    files, empty parts, fakes of fakes, each ``{"count", "first"}``; None without one) and ``lock``
    (holder, or None).
    """
    records = lake.commits()
    by_status: Counter[str] = Counter()
    shards: Counter[str] = Counter()
    nbytes: Counter[str] = Counter()
    hashes: Counter[str] = Counter()
    for record in records:
        hashes[record.config_hash] += 1
        by_status.update(item.status.value for item in record.outcomes)
        for shard in record.shards:
            shards[shard.format] += 1
            nbytes[shard.format] += shard.bytes
    holder = lake.lock_holder()
    status: dict[str, Any] = {
        "lake": redact(lake.url),
        "manifest": lake.manifest(),
        "chunks_committed": len(records),
        **_run_summary(lake.latest_run(), {r.chunk_id: r.config_hash for r in records}),
        "videos": {"total": sum(by_status.values()), "by_status": dict(sorted(by_status.items()))},
        "samples": sum(record.num_samples for record in records),
        "shards_by_format": dict(shards),
        "bytes_by_format": dict(nbytes),
        "config_hashes": dict(hashes),
        "lock": None,
    }
    if holder is not None:
        status["lock"] = {
            "owner": holder.owner,
            "host": holder.host,
            "pid": holder.pid,
            "heartbeat_at": holder.heartbeat_at,
            "heartbeat_age_s": round(time.time() - holder.heartbeat_unix, 1),
            "stale": lock_is_stale(holder),
        }
    return status
