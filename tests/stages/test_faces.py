"""MTCNN detection: source-pixel boxes from full frames, and the exposure normalization for dark clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dfdc_lake.config import Config
from dfdc_lake.stages.decode import VideoDecoder
from dfdc_lake.stages.exposure import box_blur, exposure_lut, normalize_exposure
from dfdc_lake.stages.faces import FaceDetector, downscale_frames
from dfdc_lake.stages.tracker import box_iou


def _clip(tiny_corpus: Path, tiny_truth, tag: str):
    name, truth = next(
        (n, t) for n, t in tiny_truth.items() if tag in t.tags and t.decodable and t.kind == "real"
    )
    path = next(tiny_corpus.glob(f"*/{name}"))
    return VideoDecoder(Config().decode).decode(path.read_bytes()), truth


def test_downscale_keeps_aspect_and_reports_scale() -> None:
    frames = np.random.default_rng(0).integers(0, 255, (2, 270, 480, 3)).astype(np.uint8)
    small, (sx, sy) = downscale_frames(frames, 240)
    assert small.shape == (2, 135, 240, 3) and small.dtype == np.uint8 and (sx, sy) == (0.5, 0.5)
    same, scale = downscale_frames(frames, 640)
    assert same is frames and scale == (1.0, 1.0)


def test_full_frames_give_source_pixel_boxes(tiny_corpus, tiny_truth, face_detector: FaceDetector) -> None:
    video, truth = _clip(tiny_corpus, tiny_truth, "portrait")
    small_config = face_detector.config.model_copy(update={"detect_max_side_px": 200})
    detector = FaceDetector(small_config)
    detector._mtcnn = face_detector._mtcnn  # share the loaded weights; only the downscale differs
    detections = detector.detect(video.frames)
    assert len(detections) == len(video.frames)
    hits = 0
    for (boxes, scores), index in zip(detections, video.frame_indices, strict=True):
        assert boxes.dtype == np.float32 and boxes.shape == (len(scores), 4)
        if len(boxes):
            hits += box_iou(boxes, truth.face_boxes_xyxy[0, index][None]).max() >= 0.5
    assert hits >= 0.8 * len(video.frames)


def test_low_light_faces_need_the_exposure_normalization(tiny_corpus, tiny_truth, face_detector) -> None:
    video, _ = _clip(tiny_corpus, tiny_truth, "low_light")
    min_score = face_detector.config.min_score

    def found(normalize: bool) -> int:
        face_detector.config = face_detector.config.model_copy(update={"normalize_exposure": normalize})
        try:
            return sum(bool((scores >= min_score).any()) for _, scores in face_detector.detect(video.frames))
        finally:
            face_detector.config = Config().faces.model_copy(update={"device": "cpu"})

    with_normalization = found(True)
    assert with_normalization >= 0.5 * len(video.frames)
    assert found(False) < with_normalization


def test_exposure_normalization_stretches_dark_frames_only() -> None:
    ramp_dark = np.linspace(5, 40, 64)[None, None, :, None]
    dark = np.broadcast_to(ramp_dark, (1, 64, 64, 3)).astype(np.uint8)
    out = normalize_exposure(dark)
    assert out.shape == dark.shape and out.dtype == np.uint8
    assert np.percentile(out, 99) - np.percentile(out, 1) > 150
    ramp = np.tile(np.linspace(0, 255, 256), (16, 1))
    lut = exposure_lut(ramp)
    assert np.abs(lut.astype(int) - np.arange(256)).max() <= 4  # a well-exposed frame is left as it is
    flat = np.full((16, 16), 7.0)
    np.testing.assert_array_equal(exposure_lut(flat), np.arange(256))  # a blank frame too
    blurred = box_blur(np.pad(np.full((1, 1, 1), 90, np.uint8), ((1, 1), (1, 1), (0, 0))), 3)
    assert blurred[1, 1, 0] == 10
