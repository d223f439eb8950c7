"""A segment's sampled frames, held as the decoder gave them and converted only where they are used.

PyAV decodes DFDC's H.264 to YUV 4:2:0 planes: 1.5 bytes a pixel. Converting a whole 1080p frame to
RGB and then shrinking it for the detector cost ~65 ms of CPU per sampled frame (measured on a real
DFDC clip: 28 ms the conversion, 39 ms the float area resize), while the detector needs a 640 px
frame and the crops a few hundred pixels square. ``Yuv420Frames`` keeps the planes and converts
with FFmpeg's swscale only what is asked for: the detector's frames in one shrinking conversion
(~4 ms a frame), and each crop window alone (bit for bit the pixels a whole-frame conversion gives).
``RgbFrames`` holds RGB frames (decord, other pixel formats, tests) behind the same interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from dfdc_lake.stages.faces import downscale_frames, downscaled_size

__all__ = ["RgbFrames", "SampledFrames", "Yuv420Frames", "concat_frames"]

Window = tuple[int, int, int, int]  # left, top, right, bottom (right and bottom exclusive)


class SampledFrames(ABC):
    """The sampled frames of one segment, all of one size."""

    height_px: int
    width_px: int

    @abstractmethod
    def __len__(self) -> int: ...

    @property
    @abstractmethod
    def nbytes(self) -> int:
        """Bytes the frames hold."""

    @abstractmethod
    def window(self, position: int, window: Window) -> np.ndarray:
        """RGB uint8 [h, w, 3] of frame ``position`` inside ``window`` (a new, contiguous array)."""

    @abstractmethod
    def downscaled(self, positions: np.ndarray, max_side_px: int) -> tuple[np.ndarray, tuple[float, float]]:
        """The frames at ``positions`` as RGB, shrunk so the longest side is at most ``max_side_px``.

        Returns:
            ``(small uint8 [n, h, w, 3], (scale_x, scale_y))`` with ``scale = small / source`` per axis.
        """

    @abstractmethod
    def rgb(self) -> np.ndarray:
        """All frames as RGB uint8 [T, H, W, 3] (whole frames: for tests, previews and ``predict``)."""


@dataclass
class RgbFrames(SampledFrames):
    """Frames already in RGB, uint8 [T, H, W, 3]."""

    frames: np.ndarray

    def __post_init__(self) -> None:
        if self.frames.dtype != np.uint8 or self.frames.ndim != 4 or self.frames.shape[-1] != 3:
            raise ValueError(
                f"frames must be uint8 [T, H, W, 3], got {self.frames.dtype} {self.frames.shape}"
            )
        self.height_px, self.width_px = self.frames.shape[1:3]

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def nbytes(self) -> int:
        return int(self.frames.nbytes)

    def window(self, position: int, window: Window) -> np.ndarray:
        left, top, right, bottom = window
        return np.ascontiguousarray(self.frames[position, top:bottom, left:right])

    def downscaled(self, positions: np.ndarray, max_side_px: int) -> tuple[np.ndarray, tuple[float, float]]:
        positions = np.asarray(positions, np.int64)
        if len(positions) == len(self.frames) and np.array_equal(positions, np.arange(len(self.frames))):
            return downscale_frames(self.frames, max_side_px)
        # A few full-size frames are copied at a time, never the whole selection.
        parts = [
            downscale_frames(self.frames[positions[i : i + 8]], max_side_px)
            for i in range(0, len(positions), 8)
        ]
        if not parts:
            height, width = downscaled_size(self.height_px, self.width_px, max_side_px)
            return np.zeros((0, height, width, 3), np.uint8), (width / self.width_px, height / self.height_px)
        return np.concatenate([small for small, _ in parts]), parts[0][1]

    def rgb(self) -> np.ndarray:
        return self.frames


@dataclass
class Yuv420Frames(SampledFrames):
    """Frames as FFmpeg's ``yuv420p`` planes, uint8 [T, H * 3 / 2, W] (PyAV's ``to_ndarray`` layout:
    the luma rows, then the two quarter-size chroma planes); height and width are even.

    ``colorspace`` and ``color_range`` are the decoded frames' (FFmpeg's enum values), so a conversion
    here gives the RGB that converting the decoded frame would.
    """

    planes: np.ndarray
    colorspace: int = 2  # AVCOL_SPC_UNSPECIFIED
    color_range: int = 0  # AVCOL_RANGE_UNSPECIFIED

    def __post_init__(self) -> None:
        if (
            self.planes.dtype != np.uint8
            or self.planes.ndim != 3
            or self.planes.shape[1] % 3
            or self.planes.shape[2] % 2
        ):
            raise ValueError(
                f"yuv420p planes must be uint8 [T, 3H/2, W], got {self.planes.dtype} {self.planes.shape}"
            )
        self.height_px, self.width_px = self.planes.shape[1] * 2 // 3, self.planes.shape[2]

    def __len__(self) -> int:
        return len(self.planes)

    @property
    def nbytes(self) -> int:
        return int(self.planes.nbytes)

    def _frame(self, planes: np.ndarray) -> Any:
        import av

        frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        frame.colorspace = self.colorspace
        frame.color_range = self.color_range
        return frame

    def window(self, position: int, window: Window) -> np.ndarray:
        """The window's pixels: the planes around it (grown to even rows and columns, so each chroma
        sample keeps the 2x2 luma block it belongs to) converted alone, then cut to the window."""
        left, top, right, bottom = window
        height, width = self.height_px, self.width_px
        x0, y0 = left & ~1, top & ~1
        x1, y1 = min(width, (right + 1) & ~1), min(height, (bottom + 1) & ~1)
        frame = self.planes[position]
        luma = frame[:height]
        chroma = frame[height:].reshape(2, height // 2, width // 2)
        rows, cols = y1 - y0, x1 - x0
        packed = np.empty((rows * 3 // 2, cols), np.uint8)
        packed[:rows] = luma[y0:y1, x0:x1]
        quarter = (rows // 2) * (cols // 2)
        flat = packed[rows:].reshape(-1)
        flat[:quarter] = chroma[0, y0 // 2 : y1 // 2, x0 // 2 : x1 // 2].reshape(-1)
        flat[quarter:] = chroma[1, y0 // 2 : y1 // 2, x0 // 2 : x1 // 2].reshape(-1)
        rgb = self._frame(packed).to_ndarray(format="rgb24")
        return np.ascontiguousarray(rgb[top - y0 : bottom - y0, left - x0 : right - x0])

    def downscaled(self, positions: np.ndarray, max_side_px: int) -> tuple[np.ndarray, tuple[float, float]]:
        """One swscale pass per frame: YUV to RGB and an area-averaging shrink at once."""
        height, width = downscaled_size(self.height_px, self.width_px, max_side_px)
        positions = np.asarray(positions, np.int64)
        small = np.empty((len(positions), height, width, 3), np.uint8)
        for out, position in enumerate(positions.tolist()):
            frame = self._frame(self.planes[position])
            small[out] = frame.reformat(
                width=width, height=height, format="rgb24", interpolation="AREA"
            ).to_ndarray()
        return small, (width / self.width_px, height / self.height_px)

    def rgb(self) -> np.ndarray:
        out = np.empty((len(self.planes), self.height_px, self.width_px, 3), np.uint8)
        for position in range(len(self.planes)):
            out[position] = self._frame(self.planes[position]).to_ndarray(format="rgb24")
        return out


def concat_frames(parts: list[SampledFrames]) -> SampledFrames:
    """Consecutive segments' frames as one (YUV stays YUV when every part is)."""
    if len(parts) == 1:
        return parts[0]
    yuv = [part for part in parts if isinstance(part, Yuv420Frames)]
    if len(yuv) == len(parts):
        return Yuv420Frames(
            np.concatenate([part.planes for part in yuv]), yuv[0].colorspace, yuv[0].color_range
        )
    return RgbFrames(np.concatenate([part.rgb() for part in parts]))
