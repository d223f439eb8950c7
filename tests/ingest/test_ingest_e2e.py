"""End to end on the tiny synthetic corpus with a local lake, on the session's real Ray cluster."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dfdc_lake.config import Config
from dfdc_lake.ingest.driver import ingest
from dfdc_lake.lake.lake import Lake
from dfdc_lake.lake.reader import read_samples_table
from dfdc_lake.lake.status import lake_status
from dfdc_lake.lake.verify import verify_lake
from dfdc_lake.synth.truth import load_ground_truth
from tests.ingest.helpers import REPO, assert_accounted_once, sample_digest
from tests.lake.fakes import stock_webdataset_rows

pytestmark = [pytest.mark.ray, pytest.mark.slow]

CONFIG = Config().with_overrides(["lake.videos_per_chunk=8"])


@pytest.fixture(scope="module")
def ingested(tiny_corpus: Path, ray_cluster, tmp_path_factory) -> tuple[str, str]:
    lake = str(tmp_path_factory.mktemp("lake") / "lake")
    report = ingest(str(tiny_corpus), Lake.open(lake), CONFIG, address=ray_cluster.address)
    assert report.ok, report.failed_chunks
    assert len(report.committed_chunks) == report.total_chunks > 1
    return str(tiny_corpus), lake


def test_every_catalog_video_is_accounted_for_exactly_once(ingested):
    source, lake = ingested
    outcomes = assert_accounted_once(source, lake)
    truth = {
        name: t
        for part in sorted(Path(source).glob("dfdc_train_part_*"))
        for name, t in load_ground_truth(part).items()
    }
    for name, clip in truth.items():
        status = outcomes[name]["status"]
        if clip.broken == "zero_byte":
            assert status == "empty_file"
        elif clip.broken == "truncated":
            assert status in {"decode_error", "no_video_stream"}
        else:
            assert status == "ok", (name, outcomes[name])
            assert outcomes[name]["num_samples"] >= 1


def test_parquet_and_webdataset_hold_the_same_samples(ingested):
    _, lake = ingested
    table = read_samples_table(Lake.open(lake)).to_pylist()
    by_id = {row["sample_id"]: row for row in table}
    wds = list(stock_webdataset_rows(lake))
    assert len(wds) == len(table) > 0
    for row in wds:
        ref = by_id[row["sample_id"]]
        assert row["crops_jpeg"] == ref["crops_jpeg"]
        assert row["logmel_f16"] == ref["logmel_f16"]
        assert row["label"] == ref["label"] and row["face_fake"] == ref["face_fake"]
        np.testing.assert_allclose(row["boxes_xyxy"], ref["boxes_xyxy"])
        # MTCNN's five points per crop land in both formats.
        assert len(ref["crop_landmarks"]) == 10 * len(ref["crops_jpeg"])
        np.testing.assert_allclose(row["crop_landmarks"], ref["crop_landmarks"])
        assert row["crop_landmarks_interpolated"] == ref["crop_landmarks_interpolated"]


def test_resume_redoes_only_the_chunk_whose_commit_was_deleted(ingested, ray_cluster, tmp_path):
    source, original_lake = ingested
    lake = str(tmp_path / "lake")
    shutil.copytree(original_lake, lake)
    before = sample_digest(lake)
    victim = sorted(Lake.open(lake).commits(), key=lambda r: r.chunk_id)[1].chunk_id
    os.remove(Path(lake) / "commits" / f"{victim}.json")
    report = ingest(source, Lake.open(lake), CONFIG, address=ray_cluster.address)
    assert report.committed_chunks == [victim]
    assert victim not in report.skipped_chunks and len(report.skipped_chunks) == report.total_chunks - 1
    assert sample_digest(lake) == before


def test_redo_reprocesses_a_committed_chunk(ingested, ray_cluster, tmp_path):
    source, original_lake = ingested
    lake = str(tmp_path / "lake")
    shutil.copytree(original_lake, lake)
    first = sorted(r.chunk_id for r in Lake.open(lake).commits())[0]
    report = ingest(source, Lake.open(lake), CONFIG, redo=[first], address=ray_cluster.address)
    assert report.committed_chunks == [first]


def test_a_one_chunk_source_runs_its_families_as_parallel_tasks(tiny_corpus, ray_cluster, tmp_path):
    part, lake = str(tiny_corpus / "dfdc_train_part_1"), str(tmp_path / "lake")
    config = Config().with_overrides(["lake.videos_per_chunk=1000", "ray.min_videos_per_task=1"])
    report = ingest(part, Lake.open(lake), config, address=ray_cluster.address)
    assert report.ok and report.total_chunks == 1, report
    (record,) = Lake.open(lake).commits()
    groups = {shard.path.rsplit("/", 2)[1] for shard in record.shards}
    assert len(groups) > 1, groups  # one shard folder per family task
    # Task seconds summed over the families exceed the chunk's span: some tasks ran at the same time.
    assert record.timings_s["total"] > record.timings_s["wall"] > 0, record.timings_s
    assert_accounted_once(part, lake)
    assert verify_lake(Lake.open(lake)).ok


def _wait_for_commits(lake: Path, process: subprocess.Popen, count: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(list((lake / "commits").glob("*.json"))) >= count:
            return
        assert process.poll() is None, "the ingest finished before it could be killed"
        time.sleep(0.2)
    raise AssertionError("no chunk was committed in time")


def test_sigkill_of_the_driver_mid_run_then_rerun_loses_and_duplicates_nothing(
    tiny_corpus, ray_cluster, tmp_path
):
    source, lake = str(tiny_corpus), tmp_path / "lake"
    cmd = [sys.executable, str(REPO / "pipelines" / "ingest.py"), source, str(lake), "--address", ray_cluster.address,
           "--set", "lake.videos_per_chunk=4", "--set", "ray.chunks_in_flight=1"]  # fmt: skip
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_commits(lake, process, 1, timeout_s=240)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    committed_before = {r.chunk_id for r in Lake.open(str(lake)).commits()}
    status = lake_status(Lake.open(str(lake)))
    assert status["chunks_pending"] == status["chunks_planned"] - len(committed_before) > 0
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "already committed" in rerun.stderr
    after = {r.chunk_id: r for r in Lake.open(str(lake)).commits()}
    assert committed_before <= set(after)
    assert_accounted_once(source, str(lake))
    report = verify_lake(Lake.open(str(lake)))
    assert report.ok, report


def test_pipeline_script_runs_under_ray_job_submit(tiny_corpus, ray_cluster, tmp_path):
    part = str(tiny_corpus / "dfdc_train_part_0")
    lake = tmp_path / "lake"
    workdir = tmp_path / "job"
    workdir.mkdir()
    shutil.copy(REPO / "pipelines" / "ingest.py", workdir / "ingest.py")
    result = ray_cluster.submit_job(
        workdir, ["python", "ingest.py", part, str(lake), "--set", "lake.videos_per_chunk=8"]
    )
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    assert "succeeded" in (result.stdout + result.stderr)
    assert_accounted_once(part, str(lake))
    # A changed processing setting changes the config hash: every chunk is redone, nothing skipped.
    changed = CONFIG.with_overrides(["crops.jpeg_quality=80"])
    report = ingest(part, Lake.open(str(lake)), changed, address=ray_cluster.address)
    assert report.skipped_chunks == [] and len(report.committed_chunks) == report.total_chunks
    assert {r.config_hash for r in Lake.open(str(lake)).commits()} == {changed.config_hash()}
