"""Pictures of the report, drawn with PIL and numpy: crop thumbnails, difference heat maps, spectrograms.

Every picture is a small file under the report's ``img/`` folder (JPEG for photographs, PNG for maps)
so the pages stay light and open from disk. Colour maps are a few anchor colours interpolated here,
so the report needs no plotting library.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = [
    "DIFF_FULL_SCALE",
    "colormap",
    "decode_thumbnail",
    "difference_map",
    "save_jpeg",
    "save_png",
    "spectrogram_image",
]

# A mean absolute difference of this many grey levels (of 255) is the top of the heat maps' scale:
# codec noise between two encodes of one face is a few levels, a swapped face tens.
DIFF_FULL_SCALE = 48.0

# Anchors of a perceptually ordered dark-to-bright map (close to matplotlib's "inferno").
_INFERNO = np.array(
    [(0, 0, 4), (40, 11, 84), (101, 21, 110), (159, 42, 99), (212, 72, 66), (245, 125, 21), (250, 193, 39), (252, 255, 164)],
    dtype=np.float32,
)  # fmt: skip


def colormap(values: np.ndarray) -> np.ndarray:
    """``values`` in [0, 1] (any shape) as RGB uint8 (shape + (3,)) on the inferno-like map."""
    clipped = np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0)
    stops = np.linspace(0.0, 1.0, len(_INFERNO))
    channels = [np.interp(clipped, stops, _INFERNO[:, c]) for c in range(3)]
    return np.stack(channels, axis=-1).round().astype(np.uint8)


def decode_thumbnail(jpeg: bytes, height_px: int = 64, width_px: int | None = None) -> np.ndarray:
    """A JPEG crop decoded and resized to ``height_px`` (width by aspect, or ``width_px``); RGB uint8.

    JPEG's DCT scaling (``draft``) does most of the shrinking while decoding, so a 224 px crop costs
    about what a 64 px one does.
    """
    with Image.open(io.BytesIO(jpeg)) as image:
        image.draft("RGB", (max(1, width_px or height_px), height_px))
        rgb = image.convert("RGB")
        width = width_px or max(1, round(rgb.width * height_px / max(1, rgb.height)))
        return np.asarray(rgb.resize((width, height_px), Image.Resampling.BILINEAR))


def difference_map(fake: np.ndarray, original: np.ndarray) -> tuple[np.ndarray, float]:
    """|fake - original| per pixel (mean over RGB) as a heat map image, and its mean in grey levels.

    Both are thumbnails of one track's crop at one frame index, the same size.
    """
    diff = np.abs(fake.astype(np.int16) - original.astype(np.int16)).mean(axis=-1)
    return colormap(diff / DIFF_FULL_SCALE), float(diff.mean())


def spectrogram_image(values: np.ndarray, height_px: int = 64, max_width_px: int = 256) -> np.ndarray:
    """A spectrogram-shaped map ``[n_mels, n_frames]`` of values in [0, 1] as RGB on the colour map,
    low frequencies at the bottom, ``height_px`` high and at most ``max_width_px`` wide."""
    rgb = colormap(np.flipud(values.astype(np.float32)))
    size = (max(1, min(values.shape[1], max_width_px)), max(1, height_px))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))


def save_jpeg(pixels: np.ndarray, path: Path, quality: int = 85) -> None:
    """Write RGB pixels as a JPEG (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="JPEG", quality=quality)


def save_png(pixels: np.ndarray, path: Path) -> None:
    """Write RGB pixels as a PNG (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="PNG", compress_level=1)  # speed over a few bytes
