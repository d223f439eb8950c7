"""The training driver: lake index -> folds -> input pipeline -> Ray Train ``TorchTrainer`` -> run files.

A run lives in ``STORAGE_PATH/NAME`` (local or ``s3://``): Ray Train's checkpoints ``epoch_NNNN/``
plus ``run.json``, ``folds.json``, ``sample_order.json`` (the training rows), ``metrics.jsonl`` and
``step_checkpoint.pt``. Starting the same name again resumes from its last checkpoint (mid-epoch
from a step checkpoint) with the folds and rows it was started with.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dfdc_lake.config import Config
from dfdc_lake.errors import ConfigError
from dfdc_lake.io.urls import arrow_filesystem
from dfdc_lake.lake.lake import Lake
from dfdc_lake.train.config import TrainConfig
from dfdc_lake.train.driver.console import EpochReporter
from dfdc_lake.train.driver.folds import FoldAssignment, assign_folds
from dfdc_lake.train.driver.lake_index import LakeIndex, read_lake_index, shard_family_ids
from dfdc_lake.train.driver.no_space import run_folder_space_errors
from dfdc_lake.train.driver.run_files import RunFiles
from dfdc_lake.train.inputs.batches import OrderedShardBatches, StreamedShardBatches
from dfdc_lake.train.inputs.features import InputSpec
from dfdc_lake.train.inputs.order import SampleOrder, train_rows
from dfdc_lake.train.model.network import ModelSpec
from dfdc_lake.train.model.steps import LossSettings
from dfdc_lake.train.model.worker_loop import METRICS_FILE, WorkerPlan, train_loop_per_worker

__all__ = ["TrainResult", "run_result", "train"]

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a finished (or resumed and finished) run produced."""

    run_url: str
    metrics: list[dict[str, Any]] = field(default_factory=list)  # one record per epoch, all invocations
    latest_checkpoint: str | None = None
    best_checkpoint: str | None = None  # lowest val_log_loss


def _folds(run: RunFiles, index: LakeIndex, cfg: TrainConfig) -> FoldAssignment:
    saved = run.read_text("folds.json")
    if saved is not None:
        folds = FoldAssignment.from_json(saved)
        log.info("reusing the folds of %s (%d families)", run.url, len(folds.family_fold))
        return folds
    folds = assign_folds(
        index.videos,
        split_by=cfg.split_by,
        num_folds=cfg.num_folds,
        val_fold=cfg.val_fold,
        seed=cfg.seed,
        val_parts=cfg.val_parts,
    )
    run.write_text("folds.json", folds.to_json())
    return folds


def _imbalance(
    index: LakeIndex, train_families: frozenset[str], cfg: TrainConfig
) -> tuple[float, float, float | None]:
    """(training fake rate, rate the logits are calibrated for, pos_weight or None)."""
    train_videos = [v for v in index.videos if v.family_id in train_families]
    fakes = sum(v.is_fake for v in train_videos)
    reals = len(train_videos) - fakes
    if fakes == 0 or reals == 0:
        raise ConfigError(
            f"the training side has {fakes} fake and {reals} real videos; both classes are needed"
        )
    rate = fakes / len(train_videos)
    if cfg.imbalance == "pos_weight":
        return rate, 0.5, reals / fakes
    return rate, rate, None


def _sample_order(run: RunFiles, index: LakeIndex, folds: FoldAssignment, cfg: TrainConfig) -> SampleOrder:
    """The run's training rows (``sample_order.json``): read from the shards once, kept with the run.

    Like ``folds.json`` it is reused on a resume, so a lake that grew meanwhile cannot change the
    order of a run half done.
    """
    saved = run.read_text("sample_order.json")
    if saved is not None:
        return SampleOrder.from_json(saved)
    families = folds.families("train")
    order = SampleOrder(tuple(train_rows(shard_family_ids(index, families), families)), cfg.seed)
    run.write_text("sample_order.json", order.to_json())
    return order


def _sources(
    run: RunFiles, index: LakeIndex, folds: FoldAssignment, cfg: TrainConfig, spec: InputSpec
) -> tuple[OrderedShardBatches, StreamedShardBatches]:
    """The worker-side batch sources: training in the run's sample order, validation streamed."""
    lake = index.lake
    filesystem, _ = lake.arrow_filesystem()
    val = folds.families("val")
    val_paths = [lake.arrow_path(u) for u in index.shard_urls(val)]
    order = _sample_order(run, index, folds, cfg)
    train = OrderedShardBatches(order, cfg.format, filesystem, spec, cfg.batch_size)
    return train, StreamedShardBatches(cfg.format, filesystem, val_paths, val, spec, cfg.batch_size)


def _pretrained_file(cfg: TrainConfig) -> str | None:
    """``pretrained_path``, or with ``pretrained`` the weights file in this machine's Hugging Face cache:
    resolved once here, so missing weights fail before any worker starts (model/pretrained.py)."""
    if cfg.pretrained_path is not None or not cfg.pretrained:
        return cfg.pretrained_path
    from dfdc_lake.train.model.pretrained import resolve_pretrained

    return resolve_pretrained(cfg.backbone)


def _plan(index: LakeIndex, folds: FoldAssignment, run: RunFiles, cfg: TrainConfig) -> WorkerPlan:
    train_rate, model_rate, pos_weight = _imbalance(index, folds.families("train"), cfg)
    # The ingest config the chunks were made with, so predict processes videos alike.
    ingest = index.lake.ingest_config(index.config_hashes)
    n_mels = (ingest or Config()).audio.n_mels
    spec = InputSpec.from_config(cfg, n_mels)
    train_batches, val_batches = _sources(run, index, folds, cfg, spec)
    meta = {
        "lake": index.lake.url,
        "format": cfg.format,
        "train_hash": cfg.train_hash(),
        "ingest_config": None if ingest is None else ingest.model_dump(mode="json"),
        "ingest_config_hashes": sorted(index.config_hashes),
        "folds": {
            "split_by": folds.split_by,
            "seed": folds.seed,
            "val_fold": folds.val_fold,
            "counts": folds.counts,
        },
        "imbalance": {
            "method": cfg.imbalance,
            "pos_weight": pos_weight,
            "train_fake_rate": train_rate,
            "logits_calibrated_for_fake_rate": model_rate,
        },
        "video_aggregation": cfg.aggregation,
    }
    model_spec = ModelSpec(
        cfg.backbone, cfg.audio_channels, cfg.fusion_hidden, cfg.dropout, _pretrained_file(cfg),
        pretrained=cfg.pretrained, channels_last=cfg.channels_last,
    )  # fmt: skip
    loss = LossSettings(pos_weight, cfg.aux_weight, cfg.modality_dropout, cfg.label_smoothing)
    return WorkerPlan(
        cfg, model_spec, spec, loss, train_rate, model_rate, train_batches, val_batches, run, meta
    )


def _run_config(storage_path: str, name: str, cfg: TrainConfig, verbose: bool = False) -> Any:
    from ray.train import CheckpointConfig, FailureConfig, LoggingConfig, RunConfig

    filesystem, base = arrow_filesystem(storage_path)
    return RunConfig(  # type: ignore[call-arg]  # the stubs name Train V1's RunConfig; V2 runs (logging_config)
        name=name,
        storage_path=base,
        storage_filesystem=filesystem,
        checkpoint_config=CheckpointConfig(
            num_to_keep=cfg.keep_checkpoints,
            checkpoint_score_attribute="val_log_loss",
            checkpoint_score_order="min",
        ),
        failure_config=FailureConfig(max_failures=cfg.max_failures),
        # Ray Train's INFO (worker group start, every checkpoint report) stays in Ray's own log files
        # unless -v; its warnings and errors still reach the terminal.
        logging_config=LoggingConfig(log_level="INFO" if verbose else "WARNING"),
    )


@contextmanager
def _run_log(run: RunFiles) -> Iterator[None]:
    """The driver's log lines of this invocation also go to ``RUN/train.log`` (local runs only)."""
    if "://" in run.url:
        yield
        return
    handler = logging.FileHandler(Path(run.url) / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()


def _ray_logs_dir() -> str | None:
    try:
        import ray

        return str(ray._private.worker._global_node.get_logs_dir_path())  # type: ignore[attr-defined]
    except (AttributeError, ImportError):  # a private API: only a pointer for the log, never needed
        return None


def _trainer(
    index: LakeIndex,
    run: RunFiles,
    storage_path: str,
    name: str,
    cfg: TrainConfig,
    address: str | None,
    verbose: bool,
) -> Any:
    """The run's files written (folds, sample order, run.json) and its ``TorchTrainer``, Ray joined."""
    folds = _folds(run, index, cfg)
    from ray.train import ScalingConfig
    from ray.train.torch import TorchTrainer

    from dfdc_lake.ray_cluster import connect_ray

    connect_ray(address)
    plan = dataclasses.replace(_plan(index, folds, run, cfg), verbose=verbose)
    run.write_json("run.json", {"name": name, "train_config": cfg.model_dump(mode="json"), **plan.meta})
    return TorchTrainer(
        train_loop_per_worker,
        train_loop_config={"plan": plan},
        scaling_config=ScalingConfig(
            num_workers=cfg.num_workers,
            use_gpu=cfg.use_gpu,
            resources_per_worker={"CPU": cfg.cpus_per_worker},
        ),
        run_config=_run_config(storage_path, name, cfg, verbose),
    )


def train(
    lake: Lake,
    storage_path: str,
    name: str,
    cfg: TrainConfig | None = None,
    address: str | None = None,
    verbose: bool = False,
) -> TrainResult:
    """Train (or resume) the run ``storage_path/name`` on the committed shards of ``lake``.

    Args:
        lake: the lake (``Lake.open(url)``).
        storage_path: where runs live (local or ``s3://``); checkpoints and run files go under ``name``.
        name: the run name; an existing run of that name is resumed from its last checkpoint.
        cfg: training settings (defaults when None).
        address: Ray cluster to join; None joins ``RAY_ADDRESS`` or starts a local Ray.
        verbose: show Ray Train's own INFO lines on the terminal too.
    """
    cfg = cfg or TrainConfig()
    run = RunFiles.open(storage_path, name)
    index = read_lake_index(lake, cfg.format)  # a lake without commits fails here, before Ray is touched
    # A full disk under the run, from folds.json to the last checkpoint: one clear error, exit 2.
    with run_folder_space_errors(run.url):
        trainer = _trainer(index, run, storage_path, name, cfg, address, verbose)
        started = time.monotonic()
        reporter = EpochReporter(lambda: run.read_jsonl(METRICS_FILE), cfg.epochs)
        with _run_log(run):
            log.info("Ray's own logs: %s", _ray_logs_dir() or "see `ray status`")
            with reporter:
                trainer.fit()
            log.info("training of %s finished in %.1f s", run.url, time.monotonic() - started)
    return run_result(run)


def run_result(run: RunFiles) -> TrainResult:
    """Summarise a run directory from its ``metrics.jsonl`` (latest and best surviving checkpoints)."""
    records = run.read_jsonl(METRICS_FILE)
    existing = [r for r in records if r.get("checkpoint") and run.dir_exists(r["checkpoint"])]
    latest = max(existing, key=lambda r: r["epoch"], default=None)
    scored = [r for r in existing if r.get("val_log_loss") is not None]
    best = min(scored, key=lambda r: r["val_log_loss"], default=None)
    return TrainResult(
        run_url=run.url,
        metrics=records,
        latest_checkpoint=f"{run.url}/{latest['checkpoint']}" if latest else None,
        best_checkpoint=f"{run.url}/{best['checkpoint']}" if best else None,
    )
