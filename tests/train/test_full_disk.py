"""A full disk under a training run's folder (checkpoints): ``train`` stops with one clear error naming
the run folder and the space (exit 2); the checkpoint cut short is never registered; after space is
freed, the same command resumes from the last whole checkpoint and finishes.

The disk is a real tmpfs with a ballast file that leaves room for one epoch checkpoint (~12 MB).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.tmpfs import fill_leaving, small_tmpfs

pytestmark = [pytest.mark.ray, pytest.mark.slow]

ARGS = ["--epochs", "2", "--batch-size", "8", "--frames", "2", "--num-folds", "4", "--seed", "0"]
_MAIN = "import sys; from dfdc_lake.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "disk", size_mb=48) as folder:
        yield folder


def _train(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", _MAIN, "train", *argv], capture_output=True, text=True, timeout=600
    )


def _registered(run_dir: Path) -> list[str]:
    """The checkpoints Ray Train registered (what a resume loads)."""
    snapshot = json.loads((run_dir / "checkpoint_manager_snapshot.json").read_text())
    return [r["checkpoint_dir_name"] for r in snapshot["checkpoint_results"]]


def test_a_full_run_folder_stops_training_cleanly_and_a_rerun_resumes(
    synth_lake: Path, ray_driver: str, small_disk: Path
) -> None:
    import torch

    storage = small_disk / "runs"
    argv = [str(synth_lake), "--storage-path", str(storage), "--name", "full", *ARGS, "--address", ray_driver]
    ballast = fill_leaving(small_disk, 16 * 2**20)

    full = _train(argv)

    assert full.returncode == 2, full.stderr[-4000:]
    # one line (Ray may still stream its workers' log lines after it)
    errors = [line for line in full.stderr.splitlines() if line.startswith("dfdc-lake train: error:")]
    assert len(errors) == 1, full.stderr[-4000:]
    assert f"the run folder {storage}/full is out of space" in errors[0], errors[0]
    assert "free of 48.0 MiB" in errors[0] and "rerun the same command" in errors[0]
    run_dir = storage / "full"
    registered = _registered(run_dir)
    assert registered == ["epoch_0000"]  # the second epoch's copy was cut short and never registered
    state = torch.load(run_dir / "epoch_0000" / "model.pt", map_location="cpu", weights_only=False)
    assert state["epoch"] == 0  # the registered checkpoint is whole

    first_epoch = (run_dir / "metrics.jsonl").read_text().splitlines()[0]

    ballast.unlink()
    rerun = _train(argv)

    assert rerun.returncode == 0, rerun.stderr[-4000:]
    assert "epoch_0001" in _registered(run_dir)
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [0, 1]
    assert lines[0] == first_epoch  # resumed after epoch 0, not trained again


def test_a_run_folder_full_before_training_starts_is_the_same_clear_error(
    synth_lake: Path, tmp_path: Path
) -> None:
    """``folds.json`` and ``run.json`` are written before Ray is touched: a full disk there is exit 2
    with the same message, not an internal error."""
    with small_tmpfs(tmp_path / "tiny", size_mb=1) as disk:
        fill_leaving(disk, 0)
        storage = disk / "runs"
        full = _train([str(synth_lake), "--storage-path", str(storage), "--name", "early", *ARGS])
    assert full.returncode == 2, full.stderr[-4000:]
    errors = [line for line in full.stderr.splitlines() if line.startswith("dfdc-lake train: error:")]
    assert len(errors) == 1 and "out of space" in errors[0], full.stderr[-4000:]
    assert "Traceback" not in full.stderr
