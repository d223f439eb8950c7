"""The DFDC 1st-place augmentation chain on a track's face crops, every draw from the sample's generator.

The winner (Selim Seferbekov, albumentations on single frames) used, in this order: JPEG compression
(quality 60-100, p 0.5), Gaussian noise (p 0.1), Gaussian blur (3x3, p 0.05), horizontal flip (p 0.5),
isotropic resize (one of three interpolation pairs), zero padding, one of brightness/contrast,
FancyPCA or hue/saturation/value (p 0.7), to-grey (p 0.2) and shift-scale-rotate (shift 0.1, scale 0.2,
rotate 10 degrees, p 0.5); before all of it, with p 0.7, a face part erased along its landmarks (eyes
with p 0.5, else the mouth with p 0.5, else the nose with p 0.5).

Here the ops are torchvision ``transforms.v2.functional`` calls on a uint8 ``[K, 3, S, S]`` tensor (so
they also run batched on a GPU), and their parameters are drawn from the per-sample NumPy generator
(``seeding.numpy_rng(seed, epoch, sample_id)``): a rerun draws exactly the same chain. A track's K crops
share one draw (one track, one "re-encoding"); the cutout follows each crop's own landmarks. The
isotropic resize lives in ``features`` (it decides the crop's geometry); FancyPCA has no torchvision
op and is left out of the colour choice. Without landmarks (older lakes, a crop MTCNN gave none), the
cutout falls back to torchvision-style random erasing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["WINNERS_CHAIN", "ChainSettings", "augment_track", "landmark_cutout", "random_erase"]

# MTCNN's five points, in the order the lake stores them.
LEFT_EYE, RIGHT_EYE, NOSE, MOUTH_LEFT, MOUTH_RIGHT = range(5)


@dataclass(frozen=True)
class ChainSettings:
    """Probabilities and ranges of the chain (the winner's values; albumentations' defaults where he
    kept them)."""

    cutout_p: float = 0.7
    erase_p: float = 0.5  # fallback without landmarks: torchvision RandomErasing's default p
    erase_scale: tuple[float, float] = (0.02, 0.33)
    erase_ratio: tuple[float, float] = (0.3, 3.3)
    jpeg_p: float = 0.5
    jpeg_quality: tuple[int, int] = (60, 100)
    noise_p: float = 0.1
    noise_var: tuple[float, float] = (10.0, 50.0)  # grey levels squared (albumentations GaussNoise)
    blur_p: float = 0.05
    flip_p: float = 0.5
    colour_p: float = 0.7
    brightness: float = 0.2  # RandomBrightnessContrast limits
    contrast: float = 0.2
    hue: float = 20 / 180  # HueSaturationValue: 20 of OpenCV's 180 hue steps
    saturation: float = 30 / 255
    value: float = 20 / 255
    grey_p: float = 0.2
    affine_p: float = 0.5
    shift: float = 0.1
    scale: float = 0.2
    rotate_deg: float = 10.0


WINNERS_CHAIN = ChainSettings()


def _segment_mask(size: int, a: np.ndarray, b: np.ndarray, radius: float) -> torch.Tensor:
    """Boolean ``[S, S]`` mask of the pixels within ``radius`` of the segment ``a``-``b`` (pixels).

    Distances are computed only inside the segment's bounding box grown by ``radius``.
    """
    mask = torch.zeros((size, size), dtype=torch.bool)
    ax, ay, bx, by = (float(v) for v in (a[0], a[1], b[0], b[1]))
    x0, x1 = int(np.clip(min(ax, bx) - radius, 0, size)), int(np.clip(max(ax, bx) + radius + 1, 0, size))
    y0, y1 = int(np.clip(min(ay, by) - radius, 0, size)), int(np.clip(max(ay, by) + radius + 1, 0, size))
    if x1 <= x0 or y1 <= y0:
        return mask
    yy, xx = torch.meshgrid(
        torch.arange(y0, y1, dtype=torch.float32), torch.arange(x0, x1, dtype=torch.float32), indexing="ij"
    )
    dx, dy = bx - ax, by - ay
    length2 = max(dx * dx + dy * dy, 1e-6)
    t = (((xx - ax) * dx + (yy - ay) * dy) / length2).clamp(0.0, 1.0)
    mask[y0:y1, x0:x1] = (xx - ax - t * dx) ** 2 + (yy - ay - t * dy) ** 2 <= radius * radius
    return mask


def _part_segment(points: np.ndarray, part: str) -> tuple[np.ndarray, np.ndarray, float]:
    """Endpoints and half-width of the band erased over a face part (the winner's remove_eyes/mouth/nose:
    a line dilated by a quarter, for the mouth a third, of its length)."""
    eyes = float(np.linalg.norm(points[RIGHT_EYE] - points[LEFT_EYE]))
    if part == "eyes":
        return points[LEFT_EYE], points[RIGHT_EYE], 1.0 + eyes / 4
    if part == "mouth":
        width = float(np.linalg.norm(points[MOUTH_RIGHT] - points[MOUTH_LEFT]))
        return points[MOUTH_LEFT], points[MOUTH_RIGHT], 1.0 + width / 3
    between_eyes = (points[LEFT_EYE] + points[RIGHT_EYE]) / 2
    return points[NOSE], between_eyes, 1.0 + eyes / 4


def landmark_cutout(faces: torch.Tensor, landmarks_px: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
    """Erase the eyes, else the mouth, else the nose (each tried with p 0.5) of every crop.

    Args:
        faces: uint8 ``[K, 3, S, S]``.
        landmarks_px: float ``[K, 5, 2]`` x/y in pixels of ``faces``; a crop with NaN points is left alone.
        rng: the sample's generator.
    """
    part = next((name for name in ("eyes", "mouth", "nose") if rng.random() > 0.5), None)
    if part is None:
        return faces
    out = faces.clone()
    for k in range(faces.shape[0]):
        if not np.isfinite(landmarks_px[k]).all():
            continue
        a, b, radius = _part_segment(landmarks_px[k], part)
        out[k, :, _segment_mask(faces.shape[-1], a, b, radius)] = 0
    return out


def random_erase(
    faces: torch.Tensor, rng: np.random.Generator, s: ChainSettings = WINNERS_CHAIN
) -> torch.Tensor:
    """One rectangle (area and aspect as torchvision's RandomErasing) zeroed in every crop of the track."""
    size = faces.shape[-1]
    for _ in range(10):  # RandomErasing's tries before giving up
        area = size * size * rng.uniform(*s.erase_scale)
        aspect = float(np.exp(rng.uniform(np.log(s.erase_ratio[0]), np.log(s.erase_ratio[1]))))
        h, w = round(np.sqrt(area * aspect)), round(np.sqrt(area / aspect))
        if 0 < h < size and 0 < w < size:
            top, left = int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1))
            out = faces.clone()
            out[..., top : top + h, left : left + w] = 0
            return out
    return faces


def _colour(faces: torch.Tensor, rng: np.random.Generator, s: ChainSettings) -> torch.Tensor:
    from torchvision.transforms.v2 import functional as F

    if rng.random() < 0.5:  # RandomBrightnessContrast
        faces = F.adjust_brightness(faces, 1.0 + rng.uniform(-s.brightness, s.brightness))
        return F.adjust_contrast(faces, 1.0 + rng.uniform(-s.contrast, s.contrast))
    faces = F.adjust_hue(faces, rng.uniform(-s.hue, s.hue))  # HueSaturationValue
    faces = F.adjust_saturation(faces, 1.0 + rng.uniform(-s.saturation, s.saturation))
    return F.adjust_brightness(faces, 1.0 + rng.uniform(-s.value, s.value))


def _noise(faces: torch.Tensor, rng: np.random.Generator, s: ChainSettings) -> torch.Tensor:
    sigma = float(np.sqrt(rng.uniform(*s.noise_var)))
    noise = torch.from_numpy(rng.standard_normal(tuple(faces.shape), dtype=np.float32))
    return (faces.float() + noise * sigma).round_().clamp_(0, 255).to(torch.uint8)


def _shift_scale_rotate(faces: torch.Tensor, rng: np.random.Generator, s: ChainSettings) -> torch.Tensor:
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as F

    size = faces.shape[-1]
    shift = [float(rng.uniform(-s.shift, s.shift) * size) for _ in range(2)]
    return F.affine(
        faces,
        angle=float(rng.uniform(-s.rotate_deg, s.rotate_deg)),
        translate=shift,
        scale=float(rng.uniform(1 - s.scale, 1 + s.scale)),
        shear=[0.0, 0.0],
        interpolation=InterpolationMode.BILINEAR,
        fill=[0.0],
    )


def augment_track(
    faces: torch.Tensor,
    landmarks_px: np.ndarray | None,
    rng: np.random.Generator,
    s: ChainSettings = WINNERS_CHAIN,
) -> torch.Tensor:
    """The winner's chain on one track's crops (uint8 ``[K, 3, S, S]`` in and out).

    ``landmarks_px`` is ``[K, 5, 2]`` (pixels of ``faces``) or None, which makes the cutout step a random
    erase. Every probability and parameter is drawn from ``rng`` in a fixed order.
    """
    from torchvision.transforms.v2 import functional as F

    if rng.random() < s.cutout_p and landmarks_px is not None and np.isfinite(landmarks_px).any():
        faces = landmark_cutout(faces, landmarks_px, rng)
    elif landmarks_px is None and rng.random() < s.erase_p:
        faces = random_erase(faces, rng, s)
    if rng.random() < s.jpeg_p:
        faces = F.jpeg(faces, int(rng.integers(s.jpeg_quality[0], s.jpeg_quality[1] + 1)))
    if rng.random() < s.noise_p:
        faces = _noise(faces, rng, s)
    if rng.random() < s.blur_p:
        faces = F.gaussian_blur(faces, [3, 3])
    if rng.random() < s.flip_p:
        faces = faces.flip(-1)
    if rng.random() < s.colour_p:
        faces = _colour(faces, rng, s)
    if rng.random() < s.grey_p:
        faces = F.rgb_to_grayscale(faces, num_output_channels=3)
    if rng.random() < s.affine_p:
        faces = _shift_scale_rotate(faces, rng, s)
    return faces
