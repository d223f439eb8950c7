"""The one order in which a run trains on its samples, epoch by epoch, and how it is dealt to ranks.

Each epoch's order is a permutation of the training rows derived from (seed, epoch) alone, after
mosaicml/streaming's shuffle-block idea: the shards are shuffled, cut into blocks of whole shards of
at least ``block_samples`` rows, and the rows are shuffled inside each block. Every sample moves
anywhere within its block (and blocks anywhere in the epoch), yet a reader goes through the shards
of one block at a time, each shard read once, front to back.

Dealing is by global position, not by rank: global step ``k`` after a start position ``p`` takes the
next ``world * batch`` positions and gives rank ``r`` the ``r``-th equal share. The sequence of sample
ids a rank sees is thus a function of (seed, epoch, world size, rank, start position); one number,
the global position, says where an epoch stands, so a resume on another worker count re-deals the
remaining rows of the same order from the same place (MosaicML's and LitData's elastic resume).
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from dfdc_lake.train.seeding import numpy_rng

__all__ = ["BLOCK_SAMPLES", "SampleOrder", "ShardRows", "Step", "deal", "rank_slices", "train_rows"]

# Rows shuffled together: large enough that a batch mixes many videos and shards, small enough that a
# rank holds its share of a block in memory (about 1/world of it).
BLOCK_SAMPLES = 1024


@dataclass(frozen=True)
class ShardRows:
    """One shard holding training rows, and which of its rows (0-based, in file order) train."""

    path: str  # in the lake filesystem's terms
    rows: tuple[int, ...]


@dataclass(frozen=True)
class Step:
    """One global step: global positions ``[start, stop)`` of the epoch's order, split between ranks."""

    start: int
    stop: int
    world: int

    def rank_range(self, rank: int) -> tuple[int, int]:
        """Rank ``rank``'s share: equal, contiguous, in rank order (sizes differ by at most one)."""
        size = self.stop - self.start
        return self.start + rank * size // self.world, self.start + (rank + 1) * size // self.world


def deal(total: int, start: int, world: int, batch_size: int, stop: int | None = None) -> list[Step]:
    """The global steps that train positions ``[start, stop)`` of an epoch of ``total`` samples.

    Every step holds ``world * batch_size`` positions except the last; a last step with fewer
    positions than ranks joins the step before it (so every rank gets at least one sample and no
    sample is dropped). Only when fewer than ``world`` positions remain in all are they skipped.
    """
    stop = total if stop is None else stop
    per_step = world * batch_size
    bounds = [*range(start, stop, per_step), stop]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < world:
        del bounds[-2]
    steps = [Step(a, b, world) for a, b in itertools.pairwise(bounds)]
    return [s for s in steps if s.stop - s.start >= world]


def rank_slices(steps: Iterable[Step], rank: int) -> list[tuple[int, int]]:
    """Rank ``rank``'s position range in each of ``steps``."""
    return [step.rank_range(rank) for step in steps]


@dataclass(frozen=True)
class SampleOrder:
    """The training rows of a run and the seed that orders them.

    Args:
        shards: shards holding training rows, in commit-record order.
        seed: the run seed.
        block_samples: rows per shuffle block (blocks are whole shards, at least this many rows).
    """

    shards: tuple[ShardRows, ...]
    seed: int
    block_samples: int = BLOCK_SAMPLES

    @property
    def num_samples(self) -> int:
        return sum(len(s.rows) for s in self.shards)

    def blocks(self, epoch: int) -> list[list[int]]:
        """The epoch's shuffle blocks: lists of shard indices, in reading order."""
        permuted = numpy_rng(self.seed, epoch, "shard-order").permutation(len(self.shards))
        blocks: list[list[int]] = [[]]
        filled = 0
        for index in permuted.tolist():
            if filled >= self.block_samples:
                blocks.append([])
                filled = 0
            blocks[-1].append(index)
            filled += len(self.shards[index].rows)
        return [b for b in blocks if b]

    def epoch_order(self, epoch: int) -> np.ndarray:
        """int64 [N, 2]: (shard index, row in shard) of every training row, in the epoch's order."""
        return _epoch_order(self, epoch)

    def block_ends(self, epoch: int) -> list[int]:
        """The global position where each block of ``blocks(epoch)`` ends."""
        sizes = [sum(len(self.shards[i].rows) for i in block) for block in self.blocks(epoch)]
        return np.cumsum(sizes).tolist() if sizes else []

    def to_json(self) -> str:
        """The document a run keeps (``sample_order.json``), so a resume orders the same rows."""
        shards = [{"path": s.path, "rows": list(s.rows)} for s in self.shards]
        return json.dumps({"seed": self.seed, "block_samples": self.block_samples, "shards": shards})

    @classmethod
    def from_json(cls, text: str) -> SampleOrder:
        data = json.loads(text)
        shards = tuple(ShardRows(s["path"], tuple(int(r) for r in s["rows"])) for s in data["shards"])
        return cls(shards, int(data["seed"]), int(data["block_samples"]))


@functools.lru_cache(maxsize=4)
def _epoch_order(order: SampleOrder, epoch: int) -> np.ndarray:
    parts = []
    for number, block in enumerate(order.blocks(epoch)):
        pairs = [(i, r) for i in block for r in order.shards[i].rows]
        rows = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        parts.append(rows[numpy_rng(order.seed, epoch, "block", number).permutation(len(rows))])
    return np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.int64)


def train_rows(
    shard_families: Iterable[tuple[str, Sequence[str]]], families: frozenset[str]
) -> list[ShardRows]:
    """Which rows of each shard belong to ``families``, from each shard's row family ids (in file order)."""
    shards = []
    for path, row_families in shard_families:
        wanted = tuple(i for i, family in enumerate(row_families) if family in families)
        if wanted:
            shards.append(ShardRows(path, wanted))
    return shards
