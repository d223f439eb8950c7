"""Face manipulations of one frame: identity swap, low-resolution re-render, mouth and eye warps.

Each edit gets the face region of a frame as float RGB with the face's box and landmarks in region
pixels, and returns the edited region and the soft mask to blend it with (``regions.blend_region``);
or None to leave the frame as it is (no donor face for this frame).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image, ImageFilter

from dfdc_lake.synth.manipulate.donors import DonorFace
from dfdc_lake.synth.manipulate.faces import MOUTH_LEFT, MOUTH_RIGHT, similarity_transform
from dfdc_lake.synth.manipulate.regions import Region, face_mask

__all__ = ["FaceAt", "FaceEdit", "SmoothEdit", "SwapEdit", "WarpEdit"]

Edited = tuple[np.ndarray, np.ndarray]  # (float32 RGB [h, w, 3], mask float32 [h, w] in 0..1)


@dataclass(frozen=True)
class FaceAt:
    """The face in one frame, in the pixels of its region."""

    index: int  # frame number
    region: Region
    rgb: np.ndarray  # float32 [h, w, 3]
    box_xyxy: np.ndarray  # [4]
    landmarks_xy: np.ndarray  # [5, 2]

    @property
    def width_px(self) -> float:
        return float(self.box_xyxy[2] - self.box_xyxy[0])

    def mask(self, scale: float = 1.0) -> np.ndarray:
        return face_mask(self.rgb.shape[:2], self.landmarks_xy, scale)


class FaceEdit(Protocol):
    def apply(self, face: FaceAt) -> Edited | None: ...


def _to_image(rgb: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8), "RGB")


def _affine(image: np.ndarray, matrix: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``image`` (``[h, w, C]``) resampled (bilinear) so output pixel (x, y) shows input ``matrix @ (x, y, 1)``."""
    from scipy.ndimage import affine_transform

    (a, b, e), (c, d, f) = matrix
    rows_cols = np.array([[d, c], [b, a]])  # the same map in (row, column) order
    planes = [
        affine_transform(image[..., k], rows_cols, offset=(f, e), output_shape=shape, order=1, cval=-1.0)
        for k in range(image.shape[-1])
    ]
    return np.stack(planes, axis=-1)


def _match_colours(moved: np.ndarray, target: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """``moved`` shifted and scaled per channel to ``target``'s mean and spread where ``inside``."""
    src, dst = moved[inside], target[inside]
    scale = np.clip(dst.std(axis=0) / np.maximum(src.std(axis=0), 1.0), 0.7, 1.4)
    return (moved - src.mean(axis=0)) * scale + dst.mean(axis=0)


@dataclass
class SwapEdit:
    """Another person's face aligned on the landmarks, colour-matched and blended with a soft ellipse."""

    donor: Callable[[int], DonorFace | None]  # frame number -> donor face

    def apply(self, face: FaceAt) -> Edited | None:
        donor = self.donor(face.index)
        if donor is None:
            return None
        forward = np.vstack([similarity_transform(donor.landmarks_xy, face.landmarks_xy), [0, 0, 1]])
        inverse = np.linalg.inv(forward)[:2]
        shape = face.rgb.shape[:2]
        donor_mask = face_mask(donor.rgb.shape[:2], donor.landmarks_xy)[..., None]
        moved = _affine(np.concatenate([donor.rgb, donor_mask], axis=-1), inverse, shape)
        # Only the donor's face, never its background, and only where the donor crop reaches.
        coverage = np.clip(moved[..., 3], 0.0, 1.0)
        # Colour statistics from the face's core only: its edge may hold hair or background.
        core = (face.mask(scale=0.7) > 0.5) & (coverage > 0.99)
        if core.sum() < 16:
            return None
        return _match_colours(moved[..., :3], face.rgb, core), face.mask() * coverage


@dataclass(frozen=True)
class SmoothEdit:
    """The same face rendered ``factor`` times smaller, upscaled and blurred (a low-resolution generator)."""

    factor: float
    blur_px: float

    def apply(self, face: FaceAt) -> Edited | None:
        image = _to_image(face.rgb)
        width, height = image.size
        small = (max(1, round(width / self.factor)), max(1, round(height / self.factor)))
        image = image.resize(small, Image.Resampling.BOX).resize((width, height), Image.Resampling.BICUBIC)
        if self.blur_px > 0:
            image = image.filter(ImageFilter.GaussianBlur(self.blur_px))
        return np.asarray(image, np.float32), face.mask()


@dataclass(frozen=True)
class WarpEdit:
    """Smooth, time-varying displacements that stretch the mouth and swell or shrink the eyes.

    The largest displacement is about ``strength`` face widths; it breathes between 20 % and 100 % of
    that at a few hertz, so no frame is left unchanged.
    """

    strength: float
    fps: float
    phase: float = 0.0

    def _displacement(self, face: FaceAt) -> tuple[np.ndarray, np.ndarray]:
        width_px, seconds = face.width_px, face.index / self.fps
        rows, cols = np.mgrid[0 : face.rgb.shape[0], 0 : face.rgb.shape[1]].astype(np.float32)
        mouth_x, mouth_y = face.landmarks_xy[[MOUTH_LEFT, MOUTH_RIGHT]].mean(axis=0)
        mouth_amp = self.strength * width_px * (0.6 + 0.4 * np.sin(2 * np.pi * 2.3 * seconds + self.phase))
        near_mouth = np.exp(-((cols - mouth_x) ** 2 + (rows - mouth_y) ** 2) / (2 * (0.2 * width_px) ** 2))
        d_rows = mouth_amp * near_mouth * np.tanh((rows - mouth_y) / (0.06 * width_px))
        d_cols = 0.5 * mouth_amp * near_mouth * np.tanh((cols - mouth_x) / (0.12 * width_px))
        eye_amp = 0.5 * self.strength * width_px * np.sin(2 * np.pi * 0.9 * seconds + 2 * self.phase + 1.0)
        sigma = 0.1 * width_px
        for eye_x, eye_y in face.landmarks_xy[:2]:
            near_eye = np.exp(-((cols - eye_x) ** 2 + (rows - eye_y) ** 2) / (2 * sigma**2)) / sigma
            d_rows += eye_amp * near_eye * (rows - eye_y)
            d_cols += eye_amp * near_eye * (cols - eye_x)
        return rows - d_rows, cols - d_cols

    def apply(self, face: FaceAt) -> Edited | None:
        from scipy.ndimage import map_coordinates

        source_rows, source_cols = self._displacement(face)
        planes = [
            map_coordinates(face.rgb[..., k], [source_rows, source_cols], order=1, mode="nearest")
            for k in range(3)
        ]
        return np.stack(planes, axis=-1), face.mask(scale=1.1)
