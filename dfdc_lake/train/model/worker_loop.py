"""The function every Ray Train worker runs: build or restore the model, then train/validate per epoch.

Resuming (``model.resume``): Ray Train hands the latest epoch checkpoint of a run with the same
``RunConfig(name, storage_path)`` to ``get_checkpoint()``; a step checkpoint written later in the
run wins over it, and the loop continues mid-epoch from its data position. Metrics lines of epochs
that had not been checkpointed are dropped from ``metrics.jsonl``.

Log contract (other tools grep these lines): ``step checkpoint: epoch E step S`` once a step
checkpoint is durably written, ``resumed from epoch E step S`` when a run continues from one.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from dfdc_lake.train.config import TrainConfig
from dfdc_lake.train.driver.run_files import RunFiles
from dfdc_lake.train.inputs.features import InputSpec
from dfdc_lake.train.inputs.order import rank_slices
from dfdc_lake.train.model.network import ModelSpec
from dfdc_lake.train.model.resume import (
    CheckpointSchedule,
    StartPoint,
    save_step_checkpoint,
    start_point,
)
from dfdc_lake.train.model.steps import (
    Draws,
    EpochProgress,
    LossSettings,
    evaluate,
    recalibrate_batchnorm,
    train_epoch,
)
from dfdc_lake.train.model.validation import concat_predictions, epoch_metrics

__all__ = ["CHECKPOINT_FILE", "WorkerPlan", "checkpoint_dir_name", "train_loop_per_worker"]

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "model.pt"
METRICS_FILE = "metrics.jsonl"


def checkpoint_dir_name(epoch: int) -> str:
    """Name of the checkpoint folder of an epoch inside the run directory."""
    return f"epoch_{epoch:04d}"


@dataclass
class WorkerPlan:
    """Everything a worker needs, built once on the driver and shipped in ``train_loop_config``."""

    config: TrainConfig
    model_spec: ModelSpec
    input_spec: InputSpec
    loss: LossSettings
    train_fake_rate: float  # video-level fake rate of the training side (the prior)
    model_rate: float  # the fake rate the model's logits are calibrated for (0.5 with pos_weight)
    train_batches: Any  # train.inputs.batches.OrderedShardBatches
    val_batches: Any  # train.inputs.batches.StreamedShardBatches
    run_files: RunFiles
    meta: dict[str, Any]  # copied into every checkpoint (lake, folds summary, ingest config...)
    verbose: bool = False  # Ray Train's per-report INFO lines on the terminal too


def _quiet_report_lines() -> None:
    """Ray Train logs every report at INFO through a logger named after its file, not ``ray.train``,
    so its ``LoggingConfig`` filter misses it; raise that one logger to WARNING (a private module:
    without it, the lines just stay)."""
    try:
        from ray.train.v2._internal.execution import context
    except ImportError:
        return
    getattr(context, "logger", logging.getLogger(context.__file__)).setLevel(logging.WARNING)


def _cosine_lr(base: float, epoch: int, epochs: int) -> float:
    return base * 0.5 * (1.0 + math.cos(math.pi * epoch / max(epochs, 1)))


def _gather(payload: dict[str, Any], world_size: int) -> list[dict[str, Any]]:
    if world_size <= 1:
        return [payload]
    import torch.distributed as dist

    out: list[Any] = [None] * world_size
    dist.all_gather_object(out, payload)
    return out


def _average_batchnorm(model: Any, world_size: int) -> None:
    """Make every rank's BatchNorm statistics the mean over ranks (each recalibrated on its own data)."""
    if world_size <= 1:
        return
    import torch
    import torch.distributed as dist

    for module in model.modules():
        if not isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            continue
        for buffer in (module.running_mean, module.running_var):
            if buffer is not None:
                dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
                buffer.div_(world_size)


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _epoch_record(plan: WorkerPlan, epoch: int, lr: float, gathered: list[dict[str, Any]]) -> dict[str, Any]:
    samples = sum(g["train"]["train_samples"] for g in gathered)
    train_stats = {
        key: sum(g["train"][key] * g["train"]["train_samples"] for g in gathered) / max(samples, 1)
        for key in gathered[0]["train"]
        if key.startswith("train_") and key not in ("train_samples", "train_s")
    }
    train_stats["train_s"] = max(g["train"]["train_s"] for g in gathered)
    train_stats["epoch_s"] = max(g["train"]["epoch_s"] for g in gathered)
    preds = concat_predictions(g["val"] for g in gathered)
    metrics = epoch_metrics(preds, plan.train_fake_rate, plan.model_rate, plan.config.aggregation)
    record = {"epoch": epoch, "lr": lr, **train_stats, "train_samples": samples, **metrics}
    record["checkpoint"] = checkpoint_dir_name(epoch)
    return {k: _finite(v) for k, v in record.items()}


def _save_and_report(
    plan: WorkerPlan, record: dict[str, Any], model: Any, optimizer: Any, precision: Any = None
) -> None:
    import ray.train
    import torch

    history = [r for r in plan.run_files.read_jsonl(METRICS_FILE) if r.get("epoch", -1) < record["epoch"]]
    plan.run_files.write_jsonl(METRICS_FILE, [*history, record])
    state = {
        "epoch": record["epoch"],
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "precision": None if precision is None else precision.state_dict(),
        "model_spec": plan.model_spec.to_dict(),
        "input_spec": plan.input_spec.__dict__,
        "train_config": plan.config.model_dump(mode="json"),
        "train_fake_rate": plan.train_fake_rate,
        "model_rate": plan.model_rate,
        "metrics": record,
        "meta": plan.meta,
    }
    with tempfile.TemporaryDirectory() as folder:
        torch.save(state, os.path.join(folder, CHECKPOINT_FILE))
        with open(os.path.join(folder, "metrics.json"), "w") as f:
            json.dump(record, f, indent=1)
        checkpoint = ray.train.Checkpoint.from_directory(folder)
        ray.train.report(
            record, checkpoint=checkpoint, checkpoint_dir_name=checkpoint_dir_name(record["epoch"])
        )


def _recent_before(plan: WorkerPlan, epoch: int, start: StartPoint, rank: int, world: int) -> list[Any]:
    """The batches BN recalibration would hold at the start point had the epoch run from its start.

    They are read again (their draws derive from the sample ids), so a resumed epoch recalibrates
    on exactly the batches an uninterrupted one does (with the same worker count).
    """
    keep = plan.config.bn_recalibration_samples
    if keep <= 0 or start.position <= 0:
        return []
    slices = rank_slices(plan.train_batches.steps(0, world, stop=start.position), rank)
    chosen: list[tuple[int, int]] = []
    after = 0
    for first, stop in reversed(slices):  # what train_epoch's trimming would have kept
        if after >= keep:
            break
        chosen.insert(0, (first, stop))
        after += stop - first
    return list(plan.train_batches.batches(epoch, chosen))


def _checkpoint_hook(
    plan: WorkerPlan,
    model: Any,
    optimizer: Any,
    point: StartPoint,
    ends: list[int],
    rank: int,
    precision: Any = None,
) -> Callable[[EpochProgress], None]:
    """After each step: when the schedule says so, gather every rank's progress and write the step
    checkpoint (rank 0); the log line follows the write, so a kill after it loses nothing."""
    cfg = plan.config
    schedule = CheckpointSchedule(
        cfg.checkpoint_every_steps, cfg.checkpoint_every_minutes, point.world, next(model.parameters()).device
    )
    total = plan.train_batches.order.num_samples

    def after_step(progress: EpochProgress) -> None:
        position = ends[progress.step - point.step - 1]
        if position >= total or not schedule.due(progress.step):  # at the end the epoch checkpoint is next
            return
        gathered = _gather(asdict(progress), point.world)
        if rank != 0:
            return
        at = StartPoint(point.epoch, position, progress.step, point.world)
        progress_all = [EpochProgress(**g) for g in gathered]
        save_step_checkpoint(plan.run_files, at, progress_all, model, optimizer, precision)
        print(f"step checkpoint: epoch {point.epoch} step {progress.step}", flush=True)

    return after_step


def _train_one_epoch(
    plan: WorkerPlan, wrapped: Any, model: Any, optimizer: Any, point: StartPoint, device: Any, precision: Any
) -> dict[str, Any]:
    """Train the rest of ``point.epoch`` from ``point``; BN recalibrated; returns the epoch's stats."""
    import ray.train

    rank, world = ray.train.get_context().get_world_rank(), ray.train.get_context().get_world_size()
    cfg, epoch = plan.config, point.epoch
    if point.position and rank == 0:
        print(f"resumed from epoch {epoch} step {point.step}", flush=True)
    steps = plan.train_batches.steps(point.position, world)
    recent = _recent_before(plan, epoch, point, rank, world)
    here = StartPoint(epoch, point.position, point.step, world)
    stats = train_epoch(
        wrapped, optimizer, plan.train_batches.batches(epoch, rank_slices(steps, rank)), plan.loss,
        device, world, keep_recent=recent, keep_samples=cfg.bn_recalibration_samples,
        draws=Draws(cfg.seed, epoch, rank), progress=point.progress_of(rank, world),
        after_step=_checkpoint_hook(plan, model, optimizer, here, [s.stop for s in steps], rank, precision),
        precision=precision,
    )  # fmt: skip
    recalibrate_batchnorm(model, recent, device)
    _average_batchnorm(model, world)
    return stats


def train_loop_per_worker(loop_config: dict[str, Any]) -> None:
    """Ray Train entry point; ``loop_config['plan']`` is a :class:`WorkerPlan`."""
    import ray.train
    import ray.train.torch
    import torch

    plan: WorkerPlan = loop_config["plan"]
    if not plan.verbose:
        _quiet_report_lines()
    cfg = plan.config
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    device = ray.train.torch.get_device()
    from dfdc_lake.train.model.network import build_model
    from dfdc_lake.train.model.precision import Precision

    precision = Precision.of(cfg.precision, device)

    model = build_model(plan.model_spec, seed=cfg.seed).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    point = start_point(model, optimizer, plan.run_files, precision)
    wrapped = ray.train.torch.prepare_model(model)
    for epoch in range(point.epoch, cfg.epochs):
        lr = _cosine_lr(cfg.lr, epoch, cfg.epochs)
        for group in optimizer.param_groups:
            group["lr"] = lr
        started = time.monotonic()
        here = point if epoch == point.epoch else StartPoint(epoch)
        train_stats = _train_one_epoch(plan, wrapped, model, optimizer, here, device, precision)
        train_stats["train_s"] = time.monotonic() - started
        preds = evaluate(model, plan.val_batches.batches(rank, world), device, precision)
        train_stats["epoch_s"] = time.monotonic() - started
        gathered = _gather({"train": train_stats, "val": preds}, world)
        if rank != 0:
            ray.train.report({"epoch": epoch}, checkpoint=None)
            continue
        record = _epoch_record(plan, epoch, lr, gathered)
        _save_and_report(plan, record, model, optimizer, precision)
