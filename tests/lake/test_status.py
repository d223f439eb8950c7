"""status: counts from commit records, pending chunks from the latest run's plan, the lock holder."""

from __future__ import annotations

from dfdc_lake.lake.lake import Lake
from dfdc_lake.lake.lock import LakeLock
from dfdc_lake.lake.status import lake_status
from dfdc_lake.lake.storage import Storage
from dfdc_lake.records import OutcomeStatus

from .fakes import make_samples, run_record, write_chunk


def test_empty_lake(storage: Storage) -> None:
    status = lake_status(Lake(storage))
    assert status["chunks_committed"] == 0 and status["samples"] == 0 and status["manifest"] is None
    assert status["chunks_pending"] is None and status["lock"] is None
    assert status["videos"] == {"total": 0, "by_status": {}}


def test_counts(storage: Storage) -> None:
    a = write_chunk(
        storage, "p00-c0000", make_samples(3, seed=1), extra={"nofaceaaaa.mp4": OutcomeStatus.NO_FACE}
    )
    b = write_chunk(
        storage, "p00-c0001", make_samples(2, seed=2), formats=("parquet",), config_hash="1111111111111111",
        extra={"brokenaaaa.mp4": OutcomeStatus.DECODE_ERROR, "missingaaa.mp4": OutcomeStatus.MISSING},
    )  # fmt: skip
    write_chunk(storage, "p00-c0002", make_samples(1, seed=3), commit=False)  # orphan: not counted
    lake = Lake(storage)
    lake.write_run(
        run_record(
            "run-1",
            "2026-01-01T00:00:00Z",
            ["p00-c0000", "p00-c0001", "p00-c0002"],
            config_hash=a.config_hash,
        )
    )
    status = lake_status(lake)
    assert status["chunks_committed"] == 2
    assert status["chunks_planned"] == 3
    # p00-c0001 was committed with another config hash: for this run it is still pending
    assert status["chunks_pending"] == 2 and status["pending_chunk_ids"] == ["p00-c0001", "p00-c0002"]
    assert status["videos"] == {
        "total": 8,
        "by_status": {"decode_error": 1, "missing": 1, "no_face": 1, "ok": 5},
    }
    assert status["samples"] == 5
    assert status["shards_by_format"] == {"parquet": 2, "webdataset": 1}
    assert status["bytes_by_format"]["parquet"] == sum(
        s.bytes for s in a.shards_of("parquet") + b.shards_of("parquet")
    )
    assert status["bytes_by_format"]["webdataset"] == sum(s.bytes for s in a.shards_of("webdataset"))
    assert status["config_hashes"] == {a.config_hash: 1, "1111111111111111": 1}
    assert status["latest_run"]["run_id"] == "run-1"
    assert status["manifest"]["layout_version"] == 1


def test_lock_holder_is_shown(storage: Storage) -> None:
    with LakeLock(storage, owner="ingest-42", heartbeat_s=0):
        lock = lake_status(Lake(storage))["lock"]
    assert lock["owner"] == "ingest-42" and lock["stale"] is False and lock["heartbeat_age_s"] < 60
