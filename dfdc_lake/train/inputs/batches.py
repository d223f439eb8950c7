"""Where a Ray Train worker gets its batches: its Ray Data shard, or shards it streams itself.

All sources yield the same decoded batches (see ``features.decode_rows``) and none copies the lake
to local disk first:
- Parquet training data flows through Ray Data's streaming executor into ``get_dataset_shard``
  (decoded in Ray Data tasks, shuffled, split equally across workers);
- validation (either format) and WebDataset training are read by the worker itself through the
  lake's :class:`~dfdc_lake.lake.reader.ShardReader` (record batches for Parquet, ``tar_stream`` for
  tars), each rank taking every ``world_size``-th shard. Validation sees every sample exactly once that way, and skips
  a per-epoch dataset start-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from dfdc_lake.lake.reader import ShardReader
from dfdc_lake.train.inputs.features import LAKE_COLUMNS, InputSpec, decode_rows

__all__ = [
    "RayDataBatches",
    "SplitSources",
    "StreamedShardBatches",
    "training_reader",
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


def training_reader(filesystem: Any, fmt: str, read_ahead_batches: int = 2) -> ShardReader:
    """The lake's shard reader, reading only the Parquet columns training needs."""
    columns = LAKE_COLUMNS if fmt == "parquet" else None
    return ShardReader(filesystem, fmt, columns=columns, read_ahead_batches=read_ahead_batches)


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
        return training_reader(self.filesystem, self.fmt).rows(paths)

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
                yield decode_rows(pending, self.spec, train, seed=self.seed, epoch=epoch)
                pending = []
        if pending:
            yield decode_rows(pending, self.spec, train, seed=self.seed, epoch=epoch)


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
