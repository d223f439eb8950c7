"""Exposure normalization before face detection.

Many DFDC clips are shot in dim rooms: faces sit in a narrow band of dark grey levels where MTCNN's
first stage finds nothing. A per-frame contrast stretch (1st to 99th luminance percentile to the full
range) followed, for frames that stay dark, by a brightening gamma recovers them. A strong stretch
also amplifies sensor noise into texture that MTCNN scores poorly, so frames stretched hard are box
blurred first. All of this applies only to the copy that goes to the detector; crops are cut from the
untouched frames.
"""

from __future__ import annotations

import numpy as np

__all__ = ["box_blur", "exposure_lut", "normalize_exposure"]

LOW_PERCENTILE = 1.0
HIGH_PERCENTILE = 99.0
TARGET_MEAN = 0.45  # mean luminance (0-1) a dark frame is lifted towards
MIN_GAMMA = 0.35  # strongest brightening allowed
MIN_RANGE = 8.0  # grey levels: flatter frames (blank, fades) are left alone
# (stretch gain at or above which, box size) of the denoising blur; strongest first.
DENOISE_STEPS = ((6.0, 5), (3.0, 3))
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _levels(luma: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(luma, [LOW_PERCENTILE, HIGH_PERCENTILE])
    return float(low), float(high)


def exposure_lut(luma: np.ndarray) -> np.ndarray:
    """A 256-entry uint8 lookup table that stretches and, if still dark, brightens one frame.

    Args:
        luma: luminance samples of the frame (any shape, 0-255).
    """
    low, high = _levels(luma)
    levels = np.arange(256, dtype=np.float32)
    if high - low < MIN_RANGE:
        return levels.astype(np.uint8)
    stretched = np.clip((levels - low) / (high - low), 0.0, 1.0)
    mean = float(np.clip((luma.astype(np.float32) - low) / (high - low), 0.0, 1.0).mean())
    gamma = 1.0
    if 0.0 < mean < TARGET_MEAN:
        gamma = max(MIN_GAMMA, float(np.log(TARGET_MEAN) / np.log(mean)))
    return np.round(255.0 * stretched**gamma).astype(np.uint8)


def _denoise_size(luma: np.ndarray) -> int:
    low, high = _levels(luma)
    gain = 255.0 / max(high - low, MIN_RANGE)
    return next((size for threshold, size in DENOISE_STEPS if gain >= threshold), 1)


def box_blur(frame: np.ndarray, size: int) -> np.ndarray:
    """Mean over a ``size`` x ``size`` window (edges replicated) of a uint8 [H, W, C] image."""
    pad = size // 2
    padded = np.pad(frame.astype(np.float32), ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    for axis in (0, 1):
        summed = np.cumsum(padded, axis=axis)
        zero = np.zeros_like(np.take(summed, [0], axis=axis))
        summed = np.concatenate([zero, summed], axis=axis)
        count = summed.shape[axis] - size
        padded = np.take(summed, range(size, size + count), axis=axis) - np.take(
            summed, range(count), axis=axis
        )
    return np.round(padded / (size * size)).astype(np.uint8)


def normalize_exposure(frames: np.ndarray, sample_step: int = 4) -> np.ndarray:
    """Per-frame contrast stretch, gamma for dark frames, and a blur where the stretch is strong.

    Args:
        frames: uint8 [T, H, W, 3] RGB.
        sample_step: luminance statistics use every Nth pixel on each axis (speed).

    Returns:
        A new uint8 array of the same shape.
    """
    out = np.empty_like(frames)
    for i, frame in enumerate(frames):
        luma = frame[::sample_step, ::sample_step].astype(np.float32) @ _LUMA
        size = _denoise_size(luma)
        if size > 1:
            frame = box_blur(frame, size)
        out[i] = exposure_lut(luma)[frame]
    return out
