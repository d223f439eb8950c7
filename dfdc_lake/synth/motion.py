"""Smooth, seeded motion: where each person's face is in every frame, and how the camera pans.

Every person moves by slow sinusoids (drift, zoom, slight roll). The same motion drives the rendering
and the ground-truth boxes, so a box is exact geometry: the sprite's calibrated face box moved by the
person's pose (centre, scale; the roll is small enough to keep the box axis-aligned).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["CameraPan", "PersonMotion", "Pose", "face_boxes_xyxy", "random_motion", "random_pan"]


@dataclass(frozen=True)
class Pose:
    """A person's pose in one frame: face-box centre (px), face-box height (px), roll (degrees)."""

    center_x_px: float
    center_y_px: float
    face_height_px: float
    roll_deg: float


@dataclass(frozen=True)
class PersonMotion:
    """Motion of one person. Positions are shares of the frame; periods are in clip lengths."""

    center_x: float  # face centre, share of frame width
    center_y: float  # face centre, share of frame height
    face_height: float  # face-box height, share of the frame's shorter side
    drift_x: float  # amplitude, share of frame width
    drift_y: float  # amplitude, share of frame height
    zoom: float  # relative amplitude of the face size (0.08 = +-8 %)
    roll_deg: float  # amplitude of the head roll
    cycles: tuple[float, float, float, float]  # per clip, for x, y, zoom, roll
    phases: tuple[float, float, float, float]  # radians

    def pose(self, progress: float, width_px: int, height_px: int) -> Pose:
        """The pose at ``progress`` (0 = first frame, 1 = end of the clip)."""
        waves = [
            math.sin(2 * math.pi * c * progress + p) for c, p in zip(self.cycles, self.phases, strict=True)
        ]
        return Pose(
            center_x_px=(self.center_x + self.drift_x * waves[0]) * width_px,
            center_y_px=(self.center_y + self.drift_y * waves[1]) * height_px,
            face_height_px=self.face_height * min(width_px, height_px) * (1.0 + self.zoom * waves[2]),
            roll_deg=self.roll_deg * waves[3],
        )


@dataclass(frozen=True)
class CameraPan:
    """Camera pan over a background ``margin_x``/``margin_y`` shares larger than the frame."""

    margin_x: float
    margin_y: float
    cycles: float
    phase: float

    def offset_px(self, progress: float, width_px: int, height_px: int) -> tuple[int, int]:
        """Top-left of the visible window inside the background at ``progress``."""
        wave = 0.5 + 0.5 * math.sin(2 * math.pi * self.cycles * progress + self.phase)
        return round(wave * self.margin_x * width_px), round((1.0 - wave) * self.margin_y * height_px)


def _sample(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def random_motion(rng: np.random.Generator, slot: int, num_people: int, portrait: bool) -> PersonMotion:
    """Motion for person ``slot`` of ``num_people``, kept inside the frame and apart from the others."""
    if num_people == 1:
        center_x = _sample(rng, 0.4, 0.6)
        face_height = _sample(rng, 0.26, 0.32) if portrait else _sample(rng, 0.24, 0.3)
    else:
        center_x = (slot + 0.5) / num_people + _sample(rng, -0.04, 0.04)
        face_height = _sample(rng, 0.19, 0.23)
    return PersonMotion(
        center_x=center_x,
        center_y=_sample(rng, 0.3, 0.36) if portrait else _sample(rng, 0.36, 0.44),
        face_height=face_height,
        drift_x=_sample(rng, 0.02, 0.06) / num_people,
        drift_y=_sample(rng, 0.01, 0.03),
        zoom=_sample(rng, 0.04, 0.1),
        roll_deg=_sample(rng, 1.5, 5.0),
        cycles=tuple(_sample(rng, 0.4, 1.4) for _ in range(4)),  # type: ignore[arg-type]
        phases=tuple(_sample(rng, 0.0, 2 * math.pi) for _ in range(4)),  # type: ignore[arg-type]
    )


def random_pan(rng: np.random.Generator) -> CameraPan:
    """A slow pan over a background up to 10 % larger than the frame."""
    return CameraPan(
        margin_x=_sample(rng, 0.03, 0.1),
        margin_y=_sample(rng, 0.0, 0.04),
        cycles=_sample(rng, 0.3, 0.9),
        phase=_sample(rng, 0.0, 2 * math.pi),
    )


def face_boxes_xyxy(
    motion: PersonMotion,
    face_aspect: float,
    num_frames: int,
    width_px: int,
    height_px: int,
) -> np.ndarray:
    """The true face box of one person in every frame, float32 ``[num_frames, 4]`` (x1, y1, x2, y2).

    Args:
        motion: the person's motion.
        face_aspect: width / height of the sprite's calibrated face box.
        num_frames: frames in the clip.
        width_px: frame width.
        height_px: frame height.
    """
    boxes = np.empty((num_frames, 4), np.float32)
    for index in range(num_frames):
        pose = motion.pose(index / num_frames, width_px, height_px)
        half_h = pose.face_height_px / 2.0
        half_w = half_h * face_aspect
        boxes[index] = (
            pose.center_x_px - half_w,
            pose.center_y_px - half_h,
            pose.center_x_px + half_w,
            pose.center_y_px + half_h,
        )
    np.clip(boxes[:, 0::2], 0, width_px, out=boxes[:, 0::2])
    np.clip(boxes[:, 1::2], 0, height_px, out=boxes[:, 1::2])
    return np.round(boxes, 2)
