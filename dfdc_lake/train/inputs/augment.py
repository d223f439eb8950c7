"""The DFDC 1st-place augmentation chain on a track's face crops, every draw from the sample's generator.

The winner (Selim Seferbekov, albumentations on single frames) used, in this order: JPEG compression
(quality 60-100, p 0.5), Gaussian noise (p 0.1), Gaussian blur (3x3, p 0.05), horizontal flip (p 0.5),
isotropic resize (one of three interpolation pairs), zero padding, one of brightness/contrast,
FancyPCA or hue/saturation/value (p 0.7), to-grey (p 0.2) and shift-scale-rotate (shift 0.1, scale 0.2,
rotate 10 degrees, p 0.5); before all of it, with p 0.7, a face part erased along its landmarks (eyes
with p 0.5, else the mouth with p 0.5, else the nose with p 0.5).

Here the chain is albumentations 2.0.8 itself (the winner's library, FancyPCA included; pinned because
later releases changed licence), run on each of a track's K crops after the same reseeding: one draw of
every parameter for the whole track (one track, one "re-encoding"; Gaussian noise included: one noise
field per track). Every transform's generator is reseeded per call from the per-sample NumPy generator
(``seeding.numpy_rng(seed, epoch, sample_id)``), so a rerun draws exactly the same chain. On the same
crops (load 2-4) it ran 0.66-0.81x the torchvision ``transforms.v2`` chain it replaced at 380 px
(bench/augment_chain.py; wider in earlier runs) and 1.2-1.6x at 224 px; without FancyPCA (which the
torchvision chain lacked) 3.4-4.3x and 2.4-2.7x: FancyPCA's PCA of every crop, about 13 ms a crop at 380
px, is most of the chain's time there (docs/benchmarks.md). The landmark cutout (torch, before the
chain) follows each crop's own landmarks; the isotropic resize lives in ``features`` (it decides the
crop's geometry). Without landmarks (older lakes, a crop MTCNN gave none), the cutout falls back to
torchvision-style random erasing.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = [
    "CHAINS",
    "DFDC_CHAIN",
    "WINNERS_CHAIN",
    "ChainSettings",
    "augment_track",
    "landmark_cutout",
    "random_erase",
]

# MTCNN's five points, in the order the lake stores them.
LEFT_EYE, RIGHT_EYE, NOSE, MOUTH_LEFT, MOUTH_RIGHT = range(5)


@dataclass(frozen=True)
class ChainSettings:
    """Probabilities and ranges of the chain (the winner's values; albumentations' defaults where he
    kept them, in albumentations' units)."""

    cutout_p: float = 0.7
    erase_p: float = 0.5  # fallback without landmarks: torchvision RandomErasing's default p
    erase_scale: tuple[float, float] = (0.02, 0.33)
    erase_ratio: tuple[float, float] = (0.3, 3.3)
    jpeg_p: float = 0.5
    jpeg_quality: tuple[int, int] = (60, 100)
    noise_p: float = 0.1
    noise_var: tuple[float, float] = (10.0, 50.0)  # grey levels squared (the winner's GaussNoise var_limit)
    blur_p: float = 0.05
    flip_p: float = 0.5
    colour_p: float = 0.7
    brightness: float = 0.2  # RandomBrightnessContrast limits
    contrast: float = 0.2
    hue_shift: float = 20  # HueSaturationValue limits, in OpenCV's units (hue of 180, the rest of 255)
    sat_shift: float = 30
    val_shift: float = 20
    pca_alpha: float = 0.1  # FancyPCA
    fancy_pca: bool = True  # the winner's; its PCA of every crop is most of the chain's time at 380 px
    grey_p: float = 0.2
    affine_p: float = 0.5
    shift: float = 0.1
    scale: float = 0.2
    rotate_deg: float = 10.0


WINNERS_CHAIN = ChainSettings()
# The chain without FancyPCA (augmentation='dfdc', the dfdc recipe's): FancyPCA's PCA of every crop is
# about 13 ms a crop at 380 px, more than the rest of the chain (bench/augment_chain.py).
DFDC_CHAIN = ChainSettings(fancy_pca=False)
CHAINS = {"dfdc": DFDC_CHAIN, "dfdc_fancy_pca": WINNERS_CHAIN}


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


def _build_chain(s: ChainSettings) -> Any:
    """The albumentations Compose for ``s`` (everything after the cutout)."""
    # The import checks PyPI for a newer release unless told not to: a network call per process.
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    import albumentations as A
    import cv2

    noise_std = (float(np.sqrt(s.noise_var[0])) / 255, float(np.sqrt(s.noise_var[1])) / 255)
    colour = [
        A.RandomBrightnessContrast(brightness_limit=s.brightness, contrast_limit=s.contrast, p=1),
        *([A.FancyPCA(alpha=s.pca_alpha, p=1)] if s.fancy_pca else []),
        A.HueSaturationValue(s.hue_shift, s.sat_shift, s.val_shift, p=1),
    ]
    return A.Compose(
        [
            A.ImageCompression(quality_range=s.jpeg_quality, p=s.jpeg_p),
            A.GaussNoise(std_range=noise_std, p=s.noise_p),
            A.GaussianBlur(blur_limit=(3, 3), p=s.blur_p),
            A.HorizontalFlip(p=s.flip_p),
            A.OneOf(colour, p=s.colour_p),
            A.ToGray(p=s.grey_p),
            # ShiftScaleRotate is deprecated in albumentations 2 in favour of Affine (same warp).
            A.Affine(
                translate_percent=(-s.shift, s.shift),
                scale=(1 - s.scale, 1 + s.scale),
                rotate=(-s.rotate_deg, s.rotate_deg),
                border_mode=cv2.BORDER_CONSTANT,
                fill=0,
                p=s.affine_p,
            ),
        ]
    )


_CHAINS = threading.local()  # a Compose holds its generators: one per thread, so reseeding never races


def _chain(s: ChainSettings) -> Any:
    chains: dict[ChainSettings, Any] = _CHAINS.__dict__.setdefault("chains", {})
    if s not in chains:
        chains[s] = _build_chain(s)
    return chains[s]


def _reseed(transform: Any, rng: np.random.Generator) -> None:
    """A seed of its own for every transform in the tree.

    ``Compose.set_random_seed`` gives every child the same seed, so their first draws (the p tests)
    would be equal: noise would never come without JPEG. Seeding each from ``rng`` keeps them apart.
    """
    transform.set_random_seed(int(rng.integers(2**31)))
    for child in getattr(transform, "transforms", ()):
        _reseed(child, rng)


def augment_track(
    faces: torch.Tensor,
    landmarks_px: np.ndarray | None,
    rng: np.random.Generator,
    s: ChainSettings = WINNERS_CHAIN,
) -> torch.Tensor:
    """The winner's chain on one track's crops (uint8 ``[K, 3, S, S]`` in and out).

    Args:
        faces: uint8 ``[K, 3, S, S]``, a track's crops.
        landmarks_px: ``[K, 5, 2]`` (pixels of ``faces``) or None, which makes the cutout a random erase.
        rng: the sample's generator; the cutout's draws and one seed for the chain come from it, in a
            fixed order.
        s: the chain's probabilities and ranges.

    Returns:
        uint8 ``[K, 3, S, S]`` (a view of the chain's ``[K, S, S, 3]`` output).
    """
    if rng.random() < s.cutout_p and landmarks_px is not None and np.isfinite(landmarks_px).any():
        faces = landmark_cutout(faces, landmarks_px, rng)
    elif landmarks_px is None and rng.random() < s.erase_p:
        faces = random_erase(faces, rng, s)
    chain, seed = _chain(s), int(rng.integers(2**31))
    out = []
    # Crop by crop, every one after the same reseeding: the same draws for the track. Faster than
    # ``images=`` (1.5x at 380 px: its affine warps K*3 channels in slices of 4), and FancyPCA takes
    # each crop's own colour components, as the winner's per-frame chain did.
    for crop in faces.permute(0, 2, 3, 1).numpy():
        _reseed(chain, np.random.default_rng(seed))
        out.append(chain(image=np.ascontiguousarray(crop))["image"])
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)
