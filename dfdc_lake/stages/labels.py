"""Per-modality labels for DFDC fakes, which the metadata lacks.

DFDC fakes are pixel-aligned to their original, so comparing a fake with its original at the same
frames and boxes tells which modality was manipulated. The fake was encoded separately from its
original, so the comparison has to tell a manipulation from the codec's own change. Both measures are
scores, kept in the lake (``face_diff``, ``face_diff_per_frame``, ``audio_diff_db``); a label is
three-state: true above ``*_fake_above``, false below ``*_real_below``, unknown (None) between them,
when the original is absent, or when the evidence cannot be had.

- face: per crop (greyscale, ``LABEL_THUMB_PX`` square, from the full-resolution frame), the fake's
  change from the original inside the face box, in multiples of its change in the crop's margin
  outside the box (background, hair, neck: what a face manipulation leaves alone and a re-encode
  changes as much as the face). Changes are measured per 8x8 block relative to the original block's
  fine detail (a codec changes detailed blocks more), and each region scores the mean of its largest
  quarter of blocks, so a local warp of the mouth or eyes counts. The track's score is a high
  quantile over its crops, so a swap on a third of the frames still counts. A face whose original
  crops are too dark or flat (``face_min_contrast``) is unknown: a swap there changes a few grey
  levels and scores like a re-encode. Two more scores catch what keeps the face's structure but not
  its fine detail (a face re-rendered from a lower resolution, which changes it less than a CRF 35
  re-encode does): the share of the original face's fine detail the fake kept, relative to the same
  share in the margin, in the finest octave (``face_detail_kept``, full resolution) and in the next
  one (``face_detail_kept_half_res``, the crop at half resolution: where a smooth face's finest octave
  is mostly codec noise, the next one still holds the detail a re-render loses). The lower of the two
  decides: below ``face_detail_fake_below`` the face is fake whatever ``face_diff`` says; below
  ``face_detail_real_above`` it is at least unknown.
- audio: the log-mel spectra are averaged over time before comparing (the long-term spectrum: a
  different voice shifts it; the codec's delay and pre-echo, which wreck a column-by-column
  comparison, do not).

A REAL is false on both, with no score. A fake whose frames do not line up with its original (another
size or frame rate) gets no face score (see ``stages/analysis.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dfdc_lake.config import LabelConfig
from dfdc_lake.records import AudioFeatures
from dfdc_lake.stages.crops import DETAIL_OCTAVES, TrackCrops, face_regions

__all__ = [
    "AudioVerdict",
    "FaceVerdict",
    "ModalityLabeler",
    "audio_difference_db",
    "audio_label",
    "face_contrast",
    "face_detail_kept",
    "face_frame_scores",
    "face_label",
    "lowest_detail_kept",
]

BLOCK_PX = 8  # thumbnails are compared in blocks of this many pixels a side
DETAIL_FLOOR = 1.0  # grey levels added to each block's detail, so flat blocks do not divide by ~0
TOP_BLOCK_SHARE = 0.25  # each region scores the mean of its largest quarter of block changes
RING_FLOOR = 0.05  # a margin changed less than this (relative to its detail) counts as changed this much
TRACK_QUANTILE = 0.8  # a track's score: this quantile of its per-crop scores
# Frames whose original face or margin has less fine-detail energy than this (grey levels squared; 8-bit
# rounding alone gives ~0.08) are left out of ``face_detail_kept``: a flat region's ratio is noise.
DETAIL_ENERGY_FLOOR = 0.1
# Spectrogram cells this far below the louder clip's peak are floored: near-silence carries codec noise.
AUDIO_COMPARE_RANGE_DB = 50.0


@dataclass(frozen=True)
class FaceVerdict:
    """A fake track's face label and the score behind it."""

    label: bool | None
    score: float | None = None
    per_frame: np.ndarray | None = None  # float32 [K], aligned with the fake's crops; NaN: no original crop
    contrast: float | None = None  # the original crops' grey-level spread (``face_contrast``)
    detail_kept: float | None = None  # ``face_detail_kept``
    detail_kept_half_res: float | None = None  # ``face_detail_kept`` of the next octave


@dataclass(frozen=True)
class AudioVerdict:
    """A fake's audio label and the score behind it."""

    label: bool | None
    diff_db: float | None = None


def _top_mean(values: np.ndarray) -> float:
    if values.size == 0:
        return float("nan")
    count = max(1, int(np.ceil(values.size * TOP_BLOCK_SHARE)))
    return float(np.partition(values, values.size - count)[-count:].mean())


def _block_means(image: np.ndarray, blocks: int) -> np.ndarray:
    side = blocks * BLOCK_PX
    return image[:side, :side].reshape(blocks, BLOCK_PX, blocks, BLOCK_PX).mean(axis=(1, 3))


def _detail(image: np.ndarray) -> np.ndarray:
    """Absolute difference of each pixel from its 3x3 neighbourhood's mean: the image's fine detail."""
    padded = np.pad(image, 1, mode="edge")
    height, width = image.shape
    total = sum(padded[dy : dy + height, dx : dx + width] for dy in range(3) for dx in range(3))
    return np.abs(image - total / 9.0)


def _frame_score(fake: np.ndarray, original: np.ndarray, inner_xyxy: np.ndarray) -> float:
    size = fake.shape[0]
    blocks = size // BLOCK_PX
    original_f = original.astype(np.float32)
    change = _block_means(np.abs(fake.astype(np.float32) - original_f), blocks)
    # A codec changes a block in proportion to its fine detail (skin, hair, a textured wall alike);
    # dividing by it makes the face's change and the margin's comparable whatever they show.
    relative = change / (_block_means(_detail(original_f), blocks) + DETAIL_FLOOR)
    face, ring = face_regions(inner_xyxy, size, size)
    # A block belongs to a region when most of its pixels do.
    in_face = _block_means(face.astype(np.float32), blocks) > 0.5
    in_ring = _block_means(ring.astype(np.float32), blocks) > 0.5
    if not in_face.any():
        return float("nan")
    face_change = _top_mean(relative[in_face])
    ring_change = _top_mean(relative[in_ring]) if in_ring.any() else RING_FLOOR
    return face_change / max(ring_change, RING_FLOOR)


def face_frame_scores(fake: TrackCrops, original: TrackCrops) -> np.ndarray:
    """The per-crop face score of a fake track against the original's (see the module doc).

    Returns:
        float32 [K], aligned with ``fake.frame_indices``; NaN where the original has no crop there.
    """
    scores = np.full(len(fake.frame_indices), np.nan, np.float32)
    _, fake_pos, original_pos = np.intersect1d(
        fake.frame_indices, original.frame_indices, return_indices=True
    )
    for i, j in zip(fake_pos.tolist(), original_pos.tolist(), strict=True):
        # The original's box: the fake was cut at the same boxes, and it is the one not manipulated.
        scores[i] = _frame_score(fake.thumbs[i], original.thumbs[j], original.inner_xyxy[j])
    return scores


def face_detail_kept(fake: TrackCrops, original: TrackCrops, octave: int = 0) -> float | None:
    """How much of the original face's fine detail the fake kept, relative to its margin's: per frame
    (fake face / original face) / (fake margin / original margin) of the fine-detail energy of the
    crops at full resolution (``octave`` 0) or at half resolution (1), the median over frames. A
    re-encode takes detail from face and margin alike (about 1); a face re-rendered from a lower
    resolution loses it in the face only (below 1). None when that octave was not measured, or no
    frame has both crops measured with detail above ``DETAIL_ENERGY_FLOOR``.
    """
    if not 0 <= octave < DETAIL_OCTAVES:
        raise ValueError(f"octave must be in 0..{DETAIL_OCTAVES - 1}, got {octave}")
    columns = slice(2 * octave, 2 * octave + 2)
    for crops in (fake, original):
        measured = crops.detail.ndim == 2 and crops.detail.shape[1] >= columns.stop
        if not measured or len(crops.detail) != len(crops.frame_indices):
            return None
    _, fake_pos, original_pos = np.intersect1d(
        fake.frame_indices, original.frame_indices, return_indices=True
    )
    if not len(fake_pos):
        return None
    theirs, ours = original.detail[original_pos, columns], fake.detail[fake_pos, columns]
    usable = np.all(theirs >= DETAIL_ENERGY_FLOOR, axis=1) & np.all(ours > 0, axis=1)
    if not usable.any():
        return None
    ratios = (ours[usable, 0] / theirs[usable, 0]) / (ours[usable, 1] / theirs[usable, 1])
    return float(np.median(ratios))


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


def _three_state(score: float, real_below: float, fake_above: float) -> bool | None:
    if score > fake_above:
        return True
    if score < real_below:
        return False
    return None


def lowest_detail_kept(detail_kept: float | None, detail_kept_half_res: float | None) -> float | None:
    """The lower of a track's two detail scores, the one ``face_label`` decides on (None: neither
    measured)."""
    measured = [kept for kept in (detail_kept, detail_kept_half_res) if kept is not None]
    return min(measured) if measured else None


def face_label(
    face_diff: float,
    contrast: float,
    config: LabelConfig,
    detail_kept: float | None = None,
    detail_kept_half_res: float | None = None,
) -> bool | None:
    """``face_fake`` from a track's ``face_diff``, ``face_contrast``, ``face_detail_kept`` and
    ``face_detail_kept_half_res`` (the lake's columns) under ``config``: true when ``face_diff`` or the
    lower detail score says so, false only when none is in doubt."""
    if contrast < config.face_min_contrast:
        return None
    label = _three_state(face_diff, config.face_real_below, config.face_fake_above)
    lowest = lowest_detail_kept(detail_kept, detail_kept_half_res)
    if lowest is None or label is True:
        return label
    if lowest < config.face_detail_fake_below:
        return True
    if lowest < config.face_detail_real_above:
        return None
    return label


def audio_label(audio_diff_db: float, config: LabelConfig) -> bool | None:
    """``audio_fake`` from a fake's ``audio_diff_db`` (the lake's column) under ``config``."""
    return _three_state(audio_diff_db, config.audio_real_below_db, config.audio_fake_above_db)


@dataclass
class ModalityLabeler:
    """Scores a fake against its original per modality and thresholds the scores into three states."""

    config: LabelConfig

    def face(self, fake: TrackCrops, original: TrackCrops | None) -> FaceVerdict:
        """The face verdict of one fake track (``original``: the original's crops of the same track).

        Unknown, with no score, when the original has no crop of the track or none at the fake's
        frames; unknown, with the score kept, when the original's crops are darker or flatter than
        ``face_min_contrast`` or the score falls between the thresholds.
        """
        if original is None or not len(original.thumbs):
            return FaceVerdict(None)
        per_frame = face_frame_scores(fake, original)
        compared = per_frame[np.isfinite(per_frame)]
        if compared.size == 0:
            return FaceVerdict(None)
        score = float(np.quantile(compared, TRACK_QUANTILE))
        contrast = face_contrast(original.thumbs)
        kept = face_detail_kept(fake, original)
        kept_half_res = face_detail_kept(fake, original, octave=1)
        label = face_label(score, contrast, self.config, kept, kept_half_res)
        return FaceVerdict(label, score, per_frame, contrast, kept, kept_half_res)

    def audio(self, fake: AudioFeatures | None, original: AudioFeatures | None) -> AudioVerdict:
        """The audio verdict of one fake (unknown, with no score, when either side has no audio)."""
        if fake is None or original is None:
            return AudioVerdict(None)
        diff = audio_difference_db(fake, original)
        return AudioVerdict(audio_label(diff, self.config), diff)
