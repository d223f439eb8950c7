"""``status``: what a lake holds, from its commit records, its latest run record and its lock."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from dfdc_lake.io.s3_settings import redact
from dfdc_lake.lake.commit import read_commits, read_lake_manifest
from dfdc_lake.lake.lock import lock_is_stale, read_lock
from dfdc_lake.lake.runs import latest_run_record, planned_chunk_ids
from dfdc_lake.lake.storage import LakeLike, open_storage

__all__ = ["lake_status"]

_MAX_LISTED_PENDING = 50


def _run_summary(run: dict[str, Any] | None, committed: dict[str, str]) -> dict[str, Any]:
    if run is None:
        return {"latest_run": None, "chunks_planned": None, "chunks_pending": None, "pending_chunk_ids": []}
    planned = planned_chunk_ids(run)
    summary: dict[str, Any] = {
        "latest_run": {key: run.get(key) for key in ("run_id", "started_at", "finished_at", "config_hash")},
        "chunks_planned": None if planned is None else len(planned),
        "chunks_pending": None,
        "pending_chunk_ids": [],
    }
    if planned is not None:
        run_hash = run.get("config_hash")
        pending = [c for c in planned if c not in committed or (run_hash and committed[c] != run_hash)]
        summary["chunks_pending"] = len(pending)
        summary["pending_chunk_ids"] = pending[:_MAX_LISTED_PENDING]
    return summary


def lake_status(lake: LakeLike) -> dict[str, Any]:
    """A JSON-able summary of the lake.

    Keys: ``lake``, ``manifest``, ``chunks_committed``, ``chunks_planned`` / ``chunks_pending`` (from the
    latest run record's plan; None without one), ``pending_chunk_ids`` (first 50), ``videos`` (total and
    ``by_status``), ``samples``, ``shards_by_format``, ``bytes_by_format``, ``config_hashes`` (hash ->
    chunks), ``latest_run`` and ``lock`` (holder, or None).
    """
    storage = open_storage(lake)
    records = read_commits(storage)
    by_status: Counter[str] = Counter()
    shards: Counter[str] = Counter()
    nbytes: Counter[str] = Counter()
    hashes: Counter[str] = Counter()
    for record in records:
        hashes[record.config_hash] += 1
        by_status.update(str(item["status"]) for item in record.outcomes)
        for shard in record.shards:
            shards[shard.format] += 1
            nbytes[shard.format] += shard.bytes
    holder = read_lock(storage)
    status: dict[str, Any] = {
        "lake": redact(storage.root),
        "manifest": read_lake_manifest(storage),
        "chunks_committed": len(records),
        **_run_summary(latest_run_record(storage), {r.chunk_id: r.config_hash for r in records}),
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
