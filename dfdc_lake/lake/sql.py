"""DuckDB over a lake: SQL on the committed Parquet rows and on the commit and run records.

    con = connect(Lake.open("s3://bucket/dfdc"))
    con.sql("SELECT status, count(*) FROM outcomes GROUP BY status").show()

Views (temporary, on the connection):

- ``samples``: one row per (video, face track) from the committed Parquet shards only (the list comes
  from the commit records, never from a listing, so orphans are never read). ``crops_jpeg`` and
  ``logmel_f16`` are left out unless ``with_crops``.
- ``outcomes``: one row per catalog video from the commit records (status and reason included), so
  videos without a sample (``no_face``, ``decode_error`` ...) are there too.
- ``runs``: one row per ingest run record; ``config`` is the run's whole config as JSON text.
- ``shards``: one row per committed shard (both formats): path, rows, bytes, sha256.

``samples`` is a pyarrow dataset over the shard paths with the lake's pyarrow filesystem, registered
with DuckDB, for local and S3 lakes alike (README, "Seeing and querying a lake": against DuckDB's own
``read_parquet`` with the lake's fsspec filesystem registered, measured on the demo lake).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from dfdc_lake.errors import DfdcLakeError
from dfdc_lake.io.s3_settings import redact
from dfdc_lake.lake.commit import CommitRecord
from dfdc_lake.lake.runs import RunRecord
from dfdc_lake.lake.schema import sample_schema

if TYPE_CHECKING:
    from dfdc_lake.lake.lake import Lake

__all__ = [
    "HEAVY_COLUMNS",
    "OUTCOMES_SCHEMA",
    "RUNS_SCHEMA",
    "SHARDS_SCHEMA",
    "VIEWS",
    "QueryError",
    "connect",
    "outcomes_table",
    "runs_table",
    "shards_table",
]

HEAVY_COLUMNS = ("crops_jpeg", "logmel_f16")
VIEWS = ("samples", "outcomes", "runs", "shards")

OUTCOMES_SCHEMA = pa.schema(
    [
        ("chunk_id", pa.string()),
        ("video_id", pa.string()),
        ("filename", pa.string()),
        ("part", pa.int32()),
        ("family_id", pa.string()),
        ("label", pa.string()),
        ("status", pa.string()),
        ("reason", pa.string()),
        ("num_samples", pa.int32()),
        ("face_frame_share", pa.float32()),
        ("has_audio", pa.bool_()),
        ("audio_fake", pa.bool_()),
        ("audio_diff_db", pa.float32()),
        ("config_hash", pa.string()),
        ("attempt_id", pa.string()),
        ("committed_at", pa.string()),
    ]
)
RUNS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("source", pa.string()),
        ("config_hash", pa.string()),
        ("started_at", pa.string()),
        ("finished_at", pa.string()),
        ("wall_s", pa.float64()),
        ("chunks_planned", pa.int32()),
        ("chunks_todo", pa.int32()),
        ("chunks_committed", pa.int32()),
        ("chunks_failed", pa.int32()),
        ("config", pa.string()),
    ]
)
SHARDS_SCHEMA = pa.schema(
    [
        ("chunk_id", pa.string()),
        ("attempt_id", pa.string()),
        ("format", pa.string()),
        ("path", pa.string()),
        ("rows", pa.int64()),
        ("bytes", pa.int64()),
        ("sha256", pa.string()),
    ]
)


class QueryError(DfdcLakeError, ValueError):
    """A query DuckDB refused (a syntax error, an unknown column); the message is DuckDB's."""


def outcomes_table(records: list[CommitRecord]) -> pa.Table:
    """One row per video of every commit record (``OUTCOMES_SCHEMA``)."""
    rows = [
        {
            "chunk_id": record.chunk_id,
            **{key: getattr(item, key) for key in OUTCOMES_SCHEMA.names if hasattr(item, key)},
            "status": item.status.value,
            "config_hash": record.config_hash,
            "attempt_id": record.attempt_id,
            "committed_at": record.created_at,
        }
        for record in records
        for item in record.outcomes
    ]
    return pa.Table.from_pylist(rows, schema=OUTCOMES_SCHEMA)


def runs_table(runs: list[RunRecord]) -> pa.Table:
    """One row per run record, oldest first (``RUNS_SCHEMA``)."""
    rows = [
        {
            "run_id": run.run_id,
            "source": redact(run.source),
            "config_hash": run.config_hash,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "wall_s": run.wall_s,
            "chunks_planned": len(run.plan.chunks),
            "chunks_todo": len(run.todo),
            "chunks_committed": len(run.committed),
            "chunks_failed": len(run.failed),
            "config": redact(json.dumps(run.config.model_dump(mode="json"), sort_keys=True)),
        }
        for run in runs
    ]
    return pa.Table.from_pylist(rows, schema=RUNS_SCHEMA)


def shards_table(records: list[CommitRecord]) -> pa.Table:
    """One row per committed shard, both formats (``SHARDS_SCHEMA``; ``path`` relative to the lake)."""
    rows = [
        {"chunk_id": record.chunk_id, "attempt_id": record.attempt_id, **shard.to_dict()}
        for record in records
        for shard in record.shards
    ]
    return pa.Table.from_pylist(rows, schema=SHARDS_SCHEMA)


def _samples_source(lake: Lake, records: list[CommitRecord]) -> Any:
    """What the ``samples`` view scans: a pyarrow dataset over the committed Parquet shards."""
    from dfdc_lake.lake.datasets import arrow_dataset

    if not lake.shard_urls("parquet", records=records):
        return sample_schema().empty_table()
    return arrow_dataset(lake, records=records)


def connect(
    lake: Lake,
    con: Any = None,
    *,
    with_crops: bool = False,
    records: list[CommitRecord] | None = None,
) -> Any:
    """A DuckDB connection with the lake's ``samples``, ``outcomes``, ``runs`` and ``shards`` views.

    Args:
        lake: the lake.
        con: a DuckDB connection to add the views to (default: a new in-memory one).
        with_crops: keep ``crops_jpeg`` and ``logmel_f16`` in ``samples`` (heavy: JPEG bytes and
            spectrograms; leave them out unless a query needs them).
        records: the commit records to use (default: read them now).
    """
    import duckdb

    con = duckdb.connect() if con is None else con
    records = lake.commits() if records is None else records
    sources = {
        "samples": _samples_source(lake, records),
        "outcomes": outcomes_table(records),
        "runs": runs_table(lake.runs()),
        "shards": shards_table(records),
    }
    for name, source in sources.items():
        con.register(f"_dfdc_lake_{name}", source)
    dropped = "" if with_crops else f" EXCLUDE ({', '.join(HEAVY_COLUMNS)})"
    con.execute(f"CREATE OR REPLACE TEMP VIEW samples AS SELECT *{dropped} FROM _dfdc_lake_samples")
    for name in ("outcomes", "runs", "shards"):
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM _dfdc_lake_{name}")
    return con


def run_query(con: Any, query: str) -> pa.Table:
    """Run ``query`` and return its result as an Arrow table; QueryError says what DuckDB refused."""
    import duckdb

    try:
        relation = con.sql(query)
        if relation is None:  # a statement without a result (CREATE, SET ...)
            return pa.table({})
        result = relation.arrow()
    except duckdb.Error as err:
        raise QueryError(f"{type(err).__name__}: {err}") from None
    return result.read_all() if isinstance(result, pa.RecordBatchReader) else result
