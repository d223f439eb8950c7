"""The time and size estimate of ``plan``: the scaling model on made-up costs, the sample's choice, and
the real measurement on the tiny corpus."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from dfdc_lake.cli import commands as cli
from dfdc_lake.config import Config
from dfdc_lake.plan.chunks import Chunk, family_groups, largest_first, plan_chunks
from dfdc_lake.plan.clip_costs import (
    CLIP_FIXED_BYTES,
    DETECTED_ALONE_FACTOR,
    ClipCosts,
    catalog_cost,
    pick_sample_families,
    sample_shard_bytes,
)
from dfdc_lake.plan.estimate import RAY_SLOWDOWN, RAY_STARTUP_S, _makespan, estimate_run, worker_setup_s
from dfdc_lake.records import Family, VideoEntry
from tests.lake.fakes import make_samples


def entry(name: str, original: str | None = None, size: int | None = 100) -> VideoEntry:
    return VideoEntry(
        name, f"{name}.mp4", 0, "FAKE" if original else "REAL", f"{original}.mp4" if original else None,
        f"/x/{name}.mp4", size,
    )  # fmt: skip


def family(name: str, fakes: int, original_size: int | None = 100) -> Family:
    return Family(name, entry(name, size=original_size), [entry(f"{name}f{i}", name) for i in range(fakes)])


def costs(**changes: float) -> ClipCosts:
    values = {
        "s_per_original": 3.0,
        "s_per_fake": 0.5,
        "detect_s_per_original": 2.0,
        "bytes_per_original": {"parquet": 1000.0, "webdataset": 2000.0},
        "bytes_per_fake": {"parquet": 500.0, "webdataset": 1000.0},
    }
    return ClipCosts(families=["x"], originals=1, fakes=2, setup_s=1.0, sample_s=2.0, **values | changes)  # type: ignore[arg-type]


def test_a_chunk_is_split_into_family_tasks_and_a_family_uses_one_core() -> None:
    chunks = plan_chunks([family("aaaa", 5), family("bbbb", 5)], videos_per_chunk=60)
    assert len(chunks) == 1  # of two tasks: a family of 6 videos fills one (ray.min_videos_per_task)
    per_family = 3.0 + 5 * 0.5
    one, many = (estimate_run(costs(), chunks, Config(), cores=n) for n in (1, 64))
    assert one.tasks == many.tasks == 2 and many.tasks_at_once == 64 and many.placement == "task"
    assert one.tasks_s == pytest.approx(2 * per_family) and many.tasks_s == pytest.approx(per_family)
    assert many.processing_s == pytest.approx(RAY_SLOWDOWN * per_family) and many.detection_actors == 0
    assert many.wall_s == pytest.approx(many.processing_s + RAY_STARTUP_S)  # set-up 1 s < an original's 3
    slow_setup = estimate_run(replace(costs(), setup_s=10.0), chunks, Config(), cores=64)
    assert worker_setup_s(slow_setup.costs) == pytest.approx(7.0)  # the warm-up video's 3 s left out
    assert (
        slow_setup.startup_s == pytest.approx(RAY_STARTUP_S + 7.0) and "7.0 s a worker" in slow_setup.formula
    )
    assert (many.originals, many.fakes, many.chunks) == (2, 10, 1)
    assert many.bytes_by_format == {"parquet": 2 * 1000 + 10 * 500, "webdataset": 2 * 2000 + 10 * 1000}
    assert "64 slots" in many.formula and "2 family tasks" in many.formula
    busy = estimate_run(costs(), chunks, Config(), cores=64, busy_share=0.5)
    assert busy.processing_s == pytest.approx(2 * many.processing_s) and "busy machine" in busy.formula
    with pytest.raises(ValueError):
        estimate_run(costs(), chunks, Config(), cores=2, busy_share=0)
    grouped = estimate_run(costs(), chunks, Config().with_overrides(["ray.min_videos_per_task=12"]), cores=64)
    assert grouped.tasks == 1 and grouped.tasks_s == pytest.approx(2 * per_family)


def test_cpu_detection_actors_bound_a_big_cluster_and_gpus_take_detection_away() -> None:
    chunks = plan_chunks([family(f"f{i:03d}", 1) for i in range(40)], videos_per_chunk=2)
    on_actor = Config().with_overrides(["ray.detector_placement=cpu"])
    wide = estimate_run(costs(), chunks, on_actor, cores=64)
    assert wide.placement == "cpu" and wide.detection_actors == 1
    assert wide.tasks_s == pytest.approx(3.5) and wide.detect_s == pytest.approx(40 * 2.0)
    assert wide.processing_s == pytest.approx(RAY_SLOWDOWN * 80.0)  # the one actor is the bottleneck
    assert "one call at a time" in wide.formula
    on_gpus = estimate_run(costs(), chunks, Config(), cores=2, gpus=1)
    assert on_gpus.placement == "gpu" and on_gpus.detection_actors == 2 and on_gpus.detect_s == 0
    assert (
        on_gpus.processing_s == pytest.approx(RAY_SLOWDOWN * 20 * 1.5) and "not measured" in on_gpus.formula
    )
    limited = estimate_run(costs(), chunks, Config().with_overrides(["ray.tasks_in_flight=1"]), cores=8)
    assert limited.tasks_at_once == 1 and limited.processing_s == pytest.approx(RAY_SLOWDOWN * 40 * 3.5)


def test_absent_and_empty_clips_cost_nothing_and_orphans_cost_as_originals() -> None:
    absent = family("aaaa", 2, original_size=None)  # fakes detect on their own
    empty = Family("bbbb", entry("bbbb", size=0), [])
    estimate = estimate_run(costs(), plan_chunks([absent, empty], 60), Config(), cores=1)
    assert (estimate.originals, estimate.fakes) == (2, 0)
    assert estimate_run(costs(), [], Config(), cores=4).wall_s == 0


def test_the_catalog_cost_grows_with_bytes_and_originals_and_is_zero_for_absent_clips() -> None:
    real = CLIP_FIXED_BYTES + 100  # entry() files are 100 bytes
    assert catalog_cost([family("aaaa", 2)]) == pytest.approx(real * DETECTED_ALONE_FACTOR + 2 * real)
    orphans = family("bbbb", 2, original_size=None)  # its fakes are detected on their own
    assert catalog_cost([orphans]) == pytest.approx(2 * real * DETECTED_ALONE_FACTOR)
    assert catalog_cost([family("cccc", 0, original_size=0), Family("dddd", None, [])]) == 0
    assert catalog_cost([family("eeee", 0, original_size=22_000_000)]) > 3 * catalog_cost([family("ffff", 0)])


def test_a_chunks_costly_tasks_start_first_and_shorten_its_tail() -> None:
    # The measured one-family tasks of a 42-clip source (2 slots), with made-up clip counts and sizes:
    # family 1 has 22 MB clips; family 5 (26 s) holds two people, which its catalog entries cannot tell.
    seconds = [4.7, 29.0, 8.4, 10.0, 12.5, 26.0, 9.4, 8.1, 4.7, 10.6]
    clips = [4, 4, 4, 4, 5, 4, 4, 4, 4, 5]
    mb = [1, 22, 2, 3, 3, 2, 2.5, 2, 1, 2.5]
    families = [
        Family(f"f{i}", entry(f"f{i}", size=int(m * 1e6)),
               [entry(f"f{i}f{k}", f"f{i}", int(m * 1e6)) for k in range(n - 1)])
        for i, (n, m) in enumerate(zip(clips, mb, strict=True))
    ]  # fmt: skip
    groups = family_groups(Chunk("p00-c0000", 0, tuple(families)), 1)
    ordered = [g.first_family for g in largest_first(groups)]
    assert ordered == [1, 4, 9, 3, 6, 2, 5, 7, 0, 8]
    assert _makespan(seconds, 2) == pytest.approx(65.6)
    assert _makespan([seconds[i] for i in ordered], 2) == pytest.approx(64.4)  # knowing family 5: 61.8

    # plan prices the tasks in ingest's order: tasks of 3, 3 and 5.5 s would take 8.5 s in plan order
    chunks = plan_chunks([family("aaaa", 0), family("bbbb", 0), family("cccc", 5)], videos_per_chunk=60)
    one_family = Config().with_overrides(["ray.min_videos_per_task=1"])
    assert estimate_run(costs(), chunks, one_family, cores=2).tasks_s == pytest.approx(3.0 + 3.0)


def test_the_sample_is_taken_from_the_middle_deterministically() -> None:
    families = [family(f"f{i:02d}", i % 7) for i in range(21)] + [family("broken", 3, original_size=0)]
    picked = pick_sample_families(families, 2)
    assert [f.family_id for f in picked] == [f.family_id for f in pick_sample_families(families[::-1], 2)]
    assert [len(f.fakes) for f in picked] == [3, 3] and "broken" not in [f.family_id for f in picked]
    assert len(pick_sample_families(families[:1], 5)) == 1


def test_shard_bytes_of_samples() -> None:
    samples = make_samples(4)
    sizes = sample_shard_bytes(samples, ("parquet", "webdataset"))
    jpeg_bytes = sum(len(c) for s in samples for c in s.crops_jpeg)
    assert sizes["parquet"] > jpeg_bytes and sizes["webdataset"] > jpeg_bytes
    assert sample_shard_bytes(samples, ("webdataset",)).keys() == {"webdataset"}
    assert sample_shard_bytes([], ("parquet",)) == {"parquet": 0}


@pytest.mark.slow
def test_plan_estimates_the_tiny_corpus(
    tiny_corpus: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "COMMANDS", {"plan": cli.COMMANDS["plan"]})
    code = cli.main(["plan", str(tiny_corpus), "--json", "--cores", "3", "--sample-families", "1"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    summary, estimate = document["summary"], document["estimate"]
    sample = estimate["costs"]
    assert len(sample["families"]) == 1 and sample["originals"] == 1 and sample["fakes"] >= 1
    assert sample["s_per_original"] > sample["detect_s_per_original"] > 0 and sample["s_per_fake"] > 0
    assert all(sample["bytes_per_original"][fmt] > 0 for fmt in ("parquet", "webdataset"))
    assert estimate["cores"] == 3 and estimate["chunks"] == summary["chunks"] and estimate["tasks"] >= 2
    assert estimate["placement"] == "task" and estimate["tasks_at_once"] == 3
    assert estimate["originals"] + estimate["fakes"] == summary["clips"] - summary["zero_byte"]["count"]
    assert estimate["wall_s"] == pytest.approx(estimate["processing_s"] + estimate["startup_s"])
    assert estimate["processing_s"] > 0 and all(n > 0 for n in estimate["bytes_by_format"].values())
    assert "slots" in estimate["formula"]

    code = cli.main(["plan", str(tiny_corpus), "--sample-families", "1"])  # this machine, as busy as it is
    text = capsys.readouterr().out
    assert code == 0 and "estimate        wall ~" in text and "measured here on 1 families" in text
    assert f"on {os.cpu_count()} cores" in text
