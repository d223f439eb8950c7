"""Per-modality labels: codec noise stays below the thresholds, swaps (checked in test_family) above."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dfdc_lake.config import Config
from dfdc_lake.records import AudioFeatures, Family
from dfdc_lake.source.catalog import load_catalog
from dfdc_lake.stages.crops import LABEL_THUMB_PX as S
from dfdc_lake.stages.crops import TrackCrops, detail_energies, fine_detail_energy
from dfdc_lake.stages.faces import detect_fn
from dfdc_lake.stages.family import FamilyProcessor
from dfdc_lake.stages.labels import (
    AudioVerdict,
    FaceVerdict,
    ModalityLabeler,
    audio_difference_db,
    face_contrast,
    face_detail_kept,
    face_frame_scores,
    face_label,
)
from tests.stages.clips import reencode


def _crops(thumbs: np.ndarray, frames: np.ndarray | None = None) -> TrackCrops:
    """A track's crops with the face box in the middle 60% of each thumbnail."""
    count = len(thumbs)
    return TrackCrops(
        frame_indices=np.arange(count, dtype=np.int32) if frames is None else frames.astype(np.int32),
        boxes_xyxy=np.zeros((count, 4), np.float32),
        scores=np.ones(count, np.float32),
        jpeg=[b""] * count,
        thumbs=thumbs,
        inner_xyxy=np.tile(np.array([0.2, 0.2, 0.8, 0.8], np.float32), (count, 1)),
    )


def _noisy(images: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    return np.clip(images + rng.normal(0, sigma, images.shape), 0, 255).astype(np.uint8)


def test_face_score_is_the_change_in_the_face_over_the_change_around_it() -> None:
    rng = np.random.default_rng(0)
    face = rng.integers(40, 200, (6, S, S)).astype(np.uint8)
    original = _crops(face)
    inside = np.zeros((S, S), bool)
    inside[int(0.3 * S) : int(0.7 * S), int(0.3 * S) : int(0.7 * S)] = True
    other = rng.integers(40, 200, (6, S, S)).astype(np.uint8)
    swapped = np.where(inside, other, _noisy(face, rng, 3))
    reencoded = _noisy(face, rng, 3)
    margin = np.ones((S, S), bool)
    margin[int(0.1 * S) : int(0.9 * S), int(0.1 * S) : int(0.9 * S)] = False
    background_only = np.where(margin, other, face)

    codec = face_frame_scores(_crops(reencoded), original)
    swap = face_frame_scores(_crops(swapped), original)
    assert np.all(codec < 1.5), codec  # codec noise changes the face as much as its margin
    assert np.all(swap > 10.0), swap
    assert np.all(face_frame_scores(_crops(background_only), original) < 0.5)
    assert np.all(face_frame_scores(_crops(face), original) == 0.0)  # identical: nothing above the floor
    # A ratio: the same swap four times darker scores about the same (the margin's change, a quarter
    # as large, is then near the noise floor, which keeps the ratio from growing).
    dark = face_frame_scores(_crops(swapped // 4), _crops(face // 4))
    assert np.median(dark) == pytest.approx(np.median(swap), rel=0.3)


def test_face_scores_follow_the_fake_crops_and_a_partial_swap_still_counts() -> None:
    rng = np.random.default_rng(1)
    face = rng.integers(40, 200, (10, S, S)).astype(np.uint8)  # the scene at frames 0..9
    inside = np.zeros((S, S), bool)
    inside[int(0.3 * S) : int(0.7 * S), int(0.3 * S) : int(0.7 * S)] = True
    # The original has frames 0..8, the fake 1..9 (it lacks one, and has one the original lacks);
    # its face is swapped on frames 6..8.
    fake = _noisy(face[1:], rng, 3)
    fake[5:8] = np.where(inside, rng.integers(40, 200, (3, S, S)), fake[5:8])
    labeler = ModalityLabeler(Config().labels)
    verdict = labeler.face(_crops(fake, np.arange(1, 10)), _crops(face[:9]))
    assert verdict.per_frame is not None and verdict.score is not None
    assert math.isnan(verdict.per_frame[-1]) and np.isfinite(verdict.per_frame[:-1]).all()
    assert np.all(verdict.per_frame[:5] < 1.5) and np.all(verdict.per_frame[5:8] > 5.0)
    assert verdict.label is True and verdict.score > Config().labels.face_fake_above
    assert labeler.face(_crops(face, np.arange(10) + 100), _crops(face)) == FaceVerdict(None)
    assert labeler.face(_crops(face), None) == FaceVerdict(None)


def test_face_labels_have_three_states() -> None:
    rng = np.random.default_rng(2)
    face = rng.integers(40, 200, (4, S, S)).astype(np.uint8)
    inside = np.zeros((S, S), bool)
    inside[int(0.3 * S) : int(0.7 * S), int(0.3 * S) : int(0.7 * S)] = True
    other = np.where(inside, rng.integers(40, 200, (4, S, S)), _noisy(face, rng, 2)).astype(np.uint8)
    labels = Config().labels
    labeler = ModalityLabeler(labels)
    assert face_contrast(face) > labels.face_min_contrast
    assert labeler.face(_crops(other), _crops(face)).label is True
    assert labeler.face(_crops(_noisy(face, rng, 3)), _crops(face)).label is False
    # Between the thresholds: unknown, with the score kept for whoever re-thresholds.
    middle = ModalityLabeler(labels.model_copy(update={"face_real_below": 0.1, "face_fake_above": 1e6}))
    verdict = middle.face(_crops(other), _crops(face))
    assert verdict.label is None and verdict.score is not None and verdict.score > 1.0
    # Too dark or flat to tell a swap from codec noise: unknown whatever the score.
    dark_face, dark_other = face // 12, other // 12  # a spread of ~4 grey levels
    assert face_contrast(dark_face) < labels.face_min_contrast
    dark = labeler.face(_crops(dark_other), _crops(dark_face))
    assert dark.label is None and dark.score is not None


INNER = np.array([0.2, 0.2, 0.8, 0.8], np.float32)


def _half_resolution(image: np.ndarray) -> np.ndarray:
    """``image`` rendered at half its size and scaled back up (a face re-rendered from 1/2 resolution)."""
    small = image.reshape(image.shape[0] // 2, 2, image.shape[1] // 2, 2).mean(axis=(1, 3))
    return np.repeat(np.repeat(small, 2, axis=0), 2, axis=1)


def _with_detail(crops: TrackCrops, full_res: np.ndarray) -> TrackCrops:
    crops.detail = np.array([detail_energies(g, INNER) for g in full_res], np.float32)
    return crops


def test_fine_detail_energy_is_the_finest_detail_inside_the_face_and_around_it() -> None:
    rng = np.random.default_rng(5)
    grain = rng.normal(128, 20, (300, 240))
    flat = np.full((300, 240), 128.0)
    face, ring = fine_detail_energy(grain, INNER)
    assert face > 100 and ring > 100  # white noise keeps most of its variance (400) above the blur
    assert fine_detail_energy(flat, INNER) == (0.0, 0.0)
    rerendered = _half_resolution(grain)
    assert fine_detail_energy(rerendered, INNER)[0] < 0.5 * face


def test_detail_kept_tells_a_half_resolution_face_from_a_reencode() -> None:
    """A re-encode takes fine detail from the face and its margin alike; a face re-rendered from half
    resolution loses it in the face only, while changing it too little for ``face_diff`` to see."""
    rng = np.random.default_rng(6)
    full = rng.normal(128, 12, (5, 320, 320)).clip(0, 255)
    inside = np.zeros((320, 320), bool)
    inside[64:256, 64:256] = True
    reencoded = np.stack([_half_resolution(g) * 0.5 + g * 0.5 for g in full])  # detail halved everywhere
    rerendered = np.stack([np.where(inside, _half_resolution(g), g) for g in full])
    thumbs = np.zeros((5, S, S), np.uint8)
    original = _with_detail(_crops(thumbs), full)
    control = face_detail_kept(_with_detail(_crops(thumbs), reencoded), original)
    smoothed = face_detail_kept(_with_detail(_crops(thumbs), rerendered), original)
    assert control is not None and smoothed is not None
    assert 0.9 < control < 1.1, control
    assert smoothed < 0.5, smoothed
    assert face_detail_kept(_crops(thumbs), original) is None  # not measured: no score
    flat = _with_detail(_crops(thumbs), np.full((5, 320, 320), 90.0))
    assert face_detail_kept(_with_detail(_crops(thumbs), rerendered), flat) is None  # nothing to lose


def test_the_next_octave_sees_a_rerender_of_a_smooth_face_that_the_finest_misses() -> None:
    """A smooth face whose finest octave is mostly codec noise (the portrait DFDC sample): a gentle
    re-render removes detail from the next octave, while the re-encode's fresh noise refills the
    finest one, so ``face_detail_kept`` alone would call it clean."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(7)
    texture = np.stack([gaussian_filter(rng.normal(0, 60, (320, 320)), 2.0) for _ in range(5)]) + 128
    inside = np.zeros((320, 320), bool)
    inside[80:240, 80:240] = True
    rerendered = np.where(inside, np.stack([gaussian_filter(t, 1.0) for t in texture]), texture)
    thumbs = np.zeros((5, S, S), np.uint8)

    def encoded(images: np.ndarray) -> TrackCrops:  # each encode adds its own fine noise
        return _with_detail(_crops(thumbs), images + rng.normal(0, 1.5, images.shape))

    original, control, fake = encoded(texture), encoded(texture), encoded(rerendered)
    labels = Config().labels
    finest = [face_detail_kept(crops, original) for crops in (control, fake)]
    next_octave = [face_detail_kept(crops, original, octave=1) for crops in (control, fake)]
    assert all(value is not None and value > labels.face_detail_real_above for value in finest), finest
    assert next_octave[0] is not None and 0.9 < next_octave[0] < 1.1, next_octave
    assert next_octave[1] is not None and next_octave[1] < labels.face_detail_fake_below, next_octave
    low_diff, contrast = labels.face_real_below / 2, labels.face_min_contrast + 10
    assert face_label(low_diff, contrast, labels, finest[1]) is False  # the finest octave alone
    assert face_label(low_diff, contrast, labels, finest[1], next_octave[1]) is True
    assert face_label(low_diff, contrast, labels, finest[0], next_octave[0]) is False
    # Crops measured before the second octave existed (two columns) give it no score.
    old = _crops(thumbs)
    old.detail = fake.detail[:, :2]
    assert face_detail_kept(old, original, octave=1) is None and face_detail_kept(old, original) == finest[1]
    with pytest.raises(ValueError, match="octave"):
        face_detail_kept(fake, original, octave=2)


def test_detail_kept_can_make_a_face_fake_or_unknown_never_clean() -> None:
    labels = Config().labels
    low_diff = labels.face_real_below / 2  # face_diff alone: false
    contrast = labels.face_min_contrast + 10
    assert face_label(low_diff, contrast, labels) is False
    assert face_label(low_diff, contrast, labels, labels.face_detail_fake_below - 0.05) is True
    between = (labels.face_detail_fake_below + labels.face_detail_real_above) / 2
    assert face_label(low_diff, contrast, labels, between) is None
    assert face_label(low_diff, contrast, labels, 1.0) is False
    assert face_label(labels.face_fake_above * 2, contrast, labels, 1.0) is True  # a swap keeps detail
    assert face_label(low_diff, labels.face_min_contrast - 1, labels, 0.1) is None  # too dark: unknown
    # The lower of the two octaves decides, either one alone where the other was not measured.
    assert face_label(low_diff, contrast, labels, 1.0, labels.face_detail_fake_below - 0.05) is True
    assert face_label(low_diff, contrast, labels, 1.0, between) is None
    assert face_label(low_diff, contrast, labels, None, labels.face_detail_fake_below - 0.05) is True
    assert face_label(low_diff, contrast, labels, 1.0, 1.0) is False


def test_the_label_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="face_real_below"):
        Config.model_validate({"labels": {"face_real_below": 5.0, "face_fake_above": 4.0}})
    with pytest.raises(ValueError, match="audio_real_below_db"):
        Config.model_validate({"labels": {"audio_real_below_db": 2.0, "audio_fake_above_db": 1.0}})
    with pytest.raises(ValueError, match="face_detail_fake_below"):
        Config.model_validate({"labels": {"face_detail_fake_below": 0.9, "face_detail_real_above": 0.8}})


def test_audio_difference_ignores_a_codec_delay() -> None:
    rng = np.random.default_rng(1)
    logmel = rng.normal(-30, 10, (64, 300)).astype(np.float32)
    delayed = np.roll(logmel, 2, axis=1)
    voice = logmel + np.linspace(-6, 6, 64, dtype=np.float32)[:, None]  # a different spectral envelope

    def features(x: np.ndarray) -> AudioFeatures:
        return AudioFeatures(x, 16000, 0.01)

    assert audio_difference_db(features(delayed), features(logmel)) < 0.1
    assert audio_difference_db(features(voice), features(logmel)) > 2.0
    labeler = ModalityLabeler(Config().labels)
    assert labeler.audio(features(delayed), features(logmel)).label is False
    different = labeler.audio(features(voice), features(logmel))
    assert different.label is True and different.diff_db == audio_difference_db(
        features(voice), features(logmel)
    )
    assert labeler.audio(None, features(logmel)) == AudioVerdict(None)


@pytest.mark.parametrize(("crf", "audio_bitrate"), [(30, 32000), (16, 128000)])
def test_reencoded_original_is_not_labelled_fake(
    tiny_corpus: Path, tiny_truth, face_detector, tmp_path: Path, crf: int, audio_bitrate: int
) -> None:
    families = [
        f for f in load_catalog(str(tiny_corpus)).families()
        if f.original and not tiny_truth[f.original.filename].tags
    ]  # fmt: skip
    assert families
    processor = FamilyProcessor(Config(), detect_fn(face_detector))
    for family in families[:2]:
        assert family.original is not None
        copy = reencode(
            Path(family.original.url),
            tmp_path / f"copy-{family.family_id}.mp4",
            crf=crf,
            audio_bitrate=audio_bitrate,
        )
        fake = replace(family.original, video_id="copy", filename="copy.mp4", label="FAKE",
                       original=family.original.filename, url=str(copy))  # fmt: skip
        result = processor.process(Family(family.family_id, family.original, [fake]))
        copies = [s for s in result.samples if s.video_id == "copy"]
        assert copies and all(s.face_fake is False for s in copies), [s.face_fake for s in copies]
        assert result.outcomes[1].audio_fake is False


def test_a_fake_that_does_not_line_up_with_its_original_has_no_face_score(
    tiny_corpus: Path, tiny_truth, face_detector, tmp_path: Path
) -> None:
    family = next(
        f for f in load_catalog(str(tiny_corpus)).families()
        if f.original and not tiny_truth[f.original.filename].tags
    )  # fmt: skip
    assert family.original is not None
    copy = reencode(
        Path(family.original.url), tmp_path / "half.mp4", crf=23, audio_bitrate=64000, half_size=True
    )
    fake = replace(family.original, video_id="half", filename="half.mp4", label="FAKE",
                   original=family.original.filename, url=str(copy))  # fmt: skip
    result = FamilyProcessor(Config(), detect_fn(face_detector)).process(
        Family(family.family_id, family.original, [fake])
    )
    halves = [s for s in result.samples if s.video_id == "half"]
    original = [s for s in result.samples if s.video_id == family.original.video_id]
    # Its own faces were found (boxes in its own pixels), none compared: unknown, no score.
    assert halves and all(s.face_fake is None and s.face_diff is None for s in halves)
    assert max(float(s.boxes_xyxy[:, 2].max()) for s in halves) < 0.75 * max(
        float(s.boxes_xyxy[:, 2].max()) for s in original
    )
    assert result.outcomes[1].audio_fake is False and result.outcomes[1].audio_diff_db is not None


def test_a_low_light_face_is_unknown_where_a_swap_would_score_as_codec_noise(
    tiny_corpus: Path, tiny_truth, face_detector, tmp_path: Path
) -> None:
    family = next(
        f for f in load_catalog(str(tiny_corpus)).families()
        if f.original and "low_light" in tiny_truth[f.original.filename].tags
    )  # fmt: skip
    assert family.original is not None
    swaps = [f for f in family.fakes if tiny_truth[f.filename].kind in ("face", "both")]
    assert swaps
    copy = reencode(Path(family.original.url), tmp_path / "copy.mp4", crf=30, audio_bitrate=64000)
    fake = replace(family.original, video_id="copy", filename="copy.mp4", label="FAKE",
                   original=family.original.filename, url=str(copy))  # fmt: skip
    labels: dict[float, dict[str, list]] = {}
    kept: dict[str, list] = {}
    for min_contrast in (Config().labels.face_min_contrast, 0.0):
        # Boxes from every sampled frame: what the labels see should not hang on detection shortcuts.
        config = Config.model_validate(
            {"labels": {"face_min_contrast": min_contrast}, "faces": {"detect_every": 1}}
        )
        result = FamilyProcessor(config, detect_fn(face_detector)).process(
            Family(family.family_id, family.original, [fake, *swaps])
        )
        labels[min_contrast] = {}
        for sample in result.samples:
            if sample.label == "FAKE":
                labels[min_contrast].setdefault(sample.video_id, []).append(sample.face_fake)
                kept.setdefault(sample.video_id, []).append(sample.face_detail_kept)
                assert sample.face_diff is not None  # the score is kept either way
    default = labels[Config().labels.face_min_contrast]
    assert default and all(set(found) == {None} for found in default.values()), default
    # What the rule prevents: compared anyway, a swap in the dark changes the face hardly more than
    # the codec changes its surroundings, and one would be called clean.
    unguarded = labels[0.0]
    assert False in [label for swap in swaps for label in unguarded[swap.video_id]], unguarded
    # And the re-encode takes more of the dark face's fine detail than of its margin's: face_detail_kept
    # would call the unchanged face fake.
    limit = Config().labels.face_detail_fake_below
    assert unguarded["copy"] == [True] and all(value < limit for value in kept["copy"]), kept
