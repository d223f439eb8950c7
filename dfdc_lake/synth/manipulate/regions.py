"""Face regions of planar YUV 4:2:0 frames: cut one out as RGB, blend an edited RGB region back in.

Only the region is converted (BT.601 limited range, as a decoder shows DFDC's untagged H.264), and
the blend happens in YUV with the edit's soft mask, so pixels the mask leaves at 0 keep their decoded
values exactly. Regions have even corners, so a region's chroma is whole 2x2 blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Region", "blend_region", "face_mask", "region_around", "region_rgb"]

# BT.601 limited range: RGB = M (Y - 16, U - 128, V - 128); the inverse below.
_YUV_TO_RGB = np.array([[1.164, 0.0, 1.596], [1.164, -0.392, -0.813], [1.164, 2.017, 0.0]], dtype=np.float32)
_RGB_TO_YUV = np.linalg.inv(_YUV_TO_RGB).astype(np.float32)
_YUV_OFFSET = np.array([16.0, 128.0, 128.0], dtype=np.float32)


@dataclass(frozen=True)
class Region:
    """A rectangle of a frame with even corners, ``[y0, y1) x [x0, x1)`` in luma pixels."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


def region_around(
    center_xy: tuple[float, float], size_xy: tuple[float, float], frame_wh: tuple[int, int]
) -> Region | None:
    """The even-cornered region of ``size_xy`` centred at ``center_xy``, cut to the frame; None if empty."""
    (cx, cy), (sx, sy), (width, height) = center_xy, size_xy, frame_wh
    x0 = max(0, int(np.floor((cx - sx / 2) / 2)) * 2)
    y0 = max(0, int(np.floor((cy - sy / 2) / 2)) * 2)
    x1 = min(width // 2 * 2, int(np.ceil((cx + sx / 2) / 2)) * 2)
    y1 = min(height // 2 * 2, int(np.ceil((cy + sy / 2) / 2)) * 2)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    return Region(x0, y0, x1, y1)


def _planes(planes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y, U and V planes of a planar yuv420p frame ``[H * 3 / 2, W]``."""
    rows, width = planes.shape
    height = rows * 2 // 3
    chroma = planes[height:].reshape(2, height // 2, width // 2)
    return planes[:height], chroma[0], chroma[1]


def region_rgb(planes: np.ndarray, region: Region) -> np.ndarray:
    """The region as float32 RGB ``[h, w, 3]`` (unclipped, so converting back is lossless)."""
    y, u, v = _planes(planes)
    r = region
    luma = y[r.y0 : r.y1, r.x0 : r.x1].astype(np.float32)
    chroma = [
        np.repeat(np.repeat(c[r.y0 // 2 : r.y1 // 2, r.x0 // 2 : r.x1 // 2], 2, axis=0), 2, axis=1)
        for c in (u, v)
    ]
    yuv = np.stack([luma, *chroma], axis=-1).astype(np.float32) - _YUV_OFFSET
    return yuv @ _YUV_TO_RGB.T


def blend_region(planes: np.ndarray, region: Region, rgb: np.ndarray, mask: np.ndarray) -> None:
    """Blend ``rgb`` (float ``[h, w, 3]``) into the region of ``planes`` in place, weighted by ``mask``.

    Luma blends per pixel; chroma per 2x2 block, with the block's mean colour and mean weight.
    """
    y, u, v = _planes(planes)
    r = region
    yuv = rgb @ _RGB_TO_YUV.T + _YUV_OFFSET
    h2, w2 = r.height // 2, r.width // 2
    luma = y[r.y0 : r.y1, r.x0 : r.x1]
    luma[:] = np.clip(luma * (1.0 - mask) + yuv[..., 0] * mask + 0.5, 0, 255).astype(np.uint8)
    block_mask = mask.reshape(h2, 2, w2, 2).mean(axis=(1, 3))
    for channel, plane in ((1, u), (2, v)):
        edited = yuv[..., channel].reshape(h2, 2, w2, 2).mean(axis=(1, 3))
        part = plane[r.y0 // 2 : r.y1 // 2, r.x0 // 2 : r.x1 // 2]
        part[:] = np.clip(part * (1.0 - block_mask) + edited * block_mask + 0.5, 0, 255).astype(np.uint8)


def face_mask(shape: tuple[int, int], landmarks_xy: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """A soft ellipse over the inner face (brows to chin, cheek to cheek) laid on its 5 landmarks.

    The ellipse follows the face's roll and narrows as the head turns away (the eyes close up), so a
    face seen from the side is not covered with background. float32 ``[h, w]`` in 0..1 for an image of
    ``shape``; ``scale`` grows or shrinks it about its centre.
    """
    points = landmarks_xy.astype(np.float32)
    eyes, mouth = points[:2].mean(axis=0), points[3:].mean(axis=0)
    eye_to_mouth = max(float(np.linalg.norm(eyes - mouth)), 1.0)
    up = (eyes - mouth) / eye_to_mouth
    right = np.array([-up[1], up[0]], np.float32)
    # A turned head shows its cheek behind the landmarks: move the ellipse off the nose's side.
    nose_offset = float((points[2] - (eyes + mouth) / 2) @ right)
    center = points.mean(axis=0) - 0.1 * eye_to_mouth * up - 0.8 * nose_offset * right
    eye_gap = float(np.linalg.norm(points[1] - points[0]))
    half_width = 0.85 * max(eye_gap, 1.3 * float(np.linalg.norm(points[4] - points[3])))
    half_width, half_height = max(half_width, 0.5 * eye_to_mouth) * scale, 1.1 * eye_to_mouth * scale
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    rows += 0.5 - center[1]
    cols += 0.5 - center[0]
    across = (cols * right[0] + rows * right[1]) / half_width
    along = (cols * up[0] + rows * up[1]) / half_height
    dist = np.sqrt(across * across + along * along)
    feather = 0.3 * min(half_width, half_height)
    return np.clip((1.0 - dist) * (min(half_width, half_height) / feather) + 0.5, 0.0, 1.0).astype(np.float32)
