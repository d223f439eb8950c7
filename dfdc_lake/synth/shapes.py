"""Small raster helpers shared by the sprite, background and frame code (float32 images, 0..255)."""

from __future__ import annotations

import numpy as np

__all__ = ["ellipse_alpha", "over", "smooth_field"]


def ellipse_alpha(
    shape: tuple[int, int],
    cx: float,
    cy: float,
    rx: float,
    ry: float,
    feather_px: float,
    open_below: bool = False,
) -> np.ndarray:
    """Coverage (0..1, float32 ``[H, W]``) of a filled ellipse with a soft edge ``feather_px`` wide.

    With ``open_below`` the shape keeps its full width below the centre (a dome on a column: a torso).
    """
    height, width = shape
    ys = (np.arange(height, dtype=np.float32)[:, None] + 0.5 - cy) / ry
    if open_below:
        ys = np.minimum(ys, 0.0)
    xs = (np.arange(width, dtype=np.float32)[None, :] + 0.5 - cx) / rx
    dist = np.sqrt(xs * xs + ys * ys)
    return np.clip((1.0 - dist) * (min(rx, ry) / max(feather_px, 1e-3)) + 0.5, 0.0, 1.0).astype(np.float32)


def over(
    rgb: np.ndarray, alpha: np.ndarray, layer_rgb: np.ndarray, layer_alpha: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Paint a layer over an RGBA image (straight alpha); returns the new colour and coverage."""
    out_alpha = layer_alpha + alpha * (1.0 - layer_alpha)
    # Colour is kept straight (not premultiplied): where the base is empty the layer's colour wins.
    weight = np.where(out_alpha > 1e-6, layer_alpha / np.maximum(out_alpha, 1e-6), 1.0)[..., None]
    out_rgb = rgb * (1.0 - weight) + layer_rgb * weight
    return out_rgb.astype(np.float32), out_alpha.astype(np.float32)


def smooth_field(
    rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int], channels: int
) -> np.ndarray:
    """Low-frequency random field in 0..1: a ``cells`` grid of random values upsampled bicubically."""
    from PIL import Image

    height, width = shape
    grid = rng.random((cells[1], cells[0], channels), dtype=np.float32)
    planes = [
        np.asarray(
            Image.fromarray(grid[..., c], "F").resize((width, height), Image.Resampling.BICUBIC),
            dtype=np.float32,
        )
        for c in range(channels)
    ]
    return np.clip(np.stack(planes, axis=-1), 0.0, 1.0)
