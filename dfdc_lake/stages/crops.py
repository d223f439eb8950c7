"""Cut each track's face out of the sampled frames: margin, clip to the frame, downscale, JPEG.

Besides the JPEG bytes that go to the lake, each crop is kept as a greyscale thumbnail
(``LABEL_THUMB_PX`` square, taken before JPEG encoding) with the face box's place in it, so a fake's
crops can be compared with its original's to label the face modality (``stages/labels.py``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from dfdc_lake.config import CropConfig
from dfdc_lake.records import FaceTrack

__all__ = ["LABEL_THUMB_PX", "FaceCropper", "TrackCrops", "crop_window", "merge_track_crops"]

LABEL_THUMB_PX = 256


@dataclass
class TrackCrops:
    """One track's crops in one video (only the track frames this video has)."""

    frame_indices: np.ndarray  # int32 [K]
    boxes_xyxy: np.ndarray  # float32 [K, 4], source pixels, before the margin
    scores: np.ndarray  # float32 [K], NaN where gap-filled
    jpeg: list[bytes]  # K JPEG images
    thumbs: np.ndarray  # uint8 [K, LABEL_THUMB_PX, LABEL_THUMB_PX] greyscale
    # float32 [K, 4]: the face box (before the margin) inside each thumbnail, as shares of its side.
    inner_xyxy: np.ndarray


def crop_window(
    box_xyxy: np.ndarray, margin: float, width_px: int, height_px: int
) -> tuple[int, int, int, int]:
    """Integer crop window: the box grown by ``margin`` of its size on each side, clipped to the frame."""
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    grow_x, grow_y = margin * (x2 - x1), margin * (y2 - y1)
    left = int(np.clip(np.floor(x1 - grow_x), 0, width_px - 1))
    top = int(np.clip(np.floor(y1 - grow_y), 0, height_px - 1))
    right = int(np.clip(np.ceil(x2 + grow_x), left + 1, width_px))
    bottom = int(np.clip(np.ceil(y2 + grow_y), top + 1, height_px))
    return left, top, right, bottom


def _inner_box(box_xyxy: np.ndarray, left: int, top: int, right: int, bottom: int) -> list[float]:
    """The box's place in its crop window, as shares of the window's width and height (clipped to 0..1)."""
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    width, height = right - left, bottom - top
    return [
        min(max((x1 - left) / width, 0.0), 1.0),
        min(max((y1 - top) / height, 0.0), 1.0),
        min(max((x2 - left) / width, 0.0), 1.0),
        min(max((y2 - top) / height, 0.0), 1.0),
    ]


@dataclass
class FaceCropper:
    """Turns a track and a video's sampled frames into JPEG crops."""

    config: CropConfig

    def _encode(self, crop: np.ndarray) -> tuple[bytes, np.ndarray]:
        image = Image.fromarray(crop)
        # The thumbnail comes from the full-resolution crop: fine detail a smoothed face lost is
        # still there to compare, whatever size the lake's JPEG is.
        thumb = image.convert("L").resize((LABEL_THUMB_PX, LABEL_THUMB_PX), Image.Resampling.BILINEAR)
        factor = self.config.max_side_px / max(image.size)
        if factor < 1.0:
            size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
            image = image.resize(size, Image.Resampling.BILINEAR)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=self.config.jpeg_quality)
        return buffer.getvalue(), np.asarray(thumb, dtype=np.uint8)

    def crop_track(self, frames: np.ndarray, frame_indices: np.ndarray, track: FaceTrack) -> TrackCrops:
        """Crop ``track`` from ``frames``.

        Args:
            frames: uint8 [T, H, W, 3], the video's sampled frames.
            frame_indices: int [T], their source frame indices (sorted).
            track: boxes in source pixels; its frames missing from ``frame_indices`` (a fake a few frames
                shorter than its original) are skipped.
        """
        frame_indices = np.asarray(frame_indices)
        positions = np.searchsorted(frame_indices, track.frame_indices)
        positions = np.clip(positions, 0, max(len(frame_indices) - 1, 0))
        present = (
            frame_indices[positions] == track.frame_indices
            if len(frame_indices)
            else np.zeros(len(track.frame_indices), dtype=bool)
        )
        height, width = frames.shape[1:3]
        jpegs, thumbs = [], []
        inner = []
        for position, box in zip(positions[present], track.boxes_xyxy[present], strict=True):
            left, top, right, bottom = crop_window(box, self.config.margin, width, height)
            jpeg, thumb = self._encode(np.ascontiguousarray(frames[position, top:bottom, left:right]))
            jpegs.append(jpeg)
            thumbs.append(thumb)
            inner.append(_inner_box(box, left, top, right, bottom))
        empty = np.zeros((0, LABEL_THUMB_PX, LABEL_THUMB_PX), np.uint8)
        return TrackCrops(
            frame_indices=track.frame_indices[present].astype(np.int32),
            boxes_xyxy=track.boxes_xyxy[present].astype(np.float32),
            scores=track.scores[present].astype(np.float32),
            jpeg=jpegs,
            thumbs=np.stack(thumbs) if thumbs else empty,
            inner_xyxy=np.asarray(inner, np.float32).reshape(-1, 4),
        )


def merge_track_crops(parts: list[TrackCrops]) -> TrackCrops:
    """One track's crops from consecutive segments of a video, in frame order."""
    if len(parts) == 1:
        return parts[0]
    return TrackCrops(
        frame_indices=np.concatenate([p.frame_indices for p in parts]).astype(np.int32),
        boxes_xyxy=np.concatenate([p.boxes_xyxy for p in parts]).astype(np.float32),
        scores=np.concatenate([p.scores for p in parts]).astype(np.float32),
        jpeg=[jpeg for p in parts for jpeg in p.jpeg],
        thumbs=np.concatenate([p.thumbs for p in parts]),
        inner_xyxy=np.concatenate([p.inner_xyxy for p in parts]),
    )
