"""Per-modality labels: codec noise stays below the thresholds, swaps (checked in test_family) above."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dfdc_lake.config import Config
from dfdc_lake.records import AudioFeatures, Family
from dfdc_lake.source.catalog import load_catalog
from dfdc_lake.stages.faces import detect_fn
from dfdc_lake.stages.family import FamilyProcessor
from dfdc_lake.stages.labels import ModalityLabeler, audio_difference_db, face_contrast, face_difference
from tests.stages.clips import reencode


def test_face_difference_measures() -> None:
    rng = np.random.default_rng(0)
    frames = np.arange(4)
    face = rng.integers(40, 200, (4, 64, 64)).astype(np.uint8)
    noisy = np.clip(face + rng.normal(0, 4, face.shape), 0, 255).astype(np.uint8)
    other = rng.integers(40, 200, (4, 64, 64)).astype(np.uint8)
    assert face_difference(frames, face, frames, face) == 0.0
    assert face_difference(frames, noisy, frames, face) < 2.0
    assert face_difference(frames, other, frames, face) > 4.0
    assert face_difference(frames + 100, face, frames, face) is None
    # Contrast-normalized: the same difference in a scene four times darker counts about the same.
    dark_face, dark_other = face // 4, other // 4
    bright = face_difference(frames, other, frames, face)
    dark = face_difference(frames, dark_other, frames, dark_face)
    assert bright is not None and dark is not None and dark == pytest.approx(bright, rel=0.1)


def test_a_face_too_dark_to_compare_is_unknown() -> None:
    rng = np.random.default_rng(2)
    frames = np.arange(4)
    face = rng.integers(40, 200, (4, 64, 64)).astype(np.uint8)
    other = rng.integers(40, 200, (4, 64, 64)).astype(np.uint8)
    labeler = ModalityLabeler(Config().labels)
    assert face_contrast(face) > Config().labels.face_min_contrast
    assert labeler.face_fake(frames, other, frames, face) is True
    assert labeler.face_fake(frames, face, frames, face) is False
    dark_face, dark_other = face // 12, other // 12  # a spread of ~4 grey levels
    assert face_contrast(dark_face) < Config().labels.face_min_contrast
    assert labeler.face_fake(frames, dark_other, frames, dark_face) is None
    assert labeler.face_fake(frames, dark_face, frames, dark_face) is None


def test_audio_difference_ignores_a_codec_delay() -> None:
    rng = np.random.default_rng(1)
    logmel = rng.normal(-30, 10, (64, 300)).astype(np.float32)
    delayed = np.roll(logmel, 2, axis=1)
    voice = logmel + np.linspace(-6, 6, 64, dtype=np.float32)[:, None]  # a different spectral envelope

    def features(x: np.ndarray) -> AudioFeatures:
        return AudioFeatures(x, 16000, 0.01)

    assert audio_difference_db(features(delayed), features(logmel)) < 0.1
    assert audio_difference_db(features(voice), features(logmel)) > 2.0


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


def test_a_low_light_reencode_is_unknown_where_it_would_score_as_a_swap(
    tiny_corpus: Path, tiny_truth, face_detector, tmp_path: Path
) -> None:
    family = next(
        f for f in load_catalog(str(tiny_corpus)).families()
        if f.original and "low_light" in tiny_truth[f.original.filename].tags
    )  # fmt: skip
    assert family.original is not None
    copy = reencode(Path(family.original.url), tmp_path / "copy.mp4", crf=30, audio_bitrate=64000)
    fake = replace(family.original, video_id="copy", filename="copy.mp4", label="FAKE",
                   original=family.original.filename, url=str(copy))  # fmt: skip
    labels: dict[float, list] = {}
    for min_contrast in (Config().labels.face_min_contrast, 0.0):
        config = Config.model_validate({"labels": {"face_min_contrast": min_contrast}})
        result = FamilyProcessor(config, detect_fn(face_detector)).process(
            Family(family.family_id, family.original, [fake])
        )
        labels[min_contrast] = [s.face_fake for s in result.samples if s.video_id == "copy"]
    assert labels[Config().labels.face_min_contrast] and set(labels[Config().labels.face_min_contrast]) == {
        None
    }
    # What the rule prevents: compared anyway, codec noise stretched to full contrast reads as a swap.
    assert True in labels[0.0]
