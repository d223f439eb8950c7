"""Fixtures of the synth tests: one CPU MTCNN for the session (weights ship in facenet-pytorch)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def mtcnn() -> Any:
    """facenet-pytorch's MTCNN at its default thresholds, every face kept, on the CPU."""
    from facenet_pytorch import MTCNN

    return MTCNN(keep_all=True, device="cpu")
