"""A lake written partly with sample schema version 1 (no label scores) reads, verifies and queries
with version 2's columns, the missing ones null."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from dfdc_lake.lake import schema as schema_module
from dfdc_lake.lake import writers as writers_module
from dfdc_lake.lake.datasets import arrow_dataset
from dfdc_lake.lake.lake import Lake
from dfdc_lake.lake.reader import ShardReader, read_samples_table
from dfdc_lake.lake.sql import connect
from dfdc_lake.lake.verify import verify_lake
from tests.lake.fakes import make_samples, write_chunk

NEW_COLUMNS = ("face_diff", "face_diff_per_frame", "face_contrast", "audio_diff_db")


@pytest.fixture
def mixed_lake(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> Lake:
    """Chunk ``old`` written as version 1, chunk ``new`` as version 2, both with fakes."""
    v1_names = set(schema_module.sample_schema(1).names)

    def v1_row(sample: Any) -> dict[str, Any]:
        row = schema_module.sample_to_row(sample)
        return {key: value for key, value in row.items() if key in v1_names} | {"schema_version": 1}

    with monkeypatch.context() as patch:
        patch.setattr(writers_module, "sample_schema", lambda: schema_module.sample_schema(1))
        patch.setattr(writers_module, "sample_to_row", v1_row)
        write_chunk(lake, "old", make_samples(4, seed=1, label="FAKE"))
    write_chunk(lake, "new", make_samples(4, seed=2, label="FAKE"))
    return lake


def test_version_2_adds_only_nullable_columns_at_the_end() -> None:
    old, new = schema_module.sample_schema(1), schema_module.sample_schema(2)
    assert new.names[: len(old.names)] == old.names
    added = [new.field(name) for name in new.names[len(old.names) :]]
    assert tuple(f.name for f in added) == NEW_COLUMNS and all(f.nullable for f in added)


@pytest.mark.parametrize("fmt", ["parquet", "webdataset"])
def test_readers_give_version_1_rows_null_scores(mixed_lake: Lake, fmt: str) -> None:
    rows = list(ShardReader.of(mixed_lake, fmt).rows(mixed_lake.shard_paths(fmt)))
    by_version: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_version.setdefault(row["schema_version"], []).append(row)
    assert sorted(by_version) == [1, 2] and len(rows) == 8
    for row in by_version[1]:
        assert all(row[name] is None for name in NEW_COLUMNS), row
    for row in by_version[2]:
        assert row["face_diff"] is not None and (row["audio_diff_db"] is not None) == row["has_audio"]
        per_frame = row["face_diff_per_frame"]
        assert len(per_frame) == len(row["frame_indices"]) and math.isnan(per_frame[0])
        assert all(np.isfinite(per_frame[1:]))


def test_tables_and_sql_cover_both_versions(mixed_lake: Lake) -> None:
    table = read_samples_table(mixed_lake)
    assert table.schema.names == schema_module.sample_schema().names
    versions = table.column("schema_version").to_pylist()
    scores = table.column("face_diff").to_pylist()
    assert sorted(set(versions)) == [1, 2]
    assert all((score is None) == (version == 1) for version, score in zip(versions, scores, strict=True))
    projected = read_samples_table(mixed_lake, columns=["sample_id", "audio_diff_db"])
    assert projected.num_rows == 8 and projected.column("audio_diff_db").null_count >= 4
    dataset = arrow_dataset(mixed_lake).to_table(columns=["schema_version", "face_diff"])
    assert dataset.num_rows == 8 and dataset.column("face_diff").null_count == 4
    counts = (
        connect(mixed_lake)
        .execute("select schema_version, count(face_diff) from samples group by 1 order by 1")
        .fetchall()
    )
    assert counts == [(1, 0), (2, 4)]


def test_verify_accepts_both_versions(mixed_lake: Lake) -> None:
    report = verify_lake(mixed_lake)
    assert report.ok, report.problems


def test_a_version_1_row_is_filled_to_the_current_columns() -> None:
    batch = pa.RecordBatch.from_pylist(
        [{"sample_id": "a-t0", "schema_version": 1}],
        schema=pa.schema([("sample_id", pa.string()), ("schema_version", pa.int32())]),
    )
    filled = schema_module.with_current_columns(batch, ["schema_version", "face_diff", "sample_id"])
    assert filled.schema.names == ["schema_version", "face_diff", "sample_id"]
    assert filled.to_pylist() == [{"schema_version": 1, "face_diff": None, "sample_id": "a-t0"}]
