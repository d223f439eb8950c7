"""Faces looked for again in windows around their interpolated boxes (``stages.windows``)."""

from __future__ import annotations

import numpy as np
import pytest

from dfdc_lake.config import Config
from dfdc_lake.records import VideoInfo
from dfdc_lake.stages.analysis import VideoAnalyzer
from dfdc_lake.stages.decode import DecodedVideo
from dfdc_lake.stages.faces import FaceDetector
from dfdc_lake.stages.frames import RgbFrames
from dfdc_lake.stages.tracker import box_iou
from dfdc_lake.stages.windows import (
    WINDOW_PX,
    FaceWindow,
    WindowedFaces,
    cut_windows,
    interpolated_windows,
)
from tests.stages.recording import RecordingDetect

WIDTH, HEIGHT = 640, 360


@pytest.fixture(scope="module")
def face_patch() -> np.ndarray:
    """The astronaut's head (MTCNN finds her face in it), ~70 px tall."""
    from skimage.data import astronaut
    from skimage.transform import resize

    head = astronaut()[20:230, 130:320]
    return (resize(head, (126, 114), anti_aliasing=True) * 255).astype(np.uint8)


def _video(patch: np.ndarray, corners: list[tuple[int, int]]) -> DecodedVideo:
    """One sampled frame per corner (every 10th source frame), the face pasted at that corner."""
    rng = np.random.default_rng(0)
    frames = np.empty((len(corners), HEIGHT, WIDTH, 3), np.uint8)
    for i, (x, y) in enumerate(corners):
        frames[i] = rng.integers(90, 110, (HEIGHT, WIDTH, 3), dtype=np.uint8)
        frames[i, y : y + patch.shape[0], x : x + patch.shape[1]] = patch
    count = len(corners)
    return DecodedVideo(
        VideoInfo(30.0, count * 10, WIDTH, HEIGHT),
        np.arange(count, dtype=np.int32) * 10,
        RgbFrames(frames),
        has_audio=False,
        timestamps_s=np.arange(count, dtype=np.float32) / 3,
    )


def _tracks(detector: FaceDetector, video: DecodedVideo, *overrides: str):
    recording = RecordingDetect(detector)
    config = Config().with_overrides(["faces.device=cpu", "faces.detect_every=3", *overrides])
    tracks, share = VideoAnalyzer(config, recording).detect_tracks(video)
    return tracks, share, recording.shapes


def test_a_moving_face_is_found_in_windows_between_detected_frames(face_detector, face_patch) -> None:
    # 15 px a sampled frame: too far for the steady check, near enough for the tracker to link
    corners = [(100 + 15 * i, 120 + 4 * i) for i in range(7)]
    video = _video(face_patch, corners)
    every, _, _ = _tracks(face_detector, video, "faces.detect_every=1")
    windowed, share, shapes = _tracks(face_detector, video)
    _, _, whole_shapes = _tracks(face_detector, video, "faces.between=frames")

    # frames 0, 3 and 6 detected whole; 1, 2, 4 and 5 as one 128 px window each
    assert shapes == [(3, HEIGHT, WIDTH, 3), (4, WINDOW_PX, WINDOW_PX, 3)]
    assert whole_shapes == [(3, HEIGHT, WIDTH, 3), (4, HEIGHT, WIDTH, 3)]
    assert share == 1.0
    assert len(every) == len(windowed) == 1
    np.testing.assert_array_equal(windowed[0].frame_indices, every[0].frame_indices)
    assert np.isfinite(windowed[0].scores).all()  # every frame was detected, none interpolated
    overlap = np.diag(box_iou(windowed[0].boxes_xyxy, every[0].boxes_xyxy))
    assert overlap.min() >= 0.8, overlap


def test_a_face_off_its_path_is_found_in_the_whole_frame(face_detector, face_patch) -> None:
    # detected at 0 and 3; at 2 the face is far from the line between them, so its window is empty
    video = _video(face_patch, [(100, 120), (115, 120), (420, 150), (145, 120)])
    tracks, share, shapes = _tracks(face_detector, video)

    assert shapes == [(2, HEIGHT, WIDTH, 3), (2, WINDOW_PX, WINDOW_PX, 3), (1, HEIGHT, WIDTH, 3)]
    assert share == 1.0
    found_at_2 = [t.boxes_xyxy[list(t.frame_indices).index(20)] for t in tracks if 20 in t.frame_indices]
    assert any(box[0] > 380 for box in found_at_2)  # the whole frame found it where it was


def test_windows_follow_the_interpolated_boxes() -> None:
    small = np.array([[100.0, 100.0, 140.0, 140.0]])  # 40 px: 3 face sizes is under the 128 px minimum
    large = np.array([[200.0, 50.0, 300.0, 170.0]])  # 120 px tall: 3 face sizes, 360 px
    windows = interpolated_windows(np.vstack([small, large]), np.vstack([small + 30, large + 60]), 4, 7)

    assert [w.position for w in windows] == [5, 5, 6, 6]
    first, second = windows[0], windows[1]
    np.testing.assert_allclose(first.expected_xyxy, small[0] + 10)
    assert first.side == WINDOW_PX and first.scale == 1.0
    np.testing.assert_allclose([first.left + 64, first.top + 64], [130, 130])  # centered on the box
    assert second.side == pytest.approx(360) and second.scale == pytest.approx(WINDOW_PX / 360)
    np.testing.assert_allclose(windows[3].expected_xyxy, large[0] + 40)


def test_cut_windows_scale_down_and_leave_the_outside_black() -> None:
    frame = np.zeros((200, 300, 3), np.uint8)
    frame[:, :, 0] = np.arange(300)[None, :] // 2  # each 2x2 block one value: exact after halving
    frame[:, :, 1] = 200
    at_edge = FaceWindow(0, np.array([0.0, 0.0, 40.0, 40.0]), left=-28.0, top=10.0, side=128.0)
    scaled = FaceWindow(0, np.zeros(4), left=20.0, top=0.0, side=256.0)  # half size, past the bottom
    out = cut_windows({0: frame}, [at_edge, scaled])

    assert out.shape == (2, WINDOW_PX, WINDOW_PX, 3)
    assert (out[0, :, :28] == 0).all()  # left of the frame
    np.testing.assert_array_equal(out[0, :, 28:], frame[10:138, 0:100])
    assert (out[1, :100, :, 1] == 200).all() and (out[1, 100:] == 0).all()  # 200 rows -> 100
    np.testing.assert_array_equal(out[1, 0, :, 0], np.arange(10, 138))


def test_each_window_keeps_its_own_face_or_sends_the_frame_back() -> None:
    window = FaceWindow(3, np.array([100.0, 100.0, 160.0, 160.0]), left=40.0, top=40.0, side=256.0)
    half = window.scale  # 0.5: boxes come back in window pixels, b / 0.5 + 40 in the frame's
    on_path = (np.array([100.0, 100.0, 160.0, 160.0]) - 40) * half + [2, 1, 2, 1]  # 4 px off
    near = on_path + 12  # 24 px off each way, scored higher: still the same face, but farther
    other = FaceWindow(3, np.array([400.0, 100.0, 460.0, 160.0]), left=300.0, top=0.0, side=256.0)
    result = WindowedFaces.from_detections(
        [window, other],
        [
            (np.stack([near, on_path]).astype(np.float32), np.array([0.99, 0.95], np.float32)),
            ((np.array([[400.0, 100.0, 460.0, 160.0]]) - [300, 0, 300, 0]) * 0.5, np.array([0.98])),
        ],
        min_score=0.9,
    )
    assert result.unresolved == []
    boxes, scores, points = result.found[3]
    np.testing.assert_allclose(boxes, [[104, 102, 164, 162], [400, 100, 460, 160]])  # nearest, not best
    np.testing.assert_allclose(scores, [0.95, 0.98])
    assert points.shape == (2, 5, 2) and np.isnan(points).all()  # this detector gave no points

    weak = WindowedFaces.from_detections([window], [(on_path[None], np.array([0.5]))], min_score=0.9)
    assert weak.found == {} and weak.unresolved == [3]
    twice = WindowedFaces.from_detections(
        [window, FaceWindow(3, window.expected_xyxy + 5, 40.0, 40.0, 256.0)],
        [(on_path[None], np.array([0.99])), (on_path[None], np.array([0.99]))],
        min_score=0.9,
    )
    assert twice.found == {} and twice.unresolved == [3]  # two windows, one face: detect it whole
    with pytest.raises(ValueError, match="detection lists"):
        WindowedFaces.from_detections([window], [], min_score=0.9)
