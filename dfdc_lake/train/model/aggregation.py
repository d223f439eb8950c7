"""From per-track (or per-crop) scores to one P(fake) per video: ``max`` or the DFDC winner's ``confident``.

The 1st-place solution scored 32 frames a video, every face in them, and pooled the scores with a
"confident strategy": when enough frames are confidently fake (more than 11, and more than
``count // 2.5``), the mean of those; else, when over 90% are confidently real, the mean of those;
else the plain mean. One confidently fake face in a crowd is then not averaged away, and a clearly real
video is not pulled up by a few doubtful frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dfdc_lake.train.model.metrics import video_max

__all__ = ["AGGREGATIONS", "confident_strategy", "video_scores"]

AGGREGATIONS = ("max", "confident")
# The winner's thresholds (his predict_folder.py), tuned for 32 frames with one or two faces each.
FAKE_THRESHOLD = 0.8
REAL_THRESHOLD = 0.2
MIN_CONFIDENT_FAKES = 11


def confident_strategy(probabilities: np.ndarray, threshold: float = FAKE_THRESHOLD) -> float:
    """The winner's pooling of one video's per-frame P(fake) values (any shape; flattened)."""
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if p.size == 0:
        raise ValueError("confident_strategy needs at least one score")
    fakes = int(np.count_nonzero(p > threshold))
    if fakes > p.size // 2.5 and fakes > MIN_CONFIDENT_FAKES:
        return float(np.mean(p[p > threshold]))
    if np.count_nonzero(p < REAL_THRESHOLD) > 0.9 * p.size:
        return float(np.mean(p[p < REAL_THRESHOLD]))
    return float(np.mean(p))


def video_scores(
    video_ids: Sequence[str],
    track_p: np.ndarray,
    labels: np.ndarray,
    strategy: str = "max",
    crop_p: np.ndarray | None = None,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """One P(fake) per video (ids sorted), with its label.

    Args:
        video_ids: the video of each track.
        track_p: P(fake) per track (``max`` pools these).
        labels: each track's (= its video's) label.
        strategy: ``max`` or ``confident``.
        crop_p: P(fake) per crop ``[tracks, K]`` (``confident`` pools all of a video's crops).
    """
    if strategy == "max":
        return video_max(video_ids, track_p, labels)
    if strategy != "confident":
        raise ValueError(f"aggregation {strategy!r}: expected one of {', '.join(AGGREGATIONS)}")
    if crop_p is None:
        raise ValueError("the confident strategy needs per-crop scores (fake_crops)")
    groups: dict[str, list[np.ndarray]] = {}
    label_of: dict[str, float] = {}
    for vid, crops, label in zip(video_ids, np.asarray(crop_p), labels, strict=True):
        groups.setdefault(vid, []).append(np.asarray(crops).reshape(-1))
        label_of[vid] = float(label)
    ids = sorted(groups)
    scores = np.array([confident_strategy(np.concatenate(groups[v])) for v in ids])
    return ids, scores, np.array([label_of[v] for v in ids])
