"""Where a worker starts: after the last epoch checkpoint, or mid-epoch at the last step checkpoint.

Epoch checkpoints are Ray Train's (``RUN/epoch_NNNN/``, handed back by ``get_checkpoint()``). A step
checkpoint is one file the run keeps beside them, ``RUN/step_checkpoint.pt``, replaced atomically
every ``checkpoint_every_steps`` steps: the model and optimizer after step S of epoch E, the data
position (global samples of the epoch's order consumed) and each rank's loss sums. Nothing else is
needed: every random draw derives from (seed, epoch, step or sample id) (``train.seeding``).

Whichever of the two is further along wins, so a rerun after a kill, and Ray Train's restart of a
failed worker group (``max_failures``), both continue from the later one.
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from dfdc_lake.train.driver.run_files import RunFiles
from dfdc_lake.train.model.steps import EpochProgress

__all__ = [
    "STEP_CHECKPOINT_FILE",
    "CheckpointSchedule",
    "StartPoint",
    "read_step_checkpoint",
    "save_step_checkpoint",
    "start_point",
]

log = logging.getLogger(__name__)

STEP_CHECKPOINT_FILE = "step_checkpoint.pt"
MODEL_FILE = "model.pt"  # inside an epoch checkpoint folder (worker_loop.CHECKPOINT_FILE)


@dataclass
class StartPoint:
    """The first epoch to run and, when resuming mid-epoch, where in it."""

    epoch: int = 0
    position: int = 0  # global samples of the epoch's order already trained on
    step: int = 0  # steps of the epoch already taken
    world: int = 1  # worker count of the run that wrote the step checkpoint
    progress: list[dict[str, Any]] = field(default_factory=list)  # per rank of that run

    def progress_of(self, rank: int, world: int) -> EpochProgress:
        """This rank's epoch progress at the start point.

        With the checkpoint's worker count each rank takes its own loss sums back (so epoch means
        match an uninterrupted run bit for bit); with another count rank 0 takes them all.
        """
        if not self.progress:
            return EpochProgress(step=self.step)
        if world == self.world:
            return EpochProgress(**self.progress[rank])
        if rank != 0:
            return EpochProgress(step=self.step)
        total = EpochProgress(step=self.step)
        for part in self.progress:
            total.seen += part["seen"]
            for key, value in part["sums"].items():
                total.sums[key] += value
        return total


@dataclass
class CheckpointSchedule:
    """When a step checkpoint is due: every ``every_steps`` steps, and once ``every_minutes`` passed.

    Every rank must call :meth:`due` after every step: with several ranks, rank 0's clock decides
    (one tiny broadcast per step), so all ranks join the gather of a checkpoint together.
    """

    every_steps: int = 0
    every_minutes: float = 0.0
    world: int = 1
    device: Any = "cpu"  # where the broadcast flag lives (NCCL wants it on the GPU)
    last: float = field(default_factory=time.monotonic)

    def due(self, step: int) -> bool:
        """Whether to checkpoint after ``step`` (steps of the epoch taken so far)."""
        by_steps = self.every_steps > 0 and step % self.every_steps == 0
        by_time = False
        if self.every_minutes > 0:
            late = time.monotonic() - self.last >= self.every_minutes * 60
            by_time = _rank0_decides(late, self.world, self.device)
        if by_steps or by_time:
            self.last = time.monotonic()
        return by_steps or by_time


def _rank0_decides(flag: bool, world: int, device: Any) -> bool:
    if world <= 1:
        return flag
    import torch
    import torch.distributed as dist

    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.broadcast(value, src=0)
    return bool(value.item())


def save_step_checkpoint(
    run: RunFiles,
    start: StartPoint,
    progress: list[EpochProgress],
    model: Any,
    optimizer: Any,
    precision: Any = None,
) -> None:
    """Write the step checkpoint (one atomic file write; returns once it is durable)."""
    import torch

    state = {
        "point": asdict(StartPoint(start.epoch, start.position, start.step, start.world)),
        "progress": [asdict(p) for p in progress],
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "precision": None if precision is None else precision.state_dict(),  # fp16's loss scale
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    run.write_bytes(STEP_CHECKPOINT_FILE, buffer.getvalue())


def _load(data: bytes) -> dict[str, Any]:
    import torch

    state: dict[str, Any] = torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
    return state


def read_step_checkpoint(run: RunFiles) -> tuple[StartPoint, dict[str, Any]] | None:
    """The run's step checkpoint: where it stands, and its state (``model``, ``optimizer``); None if none."""
    data = run.read_bytes(STEP_CHECKPOINT_FILE)
    if data is None:
        return None
    state = _load(data)
    return StartPoint(**{**state["point"], "progress": state["progress"]}), state


def start_point(model: Any, optimizer: Any, run: RunFiles, precision: Any = None) -> StartPoint:
    """Load the later of the last epoch checkpoint and the step checkpoint into ``model``/``optimizer``
    (and ``precision``: fp16's loss scale, when the checkpoint has one).

    Returns where training continues (epoch 0, position 0 for a new run).
    """
    import os

    import ray.train

    done = -1  # the last epoch with an epoch checkpoint
    epoch_state: dict[str, Any] | None = None
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder, open(os.path.join(folder, MODEL_FILE), "rb") as f:
            epoch_state = _load(f.read())
        done = int(epoch_state["epoch"])
    step = read_step_checkpoint(run)
    if step is not None and step[0].epoch > done:
        model.load_state_dict(step[1]["model"])
        optimizer.load_state_dict(step[1]["optimizer"])
        _load_precision(precision, step[1])
        return step[0]
    if epoch_state is None:
        return StartPoint()
    model.load_state_dict(epoch_state["model"])
    optimizer.load_state_dict(epoch_state["optimizer"])
    _load_precision(precision, epoch_state)
    log.info("resuming after epoch %d from %s", done, checkpoint.path if checkpoint else "?")
    return StartPoint(epoch=done + 1)


def _load_precision(precision: Any, state: dict[str, Any]) -> None:
    if precision is not None and state.get("precision"):  # older checkpoints have none
        precision.load_state_dict(state["precision"])
