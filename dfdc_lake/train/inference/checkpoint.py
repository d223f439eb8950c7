"""Loading a trained detector: a checkpoint folder (``.../epoch_NNNN``) or a run's best checkpoint.

Local or ``s3://``: the run folder is read through :class:`~dfdc_lake.train.driver.run_files.RunFiles`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from dfdc_lake.errors import ConfigError
from dfdc_lake.io.urls import arrow_filesystem
from dfdc_lake.train.driver.run_files import RunFiles
from dfdc_lake.train.driver.trainer import run_result
from dfdc_lake.train.inputs.features import InputSpec
from dfdc_lake.train.model.worker_loop import CHECKPOINT_FILE

__all__ = ["LoadedCheckpoint", "load_checkpoint"]


@dataclass
class LoadedCheckpoint:
    """A trained detector and what it needs to score like it was validated."""

    model: Any  # AVDetector in eval mode
    input_spec: InputSpec
    train_fake_rate: float
    model_rate: float
    meta: dict[str, Any]
    url: str


def _resolve(path: str) -> str:
    """A checkpoint folder: ``path`` itself, or the best surviving checkpoint of a run folder."""
    parent, _, name = path.rstrip("/").rpartition("/")
    if RunFiles.open(parent or ".", name).exists(CHECKPOINT_FILE):
        return path.rstrip("/")
    best = run_result(RunFiles.open(parent or ".", name)).best_checkpoint
    if best is None:
        raise ConfigError(
            f"{path} is neither a checkpoint folder ({CHECKPOINT_FILE}) nor a run with checkpoints"
        )
    return best


def load_checkpoint(path: str, device: str = "cpu") -> LoadedCheckpoint:
    """Load a checkpoint folder (``.../epoch_NNNN``) or a run folder (its best checkpoint); local or s3://."""
    import torch

    from dfdc_lake.train.model.network import ModelSpec, build_model

    url = _resolve(path)
    filesystem, base = arrow_filesystem(url)
    with filesystem.open_input_stream(f"{base}/{CHECKPOINT_FILE}") as stream:
        state = torch.load(io.BytesIO(stream.read()), map_location=device, weights_only=False)
    # The weights come from the checkpoint, never from a file or the Hugging Face cache.
    spec = ModelSpec(**{**state["model_spec"], "pretrained_path": None, "pretrained": False})
    model = build_model(spec)
    model.load_state_dict(state["model"])
    model.to(device).eval()
    return LoadedCheckpoint(
        model=model,
        input_spec=InputSpec(**state["input_spec"]),
        train_fake_rate=float(state["train_fake_rate"]),
        model_rate=float(state["model_rate"]),
        meta=state.get("meta", {}),
        url=url,
    )
