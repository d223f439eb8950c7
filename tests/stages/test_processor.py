"""FamilyProcessor contracts: the injectable detector, absent originals, raw videos, per-video failures."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dfdc_lake.config import Config
from dfdc_lake.errors import StorageError
from dfdc_lake.records import Family, OutcomeStatus, VideoEntry
from dfdc_lake.source.catalog import load_catalog
from dfdc_lake.source.storage import read_bytes
from dfdc_lake.stages.faces import Detections, detect_fn
from dfdc_lake.stages.family import RAW_VIDEO_PART, FamilyProcessor
from dfdc_lake.stages.tracker import box_iou
from tests.stages.clips import write_clip
from tests.stages.recording import RecordingDetect


def _plain_family(root: Path, tiny_truth) -> Family:
    for family in load_catalog(str(root)).families():
        truths = [tiny_truth[v.filename] for v in family.videos]
        if family.original and len(family.fakes) >= 3 and not any(t.tags for t in truths):
            return family
    raise AssertionError("the tiny corpus has no plain family")


def test_detection_runs_once_per_family_on_downscaled_frames(tiny_corpus, tiny_truth, face_detector) -> None:
    # tiny clips are 480 px wide; detection on every sampled frame, so the original is one call
    config = Config().with_overrides(["faces.detect_max_side_px=320", "faces.detect_every=1"])
    recorder = RecordingDetect(face_detector)
    family = _plain_family(tiny_corpus, tiny_truth)
    result = FamilyProcessor(config, recorder).process(family)

    assert len(recorder.shapes) == 1  # the original only; fakes reuse its tracks
    (shape,) = recorder.shapes
    assert max(shape[1:3]) <= 320 and shape[-1] == 3
    assert [o.status for o in result.outcomes] == [OutcomeStatus.OK] * len(family.videos)
    for sample in result.samples:  # boxes are mapped back to source pixels
        truth = tiny_truth[sample.filename].face_boxes_xyxy[0, sample.frame_indices]
        assert np.mean(np.diag(box_iou(sample.boxes_xyxy, truth)) >= 0.5) >= 0.8


def test_detecting_every_other_sampled_frame_keeps_every_frame_tracked(
    tiny_corpus, tiny_truth, face_detector
) -> None:
    family = _plain_family(tiny_corpus, tiny_truth)
    config = Config().with_overrides(["faces.detect_max_side_px=320", "faces.detect_every=1"])
    every_frame = FamilyProcessor(config, RecordingDetect(face_detector)).process(family)
    recorder = RecordingDetect(face_detector)
    halved = FamilyProcessor(config.with_overrides(["faces.detect_every=2"]), recorder).process(family)

    sampled = len(every_frame.samples[0].frame_indices)
    first, *refined = [shape[0] for shape in recorder.shapes]
    assert first == (sampled + 1) // 2 + (sampled % 2 == 0)  # every other frame and the last
    assert len(refined) <= 1 and first + sum(refined) <= sampled  # then the frames between unsteady ones
    assert [o.status for o in halved.outcomes] == [o.status for o in every_frame.outcomes]
    by_id = {s.sample_id: s for s in every_frame.samples}
    for sample in halved.samples:
        np.testing.assert_array_equal(sample.frame_indices, by_id[sample.sample_id].frame_indices)
        truth = tiny_truth[sample.filename].face_boxes_xyxy[0, sample.frame_indices]
        assert np.mean(np.diag(box_iou(sample.boxes_xyxy, truth)) >= 0.5) >= 0.8


def test_fakes_without_their_original_detect_on_themselves(tiny_corpus, tiny_truth, face_detector) -> None:
    family = _plain_family(tiny_corpus, tiny_truth)
    recorder = RecordingDetect(face_detector)
    orphaned = Family(family.family_id, None, family.fakes)
    config = Config().with_overrides(["faces.detect_every=1"])  # one detection call per video
    result = FamilyProcessor(config, recorder).process(orphaned)

    assert len(recorder.shapes) == len(family.fakes)
    assert [o.filename for o in result.outcomes] == [f.filename for f in family.fakes]
    assert all(o.status is OutcomeStatus.OK and o.audio_fake is None for o in result.outcomes)
    assert result.samples and all(s.face_fake is None and s.audio_fake is None for s in result.samples)


def test_unusable_original_falls_back_to_own_detection(
    tiny_corpus, tiny_truth, face_detector, tmp_path
) -> None:
    family = _plain_family(tiny_corpus, tiny_truth)
    assert family.original is not None
    missing = replace(family.original, url=str(tmp_path / "gone.mp4"), size_bytes=None)
    result = FamilyProcessor(Config(), detect_fn(face_detector)).process(
        Family(family.family_id, missing, family.fakes)
    )

    assert (
        result.outcomes[0].status is OutcomeStatus.MISSING and result.outcomes[0].video_id == missing.video_id
    )
    assert all(o.status is OutcomeStatus.OK for o in result.outcomes[1:])
    assert all(s.face_fake is None for s in result.samples)


def test_process_video_from_url_and_bytes(tiny_corpus, tiny_truth, face_detector) -> None:
    family = _plain_family(tiny_corpus, tiny_truth)
    fake = family.fakes[0]
    processor = FamilyProcessor(Config(), detect_fn(face_detector))

    samples, outcome = processor.process_video(fake.url)
    assert (
        outcome.status is OutcomeStatus.OK
        and outcome.video_id == fake.video_id
        and outcome.part == RAW_VIDEO_PART
    )
    assert samples and all(s.face_fake is None and s.audio_fake is None for s in samples)
    assert outcome.audio_fake is None

    from_bytes, outcome2 = processor.process_video(read_bytes(fake.url), video_id="upload")
    assert outcome2.status is OutcomeStatus.OK and [s.sample_id for s in from_bytes] == ["upload-t0"]
    np.testing.assert_array_equal(from_bytes[0].boxes_xyxy, samples[0].boxes_xyxy)

    empty_samples, empty = processor.process_video(b"")
    assert empty_samples == [] and empty.status is OutcomeStatus.EMPTY_FILE


def test_clip_without_video_stream_or_face(face_detector, tmp_path) -> None:
    processor = FamilyProcessor(Config(), detect_fn(face_detector))
    _, audio_only = processor.process_video(str(write_clip(tmp_path / "audio.mp4", video=False)))
    assert audio_only.status is OutcomeStatus.NO_VIDEO_STREAM
    samples, faceless = processor.process_video(str(write_clip(tmp_path / "gradient.mp4")))
    assert samples == [] and faceless.status is OutcomeStatus.NO_FACE
    assert (
        faceless.face_frame_share == 0.0
        and faceless.has_audio is True
        and "no face" in (faceless.reason or "")
    )


def test_unexpected_failures_are_recorded_per_video(tiny_corpus, tiny_truth) -> None:
    def broken_detector(frames: np.ndarray) -> Detections:
        raise RuntimeError("detector exploded")

    family = _plain_family(tiny_corpus, tiny_truth)
    result = FamilyProcessor(Config(), broken_detector).process(family)
    # The original fails, so each fake tries its own detection, which fails too.
    assert [o.status for o in result.outcomes] == [OutcomeStatus.ERROR] * len(family.videos)
    assert all(o.reason == "RuntimeError: detector exploded" for o in result.outcomes)
    assert result.samples == []


def test_storage_outage_is_not_recorded_as_data(tiny_corpus, tiny_truth, face_detector) -> None:
    def dead_storage(url: str) -> bytes:
        raise StorageError(f"read {url} failed after 4 attempts")

    processor = FamilyProcessor(Config(), detect_fn(face_detector), read=dead_storage)
    with pytest.raises(StorageError):
        processor.process(_plain_family(tiny_corpus, tiny_truth))


def test_fake_listed_but_missing(face_detector, tiny_corpus, tiny_truth, tmp_path) -> None:
    family = _plain_family(tiny_corpus, tiny_truth)
    ghost = VideoEntry(
        "ghostghost", "ghostghost.mp4", 0, "FAKE", family.family_id + ".mp4", str(tmp_path / "g.mp4")
    )
    result = FamilyProcessor(Config(), detect_fn(face_detector)).process(
        Family(family.family_id, family.original, [ghost])
    )
    assert [o.status for o in result.outcomes] == [OutcomeStatus.OK, OutcomeStatus.MISSING]


def test_family_from_a_zip_archive_read_in_place(tiny_corpus, tiny_truth, face_detector, tmp_path) -> None:
    import shutil

    part_dir = tiny_corpus / "dfdc_train_part_0"
    archive = Path(
        shutil.make_archive(str(tmp_path / "dfdc_train_part_0"), "zip", tiny_corpus, part_dir.name)
    )
    catalog = load_catalog(str(archive))
    folder = load_catalog(str(part_dir))
    assert [(e.filename, e.label, e.size_bytes) for e in catalog.entries] == [
        (e.filename, e.label, e.size_bytes) for e in folder.entries
    ]
    family = next(
        f for f in catalog.families() if f.original and not any(tiny_truth[v.filename].tags for v in f.videos)
    )
    result = FamilyProcessor(Config(), detect_fn(face_detector)).process(family)
    assert all(v.url.startswith("zip://") for v in family.videos)
    assert [o.status for o in result.outcomes] == [OutcomeStatus.OK] * len(family.videos)
    assert sorted(p.name for p in tmp_path.iterdir()) == [archive.name]  # nothing was unpacked


def test_a_long_video_is_processed_in_segments_of_bounded_size(
    tiny_corpus, tiny_truth, face_detector
) -> None:
    """With segments of 2 MB (five of the tiny clips' frames) and every 5th frame sampled (12 frames:
    three segments), detection runs once per segment, yet the one person stays one track over every
    sampled frame with its crops and facial points in order, as in one segment; the fakes reuse that
    track, cut in each of their segments, and are labelled as in one segment."""
    family = _plain_family(tiny_corpus, tiny_truth)
    original = family.original
    assert original is not None
    sampled = ["decode.frame_stride=5", "faces.detect_every=1"]
    whole = FamilyProcessor(Config().with_overrides(sampled), detect_fn(face_detector)).process(family)
    config = Config().with_overrides([*sampled, "decode.segment_mb=2"])
    recorder = RecordingDetect(face_detector)
    result = FamilyProcessor(config, recorder).process(family)

    assert [shape[0] for shape in recorder.shapes] == [5, 5, 2]  # the original only, segment by segment
    assert [o.status for o in result.outcomes] == [o.status for o in whole.outcomes]
    assert [o.num_samples for o in result.outcomes] == [1] * len(family.videos)
    by_video = {s.video_id: s for s in result.samples}
    whole_by_video = {s.video_id: s for s in whole.samples}
    track = by_video[original.video_id]
    frames = whole_by_video[original.video_id].frame_indices
    assert track.track_id == 0 and len(frames) == 12
    np.testing.assert_array_equal(track.frame_indices, frames)  # every sampled frame, in order
    assert len(track.crops_jpeg) == len(frames) and track.crop_landmarks is not None
    assert track.crop_landmarks.shape == (len(frames), 10)
    overlap = np.diag(box_iou(track.boxes_xyxy, whole_by_video[original.video_id].boxes_xyxy))
    # A segment's last box is smoothed without the next segment's boxes; the rest are as in one segment.
    segment_ends = [4, 9]
    assert np.allclose(np.delete(overlap, segment_ends), 1.0) and overlap[segment_ends].min() > 0.8
    # Points are shares of each crop: the same point in the same crop, whether segmented or not.
    np.testing.assert_allclose(
        track.crop_landmarks, whole_by_video[original.video_id].crop_landmarks, atol=0.05
    )
    for fake in family.fakes:
        sample = by_video[fake.video_id]
        assert sample.track_id == 0 and sample.sample_id == f"{fake.video_id}-t0"
        np.testing.assert_array_equal(sample.frame_indices, frames)
        assert len(sample.crops_jpeg) == len(frames)
        np.testing.assert_array_equal(sample.crop_landmarks, track.crop_landmarks)
        assert sample.face_fake == whole_by_video[fake.video_id].face_fake
