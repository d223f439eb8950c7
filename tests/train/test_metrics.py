"""Metrics against brute-force definitions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from dfdc_lake.train.model.metrics import (
    balanced_log_loss,
    log_loss,
    logit,
    masked_auc,
    roc_auc,
    shift_logits,
    sigmoid,
    video_max,
)
from dfdc_lake.train.model.validation import epoch_metrics


def _pairwise_auc(y: np.ndarray, s: np.ndarray) -> float:
    pos, neg = s[y == 1], s[y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_auc_matches_the_pairwise_definition_with_ties() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200).astype(float)
    s = np.round(rng.normal(size=200) + y, 1)  # rounding makes ties
    assert roc_auc(y, s) == pytest.approx(_pairwise_auc(y, s))
    assert roc_auc(np.ones(5), np.arange(5)) is None
    assert masked_auc(np.array([1, 0, np.nan, 1]), np.array([0.9, 0.1, 5.0, 0.8])) == 1.0


def test_log_loss_and_its_balanced_form() -> None:
    y = np.array([1, 1, 1, 0], dtype=float)
    p = np.array([0.9, 0.8, 0.7, 0.4])
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.7) + math.log(0.6)) / 4
    assert log_loss(y, p) == pytest.approx(expected)
    fake_part = -(math.log(0.9) + math.log(0.8) + math.log(0.7)) / 3
    assert balanced_log_loss(y, p) == pytest.approx((fake_part - math.log(0.6)) / 2)
    assert math.isfinite(log_loss(np.array([1.0]), np.array([0.0])))  # clipped, not infinite


def test_prior_shift_turns_balanced_odds_into_the_training_rate() -> None:
    assert sigmoid(shift_logits(np.array([0.0]), 0.5, 0.8))[0] == pytest.approx(0.8)
    assert sigmoid(shift_logits(np.array([logit(0.3)]), 0.3, 0.3))[0] == pytest.approx(0.3)
    assert sigmoid(np.array([-800.0, 800.0])).tolist() == [0.0, 1.0]


def test_video_level_metrics_take_the_max_over_tracks() -> None:
    ids, values, labels = video_max(["b", "a", "a"], np.array([0.2, 0.1, 0.9]), np.array([0, 1, 1]))
    assert ids == ["a", "b"] and values.tolist() == [0.9, 0.2] and labels.tolist() == [1, 0]
    preds = {
        "video_id": np.array(["r", "f", "f", "g"], dtype=object),
        "fake": np.array([-3.0, -2.0, 4.0, 3.0]),  # fake "f" has one clean track and one caught one
        "face": np.array([-1.0, -1.0, 2.0, 1.0]),
        "audio": np.array([0.0, 0.0, 0.0, 1.0]),
        "label": np.array([0.0, 1.0, 1.0, 1.0]),
        "face_label": np.array([0.0, 0.0, 1.0, np.nan]),
        "audio_label": np.array([0.0, 0.0, 0.0, 1.0]),
    }
    m = epoch_metrics(preds, train_fake_rate=2 / 3, model_rate=0.5)
    assert m["val_videos"] == 3 and m["val_samples"] == 4
    assert m["val_auc"] == 1.0 and m["val_accuracy"] == 1.0
    assert (
        m["val_log_loss"]
        < m["prior_log_loss"]
        == pytest.approx(log_loss(np.array([0, 1, 1]), np.full(3, 2 / 3)))
    )
    assert m["val_face_auc"] == 1.0 and m["val_audio_auc"] == 1.0
