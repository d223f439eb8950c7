"""Cut each track's face out of the sampled frames: margin, clip to the frame, downscale, JPEG.

Besides the JPEG bytes that go to the lake, each crop is kept as a greyscale thumbnail
(``LABEL_THUMB_PX`` square, taken before JPEG encoding) with the face box's place in it, and the
energy of its finest detail inside the face and in the margin around it, at full resolution and at
half resolution (the next octave), so a fake's crops can be compared with its original's to label the
face modality (``stages/labels.py``). The track's facial points go with each crop as shares of its
window's width and height, which the stored (downscaled) crop keeps.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from dfdc_lake.config import CropConfig
from dfdc_lake.records import FaceTrack
from dfdc_lake.stages.faces import LANDMARKS
from dfdc_lake.stages.frames import RgbFrames, SampledFrames

__all__ = [
    "DETAIL_OCTAVES",
    "LABEL_THUMB_PX",
    "FaceCropper",
    "TrackCrops",
    "crop_landmarks",
    "crop_window",
    "detail_energies",
    "face_regions",
    "fine_detail_energy",
    "merge_track_crops",
]

LABEL_THUMB_PX = 256
DETAIL_OCTAVES = 2  # fine detail measured at full resolution and at half resolution
RING_GAP = 0.1  # the margin region starts this share of the box size outside the box


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
    # float32 [K, 2 * DETAIL_OCTAVES]: mean squared fine detail in the face and in the margin, of the
    # full-resolution crop, then of the crop at half resolution (``detail_energies``); empty when not
    # measured.
    detail: np.ndarray = field(default_factory=lambda: np.zeros((0, 2 * DETAIL_OCTAVES), np.float32))
    # float32 [K, 5, 2]: the track's facial points as shares of each crop's width and height (NaN where
    # the track has none); empty when not cut by ``FaceCropper``.
    landmarks: np.ndarray = field(default_factory=lambda: np.zeros((0, LANDMARKS, 2), np.float32))

    @property
    def landmarks_interpolated(self) -> np.ndarray:
        """bool [K]: the points of crop k were interpolated (no detection in its frame: score NaN)."""
        return np.isnan(self.scores)

    def landmark_fields(self) -> dict[str, np.ndarray | None]:
        """The ``Sample`` fields ``crop_landmarks`` (float32 [K, 10]) and ``crop_landmarks_interpolated``
        (bool [K]); both None when no crop has points."""
        points = self.landmarks
        if len(points) != len(self.jpeg) or not np.isfinite(points).any():
            return {"crop_landmarks": None, "crop_landmarks_interpolated": None}
        return {
            "crop_landmarks": points.reshape(len(points), 2 * LANDMARKS).astype(np.float32),
            "crop_landmarks_interpolated": self.landmarks_interpolated,
        }


def face_regions(inner_xyxy: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean [height, width] masks of a crop's face (the ellipse in the box) and its margin (outside
    the box grown by ``RING_GAP``); ``inner_xyxy`` is the box as shares of the crop's width and height."""
    x1, x2 = (float(v) * width for v in inner_xyxy[0::2])
    y1, y2 = (float(v) * height for v in inner_xyxy[1::2])
    xs = np.arange(width, dtype=np.float32) + 0.5
    ys = np.arange(height, dtype=np.float32) + 0.5
    cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, max((x2 - x1) / 2, 1.0), max((y2 - y1) / 2, 1.0)
    face = ((xs[None, :] - cx) / rx) ** 2 + ((ys[:, None] - cy) / ry) ** 2 <= 1.0
    gap_x, gap_y = RING_GAP * 2 * rx, RING_GAP * 2 * ry
    inside_x = (xs >= x1 - gap_x) & (xs <= x2 + gap_x)
    inside_y = (ys >= y1 - gap_y) & (ys <= y2 + gap_y)
    return face, ~(inside_y[:, None] & inside_x[None, :])


def fine_detail_energy(grey: np.ndarray, inner_xyxy: np.ndarray) -> tuple[float, float]:
    """Mean squared difference of each pixel from a 3x3 binomial blur of itself (the image's finest
    detail, which a face re-rendered from a lower resolution lacks), inside the face and in the margin
    (NaN for a region with no pixel)."""
    image = np.asarray(grey, dtype=np.float32)  # no copy when it already is float32
    if min(image.shape) < 3:
        return float("nan"), float("nan")
    rows = image[:, :-2] + 2 * image[:, 1:-1] + image[:, 2:]
    blurred = (rows[:-2] + 2 * rows[1:-1] + rows[2:]) / 16.0
    energy = (image[1:-1, 1:-1] - blurred) ** 2
    face, ring = face_regions(inner_xyxy, *image.shape)
    face, ring = face[1:-1, 1:-1], ring[1:-1, 1:-1]
    return (
        float(energy[face].mean()) if face.any() else float("nan"),
        float(energy[ring].mean()) if ring.any() else float("nan"),
    )


def _half_resolution(image: np.ndarray) -> np.ndarray:
    """``image`` (float32 [H, W]) averaged over 2x2 blocks (an odd last row or column dropped)."""
    height, width = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    top, bottom = image[0:height:2, :width], image[1:height:2, :width]
    return (top[:, 0::2] + top[:, 1::2] + bottom[:, 0::2] + bottom[:, 1::2]) * 0.25


def detail_energies(grey: np.ndarray, inner_xyxy: np.ndarray) -> tuple[float, ...]:
    """``fine_detail_energy`` of the crop (face, margin), then of the crop at half resolution: the
    finest octave of detail, and the next one, which a face re-rendered from a lower resolution also
    loses where the finest octave holds little but codec noise (a smooth, large face)."""
    image = np.asarray(grey, dtype=np.float32)
    return fine_detail_energy(image, inner_xyxy) + fine_detail_energy(_half_resolution(image), inner_xyxy)


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


def crop_landmarks(points_xy: np.ndarray, left: int, top: int, right: int, bottom: int) -> np.ndarray:
    """Facial points (source pixels, [5, 2]) as shares of the crop window's width and height (not
    clipped: a point may lie just outside the crop)."""
    size = np.array([right - left, bottom - top], np.float64)
    return ((np.asarray(points_xy, np.float64) - [left, top]) / size).astype(np.float32)


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

    def _encode(
        self, crop: np.ndarray, inner_xyxy: list[float]
    ) -> tuple[bytes, np.ndarray, tuple[float, ...]]:
        image = Image.fromarray(crop)
        # The thumbnail and the fine detail come from the full-resolution crop: detail a smoothed face
        # lost is still there to compare, whatever size the lake's JPEG is.
        grey = image.convert("L")
        detail = detail_energies(np.asarray(grey), np.asarray(inner_xyxy))
        thumb = grey.resize((LABEL_THUMB_PX, LABEL_THUMB_PX), Image.Resampling.BILINEAR)
        factor = self.config.max_side_px / max(image.size)
        if factor < 1.0:
            size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
            image = image.resize(size, Image.Resampling.BILINEAR)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=self.config.jpeg_quality)
        return buffer.getvalue(), np.asarray(thumb, dtype=np.uint8), detail

    def crop_track(
        self, frames: SampledFrames | np.ndarray, frame_indices: np.ndarray, track: FaceTrack
    ) -> TrackCrops:
        """Crop ``track`` from ``frames``.

        Args:
            frames: the video's sampled frames (or RGB uint8 [T, H, W, 3]); only the crop windows are
                converted to RGB.
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
        pixels = RgbFrames(frames) if isinstance(frames, np.ndarray) else frames
        height, width = pixels.height_px, pixels.width_px
        jpegs, thumbs = [], []
        inner, details, landmarks = [], [], []
        points = track.landmarks_xy
        if points is None:
            points = np.full((len(track.frame_indices), LANDMARKS, 2), np.nan, np.float32)
        for position, box, face_points in zip(
            positions[present], track.boxes_xyxy[present], points[present], strict=True
        ):
            left, top, right, bottom = crop_window(box, self.config.margin, width, height)
            inner.append(_inner_box(box, left, top, right, bottom))
            landmarks.append(crop_landmarks(face_points, left, top, right, bottom))
            jpeg, thumb, detail = self._encode(
                pixels.window(int(position), (left, top, right, bottom)), inner[-1]
            )
            jpegs.append(jpeg)
            thumbs.append(thumb)
            details.append(detail)
        empty = np.zeros((0, LABEL_THUMB_PX, LABEL_THUMB_PX), np.uint8)
        return TrackCrops(
            frame_indices=track.frame_indices[present].astype(np.int32),
            boxes_xyxy=track.boxes_xyxy[present].astype(np.float32),
            scores=track.scores[present].astype(np.float32),
            jpeg=jpegs,
            thumbs=np.stack(thumbs) if thumbs else empty,
            inner_xyxy=np.asarray(inner, np.float32).reshape(-1, 4),
            detail=np.asarray(details, np.float32).reshape(-1, 2 * DETAIL_OCTAVES),
            landmarks=np.asarray(landmarks, np.float32).reshape(-1, LANDMARKS, 2),
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
        detail=np.concatenate([p.detail for p in parts]),
        landmarks=np.concatenate([p.landmarks for p in parts]),
    )
