"""Typed records that flow between the catalog, the stages, the lake writers and training.

Units are in the names: ``*_s`` seconds, ``*_px`` pixels, ``*_hz`` hertz, ``box_xyxy`` is
``(x1, y1, x2, y2)`` in source-video pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

import numpy as np

__all__ = [
    "AudioFeatures",
    "FaceTrack",
    "Family",
    "Outcome",
    "OutcomeStatus",
    "Sample",
    "VideoEntry",
    "VideoInfo",
    "video_id_of",
]

Label = Literal["REAL", "FAKE"]
CLIP_SUFFIX = ".mp4"


def video_id_of(name: str) -> str:
    """``name`` without its ``.mp4`` extension, matched in any case (``"AB.MP4"`` -> ``"AB"``)."""
    if name[-len(CLIP_SUFFIX) :].lower() == CLIP_SUFFIX:
        return name[: -len(CLIP_SUFFIX)]
    return name


@dataclass(frozen=True)
class VideoEntry:
    """One ``metadata.json`` entry of a DFDC part."""

    video_id: str  # file name without ".mp4", e.g. "abqwwspghj"
    filename: str  # the metadata key, e.g. "abqwwspghj.mp4"
    part: int  # K of dfdc_train_part_K
    label: Label
    original: str | None  # the REAL clip's file name a FAKE was made from; None for REAL
    url: str  # fsspec URL of the video bytes (local path, s3://..., zip://member::archive)
    size_bytes: int | None = None  # None when the file is listed but missing

    @property
    def family_id(self) -> str:
        """A family is keyed by its REAL original's video id."""
        if self.original is None:
            return self.video_id
        return video_id_of(self.original)


@dataclass
class Family:
    """A REAL original and the FAKEs made from it. ``original`` is None when the original is absent."""

    family_id: str
    original: VideoEntry | None
    fakes: list[VideoEntry] = field(default_factory=list)

    @property
    def videos(self) -> list[VideoEntry]:
        return ([self.original] if self.original else []) + self.fakes


@dataclass(frozen=True)
class VideoInfo:
    fps: float
    num_frames: int
    width_px: int
    height_px: int

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps if self.fps > 0 else 0.0


@dataclass
class FaceTrack:
    """One person followed through the sampled frames of a video (boxes and points in source pixels)."""

    track_id: int
    frame_indices: np.ndarray  # int32 [T]
    boxes_xyxy: np.ndarray  # float32 [T, 4]
    scores: np.ndarray  # float32 [T]; NaN where the box was gap-filled
    # float32 [T, 5, 2]: MTCNN's five points (eyes, nose, mouth corners; x, y) as detected, interpolated
    # where the score is NaN; NaN where the detector gave no points. None: not known at all.
    landmarks_xy: np.ndarray | None = None


@dataclass
class AudioFeatures:
    logmel: np.ndarray  # float32 [n_mels, n_frames], dB
    sample_rate_hz: int
    hop_s: float  # seconds between spectrogram columns; column j starts at j * hop_s


class OutcomeStatus(str, Enum):
    OK = "ok"
    NO_FACE = "no_face"
    DECODE_ERROR = "decode_error"
    NO_VIDEO_STREAM = "no_video_stream"
    MISSING = "missing"
    EMPTY_FILE = "empty_file"
    ERROR = "error"  # an unexpected failure, kept per video so the chunk still commits


@dataclass
class Outcome:
    """What happened to one catalog video. Every video gets exactly one."""

    video_id: str
    filename: str
    part: int
    family_id: str
    label: Label
    status: OutcomeStatus
    reason: str | None = None
    num_samples: int = 0
    face_frame_share: float | None = None
    has_audio: bool | None = None
    audio_fake: bool | None = None
    audio_diff_db: float | None = None  # the score behind audio_fake (None where it was not measured)


@dataclass
class Sample:
    """One (video, face track): the unit the lake stores and training reads. See schemas/sample_v5.json."""

    sample_id: str  # f"{video_id}-t{track_id}"
    video_id: str
    filename: str
    part: int
    family_id: str
    original: str | None
    label: Label
    face_fake: bool | None
    audio_fake: bool | None
    track_id: int
    num_tracks: int
    frame_indices: np.ndarray  # int32 [T]
    timestamps_s: np.ndarray  # float32 [T]
    boxes_xyxy: np.ndarray  # float32 [T, 4]
    det_scores: np.ndarray  # float32 [T], NaN for gap-filled
    crops_jpeg: list[bytes]  # T JPEG-encoded crops
    face_frame_share: float
    audio: AudioFeatures | None  # None: the clip has no audio stream
    info: VideoInfo
    config_hash: str
    # The scores behind face_fake / audio_fake (see stages/labels.py); None where not measured.
    # face_diff_per_frame: float32 [T], aligned with frame_indices, NaN where no original crop.
    face_diff: float | None = None
    face_diff_per_frame: np.ndarray | None = None
    face_contrast: float | None = None  # grey-level spread of the original's crops of the track
    audio_diff_db: float | None = None
    face_detail_kept: float | None = None  # share of the original face's fine detail the fake kept
    face_detail_kept_half_res: float | None = None  # the same, of the next octave (crops at half resolution)
    # float32 [T, 10]: the five facial points (x1, y1 ... x5, y5) as shares of each stored crop's width
    # and height; None where the track has none. bool [T]: True where the points were interpolated.
    crop_landmarks: np.ndarray | None = None
    crop_landmarks_interpolated: np.ndarray | None = None

    @property
    def is_fake(self) -> bool:
        return self.label == "FAKE"
