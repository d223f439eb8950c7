"""A ``DetectFn`` for tests that records what the stages send the detector."""

from __future__ import annotations

import numpy as np

from dfdc_lake.stages.faces import Detections, FaceDetector, detect_fn

__all__ = ["RecordingDetect"]


class RecordingDetect:
    """A DetectFn that records what it is sent (as a remote actor would receive it)."""

    def __init__(self, detector: FaceDetector) -> None:
        self.inner = detect_fn(detector)
        self.shapes: list[tuple[int, ...]] = []

    def __call__(self, frames: np.ndarray) -> Detections:
        self.shapes.append(frames.shape)
        return self.inner(frames)
