"""The run's sample order and its dealing to ranks, Ray-free: exactly once, resumable, elastic.

The reader tests read a real synthetic lake (Parquet and WebDataset shards written by the lake's
own writers) through the same ``OrderedShardBatches`` the Ray Train workers use.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dfdc_lake.lake.lake import Lake
from dfdc_lake.train.driver.folds import assign_folds
from dfdc_lake.train.driver.lake_index import read_lake_index, shard_family_ids
from dfdc_lake.train.inputs.batches import OrderedShardBatches, training_reader
from dfdc_lake.train.inputs.features import InputSpec
from dfdc_lake.train.inputs.order import SampleOrder, ShardRows, deal, rank_slices, train_rows
from tests.train.synthetic_lake import N_MELS, LakeSpec, write_lake


def _order(rows_per_shard: list[int], seed: int = 3, block: int = 40) -> SampleOrder:
    shards = tuple(ShardRows(f"s{i}", tuple(range(n))) for i, n in enumerate(rows_per_shard))
    return SampleOrder(shards, seed, block_samples=block)


def _seen(order: SampleOrder, epoch: int, start: int, world: int, batch: int) -> list[list[tuple[int, int]]]:
    """Per rank, the (shard, row) pairs it trains on from ``start`` to the end of the epoch."""
    steps = deal(order.num_samples, start, world, batch)
    positions = order.epoch_order(epoch)
    return [
        [tuple(p) for a, b in rank_slices(steps, rank) for p in positions[a:b].tolist()]
        for rank in range(world)
    ]


def test_each_epoch_is_a_seeded_permutation_shuffled_across_shards() -> None:
    order = _order([30, 25, 40, 10, 35, 20])
    first = order.epoch_order(0)
    assert sorted(map(tuple, first.tolist())) == [
        (s, r) for s, n in enumerate([30, 25, 40, 10, 35, 20]) for r in range(n)
    ]
    assert np.array_equal(first, _order([30, 25, 40, 10, 35, 20]).epoch_order(0))  # a function of the seed
    assert not np.array_equal(first, order.epoch_order(1))  # and of the epoch
    assert not np.array_equal(first, _order([30, 25, 40, 10, 35, 20], seed=4).epoch_order(0))
    # Shuffle quality: within a block, rows of different shards interleave (not file order).
    blocks = order.blocks(0)
    assert sorted(i for b in blocks for i in b) == list(range(6)) and len(blocks) >= 2
    start = 0
    for block in blocks:
        rows = first[start : start + sum(len(order.shards[i].rows) for i in block)]
        start += len(rows)
        assert {int(s) for s in rows[:, 0]} == set(block)  # a block holds its own shards' rows
        if len(block) >= 2:  # and interleaves them (not file order)
            assert len({int(s) for s in rows[:10, 0]}) >= 2 and not np.all(np.diff(rows[:, 0]) >= 0)


@pytest.mark.parametrize(("world", "batch"), [(1, 8), (2, 8), (3, 5), (4, 16)])
def test_dealing_gives_every_sample_to_exactly_one_rank(world: int, batch: int) -> None:
    order = _order([30, 25, 40, 10, 35, 21])
    seen = _seen(order, 0, 0, world, batch)
    flat = [p for rank in seen for p in rank]
    assert len(flat) == len(set(flat)) == order.num_samples
    steps = deal(order.num_samples, 0, world, batch)
    assert all(b - a == world * batch for a, b in ((s.start, s.stop) for s in steps[:-1]))
    sizes = [b - a for a, b in rank_slices(steps[-1:], 0) + rank_slices(steps[-1:], world - 1)]
    assert min(sizes) >= 1


def test_a_last_step_smaller_than_the_worker_count_joins_the_one_before() -> None:
    steps = deal(35, 0, 4, 8)  # 32 + 3: three samples cannot feed four ranks
    assert [(s.start, s.stop) for s in steps] == [(0, 35)]
    assert sum(b - a for r in range(4) for a, b in rank_slices(steps, r)) == 35


def test_a_resume_continues_each_rank_where_it_stopped() -> None:
    order = _order([30, 25, 40, 10, 35, 20])
    world, batch = 2, 6
    full = _seen(order, 2, 0, world, batch)
    steps = deal(order.num_samples, 0, world, batch)
    position = steps[5].start  # a step checkpoint after five steps
    resumed = _seen(order, 2, position, world, batch)
    for rank in range(world):
        assert resumed[rank] == full[rank][5 * batch :]  # no restart at 0, nothing repeated or dropped


@pytest.mark.parametrize("new_world", [1, 3])
def test_a_resume_on_another_worker_count_sees_the_rest_of_the_same_order(new_world: int) -> None:
    order = _order([30, 25, 40, 10, 35, 20])
    before = _seen(order, 1, 0, 2, 6)
    position = deal(order.num_samples, 0, 2, 6)[4].start
    done = {p for rank in before for p in rank[: 4 * 6]}
    after = _seen(order, 1, position, new_world, 6)
    rest = [p for rank in after for p in rank]
    assert len(rest) == len(set(rest)) and not (set(rest) & done)
    assert len(done) + len(rest) == order.num_samples
    # The same global order: the remaining rows in global order are the same on any worker count.
    global_rest = [tuple(p) for p in order.epoch_order(1)[position:].tolist()]
    assert sorted(rest, key=global_rest.index) == global_rest


@pytest.fixture(scope="module")
def small_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("order_lake") / "lake"
    # Small shards: a chunk's Parquet files and tars split its rows at different places.
    write_lake(str(path), LakeSpec(families=12, parts=2, chunks_per_part=2), shard_target_bytes=150_000)
    return path


@pytest.mark.parametrize("fmt", ["parquet", "webdataset"])
def test_the_reader_yields_the_ordered_training_rows_and_resumes_mid_epoch(
    small_lake: Path, fmt: str
) -> None:
    lake = Lake.open(str(small_lake))
    index = read_lake_index(lake, fmt)
    folds = assign_folds(index.videos, num_folds=3, seed=1)
    families = folds.families("train")
    filesystem = lake.arrow_filesystem()[0]
    paths = [lake.arrow_path(u) for u in index.shard_urls(families)]
    shard_families = list(shard_family_ids(index, families))
    # Read from the Parquet column even for tars: the same as the shards' own rows say.
    reader = training_reader(filesystem, fmt)
    assert shard_families == [(p, [r["family_id"] for r in reader.rows([p])]) for p in paths]
    shards = train_rows(shard_families, families)
    order = SampleOrder(tuple(shards), seed=5, block_samples=16)
    spec = InputSpec(32, 2, 64, N_MELS, 2)
    source = OrderedShardBatches(order, fmt, filesystem, spec, batch_size=4)
    train_videos = {v.video_id for v in index.videos if v.family_id in families}
    expected = sum(n for video, n in index.samples_per_video.items() if video in train_videos)
    assert order.num_samples == expected and len(order.blocks(0)) >= 2

    def ids(start: int, world: int, rank: int) -> list[str]:
        slices = rank_slices(source.steps(start, world), rank)
        return [s for b in source.batches(0, slices) for s in b["sample_id"].tolist()]

    one = ids(0, 1, 0)
    assert len(one) == len(set(one)) == order.num_samples
    rows = list(training_reader(filesystem, fmt).rows(paths))
    assert {r["sample_id"] for r in rows if r["family_id"] in families} == set(one)
    # Two ranks from a mid-epoch position: each rank's ids are the uninterrupted rank's from there on.
    position = source.steps(0, 2)[3].start
    for rank in (0, 1):
        assert ids(position, 2, rank) == ids(0, 2, rank)[3 * 4 :]
    # One rank resuming where two stopped: the rest of the same global order, each sample once.
    assert ids(position, 1, 0) == one[position:]
