"""Shard writers: rows round-trip through Parquet and WebDataset, shards rotate by size."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import webdataset as wds

from dfdc_lake.lake.commit import commit_chunk
from dfdc_lake.lake.lake import Lake, open_storage
from dfdc_lake.lake.reader import read_samples_table
from dfdc_lake.lake.schema import SCHEMA_VERSION, sample_schema, sample_to_row
from dfdc_lake.lake.storage import Storage
from dfdc_lake.lake.wds_format import members_to_row
from dfdc_lake.lake.writers import ChunkWriter, ParquetShardWriter, WebDatasetShardWriter

from .fakes import make_samples, rows_equal, stock_webdataset_rows, write_chunk


def canonical(row: dict[str, Any]) -> dict[str, Any]:
    """The row as the Arrow schema stores it (float32 rounding)."""
    return pa.Table.from_pylist([row], schema=sample_schema()).to_pylist()[0]


def test_parquet_and_webdataset_round_trip(storage: Storage) -> None:
    samples = make_samples(7, seed=1)
    record = write_chunk(storage, "p00-c0000", samples)
    expected = [canonical(sample_to_row(s)) for s in samples]

    table = read_samples_table(Lake(storage))
    assert table.schema.equals(sample_schema(), check_metadata=False)
    got = table.to_pylist()
    assert len(got) == len(expected)
    assert all(rows_equal(a, b) for a, b in zip(got, expected, strict=True))

    wds_rows = [canonical(row) for row in stock_webdataset_rows(storage)]
    assert all(rows_equal(a, b) for a, b in zip(wds_rows, expected, strict=True))
    assert len(wds_rows) == len(expected)
    assert {s.format for s in record.shards} == {"parquet", "webdataset"}
    assert [row["logmel_f16"] is None for row in got] == [s.audio is None for s in samples]


def test_plain_webdataset_reads_local_shards(tmp_path) -> None:
    lake = str(tmp_path / "lake")
    samples = make_samples(4, seed=2)
    write_chunk(lake, "p01-c0000", samples, formats=("webdataset",))
    urls = Lake.open(lake).shard_urls("webdataset")
    dataset = wds.WebDataset(urls, shardshuffle=False, empty_check=False)
    decoded = list(dataset)
    assert [d["__key__"] for d in decoded] == [s.sample_id for s in samples]
    first = decoded[0]
    assert first["000.jpg"] == samples[0].crops_jpeg[0]
    assert sorted(k for k in first if k.endswith(".jpg")) == ["000.jpg", "001.jpg", "002.jpg"]
    import numpy as np

    logmel = np.load(io.BytesIO(first["logmel.npy"]))
    assert logmel.dtype == np.float16 and logmel.shape == (8, 20)
    assert "logmel.npy" not in decoded[2]  # every third fake sample has no audio
    assert rows_equal(canonical(members_to_row(first)), canonical(sample_to_row(samples[0])))


def test_shards_rotate_by_size(storage: Storage) -> None:
    samples = make_samples(12, seed=3, frames=4, crop_px=48)
    row_bytes = sum(len(c) for c in samples[0].crops_jpeg) + 400
    target = 3 * row_bytes
    with ChunkWriter(storage, "p02-c0000", "20260101T000000-0000abcd", shard_target_bytes=target) as writer:
        for sample in samples:
            writer.write(sample)
    for fmt in ("parquet", "webdataset"):
        shards = [s for s in writer.shards if s.format == fmt]
        assert len(shards) >= 3, (fmt, shards)
        assert sum(s.rows for s in shards) == len(samples)
        assert [s.path.rsplit("/", 1)[1][:10] for s in shards] == [
            f"part-{i:05d}" for i in range(len(shards))
        ]
        for shard in shards:
            assert storage.size(shard.path) == shard.bytes
        if fmt == "webdataset":  # tar sizes are exact: every shard but a lone oversized row fits the target
            tar_end_bytes = 10240  # end-of-archive blocks plus record padding
            assert all(s.bytes <= target + tar_end_bytes for s in shards)


def test_a_row_bigger_than_the_target_gets_its_own_shard(storage: Storage) -> None:
    samples = make_samples(3, seed=4)
    with ParquetShardWriter(
        storage, "p03-c0000", "20260101T000000-0000abcd", shard_target_bytes=1024
    ) as writer:
        for sample in samples:
            writer.write(sample)
    assert [s.rows for s in writer.shards] == [1, 1, 1]


def test_parquet_row_groups_bound_memory_and_carry_the_schema_version(tmp_path) -> None:
    samples = make_samples(10, seed=5)
    with ParquetShardWriter(
        open_storage(tmp_path), "p04-c0000", "a1", shard_target_bytes=1 << 20, row_group_bytes=4000
    ) as w:
        for sample in samples:
            w.write(sample)
            assert w._buffered_bytes < 4000 + 10_000  # never more than one row group buffered
    (shard,) = w.shards
    parquet = pq.ParquetFile(tmp_path / shard.path)
    assert parquet.metadata.num_row_groups > 1
    assert parquet.metadata.metadata[b"dfdc_lake.schema_version"] == str(SCHEMA_VERSION).encode()


def test_rows_must_match_the_explicit_schema(tmp_path) -> None:
    row = sample_to_row(make_samples(1)[0])
    row["part"] = "not a number"
    writer = ParquetShardWriter(open_storage(tmp_path), "p05-c0000", "a1")
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError, TypeError)), writer:
        writer.write_row(row)
        writer.close()


def test_failed_writer_publishes_nothing_open(storage: Storage) -> None:
    samples = make_samples(5, seed=6)
    with (
        pytest.raises(RuntimeError),
        WebDatasetShardWriter(storage, "p06-c0000", "a1", shard_target_bytes=1) as w,
    ):
        for sample in samples[:3]:
            w.write(sample)
        raise RuntimeError("crash mid-chunk")
    published = storage.list_files("chunks")
    assert sorted(published) == sorted(s.path for s in w.shards)  # no staging leftovers in the lake
    assert len(w.shards) == 2  # the third (open) shard was dropped


def test_bad_sample_ids_and_ids_are_refused(tmp_path) -> None:
    row = sample_to_row(make_samples(1)[0])
    row["sample_id"] = "has.dot-t0"
    with pytest.raises(ValueError, match="WebDataset key"):
        WebDatasetShardWriter(open_storage(tmp_path), "p07-c0000", "a1").write_row(row)
    with pytest.raises(ValueError, match="chunk_id"):
        ParquetShardWriter(open_storage(tmp_path), "../escape", "a1")
    with pytest.raises(ValueError, match="formats"):
        ChunkWriter(open_storage(tmp_path), "p07-c0000", "a1", formats=("csv",))


def test_uncommitted_shards_are_invisible(storage: Storage) -> None:
    record = write_chunk(storage, "p08-c0000", make_samples(3, seed=7), commit=False)
    assert storage.list_files("chunks")  # the shards are there...
    lake = Lake(storage)
    assert read_samples_table(lake).num_rows == 0  # ...but no reader sees them
    assert lake.shard_urls() == [] and lake.shard_urls("webdataset") == []
    assert list(stock_webdataset_rows(lake)) == []
    commit_chunk(storage, record)
    assert read_samples_table(lake).num_rows == 3


def test_writers_of_one_attempt_keep_to_their_subdir(storage: Storage) -> None:
    """Family groups of a chunk write at the same time: each under its own folder of the attempt."""
    with ChunkWriter(storage, "p09-c0000", "a1", subdir="f000-ab12cd34") as writer:
        for sample in make_samples(2, seed=9):
            writer.write(sample)
    assert writer.shards and all(
        s.path.startswith("chunks/p09-c0000/a1/f000-ab12cd34/part-") for s in writer.shards
    )
    with pytest.raises(ValueError, match="subdir"):
        ChunkWriter(storage, "p09-c0000", "a1", subdir="../escape")
