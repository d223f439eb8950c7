"""FamilyProcessor on the tiny synthetic corpus, checked against its ground truth."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from dfdc_lake.lake.schema import sample_schema, sample_to_row
from dfdc_lake.records import OutcomeStatus, Sample
from dfdc_lake.stages.analysis import TIMING_KEYS
from dfdc_lake.stages.tracker import box_iou
from dfdc_lake.synth.truth import ClipTruth


def _person_of(sample: Sample, truth: ClipTruth) -> tuple[int, np.ndarray]:
    """The ground-truth person a track follows, and the per-frame IoU with that person's true box."""
    ious = np.stack(
        [
            np.diag(box_iou(sample.boxes_xyxy, truth.face_boxes_xyxy[person, sample.frame_indices]))
            for person in range(truth.num_persons)
        ]
    )
    person = int(ious.mean(axis=1).argmax())
    return person, ious[person]


def _ok(corpus_run, tiny_truth) -> list[tuple[Sample, ClipTruth]]:
    pairs = [(s, tiny_truth[name]) for name, samples in corpus_run.samples.items() for s in samples]
    assert pairs
    return pairs


def test_one_outcome_per_listed_video(corpus_run, tiny_truth) -> None:
    assert set(corpus_run.outcomes) == set(tiny_truth)
    assert sum(len(r.outcomes) for r in corpus_run.results) == len(tiny_truth)
    for result in corpus_run.results:
        assert set(result.timings_s) == set(TIMING_KEYS)
        assert all(seconds >= 0 for seconds in result.timings_s.values())
    ids = [s.sample_id for samples in corpus_run.samples.values() for s in samples]
    assert len(ids) == len(set(ids))
    for name, outcome in corpus_run.outcomes.items():
        assert outcome.num_samples == len(corpus_run.samples.get(name, []))


def test_crops_contain_the_true_face(corpus_run, tiny_truth) -> None:
    max_side = corpus_run.config.crops.max_side_px
    for sample, truth in _ok(corpus_run, tiny_truth):
        _, ious = _person_of(sample, truth)
        assert np.mean(ious >= 0.5) >= 0.8, (sample.sample_id, truth.tags, ious)
        assert sample.sample_id == f"{sample.video_id}-t{sample.track_id}"
        assert (
            len(sample.crops_jpeg)
            == len(sample.frame_indices)
            == len(sample.boxes_xyxy)
            == len(sample.det_scores)
        )
        for jpeg in sample.crops_jpeg[:2]:
            image = Image.open(io.BytesIO(jpeg))
            assert image.format == "JPEG" and image.mode == "RGB" and max(image.size) <= max_side
        np.testing.assert_allclose(sample.timestamps_s, sample.frame_indices / truth.fps, rtol=1e-4)


def test_every_decodable_clip_yields_its_people(corpus_run, tiny_truth) -> None:
    for name, truth in tiny_truth.items():
        if not truth.decodable:
            continue
        outcome = corpus_run.outcomes[name]
        assert outcome.status is OutcomeStatus.OK, (name, truth.tags, outcome)
        samples = corpus_run.samples[name]
        assert len(samples) == truth.num_persons and {s.num_tracks for s in samples} == {truth.num_persons}
        assert sorted(_person_of(s, truth)[0] for s in samples) == list(range(truth.num_persons))
        assert outcome.face_frame_share is not None and outcome.face_frame_share >= 0.5


def test_fakes_carry_their_originals_tracks(corpus_run, tiny_truth) -> None:
    checked = 0
    for name, samples in corpus_run.samples.items():
        truth = tiny_truth[name]
        if truth.label != "FAKE":
            continue
        originals = {s.track_id: s for s in corpus_run.samples[truth.original]}
        for sample in samples:
            original = originals[sample.track_id]
            np.testing.assert_array_equal(sample.frame_indices, original.frame_indices)
            np.testing.assert_array_equal(sample.boxes_xyxy, original.boxes_xyxy)
            np.testing.assert_array_equal(sample.crop_landmarks, original.crop_landmarks)
            np.testing.assert_array_equal(
                sample.crop_landmarks_interpolated, original.crop_landmarks_interpolated
            )
            assert sample.face_frame_share == original.face_frame_share
            assert sample.family_id == original.video_id and sample.original == truth.original
            checked += 1
    assert checked >= 10


def test_two_person_clips_have_two_tracks(corpus_run, tiny_truth) -> None:
    clips = [name for name, truth in tiny_truth.items() if "two_people" in truth.tags and truth.decodable]
    assert clips
    for name in clips:
        samples = corpus_run.samples[name]
        assert [s.track_id for s in samples] == [0, 1]
        first_x = [float(s.boxes_xyxy[0, 0]) for s in samples]
        assert first_x == sorted(first_x)  # same first frame: ordered left to right


def test_modality_labels_match_ground_truth(corpus_run, tiny_truth) -> None:
    seen: set[str] = set()
    for sample, truth in _ok(corpus_run, tiny_truth):
        seen.add(truth.kind)
        person, _ = _person_of(sample, truth)
        original = tiny_truth.get(truth.original or "")
        if truth.kind == "real":
            assert (sample.face_fake, sample.audio_fake) == (False, False), sample.sample_id
            continue
        # A low-light face is too dark to tell a swap from codec noise: unknown (labels.face_min_contrast).
        expected_face = (
            None
            if "low_light" in truth.tags
            else truth.kind in ("face", "both") and truth.swapped_person == person
        )
        assert sample.face_fake == expected_face, (sample.sample_id, truth.kind, truth.tags)
        both_have_audio = truth.has_audio and original is not None and original.has_audio
        expected_audio = (truth.kind in ("voice", "both")) if both_have_audio else None
        assert sample.audio_fake == expected_audio, (sample.sample_id, truth.kind, truth.tags)
        assert corpus_run.outcomes[sample.filename].audio_fake == expected_audio
    assert seen == {"real", "face", "voice", "both"}


@pytest.mark.parametrize("case", ["portrait", "fps15", "lowres", "low_light"])
def test_hard_case_clips_work(corpus_run, tiny_truth, case: str) -> None:
    clips = [name for name, truth in tiny_truth.items() if case in truth.tags and truth.decodable]
    assert clips
    for name in clips:
        truth = tiny_truth[name]
        (sample, *_) = corpus_run.samples[name]
        info = sample.info
        assert (info.width_px, info.height_px, info.num_frames) == (
            truth.width_px,
            truth.height_px,
            truth.num_frames,
        )
        assert info.fps == pytest.approx(truth.fps, rel=1e-3)
        assert len(sample.frame_indices) >= 0.5 * len(
            range(0, truth.num_frames, corpus_run.config.decode.frame_stride)
        )


def test_no_audio_clips_get_a_null_spectrogram(corpus_run, tiny_truth) -> None:
    clips = [name for name, truth in tiny_truth.items() if "no_audio" in truth.tags and truth.decodable]
    assert clips
    for name in clips:
        outcome = corpus_run.outcomes[name]
        assert outcome.status is OutcomeStatus.OK and outcome.has_audio is False
        for sample in corpus_run.samples[name]:
            assert sample.audio is None
            row = sample_to_row(sample)
            assert row["has_audio"] is False and row["logmel_f16"] is None and row["logmel_shape"] is None
    with_audio = next(
        s for name, t in tiny_truth.items() if t.has_audio and t.decodable for s in corpus_run.samples[name]
    )
    assert with_audio.audio is not None and with_audio.audio.logmel.shape[0] == corpus_run.config.audio.n_mels


def test_broken_files_get_outcomes(corpus_run, tiny_truth) -> None:
    expected = {"zero_byte": OutcomeStatus.EMPTY_FILE, "truncated": OutcomeStatus.DECODE_ERROR}
    broken = {name: truth.broken for name, truth in tiny_truth.items() if truth.broken}
    assert sorted(broken.values()) == sorted(expected)
    for name, how in broken.items():
        outcome = corpus_run.outcomes[name]
        assert outcome.status is expected[how] and outcome.reason and outcome.num_samples == 0
        assert name not in corpus_run.samples


def test_samples_fit_the_lake_schema(corpus_run) -> None:
    rows = [sample_to_row(s) for samples in corpus_run.samples.values() for s in samples]
    table = pa.Table.from_pylist(rows, schema=sample_schema())
    assert table.num_rows == len(rows)
    # Every row carries its crops' facial points: 10 per crop, and one interpolated flag per crop.
    assert table.column("crop_landmarks").null_count == 0
    for row in rows:
        assert len(row["crop_landmarks"]) == 10 * len(row["crops_jpeg"])
        assert row["crop_landmarks_interpolated"] == np.isnan(row["det_scores"]).tolist()
    assert set(table.column("config_hash").to_pylist()) == {corpus_run.config.config_hash()}
