"""One video through the stages: decode, detect and track (or reuse the original's tracks), crop, log-mel,
per-modality labels, and the resulting samples and outcome.

Failures raise (``VideoDecodeError`` and friends); ``FamilyProcessor`` turns them into outcomes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from dfdc_lake.config import Config
from dfdc_lake.records import AudioFeatures, FaceTrack, Outcome, OutcomeStatus, Sample, VideoEntry
from dfdc_lake.stages.audio import LogMelExtractor
from dfdc_lake.stages.crops import FaceCropper, TrackCrops
from dfdc_lake.stages.decode import DecodedVideo, EmptyFileError, VideoDecoder
from dfdc_lake.stages.faces import DetectFn, Detections, downscale_frames
from dfdc_lake.stages.labels import ModalityLabeler
from dfdc_lake.stages.tracker import build_tracks, face_frame_share

__all__ = ["TIMING_KEYS", "Findings", "Reference", "StageTimings", "VideoAnalyzer"]

TIMING_KEYS = ("read", "decode", "detect", "crops", "audio", "labels")


class StageTimings:
    """Seconds spent per stage, summed over the videos it timed."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(TIMING_KEYS, 0.0)

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start


@dataclass
class Reference:
    """What a family's fakes take from their original."""

    tracks: list[FaceTrack]
    face_frame_share: float
    crops: dict[int, TrackCrops]  # by track_id
    audio: AudioFeatures | None


@dataclass
class Findings:
    """What the stages found in one video, before it becomes samples and an outcome."""

    video: DecodedVideo
    crops: dict[int, TrackCrops]  # by track_id; tracks without a crop in this video are left out
    face_frame_share: float
    audio: AudioFeatures | None
    face_fake: dict[int, bool | None]  # by track_id
    audio_fake: bool | None

    def samples(self, family_id: str, entry: VideoEntry, config_hash: str) -> list[Sample]:
        """One ``Sample`` per track with crops."""
        time_of = dict(zip(self.video.frame_indices.tolist(), self.video.timestamps_s.tolist(), strict=True))
        return [
            Sample(
                sample_id=f"{entry.video_id}-t{track_id}",
                video_id=entry.video_id,
                filename=entry.filename,
                part=entry.part,
                family_id=family_id,
                original=entry.original,
                label=entry.label,
                face_fake=self.face_fake[track_id],
                audio_fake=self.audio_fake,
                track_id=track_id,
                num_tracks=len(self.crops),
                frame_indices=crops.frame_indices,
                timestamps_s=np.array([time_of[i] for i in crops.frame_indices.tolist()], np.float32),
                boxes_xyxy=crops.boxes_xyxy,
                det_scores=crops.scores,
                crops_jpeg=crops.jpeg,
                face_frame_share=self.face_frame_share,
                audio=self.audio,
                info=self.video.info,
                config_hash=config_hash,
            )
            for track_id, crops in self.crops.items()
        ]

    def outcome(self, family_id: str, entry: VideoEntry) -> Outcome:
        """``ok`` with the sample count, or ``no_face`` when no track has a crop."""
        found = bool(self.crops)
        return Outcome(
            video_id=entry.video_id,
            filename=entry.filename,
            part=entry.part,
            family_id=family_id,
            label=entry.label,
            status=OutcomeStatus.OK if found else OutcomeStatus.NO_FACE,
            reason=None
            if found
            else f"no face track (a face in {self.face_frame_share:.0%} of sampled frames)",
            num_samples=len(self.crops),
            face_frame_share=self.face_frame_share,
            has_audio=self.audio is not None,
            audio_fake=self.audio_fake,
        )


class VideoAnalyzer:
    """Runs the per-video stages with one config and one detector."""

    def __init__(self, config: Config, detect: DetectFn) -> None:
        self.config = config
        self.detect = detect
        self.config_hash = config.config_hash()
        self.decoder = VideoDecoder(config.decode)
        self.cropper = FaceCropper(config.crops)
        self.audio = LogMelExtractor(config.audio)
        self.labeler = ModalityLabeler(config.labels)

    def setup(self) -> None:
        self.audio.setup()

    def detect_tracks(self, video: DecodedVideo) -> tuple[list[FaceTrack], float]:
        """Detect on downscaled frames, map boxes to source pixels, link them into tracks."""
        faces = self.config.faces
        small, (scale_x, scale_y) = downscale_frames(video.frames, faces.detect_max_side_px)
        raw = self.detect(small)
        if len(raw) != len(small):
            raise ValueError(f"detector returned {len(raw)} results for {len(small)} frames")
        to_source = np.array([scale_x, scale_y, scale_x, scale_y], dtype=np.float32)
        width, height = video.info.width_px, video.info.height_px
        limits = np.array([width, height, width, height], dtype=np.float32)
        detections: Detections = [
            (
                np.clip(np.asarray(b, np.float32).reshape(-1, 4) / to_source, 0, limits),
                np.asarray(s, np.float32),
            )
            for b, s in raw
        ]
        tracks = build_tracks(video.frame_indices, detections, faces)
        return tracks, face_frame_share(detections, faces.min_score)

    def analyze(
        self,
        family_id: str,
        entry: VideoEntry,
        data: bytes,
        reference: Reference | None,
        timings: StageTimings,
        labels_known: bool = True,
    ) -> tuple[list[Sample], Outcome, Reference | None]:
        """Samples and outcome of one video; also its ``Reference`` when it is the family's original.

        Args:
            family_id: the family's id.
            entry: the video's catalog entry.
            data: its bytes.
            reference: the original's tracks, crops and audio (None: detect on this clip, labels unknown).
            timings: accumulates seconds per stage.
            labels_known: False for raw videos without metadata (face_fake / audio_fake become None).
        """
        if not data:
            raise EmptyFileError("the file is empty (0 bytes)")
        with timings("decode"):
            video = self.decoder.decode(data)
        if reference is None:
            with timings("detect"):
                tracks, share = self.detect_tracks(video)
        else:
            tracks, share = reference.tracks, reference.face_frame_share
        with timings("crops"):
            all_crops = [self.cropper.crop_track(video.frames, video.frame_indices, t) for t in tracks]
            crops = {t.track_id: c for t, c in zip(tracks, all_crops, strict=True) if c.jpeg}
        with timings("audio"):
            audio = self.audio.extract(data, video.has_audio)
        with timings("labels"):
            face_fake, audio_fake = self._labels(entry, crops, audio, reference, labels_known)
        findings = Findings(video, crops, share, audio, face_fake, audio_fake)
        samples = findings.samples(family_id, entry, self.config_hash)
        is_original = entry.label == "REAL" and labels_known
        new_reference = Reference(tracks, share, crops, audio) if is_original else None
        return samples, findings.outcome(family_id, entry), new_reference

    def _labels(
        self,
        entry: VideoEntry,
        crops: dict[int, TrackCrops],
        audio: AudioFeatures | None,
        reference: Reference | None,
        labels_known: bool,
    ) -> tuple[dict[int, bool | None], bool | None]:
        if not labels_known:
            return dict.fromkeys(crops, None), None
        if entry.label == "REAL":
            return dict.fromkeys(crops, False), False
        if reference is None:
            return dict.fromkeys(crops, None), None
        face: dict[int, bool | None] = {}
        for track_id, fake in crops.items():
            original = reference.crops.get(track_id)
            face[track_id] = (
                None
                if original is None
                else self.labeler.face_fake(
                    fake.frame_indices, fake.thumbs, original.frame_indices, original.thumbs
                )
            )
        return face, self.labeler.audio_fake(audio, reference.audio)
