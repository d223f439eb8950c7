"""Scores the way DFDC was judged: binary log loss on video-level P(fake), plus ROC AUC and accuracy.

A video's P(fake) is the **max** over its face tracks: a DFDC fake often swaps one face of several, so
one confident track must be able to flag the video (the mean would dilute it). A video without any
track is scored by the caller (audio only or the prior), never here.

Plain numpy (no scikit-learn dependency); AUC is the Mann-Whitney statistic with ties counted half.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "EPS",
    "accuracy",
    "balanced_log_loss",
    "log_loss",
    "logit",
    "masked_auc",
    "roc_auc",
    "shift_logits",
    "sigmoid",
    "video_max",
]

EPS = 1e-7


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    z = np.asarray(z, dtype=np.float64)
    return np.where(z >= 0, 1.0 / (1.0 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1.0 + np.exp(-np.abs(z))))


def logit(p: float) -> float:
    """log(p / (1 - p)), with p clipped away from 0 and 1."""
    p = min(max(p, EPS), 1.0 - EPS)
    return math.log(p / (1.0 - p))


def shift_logits(z: np.ndarray, from_rate: float, to_rate: float) -> np.ndarray:
    """Move calibrated logits from one class prior to another (Bayes prior shift).

    A model trained with ``pos_weight`` so that fakes and reals weigh the same is calibrated for a
    fake rate of 0.5; adding ``logit(to_rate) - logit(from_rate)`` re-calibrates it for a test set whose
    fake rate is ``to_rate``.
    """
    return np.asarray(z, dtype=np.float64) + (logit(to_rate) - logit(from_rate))


def log_loss(y_true: np.ndarray, p_fake: np.ndarray, eps: float = EPS) -> float:
    """Mean binary cross-entropy, the DFDC leaderboard metric (natural log)."""
    y = np.asarray(y_true, dtype=np.float64)
    p = np.clip(np.asarray(p_fake, dtype=np.float64), eps, 1.0 - eps)
    if y.size == 0:
        return float("nan")
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))


def balanced_log_loss(y_true: np.ndarray, p_fake: np.ndarray, eps: float = EPS) -> float:
    """Log loss with both classes weighted equally: what the score would be on a 50/50 test set."""
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(p_fake, dtype=np.float64)
    parts = [log_loss(y[y == c], p[y == c], eps) for c in (0.0, 1.0) if np.any(y == c)]
    return float(np.mean(parts)) if parts else float("nan")


def accuracy(y_true: np.ndarray, p_fake: np.ndarray, threshold: float = 0.5) -> float:
    """Share of videos on the right side of ``threshold``."""
    y = np.asarray(y_true, dtype=np.float64)
    if y.size == 0:
        return float("nan")
    return float(np.mean((np.asarray(p_fake) >= threshold) == (y >= 0.5)))


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve; None when only one class is present (AUC undefined)."""
    y = np.asarray(y_true, dtype=np.float64) >= 0.5
    s = np.asarray(score, dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(s.size, dtype=np.float64)
    sorted_s = s[order]
    # Average ranks over ties so equal scores count as half a win.
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def masked_auc(y_true: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC over the entries whose label is known (NaN labels are skipped)."""
    y = np.asarray(y_true, dtype=np.float64)
    known = ~np.isnan(y)
    return roc_auc(y[known], np.asarray(score)[known])


def video_max(
    video_ids: Sequence[str], values: np.ndarray, labels: np.ndarray
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Aggregate per-track values to one per video by max; returns (video ids, values, labels).

    Labels of a video's tracks agree (the label is the video's), so any track's label stands for it.
    """
    best: dict[str, float] = {}
    label_of: dict[str, float] = {}
    for vid, value, label in zip(video_ids, np.asarray(values, dtype=np.float64), labels, strict=True):
        best[vid] = max(best.get(vid, -math.inf), float(value))
        label_of[vid] = float(label)
    ids = sorted(best)
    return ids, np.array([best[v] for v in ids]), np.array([label_of[v] for v in ids])
