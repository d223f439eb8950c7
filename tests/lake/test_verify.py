"""verify catches every way a committed shard can go wrong."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq

from dfdc_lake.lake.commit import CommitRecord, commit_chunk
from dfdc_lake.lake.lake import Lake
from dfdc_lake.lake.schema import sample_schema, sample_to_row
from dfdc_lake.lake.shard import ShardInfo, attempt_dir
from dfdc_lake.lake.storage import Storage
from dfdc_lake.lake.verify import verify_lake

from .fakes import CONFIG_HASH, make_samples, outcomes_for, write_chunk


def kinds(storage: Storage) -> list[tuple[str, str]]:
    return sorted((p.kind, p.path) for p in verify_lake(Lake(storage)).problems)


def test_clean_lake_verifies(storage: Storage) -> None:
    write_chunk(storage, "p00-c0000", make_samples(3), shard_target_bytes=2000)
    report = verify_lake(Lake(storage))
    assert report.ok, report.problems
    assert report.chunks_checked == 1 and report.shards_checked >= 4 and report.bytes_checked > 0


def test_a_changed_byte_is_a_sha_mismatch(storage: Storage) -> None:
    record = write_chunk(storage, "p01-c0000", make_samples(3))
    for shard in record.shards:  # flip one byte in the middle: same size, different content
        data = bytearray(storage.read_bytes(shard.path))
        data[len(data) // 2] ^= 0xFF
        storage.write_bytes(shard.path, bytes(data))
    found = kinds(storage)
    assert ("sha256_mismatch", record.shards[0].path) in found
    assert ("sha256_mismatch", record.shards[1].path) in found


def test_a_missing_shard(storage: Storage) -> None:
    record = write_chunk(storage, "p02-c0000", make_samples(2))
    storage.delete(record.shards[1].path)
    assert kinds(storage) == [("missing_shard", record.shards[1].path)]


def test_a_wrong_row_count(storage: Storage) -> None:
    record = write_chunk(storage, "p03-c0000", make_samples(2))
    raw = json.loads(storage.read_bytes("commits/p03-c0000.json"))
    raw["num_samples"] = 3
    raw["outcomes"][0]["num_samples"] += 1
    for shard in raw["shards"]:
        shard["rows"] = 3
    storage.write_bytes("commits/p03-c0000.json", json.dumps(raw).encode())
    assert kinds(storage) == sorted(("row_count_mismatch", s.path) for s in record.shards)


def test_an_unknown_schema_version(storage: Storage) -> None:
    rows = [sample_to_row(s) for s in make_samples(2)]
    schema = sample_schema().with_metadata({"dfdc_lake.schema_version": "99"})
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), buffer)
    data = buffer.getvalue()
    path = f"{attempt_dir('p04-c0000', 'a1')}/part-00000.parquet"
    storage.write_bytes(path, data)
    import hashlib

    shard = ShardInfo(path, "parquet", 2, len(data), hashlib.sha256(data).hexdigest())
    record = CommitRecord.build(
        chunk_id="p04-c0000",
        attempt_id="a1",
        config_hash=CONFIG_HASH,
        shards=[shard],
        outcomes=outcomes_for(make_samples(2)),
    )
    commit_chunk(storage, record)
    report = verify_lake(Lake(storage))
    assert [(p.kind, p.path) for p in report.problems] == [("unknown_schema_version", path)]
    assert "99" in report.problems[0].detail


def test_a_corrupt_record_and_a_truncated_shard(storage: Storage) -> None:
    record = write_chunk(storage, "p05-c0000", make_samples(2), formats=("parquet",))
    storage.write_bytes("commits/p05-c0001.json", b"{not json")
    shard = record.shards[0]
    storage.write_bytes(shard.path, storage.read_bytes(shard.path)[: shard.bytes // 2])
    assert kinds(storage) == [("bad_record", "commits/p05-c0001.json"), ("size_mismatch", shard.path)]
