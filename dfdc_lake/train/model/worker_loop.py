"""The function every Ray Train worker runs: build or restore the model, then train/validate per epoch.

Resuming: Ray Train hands the latest checkpoint of a run with the same ``RunConfig(name,
storage_path)`` to ``get_checkpoint()``; the saved epoch number makes the loop continue after it,
and metrics lines of epochs that had not been checkpointed are dropped from ``metrics.jsonl``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from dfdc_lake.train.config import TrainConfig
from dfdc_lake.train.driver.run_files import RunFiles
from dfdc_lake.train.inputs.features import InputSpec
from dfdc_lake.train.model.network import ModelSpec
from dfdc_lake.train.model.steps import LossSettings, evaluate, recalibrate_batchnorm, train_epoch
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
    source: Any  # RayDataBatches | StreamedShardBatches | SplitSources (train.inputs.batches)
    run_files: RunFiles
    meta: dict[str, Any]  # copied into every checkpoint (lake, folds summary, ingest config...)


def _cosine_lr(base: float, epoch: int, epochs: int) -> float:
    return base * 0.5 * (1.0 + math.cos(math.pi * epoch / max(epochs, 1)))


def _restore(model: Any, optimizer: Any) -> int:
    """Load the latest checkpoint if Ray Train has one; returns the first epoch to run."""
    import ray.train
    import torch

    checkpoint = ray.train.get_checkpoint()
    if checkpoint is None:
        return 0
    with checkpoint.as_directory() as folder:
        state = torch.load(os.path.join(folder, CHECKPOINT_FILE), map_location="cpu", weights_only=False)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    log.info("resuming after epoch %d from %s", state["epoch"], checkpoint.path)
    return int(state["epoch"]) + 1


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
    metrics = epoch_metrics(preds, plan.train_fake_rate, plan.model_rate)
    record = {"epoch": epoch, "lr": lr, **train_stats, "train_samples": samples, **metrics}
    record["checkpoint"] = checkpoint_dir_name(epoch)
    return {k: _finite(v) for k, v in record.items()}


def _save_and_report(plan: WorkerPlan, record: dict[str, Any], model: Any, optimizer: Any) -> None:
    import ray.train
    import torch

    history = [r for r in plan.run_files.read_jsonl(METRICS_FILE) if r.get("epoch", -1) < record["epoch"]]
    plan.run_files.write_jsonl(METRICS_FILE, [*history, record])
    state = {
        "epoch": record["epoch"],
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
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


def train_loop_per_worker(loop_config: dict[str, Any]) -> None:
    """Ray Train entry point; ``loop_config['plan']`` is a :class:`WorkerPlan`."""
    import ray.train
    import ray.train.torch
    import torch

    plan: WorkerPlan = loop_config["plan"]
    cfg = plan.config
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    device = ray.train.torch.get_device()
    from dfdc_lake.train.model.network import build_model

    model = build_model(plan.model_spec, seed=cfg.seed).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start_epoch = _restore(model, optimizer)
    wrapped = ray.train.torch.prepare_model(model)
    for epoch in range(start_epoch, cfg.epochs):
        lr = _cosine_lr(cfg.lr, epoch, cfg.epochs)
        for group in optimizer.param_groups:
            group["lr"] = lr
        rng = np.random.default_rng([cfg.seed, epoch, rank])
        started = time.monotonic()
        recent: list[dict[str, Any]] = []
        train_stats = train_epoch(
            wrapped, optimizer, plan.source("train", epoch), plan.loss, device, world, rng,
            keep_recent=recent, keep_samples=cfg.bn_recalibration_samples,
        )  # fmt: skip
        recalibrate_batchnorm(model, recent, device)
        _average_batchnorm(model, world)
        train_stats["train_s"] = time.monotonic() - started
        preds = evaluate(model, plan.source("val", epoch), device)
        train_stats["epoch_s"] = time.monotonic() - started
        gathered = _gather({"train": train_stats, "val": preds}, world)
        if rank != 0:
            ray.train.report({"epoch": epoch}, checkpoint=None)
            continue
        record = _epoch_record(plan, epoch, lr, gathered)
        print("dfdc-lake train epoch " + json.dumps(record, sort_keys=True), flush=True)
        _save_and_report(plan, record, model, optimizer)
