"""The commit protocol: the record is the last, atomic write; readers trust only records."""

from __future__ import annotations

import json

import pytest

from dfdc_lake.errors import LakeCommitError
from dfdc_lake.lake.commit import (
    CommitRecord,
    commit_chunk,
    new_attempt_id,
    read_commit,
    read_commits,
    write_lake_manifest,
)
from dfdc_lake.lake.lake import Lake
from dfdc_lake.lake.reader import read_samples_table
from dfdc_lake.lake.storage import Storage
from dfdc_lake.lake.verify import gc_lake, verify_lake
from dfdc_lake.lake.writers import ChunkWriter
from dfdc_lake.records import Outcome, OutcomeStatus

from .fakes import CONFIG_HASH, make_samples, outcomes_for, run_record, write_chunk


def test_record_round_trips_and_matches_the_documented_keys(storage: Storage) -> None:
    record = write_chunk(
        storage, "p00-c0003", make_samples(4), extra={"zzzzzzzzzz.mp4": OutcomeStatus.NO_FACE}
    )
    again = read_commit(storage, "p00-c0003")
    assert again == record
    raw = json.loads(storage.read_bytes("commits/p00-c0003.json"))
    assert set(raw) == {
        "record_version", "chunk_id", "attempt_id", "config_hash", "schema_version", "created_at", "host",
        "shards", "num_samples", "videos", "outcomes", "timings_s",
    }  # fmt: skip
    assert set(raw["shards"][0]) == {"path", "format", "rows", "bytes", "sha256"}
    assert raw["num_samples"] == 4 and len(raw["outcomes"]) == 5 == len(raw["videos"])
    assert all(isinstance(o, Outcome) for o in again.outcomes)
    assert {o.status for o in again.outcomes} == {OutcomeStatus.OK, OutcomeStatus.NO_FACE}
    assert json.loads(storage.read_bytes("lake.json")) == {"format": "dfdc-lake", "layout_version": 1}
    assert storage.list_files("commits") == {
        "commits/p00-c0003.json": len(storage.read_bytes("commits/p00-c0003.json"))
    }


def test_attempt_ids_are_unique_and_sortable() -> None:
    ids = {new_attempt_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 24 and i[8] == "T" and i[15] == "-" for i in ids)


def test_commit_refuses_missing_or_resized_shards(storage: Storage) -> None:
    record = write_chunk(storage, "p01-c0000", make_samples(2), commit=False)
    storage.delete(record.shards[0].path)
    with pytest.raises(LakeCommitError, match="missing"):
        commit_chunk(storage, record)
    record = write_chunk(storage, "p01-c0001", make_samples(2), commit=False)
    storage.write_bytes(record.shards[1].path, b"short")
    with pytest.raises(LakeCommitError, match="bytes"):
        commit_chunk(storage, record)
    assert read_commits(storage) == []


def test_inconsistent_records_are_refused() -> None:
    samples = make_samples(3)
    outcomes = outcomes_for(samples)
    with pytest.raises(LakeCommitError, match="num_samples"):
        CommitRecord.build(
            chunk_id="p00-c0000", attempt_id="a1", config_hash=CONFIG_HASH, outcomes=outcomes, num_samples=2
        )
    with pytest.raises(LakeCommitError, match="exactly one outcome"):
        CommitRecord.build(
            chunk_id="p00-c0000", attempt_id="a1", config_hash=CONFIG_HASH, outcomes=outcomes,
            videos=[o.filename for o in outcomes] + ["missing.mp4"],
        )  # fmt: skip
    bad = [dict(vars(outcomes[0]), status="exploded")]
    with pytest.raises(LakeCommitError, match="exploded"):
        CommitRecord.build(chunk_id="p00-c0000", attempt_id="a1", config_hash=CONFIG_HASH, outcomes=bad)


def test_a_crashed_attempt_leaves_orphans_that_gc_removes(storage: Storage, lake: Lake) -> None:
    committed = write_chunk(storage, "p02-c0000", make_samples(3, seed=1))
    crashed_attempt = new_attempt_id()
    with (
        pytest.raises(RuntimeError),
        ChunkWriter(storage, "p02-c0001", crashed_attempt, shard_target_bytes=1) as w,
    ):
        for sample in make_samples(3, seed=2):
            w.write(sample)
        raise RuntimeError("worker died before the commit")
    orphans = sorted(s.path for s in w.shards)
    assert orphans and read_commit(storage, "p02-c0001") is None

    report = verify_lake(lake)
    assert report.ok and report.orphans == orphans
    assert gc_lake(lake, dry_run=True) == orphans
    assert sorted(storage.list_files("chunks")) == sorted(orphans + [s.path for s in committed.shards])
    assert gc_lake(lake, dry_run=False) == orphans
    assert sorted(storage.list_files("chunks")) == sorted(s.path for s in committed.shards)
    after = verify_lake(lake)
    assert after.ok and after.orphans == [] and after.shards_checked == len(committed.shards)
    assert read_samples_table(lake).num_rows == 3


def test_a_new_attempt_supersedes_the_old_one(storage: Storage, lake: Lake) -> None:
    first = write_chunk(lake, "p03-c0000", make_samples(2, seed=3))
    second = write_chunk(lake, "p03-c0000", make_samples(3, seed=4), config_hash="fedcba9876543210")
    assert lake.commit("p03-c0000") == second
    assert read_samples_table(lake).num_rows == 3
    assert lake.committed_chunk_ids(CONFIG_HASH) == set()
    assert lake.committed_chunk_ids("fedcba9876543210") == {"p03-c0000"}
    assert sorted(gc_lake(lake, dry_run=False)) == sorted(s.path for s in first.shards)
    assert lake.shard_urls("parquet") == [storage.url(s.path) for s in second.shards_of("parquet")]


def test_lake_manifest_is_written_once_and_checked(storage: Storage) -> None:
    assert write_lake_manifest(storage) == {"format": "dfdc-lake", "layout_version": 1}
    assert write_lake_manifest(storage)["layout_version"] == 1
    storage.write_bytes("lake.json", json.dumps({"format": "dfdc-lake", "layout_version": 7}).encode())
    with pytest.raises(LakeCommitError, match="layout_version 7"):
        write_lake_manifest(storage)


def test_run_records(storage: Storage, lake: Lake) -> None:
    lake.write_run(run_record("run-b", "2026-01-02T00:00:00Z", ["p00-c0001"]))
    lake.write_run(run_record("run-a", "2026-01-01T00:00:00Z", ["p00-c0000"]))
    latest = lake.latest_run()
    assert latest is not None and latest.run_id == "run-b" and latest.written_at is not None
    assert latest.plan.chunk_ids == ["p00-c0001"] and latest.config.audio.n_mels > 0
    assert [run.run_id for run in lake.runs()] == ["run-a", "run-b"]
    assert lake.ingest_config({CONFIG_HASH}) == latest.config
    with pytest.raises(ValueError, match="run_id"):
        lake.write_run(run_record("../x", "2026-01-03T00:00:00Z", []))
    storage.write_bytes("runs/bad.json", b'{"run_id": "bad"}')
    with pytest.raises(LakeCommitError, match=r"runs/bad\.json is invalid"):
        lake.runs()
