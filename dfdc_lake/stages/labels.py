"""Per-modality labels for DFDC fakes, which the metadata lacks.

DFDC fakes are pixel-aligned to their original, so comparing a fake with its original at the same
frames and boxes tells which modality was manipulated. Both measures are built to stay low under
re-encoding (the fakes were encoded separately from their originals) and high under a swap:

- face: the crops are contrast-normalized by the original crop's mean and spread (so a swap in a dark
  scene counts as much as in a bright one) and compared as 16x16 block means (codec noise is fine
  grained, a different face is not); the median over shared frames ignores the odd keyframe.
- audio: the log-mel spectra are averaged over time before comparing (the long-term spectrum: a
  different voice shifts it; the codec's delay and pre-echo, which wreck a column-by-column
  comparison, do not).

A REAL is false on both; a fake whose original is absent (or, for audio, either side without audio)
is unknown (None), and so is the face of a fake whose original crops are too dark or flat
(``face_min_contrast``): stretching a few grey levels of contrast to ``FACE_CONTRAST`` stretches the
codec noise with it, and a dark re-encode then scores like a swap (measured on the synthetic
low-light case: re-encode at CRF 30 5.6, weakest swap 5.2, both at a crop spread of 7.8 levels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dfdc_lake.config import LabelConfig
from dfdc_lake.records import AudioFeatures

__all__ = ["ModalityLabeler", "audio_difference_db", "face_contrast", "face_difference"]

FACE_POOL_PX = 4  # 64 px thumbnails compared as 16x16 blocks
FACE_CONTRAST = 48.0  # grey levels one standard deviation of the original crop is scaled to
MIN_CROP_STD = 4.0  # flatter crops are not stretched further (noise would dominate)
# Spectrogram cells this far below the louder clip's peak are floored: near-silence carries codec noise.
AUDIO_COMPARE_RANGE_DB = 50.0


def _block_means(images: np.ndarray, block: int) -> np.ndarray:
    count, height, width = images.shape
    return images.reshape(count, height // block, block, width // block, block).mean(axis=(2, 4))


def face_difference(
    fake_frames: np.ndarray, fake_thumbs: np.ndarray, original_frames: np.ndarray, original_thumbs: np.ndarray
) -> float | None:
    """How different a fake's crops are from the original's crops of the same track (see module doc).

    Args:
        fake_frames, original_frames: int [K], frame index of each thumbnail.
        fake_thumbs, original_thumbs: uint8 [K, S, S] greyscale crops of the same track and boxes
            (S divisible by ``FACE_POOL_PX``).

    Returns:
        The median over shared frames of the mean absolute difference of contrast-normalized block
        means, in grey levels at ``FACE_CONTRAST`` spread; None when the series share no frame.
    """
    shared, fake_pos, original_pos = np.intersect1d(fake_frames, original_frames, return_indices=True)
    if len(shared) == 0:
        return None
    fake = fake_thumbs[fake_pos].astype(np.float32)
    original = original_thumbs[original_pos].astype(np.float32)
    mean = original.mean(axis=(1, 2), keepdims=True)
    scale = FACE_CONTRAST / np.maximum(original.std(axis=(1, 2), keepdims=True), MIN_CROP_STD)
    fake_blocks = _block_means((fake - mean) * scale, FACE_POOL_PX)
    original_blocks = _block_means((original - mean) * scale, FACE_POOL_PX)
    return float(np.median(np.abs(fake_blocks - original_blocks).mean(axis=(1, 2))))


def face_contrast(thumbs: np.ndarray) -> float:
    """Median over crops of the grey-level standard deviation of ``thumbs`` (uint8 [K, S, S])."""
    return float(np.median(thumbs.reshape(len(thumbs), -1).std(axis=1)))


def audio_difference_db(fake: AudioFeatures, original: AudioFeatures) -> float:
    """Mean absolute difference (dB) of the two clips' long-term log-mel spectra, quiet cells floored."""
    if fake.logmel.shape[0] != original.logmel.shape[0]:
        raise ValueError(f"mel bands differ: {fake.logmel.shape} vs {original.logmel.shape}")
    columns = min(fake.logmel.shape[1], original.logmel.shape[1])
    if columns == 0:
        return 0.0
    a, b = fake.logmel[:, :columns], original.logmel[:, :columns]
    floor = max(float(a.max()), float(b.max())) - AUDIO_COMPARE_RANGE_DB
    long_term_a = np.maximum(a, floor).mean(axis=1)
    long_term_b = np.maximum(b, floor).mean(axis=1)
    return float(np.abs(long_term_a - long_term_b).mean())


@dataclass
class ModalityLabeler:
    """Thresholds the face and audio differences into ``face_fake`` / ``audio_fake``."""

    config: LabelConfig

    def face_fake(
        self,
        fake_frames: np.ndarray,
        fake_thumbs: np.ndarray,
        original_frames: np.ndarray,
        original_thumbs: np.ndarray,
    ) -> bool | None:
        """Whether a fake's track differs from the original's beyond ``face_diff_threshold``.

        None when the two share no frame or the original's crops are darker or flatter than
        ``face_min_contrast`` (see the module doc).
        """
        if len(original_thumbs) and face_contrast(original_thumbs) < self.config.face_min_contrast:
            return None
        diff = face_difference(fake_frames, fake_thumbs, original_frames, original_thumbs)
        return None if diff is None else diff > self.config.face_diff_threshold

    def audio_fake(self, fake: AudioFeatures | None, original: AudioFeatures | None) -> bool | None:
        """Whether a fake's audio differs from the original's beyond ``audio_diff_threshold``."""
        if fake is None or original is None:
            return None
        return audio_difference_db(fake, original) > self.config.audio_diff_threshold
