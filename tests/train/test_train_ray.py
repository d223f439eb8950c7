"""Training through Ray Train on real local Ray: learning, folds, checkpoints, resume, WebDataset, S3."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from dfdc_lake.lake.lake import Lake
from dfdc_lake.train.driver.folds import FoldAssignment
from tests.ingest.helpers import REPO
from tests.train.conftest import TRAIN_ARGS, TrainedRun, run_cli
from tests.train.synthetic_lake import LakeSpec, write_lake

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _lake_families(lake: Path) -> dict[str, set[str]]:
    """family_id -> video ids, read from the committed Parquet rows themselves."""
    families: dict[str, set[str]] = {}
    for url in Lake.open(str(lake)).shard_urls("parquet"):
        for row in pq.read_table(url, columns=["family_id", "video_id"]).to_pylist():
            families.setdefault(row["family_id"], set()).add(row["video_id"])
    return families


def test_training_beats_the_prior_and_writes_the_run(trained_run: TrainedRun) -> None:
    metrics = trained_run.metrics()
    assert [m["epoch"] for m in metrics] == [0, 1, 2, 3]
    last = metrics[-1]
    # The prior always answers the training fake rate; the detector must clearly do better.
    assert last["val_log_loss"] < last["prior_log_loss"] - 0.1, metrics
    assert last["val_auc"] > 0.8
    assert last["val_face_auc"] is not None and last["val_audio_auc"] is not None
    assert 0.0 <= last["val_accuracy"] <= 1.0
    assert (trained_run.run_dir / last["checkpoint"] / "model.pt").is_file()
    run = json.loads((trained_run.run_dir / "run.json").read_text())
    assert run["imbalance"]["method"] == "pos_weight"
    assert run["imbalance"]["pos_weight"] == pytest.approx(
        (1 - run["imbalance"]["train_fake_rate"]) / run["imbalance"]["train_fake_rate"]
    )
    summary = json.loads(trained_run.stdout.strip().splitlines()[-1])
    assert summary["epochs_done"] == 4 and summary["best_checkpoint"].startswith(str(trained_run.run_dir))


def test_family_folds_never_leak(trained_run: TrainedRun) -> None:
    folds = FoldAssignment.from_json((trained_run.run_dir / "folds.json").read_text())
    families = _lake_families(trained_run.lake)
    assert set(folds.family_fold) == set(families)
    train, val = folds.families("train"), folds.families("val")
    assert train and val and not (train & val)
    # Every video of a family sits on its family's side: no original/fake pair is split.
    train_videos = {v for f in train for v in families[f]}
    val_videos = {v for f in val for v in families[f]}
    assert not (train_videos & val_videos)
    metrics = trained_run.metrics()[-1]
    assert metrics["val_videos"] == len(val_videos)


def test_rerun_resumes_from_the_last_checkpoint(trained_run: TrainedRun, ray_driver: str) -> None:
    before = trained_run.metrics()
    at = TRAIN_ARGS.index("--epochs") + 1
    args = [*TRAIN_ARGS[:at], "5", *TRAIN_ARGS[at + 1 :]]  # the same run, one epoch longer
    where = [str(trained_run.lake), "--storage-path", str(trained_run.storage), "--name", trained_run.name]
    code, stdout = run_cli(["train", *where, *args, "--address", ray_driver])
    assert code == 0
    after = trained_run.metrics()
    assert [m["epoch"] for m in after] == [0, 1, 2, 3, 4]
    assert after[:4] == before  # earlier epochs untouched: only epoch 4 ran
    assert (trained_run.run_dir / "epoch_0004" / "model.pt").is_file()
    assert json.loads(stdout.strip().splitlines()[-1])["epochs_done"] == 5


def test_webdataset_with_two_workers_sees_every_validation_sample(
    synth_lake: Path, ray_driver: str, tmp_path: Path
) -> None:
    options = (
        "--name wds --format webdataset --num-workers 2 --epochs 1 --batch-size 8 --frames 1 --num-folds 4"
    )
    argv = ["train", str(synth_lake), "--storage-path", str(tmp_path), *options.split()]
    code, _ = run_cli([*argv, "--address", ray_driver])
    assert code == 0
    (record,) = [json.loads(line) for line in (tmp_path / "wds" / "metrics.jsonl").read_text().splitlines()]
    folds = FoldAssignment.from_json((tmp_path / "wds" / "folds.json").read_text())
    families = _lake_families(synth_lake)
    val_videos = {v for f in folds.families("val") for v in families[f]}
    assert record["val_videos"] == len(val_videos)  # two ranks, each sample scored exactly once
    assert record["train_samples"] > 0 and record["val_log_loss"] is not None


@pytest.mark.s3
def test_train_pipeline_under_ray_job_submit_from_an_s3_lake_with_two_parquet_workers(
    s3_lake_url: str, ray_cluster: Any, tmp_path: Path
) -> None:
    """What a cluster user runs: ``ray job submit -- python train.py s3://lake --storage-path s3://runs``.

    The job's driver and Ray Train workers get S3 settings from their nodes' environment (as from an
    instance profile); each of two workers reads its share of the run's sample order from S3 itself.
    """
    from dfdc_lake.io.urls import fsspec_filesystem
    from dfdc_lake.lake.reader import read_samples_table
    from dfdc_lake.train.inference.checkpoint import load_checkpoint

    write_lake(s3_lake_url, LakeSpec(families=12, parts=2, chunks_per_part=1))
    runs = s3_lake_url.rsplit("/", 1)[0] + "/runs"
    workdir = tmp_path / "job"
    workdir.mkdir()
    shutil.copy(REPO / "pipelines" / "train.py", workdir / "train.py")
    options = (
        "--name s3run --epochs 1 --batch-size 8 --frames 1 --eval-frames 2 --num-folds 3 --num-workers 2"
    )
    # Two workers of half a CPU each leave the 2-CPU test cluster a CPU for the job's driver.
    entrypoint = ["python", "train.py", s3_lake_url, "--storage-path", runs, *options.split()]
    result = ray_cluster.submit_job(workdir, [*entrypoint, "--set", "cpus_per_worker=0.5"])
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    fs, _ = fsspec_filesystem(runs)
    run_dir = runs.removeprefix("s3://") + "/s3run"
    assert fs.exists(f"{run_dir}/folds.json") and fs.exists(f"{run_dir}/epoch_0000/model.pt")
    (record,) = [json.loads(line) for line in fs.cat_file(f"{run_dir}/metrics.jsonl").decode().splitlines()]
    folds = FoldAssignment.from_json(fs.cat_file(f"{run_dir}/folds.json").decode())
    rows = read_samples_table(Lake.open(s3_lake_url), columns=["family_id", "video_id"]).to_pylist()
    val_videos = {r["video_id"] for r in rows if folds.side(r["family_id"]) == "val"}
    assert record["epoch"] == 0 and record["val_videos"] == len(val_videos)  # each scored once
    assert record["train_samples"] > 0
    run = json.loads(fs.cat_file(f"{run_dir}/run.json").decode())
    assert run["train_config"]["num_workers"] == 2 and run["train_config"]["format"] == "parquet"
    loaded = load_checkpoint(f"{runs}/s3run")
    assert loaded.url.endswith("/s3run/epoch_0000") and loaded.meta["lake"] == s3_lake_url
