"""The Ray Data training dataset over committed Parquet shards, decoded into model inputs as it streams.

``read_parquet`` gets the shard paths named by commit records (never a listing) and the pyarrow
filesystem of the lake; only the columns training needs are read. Rows of the other side's families
are dropped by an Arrow-native filter, then crops and spectrograms are decoded in Ray Data tasks,
so the Train workers receive ready tensors (and a GPU cluster decodes on its CPU nodes).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import ray.data

from dfdc_lake.lake.reader import arrow_rows
from dfdc_lake.train.inputs.features import LAKE_COLUMNS, InputSpec, decode_rows

__all__ = ["decode_table", "parquet_dataset"]


def decode_table(
    table: pa.Table, *, spec: InputSpec, train: bool, seed: int = 0, epoch: int = 0
) -> dict[str, np.ndarray]:
    """Decode a batch of lake rows (an Arrow table with ``LAKE_COLUMNS``) into model inputs.

    Training draws fresh frames and windows on every call (a new epoch re-executes the dataset).
    """
    return decode_rows(arrow_rows(table), spec, train, seed=seed, epoch=epoch)


def parquet_dataset(
    paths: list[str],
    filesystem: Any,
    families: frozenset[str],
    spec: InputSpec,
    *,
    train: bool = True,
    decode_batch_rows: int = 32,
) -> ray.data.Dataset:
    """A lazily executed dataset of decoded samples of the given families.

    Args:
        paths: shard paths in ``filesystem`` terms, from commit records.
        filesystem: the lake's pyarrow filesystem (carries S3 endpoint and credentials to the readers).
        families: family ids on this side of the fold; other rows are filtered out.
        spec: model input shape.
        train: random frames/windows and shuffled file order when True.
        decode_batch_rows: rows per decode task call.
    """
    from ray.data.expressions import col

    dataset = ray.data.read_parquet(
        paths, filesystem=filesystem, shuffle="files" if train else None, file_extensions=None
    ).select_columns(LAKE_COLUMNS)
    dataset = dataset.filter(expr=col("family_id").is_in(sorted(families)))
    return dataset.map_batches(
        decode_table,  # type: ignore[arg-type]  # Ray's stubs do not model keyword-only fn_kwargs
        batch_format="pyarrow",
        batch_size=decode_batch_rows,
        fn_kwargs={"spec": spec, "train": train},
    )
