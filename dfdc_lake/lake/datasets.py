"""A lake's committed Parquet shards handed to the ecosystem's readers: pyarrow, Ray Data, Hugging Face.

Every reader here gets the list of shards from the commit records (:meth:`Lake.shard_urls`), never
from a listing of ``chunks/``, so orphans of failed attempts are never read; and the sample schema from
``schemas/`` (:func:`~dfdc_lake.lake.schema.sample_schema`), so no footer is opened to discover it.
Each heavy library is imported inside the function that needs it. The :class:`Lake` methods
``to_arrow_dataset``, ``to_ray_dataset`` and ``to_hf_dataset`` call these.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from dfdc_lake.io.s3_settings import storage_options_for
from dfdc_lake.lake.schema import projected_schema, sample_schema

if TYPE_CHECKING:
    import pyarrow.dataset as pads

    from dfdc_lake.lake.commit import CommitRecord
    from dfdc_lake.lake.lake import Lake

__all__ = ["arrow_dataset", "hf_dataset", "ray_dataset"]


def arrow_dataset(
    lake: Lake,
    families: Iterable[str] | None = None,
    parts: Iterable[int] | None = None,
    records: list[CommitRecord] | None = None,
) -> pads.Dataset:
    """A ``pyarrow.dataset`` over the committed Parquet shards, with the lake's filesystem.

    Filter and project it as usual (``dataset.to_table(columns=[...], filter=pc.field("label") == "FAKE")``);
    ``families`` / ``parts`` leave out whole chunks first, from the commit records (``records``: those
    already read, else read now).
    """
    import pyarrow.dataset as ds

    filesystem, _ = lake.arrow_filesystem()
    paths = lake.shard_paths("parquet", families=families, parts=parts, records=records)
    return ds.dataset(paths, schema=sample_schema(), format="parquet", filesystem=filesystem)


def ray_dataset(lake: Lake, columns: list[str] | None = None, **read_options: Any) -> Any:
    """A Ray Data ``Dataset`` of the committed Parquet rows (``ray.data.read_parquet``).

    Args:
        lake: the lake.
        columns: columns to read (default: all).
        **read_options: passed to ``ray.data.read_parquet`` (``override_num_blocks``, ``concurrency`` ...).
    """
    import ray.data

    paths = lake.shard_paths("parquet")
    if not paths:  # read_parquet refuses an empty list; an empty lake is an empty dataset
        return ray.data.from_arrow(projected_schema(columns).empty_table())
    filesystem, _ = lake.arrow_filesystem()
    # The explicit schema reads shards of an older version with the newer columns null.
    read_options.setdefault("schema", projected_schema(columns))
    return ray.data.read_parquet(paths, filesystem=filesystem, columns=columns, **read_options)


def hf_dataset(lake: Lake, columns: list[str] | None = None, **load_options: Any) -> Any:
    """A Hugging Face ``datasets.Dataset`` of the committed Parquet rows.

    ``datasets.load_dataset("parquet", data_files=<committed shard URLs>)`` with the lake's S3 settings
    as ``storage_options``. The ``parquet`` builder ships with the library: nothing is asked of the
    Hugging Face Hub. The rows are converted once into the library's Arrow cache (``cache_dir`` in
    ``load_options``, default ``~/.cache/huggingface/datasets``); shards of an S3 lake are copied there
    first, which the library's offline mode (``HF_DATASETS_OFFLINE=1``) refuses: there, pass
    ``streaming=True`` for an ``IterableDataset`` that reads the shards in place.

    Args:
        lake: the lake.
        columns: columns to keep (default: all).
        **load_options: passed to ``datasets.load_dataset`` (``cache_dir``, ``streaming``, ``num_proc`` ...).

    Raises:
        ValueError: offline mode and an S3 lake without ``streaming=True``.
    """
    import datasets

    urls = lake.shard_urls("parquet")
    if not urls:
        return datasets.Dataset(projected_schema(columns).empty_table())
    if datasets.config.HF_HUB_OFFLINE and not lake.is_local and not load_options.get("streaming"):
        raise ValueError(
            f"Hugging Face datasets' offline mode refuses to copy the shards of {lake.url} into its cache: "
            "pass streaming=True to read them in place, or unset HF_DATASETS_OFFLINE / HF_HUB_OFFLINE "
            "(the parquet builder needs no Hub)"
        )
    options: dict[str, Any] = {"split": "train", **load_options}
    if columns is not None:
        options.setdefault("columns", columns)
    storage_options = storage_options_for(lake.url)
    if storage_options:
        options.setdefault("storage_options", storage_options)
    return datasets.load_dataset("parquet", data_files=urls, **options)
