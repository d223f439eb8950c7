"""Reproducible runs that survive preemption, through real Ray Train on the session's Ray cluster.

A run is SIGKILLed (its whole process group, like a preempted machine's) right after a step
checkpoint line, then the same command runs again: it must say where it resumed and end with the
metrics of the session's uninterrupted run (``trained_run``, same seed, no step checkpoints).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dfdc_lake.train.inputs.order import SampleOrder
from tests.train.conftest import TRAIN_ARGS, TrainedRun

pytestmark = [pytest.mark.ray, pytest.mark.slow]

TIMINGS = ("train_s", "epoch_s")  # wall-clock seconds: the only fields two equal runs may differ in
_MAIN = "import sys; from dfdc_lake.cli import main; sys.exit(main(sys.argv[1:]))"


def _train(argv: list[str], log: Path) -> subprocess.Popen:
    """``dfdc-lake train ARGV`` as a child in its own process group (a preemptible job's shape)."""
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-c", _MAIN, "train", *argv],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def _kill_after(process: subprocess.Popen, log: Path, pattern: str, timeout_s: float = 300) -> str:
    """SIGKILL the process group once ``pattern`` is in the log; returns the match's first group."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        found = re.search(pattern, log.read_text(errors="replace"))
        if found:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return found.group(1)
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"no {pattern!r} before the run ended or {timeout_s} s:\n{log.read_text()[-3000:]}")


def _finish(argv: list[str], log: Path) -> str:
    process = _train(argv, log)
    assert process.wait(timeout=600) == 0, log.read_text()[-3000:]
    return log.read_text(errors="replace")


def _metrics(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMINGS} for line in lines if line.strip()]


def test_a_killed_run_resumes_mid_epoch_and_ends_like_the_uninterrupted_one(
    trained_run: TrainedRun, ray_driver: str, tmp_path: Path
) -> None:
    argv = [str(trained_run.lake), "--storage-path", str(tmp_path), "--name", "killed", *TRAIN_ARGS]
    argv += ["--set", "checkpoint_every_steps=2", "--address", ray_driver]
    process = _train(argv, tmp_path / "first.log")
    step = _kill_after(process, tmp_path / "first.log", r"step checkpoint: epoch 1 step (\d+)")
    uninterrupted = _metrics(trained_run.run_dir)[:4]
    # (a) The same seed gives the same run: epochs finished before the kill match to the last digit.
    before = _metrics(tmp_path / "killed")
    assert before and before == uninterrupted[: len(before)], step
    output = _finish(argv, tmp_path / "second.log")
    resumed = re.findall(r"resumed from epoch (\d+) step (\d+)", output)
    assert resumed and resumed[0][0] == "1" and int(resumed[0][1]) >= int(step) > 0
    # (b) Every line equal to the uninterrupted run's: losses, sample counts, val_log_loss and all.
    assert _metrics(tmp_path / "killed") == uninterrupted


def test_a_resume_on_two_workers_trains_the_rest_of_the_epoch_once(
    synth_lake: Path, ray_driver: str, tmp_path: Path
) -> None:
    where = [str(synth_lake), "--storage-path", str(tmp_path), "--name", "elastic", "--address", ray_driver]
    options = [*TRAIN_ARGS, "--epochs", "1", "--set", "checkpoint_every_steps=3"]
    process = _train([*where, *options, "--num-workers", "1"], tmp_path / "first.log")
    _kill_after(process, tmp_path / "first.log", r"step checkpoint: epoch 0 step (6)")
    # Two half-CPU workers fit the 2-CPU test cluster while the killed job's worker is reaped.
    output = _finish(
        [*where, *options, "--num-workers", "2", "--set", "cpus_per_worker=0.5"], tmp_path / "second.log"
    )
    (step,) = set(re.findall(r"resumed from epoch 0 step (\d+)", output))  # Ray may echo a line twice
    assert int(step) >= 6
    order = SampleOrder.from_json((tmp_path / "elastic" / "sample_order.json").read_text())
    (record,) = _metrics(tmp_path / "elastic")
    # Samples before the checkpoint (one worker) plus those after it (two): each training row once.
    assert record["train_samples"] == order.num_samples
    assert record["val_log_loss"] is not None
