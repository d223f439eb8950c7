"""Tracks across decode segments: ``TrackLinker`` on hand-made detections, and two people in a real
clip decoded in three segments with the frames between detected ones (``faces.detect_every``)."""

from __future__ import annotations

import numpy as np

from dfdc_lake.config import Config, FaceConfig
from dfdc_lake.records import FaceTrack, Family
from dfdc_lake.source.catalog import load_catalog
from dfdc_lake.stages.faces import detect_fn
from dfdc_lake.stages.family import FamilyProcessor
from dfdc_lake.stages.tracker import TrackLinker, box_iou, build_tracks, joined_tracks
from tests.stages.recording import RecordingDetect

NO_FACE = (np.zeros((0, 4), np.float32), np.zeros(0, np.float32))


def _det(*boxes: tuple[float, float, float, float]):
    return np.array(boxes, np.float32).reshape(-1, 4), np.full(len(boxes), 0.99, np.float32)


def _linked(detections, cuts: list[int], config: FaceConfig) -> tuple[list[FaceTrack], TrackLinker]:
    """``detections`` (on frames 0, 10, 20, ...) linked in segments cut at ``cuts``."""
    frames = np.arange(len(detections)) * 10
    linker = TrackLinker(config)
    parts: list[FaceTrack] = []
    for start, stop in zip([0, *cuts], [*cuts, len(detections)], strict=True):
        found, dropped = linker.add(frames[start:stop], detections[start:stop])
        parts = [p for p in parts if p.track_id not in dropped] + found
    return joined_tracks(parts, linker.finish()), linker


def _moving(
    count: int, x0: float, step: float = 3.0, jitter: float = 0.0
) -> list[tuple[float, float, float, float]]:
    shifts = [x0 + step * i + jitter * (-1) ** i for i in range(count)]
    return [(x, 20.0, x + 40, 70.0) for x in shifts]


def test_a_track_crossing_segments_is_the_track_of_one_segment() -> None:
    config = FaceConfig.model_validate({"smooth_window": 3})
    left, right = _moving(12, 10, jitter=2.0), _moving(12, 300, -2, jitter=1.0)
    detections = [_det(a, b) for a, b in zip(left, right, strict=True)]
    whole = build_tracks(np.arange(12) * 10, detections, config)
    tracks, linker = _linked(detections, [5, 10], config)

    assert [t.track_id for t in tracks] == [t.track_id for t in whole] == [0, 1]
    for track, one in zip(tracks, whole, strict=True):
        np.testing.assert_array_equal(track.frame_indices, one.frame_indices)
        np.testing.assert_array_equal(track.scores, one.scores)
        assert track.landmarks_xy is not None and track.landmarks_xy.shape == (12, 5, 2)
        # Smoothing sees the boxes before a segment, not those after it: only a segment's last box differs.
        same = np.isclose(track.boxes_xyxy, one.boxes_xyxy).all(axis=1)
        assert np.flatnonzero(~same).tolist() == [4, 9]
        assert np.diag(box_iou(track.boxes_xyxy, one.boxes_xyxy)).min() > 0.85
    # Between segments only what interpolation and smoothing need is kept.
    assert all(len(b.positions) <= 2 for b in linker._open)


def test_a_gap_across_a_boundary_is_bridged_in_the_later_segment() -> None:
    config = FaceConfig.model_validate({"smooth_window": 1, "max_gap_frames": 3})
    boxes = _moving(10, 10)
    detections = [NO_FACE if i in (4, 5) else _det(box) for i, box in enumerate(boxes)]
    (track,) = build_tracks(np.arange(10) * 10, detections, config)
    (crossing,), _ = _linked(detections, [5], config)

    assert track.frame_indices.tolist() == list(range(0, 100, 10))
    # Frame 40 was the first segment's, gone when the face came back: only 50 is interpolated.
    assert crossing.frame_indices.tolist() == [0, 10, 20, 30, 50, 60, 70, 80, 90]
    np.testing.assert_allclose(crossing.boxes_xyxy, np.delete(track.boxes_xyxy, 4, axis=0), atol=1e-4)
    assert np.isnan(crossing.scores).tolist() == [False] * 4 + [True] + [False] * 4


def test_spurious_detections_are_dropped_and_ids_stay_dense() -> None:
    config = FaceConfig.model_validate({"smooth_window": 1, "max_gap_frames": 1})
    person = _moving(12, 200)
    blip = (10.0, 10.0, 30.0, 30.0)  # one frame in the first segment: 1 of its 6 frames
    late = _moving(12, 400)  # a second person from frame 6 on
    detections = [
        _det(person[i], *([blip] if i == 2 else []), *([late[i]] if i >= 6 else [])) for i in range(12)
    ]
    tracks, _ = _linked(detections, [6], config)

    assert [(t.track_id, int(t.frame_indices[0]), len(t.frame_indices)) for t in tracks] == [
        (0, 0, 12),
        (1, 60, 6),
    ]


def _two_people_family(root, tiny_truth) -> Family:
    for family in load_catalog(str(root)).families():
        if family.original and "two_people" in tiny_truth[family.original.filename].tags:
            return family
    raise AssertionError("the tiny corpus has no two-people family")


def test_two_people_stay_two_tracks_across_segments_with_frames_between(
    tiny_corpus, tiny_truth, face_detector
) -> None:
    """Three segments of 5, 5 and 2 sampled frames, detected on every 4th and each segment's last:
    the frames between are interpolated or found in windows inside each segment."""
    family = _two_people_family(tiny_corpus, tiny_truth)
    original = family.original
    assert original is not None
    config = Config().with_overrides(["decode.frame_stride=5", "faces.detect_every=4"])
    whole = FamilyProcessor(config, detect_fn(face_detector)).process(family)
    recorder = RecordingDetect(face_detector)
    result = FamilyProcessor(config.with_overrides(["decode.segment_mb=2"]), recorder).process(family)

    whole_frames = [shape[0] for shape in recorder.shapes if shape[1:3] != (128, 128)]
    assert whole_frames[:3] == [2, 2, 2]  # positions 0 and 4 of each segment, then 0 and 1 of the last
    tracks = [s for s in result.samples if s.video_id == original.video_id]
    one_segment = [s for s in whole.samples if s.video_id == original.video_id]
    assert [s.track_id for s in tracks] == [s.track_id for s in one_segment] == [0, 1]
    truth = tiny_truth[original.filename]
    for track, one in zip(tracks, one_segment, strict=True):
        np.testing.assert_array_equal(track.frame_indices, one.frame_indices)
        assert len(track.frame_indices) == 12 and len(track.crops_jpeg) == 12
        assert track.crop_landmarks is not None and track.crop_landmarks.shape == (12, 10)
        people = [
            np.diag(box_iou(track.boxes_xyxy, truth.face_boxes_xyxy[p, track.frame_indices])) for p in (0, 1)
        ]
        assert max(float(np.mean(iou >= 0.5)) for iou in people) == 1.0  # one person all along
    for fake in family.fakes:
        samples = [s for s in result.samples if s.video_id == fake.video_id]
        assert [s.track_id for s in samples] == [0, 1]
        for sample, track in zip(samples, tracks, strict=True):
            np.testing.assert_array_equal(sample.frame_indices, track.frame_indices)
            assert len(sample.crops_jpeg) == 12
