"""Fixtures of the training tests: one synthetic lake and one trained run for the whole session.

The run is trained once through the real ``dfdc-lake train`` command on the shared local Ray cluster;
the train, resume and predict tests all read it, which keeps the suite's Ray starts and CPU time low.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.train.synthetic_lake import LakeSpec, write_lake

# Small enough for two shared CPUs, big enough that the detector clearly beats the prior.
TRAIN_ARGS = ["--epochs", "4", "--batch-size", "8", "--frames", "2", "--num-folds", "4", "--seed", "0"]


@dataclass
class TrainedRun:
    lake: Path
    storage: Path
    name: str
    stdout: str
    stderr: str = ""  # the epoch lines (train prints them on stderr; stdout holds the JSON summary)

    @property
    def run_dir(self) -> Path:
        return self.storage / self.name

    def metrics(self) -> list[dict]:
        lines = (self.run_dir / "metrics.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="session")
def synth_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local lake of the default ``LakeSpec`` (Parquet + WebDataset, 8 committed chunks)."""
    path = tmp_path_factory.mktemp("train_lake") / "lake"
    write_lake(str(path), LakeSpec())
    return path


@pytest.fixture(scope="session")
def ray_driver(ray_cluster) -> Iterator[str]:
    """This process connected to the session's Ray cluster (the address is yielded)."""
    import ray

    if not ray.is_initialized():
        ray.init(address=ray_cluster.address, logging_level=logging.ERROR)
    yield ray_cluster.address


def run_cli(argv: list[str]) -> tuple[int, str]:
    """Run ``dfdc-lake`` in-process; returns (exit code, stdout)."""
    from dfdc_lake.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


@pytest.fixture(scope="session")
def trained_run(synth_lake: Path, ray_driver: str, tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    """``dfdc-lake train`` on the synthetic lake for a few epochs (the suite's one full training run)."""
    storage = tmp_path_factory.mktemp("train_runs")
    argv = ["train", str(synth_lake), "--storage-path", str(storage), "--name", "av", *TRAIN_ARGS]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code, stdout = run_cli([*argv, "--address", ray_driver])
    assert code == 0, stdout
    return TrainedRun(synth_lake, storage, "av", stdout, err.getvalue())
