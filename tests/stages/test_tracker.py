"""IoU tracker on hand-made detections: linking, gap filling, smoothing, dropping, ordering."""

from __future__ import annotations

import numpy as np

from dfdc_lake.config import FaceConfig
from dfdc_lake.records import FaceTrack
from dfdc_lake.stages.tracker import (
    box_iou,
    build_tracks,
    detection_positions,
    face_frame_share,
    fill_between,
    smooth_boxes,
    steady,
)

NO_FACE = (np.zeros((0, 4), np.float32), np.zeros(0, np.float32))


def _det(*boxes: tuple[float, float, float, float], score: float = 0.99):
    return np.array(boxes, np.float32).reshape(-1, 4), np.full(len(boxes), score, np.float32)


def _config(**overrides) -> FaceConfig:
    return FaceConfig.model_validate({"smooth_window": 1, **overrides})


def test_box_iou() -> None:
    iou = box_iou(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]]))
    np.testing.assert_allclose(iou, [[1.0, 1 / 3, 0.0]])


def test_two_people_become_two_tracks_ordered_by_x() -> None:
    left, right = (10, 10, 50, 60), (200, 12, 240, 62)
    detections = [_det(right, left) for _ in range(8)]
    tracks = build_tracks(np.arange(0, 80, 10), detections, _config())
    assert len(tracks) == 2
    assert [t.track_id for t in tracks] == [0, 1]
    np.testing.assert_allclose(tracks[0].boxes_xyxy[0], left)
    np.testing.assert_allclose(tracks[1].boxes_xyxy[0], right)
    np.testing.assert_array_equal(tracks[0].frame_indices, np.arange(0, 80, 10))


def test_first_appearance_orders_before_x() -> None:
    late_left, early_right = (10, 10, 50, 60), (200, 12, 240, 62)
    detections = [_det(early_right), _det(early_right)] + [_det(early_right, late_left) for _ in range(6)]
    tracks = build_tracks(np.arange(8), detections, _config())
    assert tracks[0].frame_indices[0] == 0 and tracks[1].frame_indices[0] == 2


def test_gaps_are_interpolated_with_nan_scores() -> None:
    detections = [_det((0, 0, 40, 40)), NO_FACE, NO_FACE, _det((30, 0, 70, 40)), _det((40, 0, 80, 40))]
    (track,) = build_tracks(np.arange(0, 50, 10), detections, _config(track_iou=0.1, max_gap_frames=2))
    np.testing.assert_array_equal(track.frame_indices, [0, 10, 20, 30, 40])
    np.testing.assert_allclose(track.boxes_xyxy[1], (10, 0, 50, 40))
    np.testing.assert_allclose(track.boxes_xyxy[2], (20, 0, 60, 40))
    assert np.isnan(track.scores[1:3]).all() and not np.isnan(track.scores[[0, 3, 4]]).any()


def test_long_gaps_split_and_short_tracks_drop() -> None:
    box = (0, 0, 40, 40)
    detections = [_det(box)] * 4 + [NO_FACE] * 5 + [_det(box)] * 3
    tracks = build_tracks(np.arange(12), detections, _config(max_gap_frames=4, min_track_share=0.3))
    assert len(tracks) == 1 and list(tracks[0].frame_indices) == [0, 1, 2, 3]  # the 3-frame tail is dropped


def test_low_scores_and_tiny_boxes_are_ignored() -> None:
    detections = [_det((0, 0, 40, 40), score=0.5), _det((0, 0, 1, 1))] * 3
    assert build_tracks(np.arange(6), detections, _config()) == []
    assert face_frame_share(detections, min_score=0.9) == 0.0
    assert face_frame_share([_det((0, 0, 40, 40)), NO_FACE], min_score=0.9) == 0.5


def test_smoothing_averages_jitter_but_keeps_steady_motion() -> None:
    boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [0, 0, 10, 10], [2, 0, 12, 10]], np.float32)
    smoothed = smooth_boxes(boxes, 3)
    assert smoothed.shape == boxes.shape
    np.testing.assert_allclose(smoothed[1, 0], 2 / 3, rtol=1e-5)
    np.testing.assert_allclose(smoothed[[0, 3]], boxes[[0, 3]])  # the window shrinks to nothing at the ends
    steady = np.array([[10 * k, 0, 10 * k + 40, 40] for k in range(6)], np.float32)
    np.testing.assert_allclose(smooth_boxes(steady, 5), steady, atol=1e-4)
    short = boxes[:2]
    assert smooth_boxes(short, 3).shape == (2, 4)


def test_fast_motion_without_overlap_still_links() -> None:
    # The face moves 0.75 face widths per sampled frame (a 15 fps clip): no IoU with the last box.
    detections = [_det((30 * k, 0, 30 * k + 40, 40)) for k in range(5)]
    (track,) = build_tracks(np.arange(0, 50, 10), detections, _config(track_iou=0.3))
    assert len(track.frame_indices) == 5


def test_neighbours_are_not_merged_by_the_shift_rule() -> None:
    left, right = (0, 0, 40, 40), (100, 0, 140, 40)
    detections = [_det(left, right), _det(left, right), _det(right), _det(left, right)]
    tracks = build_tracks(np.arange(4), detections, _config(max_gap_frames=2))
    assert len(tracks) == 2
    np.testing.assert_allclose(tracks[0].boxes_xyxy[:, 0], [0, 0, 0, 0])  # frame 2 gap-filled, not stolen
    np.testing.assert_allclose(tracks[1].boxes_xyxy[:, 0], [100, 100, 100, 100])
    assert np.isnan(tracks[0].scores[2])


def test_detection_positions_take_every_kth_and_the_last() -> None:
    np.testing.assert_array_equal(detection_positions(7, 1), np.arange(7))
    np.testing.assert_array_equal(detection_positions(7, 2), [0, 2, 4, 6])
    np.testing.assert_array_equal(detection_positions(8, 3), [0, 3, 6, 7])
    np.testing.assert_array_equal(detection_positions(1, 3), [0])
    assert len(detection_positions(0, 2)) == 0


def test_fill_between_interpolates_boxes_by_frame_number_within_the_span() -> None:
    track = FaceTrack(
        3,
        np.array([10, 30, 50], np.int32),
        np.array([[0, 0, 10, 10], [20, 0, 30, 10], [20, 40, 30, 50]], np.float32),
        np.array([0.9, 0.8, 0.95], np.float32),
    )
    sampled = np.arange(0, 70, 10, dtype=np.int32)  # 0 and 60 lie outside the track's span
    filled = fill_between(track, sampled)
    assert filled.track_id == 3
    np.testing.assert_array_equal(filled.frame_indices, [10, 20, 30, 40, 50])
    np.testing.assert_allclose(filled.boxes_xyxy[1], [10, 0, 20, 10])
    np.testing.assert_allclose(filled.boxes_xyxy[3], [20, 20, 30, 30])
    np.testing.assert_allclose(filled.scores[[0, 2, 4]], [0.9, 0.8, 0.95])
    assert np.isnan(filled.scores[[1, 3]]).all()
    assert fill_between(filled, sampled) is filled  # nothing left to fill


def test_steady_needs_the_same_faces_barely_moved() -> None:
    config = _config(steady_iou=0.6)
    face = (0, 0, 10, 10)
    assert steady(_det(face), _det((1, 0, 11, 10)), config)  # IoU 0.82
    assert not steady(_det(face), _det((5, 0, 15, 10)), config)  # IoU 0.33: moved too far
    assert not steady(_det(face), _det(face, (50, 50, 60, 60)), config)  # a face came in
    assert steady(NO_FACE, NO_FACE, config)
    weak = (np.array([face, (50, 50, 60, 60)], np.float32), np.array([0.99, 0.3], np.float32))
    assert steady(_det(face), weak, config)  # a detection below min_score is not a face
