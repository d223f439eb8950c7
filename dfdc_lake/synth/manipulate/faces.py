"""Where the face to manipulate is in every frame of an original: MTCNN box and 5 landmarks.

MTCNN (facenet-pytorch; the weights ship in the wheel) runs on every ``step``-th frame, downscaled so
its longest side is ``max_side_px``. Of several faces the largest is followed: the first detection
keeps the largest face, later ones the face that overlaps the previous pick most. The picks are
smoothed and interpolated to every frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dfdc_lake.synth.manipulate.media import read_frames

__all__ = ["LandmarkTrack", "LandmarkTracker", "pose_features", "similarity_transform"]

# MTCNN's landmark order.
LEFT_EYE, RIGHT_EYE, NOSE, MOUTH_LEFT, MOUTH_RIGHT = range(5)


@dataclass(frozen=True)
class LandmarkTrack:
    """The followed face in every frame of a clip, in source pixels.

    Attributes:
        boxes_xyxy: float32 ``[T, 4]``.
        landmarks_xy: float32 ``[T, 5, 2]``: left eye, right eye, nose, mouth left, mouth right.
        detected_share: share of the sampled frames where MTCNN found a face.
    """

    boxes_xyxy: np.ndarray
    landmarks_xy: np.ndarray
    detected_share: float

    def __len__(self) -> int:
        return len(self.boxes_xyxy)

    def face_width_px(self, index: int) -> float:
        x1, _, x2, _ = self.boxes_xyxy[index]
        return float(x2 - x1)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    width = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = width * height
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-6)


def _follow(detections: list[tuple[np.ndarray, np.ndarray] | None]) -> list[np.ndarray | None]:
    """Per sampled frame, the followed face as 14 numbers (box, then landmarks), or None."""
    picks: list[np.ndarray | None] = []
    previous: np.ndarray | None = None
    for found in detections:
        if found is None:
            picks.append(None)
            continue
        boxes, points = found
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        choice = int(np.argmax(areas))
        if previous is not None:
            overlap = _iou(previous, boxes)
            if overlap.max() > 0.2:
                choice = int(np.argmax(overlap))
        previous = boxes[choice]
        picks.append(np.concatenate([boxes[choice], points[choice].reshape(-1)]))
    return picks


def _interpolate(picks: list[np.ndarray | None], step: int, num_frames: int) -> np.ndarray:
    """Smooth the picked keyframes ([1, 2, 1] / 4) and interpolate them to ``[num_frames, 14]``."""
    keys = np.array([i * step for i, pick in enumerate(picks) if pick is not None], dtype=np.float64)
    values = np.stack([pick for pick in picks if pick is not None]).astype(np.float64)
    if len(values) >= 3:
        padded = np.concatenate([values[:1], values, values[-1:]])
        values = (padded[:-2] + 2 * padded[1:-1] + padded[2:]) / 4.0
    frames = np.arange(num_frames, dtype=np.float64)
    return np.stack([np.interp(frames, keys, values[:, k]) for k in range(values.shape[1])], axis=1)


@dataclass
class LandmarkTracker:
    """Runs MTCNN on sampled, downscaled frames of a clip (``setup()`` loads it once)."""

    step: int = 5
    max_side_px: int = 640
    batch_size: int = 16
    device: str = "cpu"
    _mtcnn: Any = field(default=None, init=False, repr=False)

    def setup(self) -> None:
        """Load MTCNN (weights ship inside facenet-pytorch; nothing is downloaded)."""
        if self._mtcnn is None:
            from facenet_pytorch import MTCNN

            self._mtcnn = MTCNN(keep_all=True, post_process=False, device=self.device)

    def _detect(self, frames: list[np.ndarray], scale: float) -> list[tuple[np.ndarray, np.ndarray] | None]:
        import torch

        out: list[tuple[np.ndarray, np.ndarray] | None] = []
        threads = torch.get_num_threads()
        # MTCNN runs many tiny ops (one resize per candidate box): extra threads only contend.
        torch.set_num_threads(1)
        try:
            found = [
                self._mtcnn.detect(np.stack(frames[start : start + self.batch_size]), landmarks=True)
                for start in range(0, len(frames), self.batch_size)
            ]
        finally:
            torch.set_num_threads(threads)
        for boxes, _, points in found:
            for frame_boxes, frame_points in zip(boxes, points, strict=True):
                if frame_boxes is None or len(frame_boxes) == 0:
                    out.append(None)
                else:
                    box_array = np.asarray(frame_boxes, np.float32).reshape(-1, 4) / scale
                    out.append((box_array, np.asarray(frame_points, np.float32).reshape(-1, 5, 2) / scale))
        return out

    def largest_face(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The largest face MTCNN finds in one RGB image: ``(box_xyxy [4], landmarks_xy [5, 2])``."""
        self.setup()
        found = self._detect([rgb], 1.0)[0]
        if found is None:
            return None
        boxes, points = found
        choice = int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))
        return boxes[choice], points[choice]

    def track(self, path: Path, num_frames: int) -> LandmarkTrack | None:
        """The followed face of the clip at ``path`` (``num_frames`` long); None when MTCNN finds none."""
        self.setup()
        small: list[np.ndarray] = []
        scale = 1.0
        for index, (frame, _) in enumerate(read_frames(path, max_frames=num_frames)):
            if index % self.step:
                continue
            scale = min(1.0, self.max_side_px / max(frame.width, frame.height))
            width, height = round(frame.width * scale), round(frame.height * scale)
            small.append(frame.reformat(width=width, height=height, format="rgb24").to_ndarray())
        picks = _follow(self._detect(small, scale))
        if not any(pick is not None for pick in picks):
            return None
        values = _interpolate(picks, self.step, num_frames).astype(np.float32)
        detected = sum(pick is not None for pick in picks) / len(picks)
        return LandmarkTrack(values[:, :4].copy(), values[:, 4:].reshape(-1, 5, 2).copy(), detected)


def similarity_transform(source_xy: np.ndarray, target_xy: np.ndarray) -> np.ndarray:
    """The 2x3 similarity (rotation, uniform scale, shift) that best maps ``source_xy`` onto ``target_xy``.

    Least squares over corresponding points (Umeyama, no reflection); both ``[N, 2]``.
    """
    src, dst = source_xy.astype(np.float64), target_xy.astype(np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    u, sigma, vt = np.linalg.svd(dst_c.T @ src_c / len(src))
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rotation = u @ sign @ vt
    scale = float(np.trace(np.diag(sigma) @ sign)) / max(float(src_c.var(axis=0).sum()), 1e-9)
    shift = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, shift[:, None]])


def pose_features(landmarks_xy: np.ndarray) -> np.ndarray:
    """Where a face looks, from its landmarks ``[..., 5, 2]``: ``[..., 2]`` of (eye gap, nose offset).

    Both are shares of the eye-to-mouth distance: the gap between the eyes shrinks as the head turns
    away, and the nose moves sideways (signed) off the eye-mouth line.
    """
    points = landmarks_xy.astype(np.float32)
    eyes, mouth = points[..., :2, :].mean(axis=-2), points[..., 3:, :].mean(axis=-2)
    eye_to_mouth = np.maximum(np.linalg.norm(eyes - mouth, axis=-1), 1.0)
    up = (eyes - mouth) / eye_to_mouth[..., None]
    right = np.stack([-up[..., 1], up[..., 0]], axis=-1)
    gap = np.linalg.norm(points[..., 1, :] - points[..., 0, :], axis=-1) / eye_to_mouth
    nose = ((points[..., 2, :] - (eyes + mouth) / 2) * right).sum(axis=-1) / eye_to_mouth
    return np.stack([gap, nose], axis=-1)
