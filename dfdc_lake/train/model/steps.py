"""One training epoch and one evaluation pass of the detector (plain torch; Ray-free apart from DDP sync).

Loss = BCE(fake) + aux_weight * (masked BCE(face_fake) + masked BCE(audio_fake)); the masks drop
samples whose auxiliary label is null in the lake, and a batch without any such label still touches
the heads (with zero weight) so DistributedDataParallel sees every parameter used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dfdc_lake.train.model.precision import Precision
from dfdc_lake.train.seeding import numpy_rng, torch_generator

__all__ = [
    "Draws",
    "EpochProgress",
    "LossSettings",
    "evaluate",
    "hidden_faces",
    "loss_terms",
    "recalibrate_batchnorm",
    "to_tensors",
    "train_epoch",
]

Batch = dict[str, np.ndarray]


@dataclass(frozen=True)
class LossSettings:
    pos_weight: float | None  # weight of the fake class in the main BCE; None = plain BCE
    aux_weight: float
    modality_dropout: float  # share of training samples whose face stream is hidden
    label_smoothing: float = 0.0  # targets become eps/2 and 1 - eps/2


def _tensor(values: np.ndarray, dtype: type, device: torch.device) -> torch.Tensor:
    array: np.ndarray = np.ascontiguousarray(values, dtype=dtype)
    if not array.flags.writeable:  # Ray hands batches out as read-only views; torch wants writable memory
        array = array.copy()
    return torch.from_numpy(array).to(device)


def to_tensors(batch: Batch, device: torch.device) -> dict[str, torch.Tensor]:
    """The numeric columns of a decoded batch as tensors on ``device``."""
    out = {
        "faces": _tensor(batch["faces"], np.uint8, device),
        "mel": _tensor(batch["mel"], np.float32, device),
    }
    for key in ("has_audio", "label", "face_label", "audio_label"):
        out[key] = _tensor(batch[key], np.float32, device)
    out["has_face"] = (
        torch.ones_like(out["label"])
        if "has_face" not in batch
        else _tensor(batch["has_face"], np.float32, device)
    )
    return out


def _smooth(labels: torch.Tensor, eps: float) -> torch.Tensor:
    return labels * (1.0 - eps) + 0.5 * eps


def _masked_bce(logits: torch.Tensor, labels: torch.Tensor, eps: float) -> torch.Tensor:
    known = ~torch.isnan(labels)
    targets = _smooth(torch.nan_to_num(labels), eps)
    per_sample = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    return (per_sample * known).sum() / known.sum().clamp(min=1)


def loss_terms(
    out: dict[str, torch.Tensor], t: dict[str, torch.Tensor], s: LossSettings
) -> dict[str, torch.Tensor]:
    """The three loss terms and their weighted total."""
    pos_weight = None if s.pos_weight is None else torch.tensor(s.pos_weight, device=out["fake"].device)
    eps = s.label_smoothing
    main = F.binary_cross_entropy_with_logits(out["fake"], _smooth(t["label"], eps), pos_weight=pos_weight)
    face = _masked_bce(out["face"], t["face_label"], eps)
    audio_label = t["audio_label"] + torch.where(t["has_audio"] > 0, 0.0, float("nan"))
    audio = _masked_bce(out["audio"], audio_label, eps)
    return {"loss": main + s.aux_weight * (face + audio), "main": main, "face": face, "audio": audio}


def _synced(batches: Iterable[Batch], world_size: int, device: torch.device) -> Iterator[Batch]:
    """Stop every rank as soon as one runs dry, so DDP all-reduces stay matched across workers."""
    if world_size <= 1:
        yield from batches
        return
    import torch.distributed as dist

    iterator = iter(batches)
    while True:
        batch = next(iterator, None)
        flag = torch.tensor([0.0 if batch is None else 1.0], device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        if batch is None or flag.item() == 0.0:
            return
        yield batch


@dataclass(frozen=True)
class Draws:
    """What a training step's random draws derive from (``train.seeding``): run seed, epoch, rank."""

    seed: int = 0
    epoch: int = 0
    rank: int = 0


@dataclass
class EpochProgress:
    """Where one rank stands in an epoch: steps taken, samples seen, loss sums (in step checkpoints)."""

    step: int = 0
    seen: int = 0
    sums: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(("loss", "main", "face", "audio"), 0.0)
    )

    def stats(self) -> dict[str, float]:
        """Mean losses over the samples seen, and their count."""
        means = {f"train_{k}": v / max(self.seen, 1) for k, v in self.sums.items()}
        return means | {"train_samples": self.seen}


def hidden_faces(sample_ids: Iterable[str], share: float, draws: Draws) -> np.ndarray:
    """Which samples get their face stream hidden (modality dropout): one draw per (seed, epoch, sample)."""
    return np.array(
        [numpy_rng(draws.seed, draws.epoch, str(s), "modality").random() < share for s in sample_ids]
    )


def train_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable[Batch],
    settings: LossSettings,
    device: torch.device,
    world_size: int = 1,
    keep_recent: list[Batch] | None = None,
    keep_samples: int = 0,
    *,
    draws: Draws | None = None,
    progress: EpochProgress | None = None,
    after_step: Callable[[EpochProgress], None] | None = None,
    precision: Precision | None = None,
) -> dict[str, float]:
    """One pass over the training batches; returns mean losses and the sample count.

    The last ``keep_samples`` samples' batches are left in ``keep_recent`` (for BN recalibration).
    Every draw comes from ``draws`` and the step number (dropout) or the sample id (modality
    dropout), so a pass resumed from ``progress`` (a step checkpoint's) continues exactly as the
    uninterrupted one; ``after_step`` runs after each optimizer step (the step checkpoint hook).
    """
    draws = draws or Draws()
    progress = progress or EpochProgress()
    amp = precision or Precision("fp32", device.type)
    model.train()
    for batch in _synced(batches, world_size, device):
        if keep_recent is not None and keep_samples > 0:
            keep_recent.append(batch)
            while sum(len(b["label"]) for b in keep_recent[1:]) >= keep_samples:
                keep_recent.pop(0)
        # torch's dropout layers draw from the global generator: seed it per step, not once per process.
        torch.manual_seed(
            torch_generator(draws.seed, draws.epoch, "dropout", progress.step, draws.rank).initial_seed()
        )
        t = to_tensors(batch, device)
        hide = hidden_faces(batch["sample_id"], settings.modality_dropout, draws)
        t["has_face"] = torch.from_numpy((~hide).astype(np.float32)).to(device)
        with amp.autocast():
            out = model(t["faces"], t["mel"], t["has_face"], t["has_audio"])
            terms = loss_terms(out, t, settings)
        optimizer.zero_grad(set_to_none=True)
        amp.step(terms["loss"], optimizer)
        n = len(batch["label"])
        progress.seen += n
        for key in progress.sums:
            progress.sums[key] += float(terms[key].detach()) * n
        progress.step += 1
        if after_step is not None:
            after_step(progress)
    return progress.stats()


@torch.no_grad()
def recalibrate_batchnorm(model: torch.nn.Module, batches: list[Batch], device: torch.device) -> int:
    """Recompute BatchNorm running statistics with the final weights of the epoch (precise BN).

    Running averages collected while the weights were moving lag behind them; on short runs (few
    steps per epoch) that alone can wreck evaluation-mode calibration. Returns the samples used.
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms or not batches:
        return 0
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
    model.train()
    used = 0
    for batch in batches:
        t = to_tensors(batch, device)
        model(t["faces"], t["mel"], t["has_face"], t["has_audio"])
        used += len(batch["label"])
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    return used


@torch.no_grad()
def evaluate(
    model: torch.nn.Module, batches: Iterable[Batch], device: torch.device, precision: Precision | None = None
) -> dict[str, Any]:
    """Per-track logits of every head (and ``fake_crops``: the fused head per crop), with labels and
    video ids, over the given batches.

    Pass the unwrapped module (not the DDP wrapper): ranks hold different numbers of validation
    batches, and DDP's forward would try to synchronise buffers between them.
    """
    model.eval()
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("fake", "face", "audio", "label", "face_label")}
    parts.update({"audio_label": [], "video_id": [], "fake_crops": []})
    amp = precision or Precision("fp32", device.type)
    for batch in batches:
        t = to_tensors(batch, device)
        with amp.autocast():
            logits = model(t["faces"], t["mel"], t["has_face"], t["has_audio"], per_crop=True)
        for key in ("fake", "face", "audio", "fake_crops"):
            parts[key].append(logits[key].float().cpu().numpy())
        audio_label = np.where(np.asarray(batch["has_audio"]) > 0, batch["audio_label"], np.nan)
        parts["audio_label"].append(np.asarray(audio_label, dtype=np.float64))
        for key in ("label", "face_label"):
            parts[key].append(np.asarray(batch[key], dtype=np.float64))
        parts["video_id"].append(np.asarray(batch["video_id"]).astype(str).astype(object))
    return {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in parts.items()}
