"""A chunk's families as groups, without Ray: grouping, the task queue's order and limits, and a chunk
processed group by group into one commit (the path the Ray tasks take, run in-process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfdc_lake.config import Config
from dfdc_lake.errors import LakeCommitError, StorageError
from dfdc_lake.ingest.chunk import (
    GroupResult,
    commit_chunk_attempt,
    process_chunk,
    process_family_group,
)
from dfdc_lake.ingest.scheduler import FamilyTaskQueue
from dfdc_lake.lake.commit import new_attempt_id
from dfdc_lake.lake.lake import Lake
from dfdc_lake.lake.verify import verify_lake
from dfdc_lake.plan.chunks import Chunk, FamilyGroup, family_groups, plan_chunks
from dfdc_lake.records import Family, VideoEntry
from dfdc_lake.source.catalog import load_catalog
from dfdc_lake.source.storage import read_bytes
from dfdc_lake.stages.faces import FaceDetector, detect_fn
from dfdc_lake.stages.family import FamilyProcessor


def _family(name: str, fakes: int, size_bytes: int = 1, original_bytes: int | None = None) -> Family:
    def entry(video_id: str, label: str, nbytes: int | None) -> VideoEntry:
        return VideoEntry(video_id, f"{video_id}.mp4", 0, label, None if label == "REAL" else f"{name}.mp4",
                          f"/nowhere/{video_id}.mp4", nbytes)  # fmt: skip

    original = entry(name, "REAL", size_bytes if original_bytes is None else original_bytes)
    return Family(name, original, [entry(f"{name}{i}", "FAKE", size_bytes) for i in range(fakes)])


def _chunk(chunk_id: str, sizes: list[int]) -> Chunk:
    return Chunk(chunk_id, 0, tuple(_family(f"{chunk_id}f{i}", size - 1) for i, size in enumerate(sizes)))


def _result(group: FamilyGroup) -> GroupResult:
    return GroupResult(group.chunk_id, group.first_family, [], [], {}, 0.0, 0.0)


def test_families_are_packed_into_groups_in_order_and_never_split():
    chunk = _chunk("p00-c0000", [6, 2, 3, 4, 1])
    assert [g.first_family for g in family_groups(chunk, 1)] == [0, 1, 2, 3, 4]
    groups = family_groups(chunk, 5)
    assert [(g.first_family, g.num_videos) for g in groups] == [(0, 6), (1, 5), (3, 5)]
    assert [f for g in groups for f in g.families] == list(chunk.families)
    assert [g.num_videos for g in family_groups(chunk, 100)] == [16]
    with pytest.raises(ValueError, match="min_videos"):
        family_groups(chunk, 0)


def test_tasks_start_in_chunk_order_and_a_chunk_is_whole_after_its_last_group():
    chunks = [_chunk("p00-c0000", [1, 1, 1]), _chunk("p00-c0001", [1, 1])]
    queue = FamilyTaskQueue(chunks, 1, max_tasks=2)
    first = queue.take()
    assert [(a.chunk_id, g.first_family) for a, g in first] == [("p00-c0000", 0), ("p00-c0000", 1)]
    assert queue.take() == []  # both slots busy
    assert not queue.done(first[1][0], _result(first[1][1]))
    second = queue.take()
    assert [(a.chunk_id, g.first_family) for a, g in second] == [("p00-c0000", 2)]
    assert not queue.done(first[0][0], _result(first[0][1]))
    third = queue.take()  # c0000 has nothing left to start: the next chunk opens
    assert [(a.chunk_id, g.first_family) for a, g in third] == [("p00-c0001", 0)]
    assert queue.done(second[0][0], _result(second[0][1]))  # c0000's last group: commit it
    assert len({a.attempt_id for a, _ in first + second}) == 1  # one attempt id per chunk
    assert [r.first_family for r in second[0][0].results] == [1, 0, 2]


def test_open_chunks_are_bounded_and_a_failed_group_fails_its_chunk_once():
    chunks = [_chunk("p00-c0000", [1, 1, 1]), _chunk("p00-c0001", [1])]
    queue = FamilyTaskQueue(chunks, 1, max_tasks=4, max_chunks=1)
    started = queue.take()
    assert [g.first_family for _, g in started] == [0, 1, 2]  # c0001 waits for c0000 to settle
    attempt = started[0][0]
    assert queue.failed(attempt, "WorkerCrashedError")
    assert not queue.done(attempt, _result(started[1][1]))  # a late result of a failed chunk is ignored
    assert not queue.failed(attempt, "again")  # reported once
    assert attempt.error == "WorkerCrashedError"
    assert [a.chunk_id for a, _ in queue.take()] == ["p00-c0001"]
    assert queue.running == 1


def test_a_chunks_groups_start_largest_first_and_it_commits_after_the_last_one():
    mb = 1_000_000
    families = (
        _family("a", 1, 1 * mb),
        _family("b", 1, 22 * mb),  # big clips: decoding them costs most
        _family("c", 1, 1 * mb),  # ties with "a": stays after it
        _family("d", 2, 1 * mb),  # one fake more than "a"
        _family("e", 1, 1 * mb, original_bytes=0),  # an empty original costs nothing; its fake detects alone
    )
    chunks = [Chunk("p00-c0000", 0, families), _chunk("p00-c0001", [1])]
    queue = FamilyTaskQueue(chunks, 1, max_tasks=2, max_chunks=1)
    started = [(a.chunk_id, g.first_family) for a, g in queue.take()]
    attempt = queue.open[0]
    assert [g.first_family for g in attempt.groups] == [1, 3, 0, 2, 4]
    for finished, first_family in enumerate([1, 3, 0, 2, 4], start=1):
        group = next(g for g in attempt.groups if g.first_family == first_family)
        assert queue.done(attempt, _result(group)) == (finished == 5)  # whole after its last group only
        started += [(a.chunk_id, g.first_family) for a, g in queue.take()]
        assert queue.running <= 2  # max_tasks
    # max_chunks=1: the next chunk opens only once this one is whole
    assert started == [("p00-c0000", i) for i in (1, 3, 0, 2, 4)] + [("p00-c0001", 0)]


@pytest.fixture(scope="module")
def processor() -> FamilyProcessor:
    config = Config()
    return FamilyProcessor(config=config, detect=detect_fn(FaceDetector(config.faces)))


def _two_family_chunk(tiny_corpus: Path) -> Chunk:
    families = load_catalog(str(tiny_corpus / "dfdc_train_part_0")).families()
    chunk = plan_chunks(families, 8)[0]
    assert len(chunk.families) >= 2
    return chunk


def test_a_chunk_processed_group_by_group_commits_one_record_that_verifies(tiny_corpus, processor, tmp_path):
    chunk = _two_family_chunk(tiny_corpus)
    lake = Lake.open(tmp_path / "lake")
    config = Config().with_overrides(["ray.min_videos_per_task=1"])
    record = process_chunk(chunk, lake, config, new_attempt_id(), processor)
    folders = {shard.path.rsplit("/", 2)[1] for shard in record.shards}
    assert len(folders) == len(chunk.families)  # one folder per group, named f<NNN>-<try>
    assert sorted(f.split("-")[0] for f in folders) == [f"f{i:03d}" for i in range(len(chunk.families))]
    assert lake.commit(chunk.chunk_id) == record
    assert record.timings_s["total"] >= record.timings_s["decode"] > 0
    report = verify_lake(lake)
    assert report.ok and not report.orphans, report


def test_a_group_whose_source_stays_unreachable_leaves_the_chunk_uncommitted(
    tiny_corpus, processor, tmp_path
):
    chunk = _two_family_chunk(tiny_corpus)
    lake = Lake.open(tmp_path / "lake")
    config, attempt_id = Config().with_overrides(["ray.min_videos_per_task=1"]), new_attempt_id()
    groups = family_groups(chunk, 1)
    done = [process_family_group(groups[0], lake, config, attempt_id, processor)]
    victim = groups[1].families[0].videos[0].url

    def read(url: str) -> bytes:
        if url == victim:
            raise StorageError(f"read {url}: connection refused after 5 attempts")
        return read_bytes(url)

    unreachable = FamilyProcessor(config=processor.config, detect=processor.detect, read=read)
    with pytest.raises(StorageError):
        process_family_group(groups[1], lake, config, attempt_id, unreachable)
    with pytest.raises(LakeCommitError, match="exactly one outcome"):  # a group missing: no commit
        commit_chunk_attempt(chunk, attempt_id, done, lake, config)
    assert lake.commit(chunk.chunk_id) is None
    assert verify_lake(lake).orphans  # the first group's shards: gc removes them
