"""Faults during ingest, each ending with `verify` clean and every catalog video accounted for exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from dfdc_lake.lake.lake import Lake
from tests.ingest.helpers import assert_accounted_once, ingest_command, verify_clean_after_gc, wait_until

pytestmark = [pytest.mark.ray, pytest.mark.slow]

SMALL_CHUNKS = ("--set", "lake.videos_per_chunk=4", "--set", "ray.chunks_in_flight=1")


def _family_task_pids() -> list[int]:
    """PIDs of Ray workers currently running a family task (Ray names the process after the task)."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if "ray::_family_group_task" in line]


def test_a_ray_worker_killed_mid_chunk_is_retried(tiny_corpus, ray_cluster, tmp_path):
    part = str(tiny_corpus / "dfdc_train_part_0")
    lake = str(tmp_path / "lake")
    process = subprocess.Popen(
        ingest_command(part, lake, ray_cluster.address, *SMALL_CHUNKS), stderr=subprocess.PIPE, text=True
    )
    wait_until(lambda: bool(_family_task_pids()), 240, "a family task to start", process)
    victim = _family_task_pids()[0]
    os.kill(victim, signal.SIGKILL)
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
    assert_accounted_once(part, lake)
    verify_clean_after_gc(lake)


def test_a_family_task_that_keeps_dying_leaves_its_chunk_uncommitted_and_a_rerun_commits_it(
    tiny_corpus, ray_cluster, tmp_path
):
    part = str(tiny_corpus / "dfdc_train_part_0")
    lake = str(tmp_path / "lake")
    one_chunk = ("--set", "lake.videos_per_chunk=1000", "--set", "ray.min_videos_per_task=1",
                 "--set", "ray.task_retries=0")  # fmt: skip
    process = subprocess.Popen(
        ingest_command(part, lake, ray_cluster.address, *one_chunk), stderr=subprocess.PIPE, text=True
    )
    wait_until(lambda: bool(_family_task_pids()), 240, "a family task to start", process)
    os.kill(_family_task_pids()[0], signal.SIGKILL)
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 1, stderr[-3000:]
    assert "1 chunks failed and stay uncommitted" in stderr, stderr[-3000:]
    assert Lake.open(lake).commits() == []  # the other families' shards are orphans, never read
    rerun = subprocess.run(
        ingest_command(part, lake, ray_cluster.address, *one_chunk),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert len(Lake.open(lake).commits()) == 1
    assert_accounted_once(part, lake)
    verify_clean_after_gc(lake)


def test_a_second_run_on_a_locked_lake_stops_with_a_clear_message(tiny_corpus, ray_cluster, tmp_path):
    part = str(tiny_corpus / "dfdc_train_part_1")
    lake = tmp_path / "lake"
    first = subprocess.Popen(
        ingest_command(part, str(lake), ray_cluster.address, *SMALL_CHUNKS), stderr=subprocess.PIPE, text=True
    )
    wait_until(lambda: (lake / "_lock.json").exists(), 120, "the first run to take the lock", first)
    second = subprocess.run(
        ingest_command(part, str(lake), ray_cluster.address, *SMALL_CHUNKS),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode == 2, second.stderr[-3000:]
    assert "lock" in second.stderr and "Traceback" not in second.stderr
    _, stderr = first.communicate(timeout=600)
    assert first.returncode == 0, stderr[-3000:]
    # Waiting for the lock instead: the late run finds everything committed and skips it all.
    third = subprocess.run(
        ingest_command(part, str(lake), ray_cluster.address, *SMALL_CHUNKS, "--lock-wait", "60"),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert third.returncode == 0, third.stderr[-3000:]
    assert "0 to process" in third.stderr
    assert_accounted_once(part, str(lake))
    verify_clean_after_gc(str(lake))


def test_s3_stopped_and_restarted_mid_ingest_then_rerun_completes(
    tiny_corpus, ray_cluster, s3_env, s3_lake_url
):
    part = str(tiny_corpus / "dfdc_train_part_0")
    cmd = ingest_command(part, s3_lake_url, ray_cluster.address, *SMALL_CHUNKS)
    process = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    wait_until(lambda: len(Lake.open(s3_lake_url).commits()) >= 1, 240, "a first commit on S3", process)
    s3_env.stop()
    time.sleep(5)
    s3_env.start()
    _, stderr = process.communicate(timeout=600)
    outputs = [stderr]
    if process.returncode != 0:  # the outage outlasted the retries: the run ends with a clear message
        last_line = stderr.strip().splitlines()[-1]
        assert "rerun the same command" in last_line or "ingest: error:" in last_line, last_line
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=dict(os.environ))
    outputs.append(rerun.stderr)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert_accounted_once(part, s3_lake_url)
    verify_clean_after_gc(s3_lake_url)
    assert all(s3_env.secret_key not in text for text in outputs)


def test_sources_are_never_written(tiny_corpus):
    """Runs last in this module: no test above wrote into the source corpus."""
    written = [p for p in Path(tiny_corpus).rglob("*") if p.is_file() and p.suffix not in {".mp4", ".json"}]
    assert written == []
