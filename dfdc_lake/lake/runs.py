"""Run records: ``runs/<run_id>.json``, one per ingest run, rewritten as the run goes (start, end).

The payload is the ingest's to choose; ``status`` reads these keys when present: ``started_at``,
``finished_at``, ``config_hash`` and ``plan`` (a list of chunk ids, or of ``{"chunk_id": ..., ...}``
dicts) to report pending chunks. Records are redacted before they are written.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from dfdc_lake.errors import LakeCommitError
from dfdc_lake.io.s3_settings import redact
from dfdc_lake.lake.shard import check_id
from dfdc_lake.lake.storage import LakeLike, open_storage

__all__ = ["latest_run_record", "planned_chunk_ids", "read_run_records", "utc_now_iso", "write_run_record"]


def utc_now_iso() -> str:
    """Current UTC time as ``2026-11-28T18:15:07Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_run_record(lake: LakeLike, run_id: str, payload: dict[str, Any]) -> str:
    """Write (or rewrite) ``runs/<run_id>.json`` atomically and return its URL.

    Args:
        lake: the lake.
        run_id: the run's id (a path segment: ``[A-Za-z0-9._-]``).
        payload: JSON-able run facts (config, config_hash, plan, started_at, finished_at, ...).
    """
    storage = open_storage(lake)
    rel = f"runs/{check_id('run_id', run_id)}.json"
    record = {**payload, "run_id": run_id, "written_at": utc_now_iso()}
    storage.write_bytes(rel, redact(json.dumps(record, indent=1, default=str)).encode())
    return storage.url(rel)


def read_run_records(lake: LakeLike) -> list[dict[str, Any]]:
    """Every run record, oldest first (by ``started_at``, then run id)."""
    storage = open_storage(lake)
    records = []
    for rel in storage.iter_json_names("runs"):
        try:
            record = json.loads(storage.read_bytes(rel))
        except FileNotFoundError:
            continue
        except ValueError as err:
            raise LakeCommitError(f"run record {storage.url(rel)} is not JSON: {err}") from None
        if isinstance(record, dict):
            records.append(record)
    return sorted(records, key=lambda r: (str(r.get("started_at", "")), str(r.get("run_id", ""))))


def latest_run_record(lake: LakeLike) -> dict[str, Any] | None:
    """The most recently started run's record, or None."""
    records = read_run_records(lake)
    return records[-1] if records else None


def planned_chunk_ids(run_record: dict[str, Any]) -> list[str] | None:
    """The chunk ids a run planned, or None if its record has no plan."""
    plan = run_record.get("plan")
    if isinstance(plan, dict):
        plan = plan.get("chunks")
    if not isinstance(plan, list):
        return None
    ids = [
        item if isinstance(item, str) else item.get("chunk_id")
        for item in plan
        if isinstance(item, (str, dict))
    ]
    return [chunk_id for chunk_id in ids if isinstance(chunk_id, str)]
