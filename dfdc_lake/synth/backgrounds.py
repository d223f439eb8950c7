"""Procedural backgrounds (rooms, wallpaper, textures), larger than the frame so the camera can pan.

Nothing here looks like a face: smooth colour fields, stripes, rectangles and scikit-image's
brick/gravel/grass textures.
"""

from __future__ import annotations

import numpy as np

from dfdc_lake.synth.shapes import smooth_field

__all__ = ["BACKGROUND_STYLES", "make_background"]

BACKGROUND_STYLES: tuple[str, ...] = ("blobs", "stripes", "texture", "room")


def _lighting(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A soft light falloff from a random point, 0.7..1.1."""
    lx, ly = rng.uniform(0.1, 0.9) * width, rng.uniform(0.0, 0.5) * height
    ys = np.arange(height, dtype=np.float32)[:, None] - ly
    xs = np.arange(width, dtype=np.float32)[None, :] - lx
    dist = np.sqrt(xs * xs + ys * ys) / max(height, width)
    return np.clip(1.1 - 0.5 * dist, 0.7, 1.1)[..., None]


def _blobs(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    field = smooth_field(rng, (height, width), (5, 4), 3)
    base = rng.uniform(60, 190, size=3).astype(np.float32)
    return base + (field - 0.5) * 90.0


def _stripes(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    period = rng.uniform(0.04, 0.12) * width
    colors = rng.uniform(50, 220, size=(2, 3)).astype(np.float32)
    xs = np.arange(width, dtype=np.float32)
    mix = (0.5 + 0.5 * np.sin(2 * np.pi * xs / period))[None, :, None]
    wall = colors[0] * (1 - mix) + colors[1] * mix
    image = np.broadcast_to(wall, (height, width, 3)).copy()
    floor_y = int(rng.uniform(0.75, 0.9) * height)
    image[floor_y:] = rng.uniform(40, 120, size=3).astype(np.float32)
    return image


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    from skimage import data

    source = (data.brick, data.gravel, data.grass)[int(rng.integers(3))]()
    tile = np.asarray(source, dtype=np.float32) / 255.0
    reps = (height // tile.shape[0] + 1, width // tile.shape[1] + 1)
    grey = np.tile(tile, reps)[:height, :width]
    tint = rng.uniform(80, 220, size=3).astype(np.float32)
    color = smooth_field(rng, (height, width), (3, 2), 3)
    return grey[..., None] * tint * (0.6 + 0.5 * color)


def _room(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    image = np.empty((height, width, 3), np.float32)
    image[:] = rng.uniform(90, 210, size=3).astype(np.float32)
    for _ in range(int(rng.integers(3, 7))):
        x1, y1 = int(rng.uniform(0, 0.9) * width), int(rng.uniform(0, 0.8) * height)
        w, h = int(rng.uniform(0.05, 0.3) * width), int(rng.uniform(0.05, 0.4) * height)
        image[y1 : y1 + h, x1 : x1 + w] = rng.uniform(30, 240, size=3).astype(np.float32)
    floor_y = int(rng.uniform(0.7, 0.9) * height)
    image[floor_y:] *= 0.6
    return image


def make_background(seed: int, style: str, height: int, width: int) -> np.ndarray:
    """A deterministic background of ``style`` as uint8 ``[height, width, 3]``.

    Raises:
        ValueError: ``style`` is not one of ``BACKGROUND_STYLES``.
    """
    makers = {"blobs": _blobs, "stripes": _stripes, "texture": _texture, "room": _room}
    if style not in makers:
        raise ValueError(f"unknown background style {style!r}; known: {BACKGROUND_STYLES}")
    rng = np.random.default_rng(seed)
    image = makers[style](rng, height, width) * _lighting(rng, height, width)
    # Fine grain so the encoder sees texture rather than flat colour, as in a real camera.
    grain = smooth_field(rng, (height, width), (max(2, width // 6), max(2, height // 6)), 1)
    image = image + (grain - 0.5) * 12.0
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)
