"""Where a Ray Train worker gets its batches: its Ray Data shard, or shards it streams itself.

All sources yield the same decoded batches (see ``features.decode_rows``) and none copies the lake
to local disk first:
- Parquet training data flows through Ray Data's streaming executor into ``get_dataset_shard``
  (decoded in Ray Data tasks, shuffled, split equally across workers);
- validation (either format) and WebDataset training are read by the worker itself, shard after
  shard over a pyarrow input stream (``r|`` tar mode for tars, record batches for Parquet), each rank
  taking every ``world_size``-th shard. Validation sees every sample exactly once that way, and skips
  a per-epoch dataset start-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from dfdc_lake.io.read_ahead import read_ahead
from dfdc_lake.train.features import LAKE_COLUMNS, InputSpec, arrow_rows, decode_rows

__all__ = [
    "RayDataBatches",
    "SplitSources",
    "StreamedShardBatches",
    "iter_parquet_rows",
    "iter_webdataset_rows",
]

Batch = dict[str, np.ndarray]


@dataclass
class RayDataBatches:
    """Batches from the worker's shard of a Ray dataset passed to the trainer (by split name)."""

    batch_size: int
    shuffle_buffer: int = 256

    def __call__(self, split: str, epoch: int) -> Iterator[Batch]:
        import ray.train

        shard = ray.train.get_dataset_shard(split)
        if shard is None:
            raise ValueError(f"Ray Train gave this worker no {split!r} dataset")
        yield from shard.iter_batches(
            batch_size=self.batch_size,
            batch_format="numpy",
            prefetch_batches=2,
            local_shuffle_buffer_size=self.shuffle_buffer if split == "train" else None,
        )


def iter_webdataset_rows(filesystem: Any, paths: list[str]) -> Iterator[dict[str, Any]]:
    """Stream lake rows out of WebDataset tars, one tar after another, without local copies.

    The tars are parsed by ``tar_stream``: the same samples as ``webdataset``'s iterators give, at
    less than half the time per row (README, Benchmarks).
    """
    from dfdc_lake.lake.tar_stream import iter_tar_samples
    from dfdc_lake.lake.wds_format import members_to_row

    for path in paths:
        with filesystem.open_input_stream(path) as stream:
            for sample in iter_tar_samples(stream, path):
                yield members_to_row(sample)


def iter_parquet_rows(
    filesystem: Any, paths: list[str], batch_rows: int = 64, read_ahead_batches: int = 2
) -> Iterator[dict[str, Any]]:
    """Stream lake rows out of Parquet shards, a record batch at a time (only the training columns).

    A background thread reads up to ``read_ahead_batches`` record batches ahead, so that waiting on
    S3 overlaps with the caller's decoding (README, Benchmarks: it pays where requests wait on the
    network; on local disk it changes nothing measurable).
    """
    import pyarrow.parquet as pq

    def batches() -> Iterator[list[dict[str, Any]]]:
        for path in paths:
            with filesystem.open_input_file(path) as handle:
                for batch in pq.ParquetFile(handle).iter_batches(batch_size=batch_rows, columns=LAKE_COLUMNS):
                    yield arrow_rows(batch)

    for rows in read_ahead(batches(), read_ahead_batches, name="parquet-read-ahead"):
        yield from rows


@dataclass
class StreamedShardBatches:
    """Batches streamed by the worker itself from committed shards.

    Each rank reads every ``world_size``-th shard; with fewer shards than ranks, every rank reads them
    all and keeps every ``world_size``-th row instead. Either way each sample goes to exactly one rank.
    Used for validation (no per-epoch dataset start-up) and, with ``fmt="webdataset"``, for training.
    """

    fmt: str  # "parquet" | "webdataset"
    filesystem: Any  # pyarrow.fs.FileSystem
    shards: dict[str, list[str]]  # split -> shard paths in the filesystem's terms
    families: dict[str, frozenset[str]]  # split -> family ids that belong to it
    spec: InputSpec
    batch_size: int
    seed: int = 0
    shuffle_buffer: int = 256

    def rows(self, paths: list[str]) -> Iterator[dict[str, Any]]:
        if self.fmt == "webdataset":
            return iter_webdataset_rows(self.filesystem, paths)
        return iter_parquet_rows(self.filesystem, paths)

    def _rows_of_rank(
        self, paths: list[str], wanted: frozenset[str], rank: int, world: int
    ) -> Iterator[dict[str, Any]]:
        if len(paths) >= world:
            return (r for r in self.rows(paths[rank::world]) if r["family_id"] in wanted)
        mine = (r for i, r in enumerate(self.rows(paths)) if i % world == rank)
        return (r for r in mine if r["family_id"] in wanted)

    def __call__(self, split: str, epoch: int) -> Iterator[Batch]:
        import ray.train

        context = ray.train.get_context()
        rank, world = context.get_world_rank(), context.get_world_size()
        train = split == "train"
        rng = np.random.default_rng([self.seed, epoch, rank])
        paths = list(self.shards[split])
        if train:
            np.random.default_rng([self.seed, epoch]).shuffle(paths)  # same order on every rank
        rows = self._rows_of_rank(paths, self.families[split], rank, world)
        if train:
            rows = _shuffled(rows, self.shuffle_buffer, rng)
        pending: list[dict[str, Any]] = []
        for row in rows:
            pending.append(row)
            if len(pending) == self.batch_size:
                yield decode_rows(pending, self.spec, train, rng)
                pending = []
        if pending:
            yield decode_rows(pending, self.spec, train, rng)


@dataclass
class SplitSources:
    """Training batches from one source, validation batches from another."""

    train: Any
    val: Any

    def __call__(self, split: str, epoch: int) -> Iterator[Batch]:
        return (self.train if split == "train" else self.val)(split, epoch)


def _shuffled(
    rows: Iterator[dict[str, Any]], size: int, rng: np.random.Generator
) -> Iterator[dict[str, Any]]:
    """A bounded shuffle buffer (rows leave in random order once ``size`` are waiting)."""
    buffer: list[dict[str, Any]] = []
    for row in rows:
        buffer.append(row)
        if len(buffer) >= size:
            yield buffer.pop(int(rng.integers(len(buffer))))
    rng.shuffle(buffer)  # type: ignore[arg-type]
    yield from buffer
