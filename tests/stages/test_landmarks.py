"""MTCNN's five facial points carried through detection, windows, tracking, interpolation and crops."""

from __future__ import annotations

import numpy as np

from dfdc_lake.config import Config, FaceConfig
from dfdc_lake.stages.crops import FaceCropper, crop_window
from dfdc_lake.stages.tracker import build_tracks, fill_between
from dfdc_lake.stages.windows import WINDOW_PX
from tests.stages.test_windows import HEIGHT, WIDTH, _tracks, _video, face_patch  # noqa: F401

# Frames 0-3 still (1 and 2 take interpolated boxes), 3-6 moving 15 px a frame (4 and 5 in windows).
CORNERS = [(100, 120)] * 4 + [(115, 124), (130, 128), (145, 132)]


def _inside(points: np.ndarray, box: np.ndarray) -> bool:
    return bool(((points >= box[:2]) & (points <= box[2:])).all())


def test_points_follow_the_face_through_windows_and_interpolation(face_detector, face_patch) -> None:  # noqa: F811
    video = _video(face_patch, CORNERS)
    (track,), share, shapes = _tracks(face_detector, video)
    (every,), _, _ = _tracks(face_detector, video, "faces.detect_every=1")

    assert shapes == [(3, HEIGHT, WIDTH, 3), (2, WINDOW_PX, WINDOW_PX, 3)] and share == 1.0
    points = track.landmarks_xy
    assert points is not None and points.shape == (7, 5, 2) and np.isfinite(points).all()
    interpolated = np.isnan(track.scores)
    assert interpolated.tolist() == [False, True, True, False, False, False, False]
    for box, face in zip(track.boxes_xyxy[~interpolated], points[~interpolated], strict=True):
        assert _inside(face, box), (box, face)
        left_eye, right_eye, _, mouth_left, mouth_right = face
        assert left_eye[0] < right_eye[0] and max(left_eye[1], right_eye[1]) < min(
            mouth_left[1], mouth_right[1]
        )
    np.testing.assert_allclose(points[1], (2 * points[0] + points[3]) / 3, atol=1e-3)
    # Points found in a 128 px window land where the whole frame's detection puts them.
    face_px = float(track.boxes_xyxy[4, 3] - track.boxes_xyxy[4, 1])
    assert np.abs(points[4:6] - every.landmarks_xy[4:6]).max() < 0.1 * face_px

    crops = FaceCropper(Config().crops).crop_track(video.pixels, video.frame_indices, track)
    fields = crops.landmark_fields()
    shares = fields["crop_landmarks"]
    assert shares is not None and shares.shape == (7, 10) and shares.dtype == np.float32
    assert fields["crop_landmarks_interpolated"].tolist() == interpolated.tolist()
    assert ((shares > 0) & (shares < 1)).all()  # the margin keeps every point inside its crop
    for box, share_xy, face in zip(crops.boxes_xyxy, shares.reshape(-1, 5, 2), points, strict=True):
        left, top, right, bottom = crop_window(box, Config().crops.margin, WIDTH, HEIGHT)
        np.testing.assert_allclose(share_xy * [right - left, bottom - top] + [left, top], face, atol=1e-3)


def _detection(box: list[float], points: np.ndarray | None) -> tuple[np.ndarray, ...]:
    found = (np.array([box], np.float32), np.array([0.99], np.float32))
    return found if points is None else (*found, points[None].astype(np.float32))


def test_tracks_interpolate_points_across_gaps_and_keep_none_without_them() -> None:
    config = FaceConfig.model_validate({"smooth_window": 1, "max_gap_frames": 2})
    start = np.arange(10, dtype=np.float32).reshape(5, 2) + 100
    detections = [
        _detection([100, 100, 150, 150], start),
        (np.zeros((0, 4), np.float32), np.zeros(0, np.float32)),
        _detection([104, 100, 154, 150], start + 4),
    ]
    (track,) = build_tracks(np.array([0, 5, 10]), detections, config)
    assert np.isnan(track.scores[1])
    np.testing.assert_allclose(track.landmarks_xy[1], start + 2)
    filled = fill_between(track, np.arange(11))  # detected on frames 0, 5, 10 of 0..10
    assert len(filled.frame_indices) == 11 and np.isnan(filled.scores[2])
    np.testing.assert_allclose(filled.landmarks_xy[2], start + 0.8, rtol=1e-6)

    (plain,) = build_tracks(np.array([0, 5]), [_detection([100, 100, 150, 150], None)] * 2, config)
    assert np.isnan(plain.landmarks_xy).all()
    crops = FaceCropper(Config().crops).crop_track(
        np.zeros((2, 200, 200, 3), np.uint8), np.array([0, 5]), plain
    )
    assert crops.landmark_fields() == {"crop_landmarks": None, "crop_landmarks_interpolated": None}
