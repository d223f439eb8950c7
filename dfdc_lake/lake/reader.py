"""What training and tests read: committed shards only, found through commit records (never a listing
of ``chunks/``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from dfdc_lake.lake.commit import CommitRecord, read_commits
from dfdc_lake.lake.schema import sample_schema
from dfdc_lake.lake.storage import LakeLike, filesystem_for, open_storage, storage_options_for
from dfdc_lake.lake.wds_format import members_to_row

__all__ = [
    "committed_shards",
    "filesystem_for",
    "iter_webdataset_samples",
    "read_samples_table",
    "storage_options_for",
]


def _records(lake: LakeLike, config_hash: str | None) -> list[CommitRecord]:
    records = read_commits(lake)
    return [r for r in records if config_hash is None or r.config_hash == config_hash]


def committed_shards(lake: LakeLike, fmt: str = "parquet", config_hash: str | None = None) -> list[str]:
    """Absolute URLs of every committed shard of one format, in chunk then shard order.

    Args:
        lake: the lake.
        fmt: ``"parquet"`` or ``"webdataset"``.
        config_hash: only chunks committed with this config (default: all).
    """
    if fmt not in ("parquet", "webdataset"):
        raise ValueError(f"unknown shard format {fmt!r}; use 'parquet' or 'webdataset'")
    storage = open_storage(lake)
    return [
        storage.url(shard.path)
        for record in _records(storage, config_hash)
        for shard in record.shards_of(fmt)
    ]


def read_samples_table(
    lake: LakeLike, columns: list[str] | None = None, config_hash: str | None = None
) -> pa.Table:
    """Every committed Parquet row as one table with the sample schema (empty table for an empty lake).

    Args:
        lake: the lake.
        columns: a subset of columns to read (default: all).
        config_hash: only chunks committed with this config (default: all).
    """
    import pyarrow.parquet as pq

    storage = open_storage(lake)
    schema = sample_schema()
    if columns is not None:
        schema = pa.schema([schema.field(name) for name in columns], metadata=schema.metadata)
    tables = []
    for record in _records(storage, config_hash):
        for shard in record.shards_of("parquet"):
            with storage.open_read(shard.path) as f:
                tables.append(pq.read_table(f, columns=columns, schema=schema))
    if not tables:
        return schema.empty_table()
    return pa.concat_tables(tables)


def iter_webdataset_samples(lake: LakeLike, config_hash: str | None = None) -> Iterator[dict[str, Any]]:
    """Every committed WebDataset sample, decoded with the ``webdataset`` package into rows equal to the
    Parquet rows (same keys, NaN restored, crops as a list of JPEG bytes).
    """
    from webdataset.tariterators import group_by_keys, tar_file_expander

    storage = open_storage(lake)
    for record in _records(storage, config_hash):
        for shard in record.shards_of("webdataset"):
            with storage.open_read(shard.path) as stream:
                sources = [{"url": storage.url(shard.path), "stream": stream}]
                for sample in group_by_keys(tar_file_expander(sources)):
                    yield members_to_row(sample)
