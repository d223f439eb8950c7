"""Where a Ray Train worker gets its batches: shards it reads itself, through the lake's reader.

Neither source copies the lake to local disk first; both read committed shards through
:class:`~dfdc_lake.lake.reader.ShardReader` (record batches for Parquet, ``tar_stream`` for tars):
- training (either format): :class:`OrderedShardBatches` reads the rows the run's sample order
  (``inputs.order``) deals to this rank, block by block, and decodes them in a read-ahead thread;
- validation (either format): :class:`StreamedShardBatches`, each rank taking every
  ``world_size``-th shard, so every sample is scored exactly once without a shuffle.

Ray Data is not used for training: its iterators keep no state (ray-project/ray#37633), so neither
the order of a run nor a resume mid-epoch could be reproduced through it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from dfdc_lake.io.read_ahead import read_ahead
from dfdc_lake.lake.reader import ShardReader
from dfdc_lake.train.inputs.features import InputSpec, decode_rows, lake_columns
from dfdc_lake.train.inputs.order import SampleOrder, Step, deal

__all__ = ["OrderedShardBatches", "StreamedShardBatches", "training_reader"]

Batch = dict[str, np.ndarray]


def training_reader(filesystem: Any, fmt: str, read_ahead_batches: int = 2) -> ShardReader:
    """The lake's shard reader, reading only the Parquet columns training needs."""
    columns = lake_columns() if fmt == "parquet" else None
    return ShardReader(filesystem, fmt, columns=columns, read_ahead_batches=read_ahead_batches)


@dataclass
class OrderedShardBatches:
    """Training batches in the run's sample order, for one rank (picklable: built on the driver).

    A rank reads every shard of a block but keeps only its own rows (its share of each global step):
    the price of one global order that any worker count can resume is ``world`` reads of each shard
    per epoch, sequential ones.
    """

    order: SampleOrder
    fmt: str  # "parquet" | "webdataset"
    filesystem: Any  # pyarrow.fs.FileSystem
    spec: InputSpec
    batch_size: int
    read_ahead_batches: int = 2

    def steps(self, start: int, world: int, stop: int | None = None) -> list[Step]:
        """Global steps from position ``start`` (to ``stop``, default the end of the epoch)."""
        return deal(self.order.num_samples, start, world, self.batch_size, stop)

    def rows(self, epoch: int, ranges: list[tuple[int, int]]) -> Iterator[dict[str, Any]]:
        """Rows at the global positions ``ranges`` (ascending, non-overlapping) of the epoch's order."""
        order = self.order.epoch_order(epoch)
        positions = np.concatenate([np.arange(a, b) for a, b in ranges] or [np.zeros(0, np.int64)])
        reader = training_reader(self.filesystem, self.fmt, read_ahead_batches=0)
        low = 0
        for block, high in zip(self.order.blocks(epoch), self.order.block_ends(epoch), strict=True):
            mine = positions[(positions >= low) & (positions < high)]
            low = high
            if len(mine):
                yield from self._block_rows(reader, block, order[mine])

    def _block_rows(
        self, reader: ShardReader, block: list[int], wanted: np.ndarray
    ) -> Iterator[dict[str, Any]]:
        slot = {(int(s), int(r)): k for k, (s, r) in enumerate(wanted)}
        got: list[dict[str, Any] | None] = [None] * len(wanted)
        for shard in block:
            last = max((r for s, r in slot if s == shard), default=-1)
            if last < 0:
                continue
            for row_number, row in enumerate(reader.rows([self.order.shards[shard].path])):
                if (shard, row_number) in slot:
                    got[slot[shard, row_number]] = row
                if row_number >= last:
                    break
        missing = [k for k, row in enumerate(got) if row is None]
        if missing:
            shard, row_number = wanted[missing[0]]
            raise ValueError(
                f"row {row_number} of {self.order.shards[shard].path} is in the sample order but not in "
                "the shard (the lake changed under the run)"
            )
        yield from (row for row in got if row is not None)

    def batches(self, epoch: int, slices: list[tuple[int, int]]) -> Iterator[Batch]:
        """One decoded batch per ``(start, stop)`` slice of global positions, decoded ahead in a thread."""

        def decoded() -> Iterator[Batch]:
            rows = self.rows(epoch, slices)
            for start, stop in slices:
                chunk = [next(rows) for _ in range(stop - start)]
                yield decode_rows(chunk, self.spec, True, seed=self.order.seed, epoch=epoch)

        return read_ahead(decoded(), self.read_ahead_batches, name="train-batches")


@dataclass
class StreamedShardBatches:
    """Validation batches streamed by the worker itself from committed shards.

    Each rank reads every ``world_size``-th shard; with fewer shards than ranks, every rank reads them
    all and keeps every ``world_size``-th row instead. Either way each sample goes to exactly one rank.
    """

    fmt: str  # "parquet" | "webdataset"
    filesystem: Any  # pyarrow.fs.FileSystem
    shards: list[str]  # shard paths in the filesystem's terms
    families: frozenset[str]  # family ids to keep
    spec: InputSpec
    batch_size: int

    def rows(self, paths: list[str]) -> Iterator[dict[str, Any]]:
        return training_reader(self.filesystem, self.fmt).rows(paths)

    def _rows_of_rank(self, rank: int, world: int) -> Iterator[dict[str, Any]]:
        paths = list(self.shards)
        if len(paths) >= world:
            return (r for r in self.rows(paths[rank::world]) if r["family_id"] in self.families)
        mine = (r for i, r in enumerate(self.rows(paths)) if i % world == rank)
        return (r for r in mine if r["family_id"] in self.families)

    def batches(self, rank: int, world: int) -> Iterator[Batch]:
        """This rank's share of the samples, decoded for evaluation (no random draws)."""
        pending: list[dict[str, Any]] = []
        for row in self._rows_of_rank(rank, world):
            pending.append(row)
            if len(pending) == self.batch_size:
                yield decode_rows(pending, self.spec, False)
                pending = []
        if pending:
            yield decode_rows(pending, self.spec, False)
