"""Face detection with facenet-pytorch's MTCNN on downscaled, exposure-normalized frames.

``DetectFn`` is the contract between the family processor and whoever runs MTCNN (in-process here, a
Ray actor on a GPU in ``ingest/``): it receives uint8 ``[T, H, W, 3]`` frames and returns,
per frame, ``(boxes_xyxy float32 [N, 4], scores float32 [N])`` in the pixel coordinates of the frames
it received, optionally followed by MTCNN's five facial points ``float32 [N, 5, 2]`` (left eye, right
eye, nose, mouth left, mouth right; x, y in the same pixels). A detector that gives no points still
fits (its faces get no landmarks): ``landmarked`` reads either form. The processor downscales frames
before calling it (``downscale_frames``), so a remote detector receives small arrays, and maps the
boxes and points back to source pixels itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dfdc_lake.config import FaceConfig
from dfdc_lake.stages.exposure import normalize_exposure

__all__ = [
    "LANDMARKS",
    "DetectFn",
    "Detection",
    "Detections",
    "FaceDetector",
    "detect_fn",
    "downscale_frames",
    "downscaled_size",
    "landmarked",
    "resolve_device",
]

log = logging.getLogger(__name__)

# (boxes_xyxy float32 [N, 4], scores float32 [N]) or (boxes, scores, points float32 [N, 5, 2])
Detection = tuple[np.ndarray, ...]
Detections = list[Detection]
DetectFn = Callable[[np.ndarray], Detections]
LANDMARKS = 5  # MTCNN's points: left eye, right eye, nose, mouth left, mouth right


def landmarked(detection: Detection) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(boxes [N, 4], scores [N], points [N, 5, 2])`` of a detection of either form (float32; the
    points NaN when the detector gave none)."""
    boxes = np.asarray(detection[0], np.float32).reshape(-1, 4)
    scores = np.asarray(detection[1], np.float32).reshape(-1)
    if len(detection) > 2 and detection[2] is not None:
        points = np.asarray(detection[2], np.float32).reshape(-1, LANDMARKS, 2)
    else:
        points = np.full((len(boxes), LANDMARKS, 2), np.nan, np.float32)
    return boxes, scores, points


def resolve_device(device: str) -> str:
    """``'auto'`` -> ``'cuda'`` when a GPU is visible, else ``'cpu'``; other values pass through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


CPU_BATCH = 2  # frames per MTCNN call on a CPU when ``faces.batch_size`` is None
GPU_BATCH = 16
_DOWNSCALE_FLOAT_BYTES = 64 << 20  # float32 working buffer of ``downscale_frames``


def downscaled_size(height: int, width: int, max_side_px: int) -> tuple[int, int]:
    """``(height, width)`` shrunk so the longest side is at most ``max_side_px`` (never enlarged)."""
    factor = max_side_px / max(height, width)
    if factor >= 1.0:
        return height, width
    return max(1, round(height * factor)), max(1, round(width * factor))


def downscale_frames(frames: np.ndarray, max_side_px: int) -> tuple[np.ndarray, tuple[float, float]]:
    """Shrink frames so the longest side is at most ``max_side_px`` (area averaging).

    Args:
        frames: uint8 [T, H, W, 3].
        max_side_px: the longest side after scaling.

    Returns:
        ``(small, (scale_x, scale_y))`` with ``small`` uint8 [T, h, w, 3] and ``scale = small / source``
        per axis (1.0 when the frames already fit; then ``small`` is ``frames`` itself).
    """
    _check_frames(frames)
    height, width = frames.shape[1:3]
    out_h, out_w = downscaled_size(height, width, max_side_px)
    if (out_h, out_w) == (height, width):
        return frames, (1.0, 1.0)
    import torch
    import torch.nn.functional as F

    # A few frames at a time: a whole 1080p segment as float32 would be 4x its bytes (1 GB for 43 frames).
    step = max(1, _DOWNSCALE_FLOAT_BYTES // (height * width * 3 * 4))
    small_np = np.empty((len(frames), out_h, out_w, 3), np.uint8)
    with torch.no_grad():
        for start in range(0, len(frames), step):
            tensor = torch.from_numpy(frames[start : start + step]).permute(0, 3, 1, 2).float()
            small = F.interpolate(tensor, size=(out_h, out_w), mode="area")
            small_np[start : start + step] = (
                small.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
            )
    return small_np, (out_w / width, out_h / height)


def _check_frames(frames: np.ndarray) -> None:
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 [T, H, W, 3], got {frames.dtype} {frames.shape}")


def _unpack(boxes: Any, probs: Any, points: Any, count: int) -> Detections:
    """MTCNN's batched output (object arrays with None for no face) as typed per-frame arrays; the points
    are left out when ``points`` is None."""
    out: Detections = []
    for i in range(count):
        found = None if boxes is None else boxes[i]
        frame: tuple[np.ndarray, ...] = (
            np.asarray([] if found is None else found, np.float32).reshape(-1, 4),
            np.asarray([] if found is None else probs[i], np.float32).reshape(-1),
        )
        if points is not None:
            frame += (np.asarray([] if found is None else points[i], np.float32).reshape(-1, LANDMARKS, 2),)
        out.append(frame)
    return out


@dataclass
class FaceDetector:
    """MTCNN face detector (one per worker or actor; ``setup()`` loads the weights once)."""

    config: FaceConfig = field(default_factory=lambda: FaceConfig.model_validate({}))
    device: str | None = field(default=None, init=False)
    _mtcnn: Any = field(default=None, init=False, repr=False)

    def setup(self) -> None:
        """Load MTCNN (the weights ship inside facenet-pytorch; nothing is downloaded)."""
        if self._mtcnn is not None:
            return
        from facenet_pytorch import MTCNN

        self.device = resolve_device(self.config.device)
        self._mtcnn = MTCNN(
            keep_all=True,
            select_largest=False,
            post_process=False,
            min_face_size=self.config.min_face_px,
            thresholds=list(self.config.thresholds),
            device=self.device,
        )
        if self.device == "cpu":  # the same values as torch's CPU max pool, a third less detection time
            from dfdc_lake.stages.mtcnn_ops import use_strided_pools

            use_strided_pools(self._mtcnn)
        log.info("MTCNN loaded on %s", self.device)

    def detect(self, frames: np.ndarray, landmarks: bool = False) -> Detections:
        """Detect faces in each frame.

        Frames larger than ``detect_max_side_px`` are downscaled first; frames the processor already
        downscaled pass through unchanged.

        Args:
            frames: uint8 [T, H, W, 3] RGB.
            landmarks: also return each face's five points (MTCNN computes them anyway).

        Returns:
            Per frame ``(boxes_xyxy float32 [N, 4], scores float32 [N])`` in the pixels of ``frames``,
            with ``points float32 [N, 5, 2]`` (x, y) appended when ``landmarks``.
        """
        self.setup()
        if len(frames) == 0:
            return []
        small, (scale_x, scale_y) = downscale_frames(frames, self.config.detect_max_side_px)
        if self.config.normalize_exposure:
            small = normalize_exposure(small)
        detections: Detections = []
        batch = self.config.batch_size or (CPU_BATCH if self.device == "cpu" else GPU_BATCH)
        for start in range(0, len(small), batch):
            chunk = small[start : start + batch]
            boxes, probs, points = self._mtcnn.detect(chunk, landmarks=True)
            detections.extend(_unpack(boxes, probs, points if landmarks else None, len(chunk)))
        height, width = frames.shape[1:3]
        to_source = np.array([scale_x, scale_y, scale_x, scale_y], dtype=np.float32)
        limits = np.array([width, height, width, height], dtype=np.float32)
        out: Detections = []
        for found in detections:
            # Points are not clipped: an eye may lie just outside a face box cut at the frame's edge.
            points = tuple(p / to_source[:2] for p in found[2:])
            out.append((np.clip(found[0] / to_source, 0, limits), found[1], *points))
        return out

    def detect_downscaled(self, frames: np.ndarray) -> Detections:
        """``DetectFn`` entry for frames the processor already downscaled (what a remote actor receives).

        Same as ``detect`` with ``landmarks=True``; named so callers say which contract they rely on:
        boxes and points come back in the pixels of ``frames``.
        """
        return self.detect(frames, landmarks=True)


def detect_fn(detector: FaceDetector) -> DetectFn:
    """The ``DetectFn`` of a local detector (loads MTCNN now, so the first family is not slowed)."""
    detector.setup()
    return detector.detect_downscaled
