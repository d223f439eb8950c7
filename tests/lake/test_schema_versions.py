"""A lake written partly with sample schema versions 1 (no label scores), 2 (no face_detail_kept), 3
(no face_detail_kept_half_res) and 4 (no crop_landmarks) reads, verifies and queries with the current
columns, the missing ones null."""

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

V2_COLUMNS = ("face_diff", "face_diff_per_frame", "face_contrast", "audio_diff_db")
V3_COLUMNS = ("face_detail_kept",)
V4_COLUMNS = ("face_detail_kept_half_res",)
V5_COLUMNS = ("crop_landmarks", "crop_landmarks_interpolated")


@pytest.fixture
def mixed_lake(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> Lake:
    """Chunks ``v1`` to ``v4`` written as those versions, ``v5`` as the current one, all with fakes."""
    for version, seed in ((1, 1), (2, 3), (3, 4), (4, 5)):
        names = set(schema_module.sample_schema(version).names)

        def old_row(sample: Any, names: set[str] = names, version: int = version) -> dict[str, Any]:
            row = schema_module.sample_to_row(sample)
            return {key: value for key, value in row.items() if key in names} | {"schema_version": version}

        with monkeypatch.context() as patch:
            patch.setattr(
                writers_module, "sample_schema", lambda version=version: schema_module.sample_schema(version)
            )
            patch.setattr(writers_module, "sample_to_row", old_row)
            write_chunk(lake, f"v{version}", make_samples(4, seed=seed, label="FAKE"))
    write_chunk(lake, "v5", make_samples(4, seed=2, label="FAKE"))
    return lake


@pytest.mark.parametrize(
    ("version", "added"), [(2, V2_COLUMNS), (3, V3_COLUMNS), (4, V4_COLUMNS), (5, V5_COLUMNS)]
)
def test_each_version_adds_only_nullable_columns_at_the_end(version: int, added: tuple[str, ...]) -> None:
    old, new = schema_module.sample_schema(version - 1), schema_module.sample_schema(version)
    assert new.names[: len(old.names)] == old.names
    fields = [new.field(name) for name in new.names[len(old.names) :]]
    assert tuple(f.name for f in fields) == added and all(f.nullable for f in fields)


@pytest.mark.parametrize("fmt", ["parquet", "webdataset"])
def test_readers_give_version_1_rows_null_scores(mixed_lake: Lake, fmt: str) -> None:
    rows = list(ShardReader.of(mixed_lake, fmt).rows(mixed_lake.shard_paths(fmt)))
    by_version: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_version.setdefault(row["schema_version"], []).append(row)
    assert sorted(by_version) == [1, 2, 3, 4, 5] and len(rows) == 20
    for row in by_version[1]:
        assert all(row[name] is None for name in V2_COLUMNS + V3_COLUMNS + V4_COLUMNS + V5_COLUMNS), row
    for row in by_version[2]:
        assert row["face_diff"] is not None and row["face_detail_kept"] is None, row
    for row in by_version[3]:
        assert row["face_detail_kept"] is not None and row["face_detail_kept_half_res"] is None, row
    for row in by_version[4]:
        assert row["face_detail_kept_half_res"] is not None and row["crop_landmarks"] is None, row
        assert row["crop_landmarks_interpolated"] is None
    for row in by_version[5]:
        assert row["face_detail_kept"] is not None and row["face_detail_kept_half_res"] is not None
        assert len(row["crop_landmarks"]) == 10 * len(row["frame_indices"])
        assert row["crop_landmarks_interpolated"] == [False, True, False]  # the gap-filled second crop
    for row in by_version[2] + by_version[3] + by_version[4] + by_version[5]:
        assert row["face_diff"] is not None and (row["audio_diff_db"] is not None) == row["has_audio"]
        per_frame = row["face_diff_per_frame"]
        assert len(per_frame) == len(row["frame_indices"]) and math.isnan(per_frame[0])
        assert all(np.isfinite(per_frame[1:]))


def test_tables_and_sql_cover_every_version(mixed_lake: Lake) -> None:
    table = read_samples_table(mixed_lake)
    assert table.schema.names == schema_module.sample_schema().names
    versions = table.column("schema_version").to_pylist()
    scores = table.column("face_diff").to_pylist()
    kept = table.column("face_detail_kept").to_pylist()
    kept_half_res = table.column("face_detail_kept_half_res").to_pylist()
    landmarks = table.column("crop_landmarks").to_pylist()
    assert sorted(set(versions)) == [1, 2, 3, 4, 5]
    assert all((score is None) == (version == 1) for version, score in zip(versions, scores, strict=True))
    assert all((value is None) == (version < 3) for version, value in zip(versions, kept, strict=True))
    assert all(
        (value is None) == (version < 4) for version, value in zip(versions, kept_half_res, strict=True)
    )
    assert all((value is None) == (version < 5) for version, value in zip(versions, landmarks, strict=True))
    projected = read_samples_table(mixed_lake, columns=["sample_id", "audio_diff_db"])
    assert projected.num_rows == 20 and projected.column("audio_diff_db").null_count >= 4
    dataset = arrow_dataset(mixed_lake).to_table(columns=["schema_version", "face_diff"])
    assert dataset.num_rows == 20 and dataset.column("face_diff").null_count == 4
    counts = (
        connect(mixed_lake)
        .execute("select schema_version, count(face_diff) from samples group by 1 order by 1")
        .fetchall()
    )
    assert counts == [(1, 0), (2, 4), (3, 4), (4, 4), (5, 4)]
    landmarked = connect(mixed_lake).execute("select count(crop_landmarks) from samples").fetchall()
    assert landmarked == [(4,)]


def test_verify_accepts_every_version(mixed_lake: Lake) -> None:
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
