"""Check ground-truth face boxes against what facenet-pytorch's MTCNN finds in decoded frames."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dfdc_lake.synth.truth import ClipTruth

DETECT_MAX_SIDE_PX = 640  # as the pipeline does: frames are downscaled to this before MTCNN
MIN_IOU = 0.5


@dataclass
class Tally:
    """Hits (true face matched by a detection with IoU >= MIN_IOU) out of (frame, person) pairs."""

    hits: int = 0
    total: int = 0

    @property
    def rate(self) -> float:
        return self.hits / self.total if self.total else float("nan")

    def add(self, ious: np.ndarray) -> None:
        self.hits += int((ious >= MIN_IOU).sum())
        self.total += int(ious.size)


def iou_xyxy(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def decode_frames(path: Path, indices: list[int]) -> np.ndarray:
    """RGB frames ``indices`` of a video, uint8 [N, H, W, 3], decoded with decord."""
    import decord

    return decord.VideoReader(str(path)).get_batch(indices).asnumpy()


def stretch_contrast(frames: np.ndarray) -> np.ndarray:
    """Per-frame 1st..99.5th percentile stretch to 0..255 (what an exposure fix would do)."""
    out = np.empty_like(frames)
    for index, frame in enumerate(frames):
        low, high = np.percentile(frame, [1.0, 99.5])
        out[index] = np.clip((frame.astype(np.float32) - low) * (255.0 / max(high - low, 1.0)), 0, 255)
    return out


def _detect(mtcnn: Any, frames: np.ndarray, batch: int = 24) -> list[np.ndarray | None]:
    """MTCNN boxes per frame in source pixels (frames downscaled to ``DETECT_MAX_SIDE_PX`` first)."""
    height, width = frames.shape[1:3]
    scale = min(1.0, DETECT_MAX_SIDE_PX / max(height, width))
    size = (round(width * scale), round(height * scale))
    back = np.array([width / size[0], height / size[1]] * 2)
    found: list[np.ndarray | None] = []
    for start in range(0, len(frames), batch):
        images = [
            Image.fromarray(frame).resize(size, Image.Resampling.BILINEAR)
            for frame in frames[start : start + batch]
        ]
        boxes, _ = mtcnn.detect(images)
        found += [None if b is None else np.asarray(b, dtype=np.float64) * back for b in boxes]
    return found


def best_ious(mtcnn: Any, frames: np.ndarray, truth_boxes: np.ndarray) -> np.ndarray:
    """Best IoU of any detection with each true face, float [N frames, P persons].

    ``truth_boxes`` is [P, N, 4] in source pixels.
    """
    out = np.zeros((len(frames), truth_boxes.shape[0]))
    for index, found in enumerate(_detect(mtcnn, frames)):
        if found is None:
            continue
        for person in range(truth_boxes.shape[0]):
            out[index, person] = max(iou_xyxy(box, truth_boxes[person, index]) for box in found)
    return out


@dataclass
class Sample:
    """Frames of one clip to check: which, and whether to contrast-stretch them first."""

    path: Path
    truth: ClipTruth
    indices: list[int]
    stretch: bool = False


def sample_ious(mtcnn: Any, samples: list[Sample]) -> list[np.ndarray]:
    """``best_ious`` of every sample, batching frames of equal size across clips (much faster on CPU)."""
    frames = []
    for sample in samples:
        decoded = decode_frames(sample.path, sample.indices)
        frames.append(stretch_contrast(decoded) if sample.stretch else decoded)
    by_size: dict[tuple[int, ...], list[int]] = {}
    for number, clip_frames in enumerate(frames):
        key = (*clip_frames.shape[1:], samples[number].truth.num_persons)
        by_size.setdefault(key, []).append(number)
    out: list[np.ndarray] = [np.empty(0)] * len(samples)
    for numbers in by_size.values():
        stacked = np.concatenate([frames[n] for n in numbers])
        boxes = np.concatenate(
            [samples[n].truth.face_boxes_xyxy[:, samples[n].indices] for n in numbers], axis=1
        )
        ious = best_ious(mtcnn, stacked, boxes)
        offset = 0
        for n in numbers:
            out[n] = ious[offset : offset + len(samples[n].indices)]
            offset += len(samples[n].indices)
    return out


def case_of(truth: ClipTruth) -> str:
    """The family hard case a clip belongs to, or ``plain``."""
    family_tags = [tag for tag in truth.tags if tag not in ("zero_byte", "truncated")]
    return family_tags[0] if family_tags else "plain"
