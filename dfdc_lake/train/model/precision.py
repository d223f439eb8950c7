"""Mixed precision for training and evaluation: one autocast context and, for fp16, a GradScaler.

``auto`` picks bf16 on a GPU that supports it (no loss scaling needed: bf16 has fp32's exponent
range) and fp32 elsewhere; on a CPU, bf16 autocast works but is rarely faster than fp32, so it is
only used when asked for. fp16 keeps a ``GradScaler`` so small gradients do not flush to zero.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["PRECISIONS", "Precision", "resolve_precision"]

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_precision(name: str, device: torch.device) -> str:
    """``name`` with ``auto`` replaced: ``bf16`` on a CUDA device that has it, else ``fp32``."""
    if name not in PRECISIONS:
        raise ValueError(f"precision {name!r}: expected one of {', '.join(PRECISIONS)}")
    if name != "auto":
        return name
    return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"


@dataclass
class Precision:
    """How a step runs: ``with precision.autocast(): loss = ...`` then ``precision.step(loss, optimizer)``."""

    name: str  # fp32 | bf16 | fp16 (resolved)
    device_type: str  # "cuda" | "cpu"
    scaler: Any = field(default=None, repr=False)  # torch.amp.GradScaler with fp16

    @classmethod
    def of(cls, name: str, device: torch.device) -> Precision:
        """The precision ``name`` (``auto`` resolved) on ``device``."""
        resolved = resolve_precision(name, device)
        scaler = torch.amp.GradScaler(device.type) if resolved == "fp16" else None
        return cls(resolved, device.type, scaler)

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """Autocast to the chosen dtype (nothing for fp32)."""
        if self.name == "fp32":
            yield
            return
        with torch.autocast(self.device_type, dtype=_DTYPES[self.name]):
            yield

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """Backward and optimizer step, through the GradScaler for fp16."""
        if self.scaler is None:
            loss.backward()
            optimizer.step()
            return
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        self.scaler.update()

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps (the GradScaler's scale and growth tracker under fp16)."""
        return {"name": self.name, "scaler": None if self.scaler is None else self.scaler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()`` output (a checkpoint of another precision leaves this one as is)."""
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
