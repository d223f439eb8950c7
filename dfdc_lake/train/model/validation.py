"""Per-epoch validation metrics from the per-track predictions gathered off every worker.

All scores are at the video level, as DFDC scored them: a video's P(fake) is the max over its tracks,
or (``aggregation="confident"``) the DFDC winner's confident strategy over its crops' scores.
Logits come out of the model calibrated for ``model_rate`` (0.5 when training used ``pos_weight``)
and are shifted to the training fake rate before scoring, so ``val_log_loss`` compares fairly with
``prior_log_loss`` (always answering the training fake rate). ``val_log_loss_balanced`` weighs reals
and fakes equally: the score to expect on a 50/50 test set such as DFDC's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from dfdc_lake.train.model.aggregation import video_scores
from dfdc_lake.train.model.metrics import (
    accuracy,
    balanced_log_loss,
    log_loss,
    masked_auc,
    roc_auc,
    shift_logits,
    sigmoid,
)

__all__ = ["PREDICTION_KEYS", "concat_predictions", "epoch_metrics"]

PREDICTION_KEYS = ("video_id", "fake", "face", "audio", "label", "face_label", "audio_label")


def concat_predictions(parts: Iterable[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Join prediction dicts (one per batch or per worker) into one."""
    parts = [p for p in parts if p and len(p["label"])]
    if not parts:
        return {k: np.zeros(0, dtype=object if k == "video_id" else np.float64) for k in PREDICTION_KEYS}
    keys = [*PREDICTION_KEYS, *(["fake_crops"] if all("fake_crops" in p for p in parts) else [])]
    return {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in keys}


def _none_if_nan(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def epoch_metrics(
    preds: dict[str, np.ndarray], train_fake_rate: float, model_rate: float, aggregation: str = "max"
) -> dict[str, Any]:
    """Video-level log loss (plain and balanced), AUC, accuracy, per-modality AUC and the prior's log loss."""
    videos = [str(v) for v in preds["video_id"]]
    if not videos:
        return {"val_videos": 0, "val_samples": 0}

    def at_rate(logits: np.ndarray, rate: float) -> np.ndarray:
        return sigmoid(shift_logits(logits, model_rate, rate))

    crops = preds.get("fake_crops")
    scored = {
        rate: video_scores(
            videos,
            at_rate(preds["fake"], rate),
            preds["label"],
            aggregation,
            None if crops is None else at_rate(crops, rate),
        )
        for rate in (train_fake_rate, 0.5)
    }
    _, p_video, y_video = scored[train_fake_rate]
    _, p_video_half, _ = scored[0.5]
    # Tracks of one video share its audio: take the max of the audio head per video like the main head.
    _, audio_video, audio_label_video = video_scores(videos, preds["audio"], preds["audio_label"])
    prior = np.full(y_video.shape, train_fake_rate)
    return {
        "val_log_loss": log_loss(y_video, p_video),
        "val_log_loss_balanced": balanced_log_loss(y_video, p_video_half),
        "val_auc": _none_if_nan(roc_auc(y_video, p_video)),
        "val_accuracy": accuracy(y_video, p_video),
        "prior_log_loss": log_loss(y_video, prior),
        "prior_log_loss_balanced": balanced_log_loss(y_video, prior),
        "val_face_auc": _none_if_nan(masked_auc(preds["face_label"], preds["face"])),
        "val_audio_auc": _none_if_nan(masked_auc(audio_label_video, audio_video)),
        "val_videos": len(y_video),
        "val_samples": len(videos),
        "val_fake_rate": float(np.mean(y_video)),
        "val_aggregation": aggregation,
    }
