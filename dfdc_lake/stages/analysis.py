"""One video through the stages: decode, detect and track (or reuse the original's tracks), crop, log-mel,
per-modality labels, and the resulting samples and outcome.

Frames come from the decoder in segments of bounded size (``decode.segment_mb``): each segment is
detected, tracked and cropped before the next is decoded, so memory does not grow with the video's
length. A DFDC clip is one segment. The tracker's open tracks carry over from one segment to the next
(``tracker.TrackLinker``), so a person followed across a segment boundary stays one track, one sample;
each track's crops of the segments are joined in frame order, and a fake is cut at its original's
tracks in each of its segments, which line up with the original's (``Reference.segment_frames``).

Failures raise (``VideoDecodeError`` and friends); ``FamilyProcessor`` turns them into outcomes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from dfdc_lake.config import Config
from dfdc_lake.errors import VideoDecodeError
from dfdc_lake.records import AudioFeatures, FaceTrack, Outcome, OutcomeStatus, Sample, VideoEntry, VideoInfo
from dfdc_lake.stages.audio import LogMelExtractor
from dfdc_lake.stages.clip import ClipData
from dfdc_lake.stages.crops import FaceCropper, TrackCrops, merge_track_crops
from dfdc_lake.stages.decode import (
    DecodedVideo,
    StreamProbe,
    VideoDecoder,
    first_pass,
    probe_streams,
)
from dfdc_lake.stages.decode_pyav import PacketIndex
from dfdc_lake.stages.faces import DetectFn
from dfdc_lake.stages.heap import keep_freed_heap, release_free_memory
from dfdc_lake.stages.labels import AudioVerdict, FaceVerdict, ModalityLabeler
from dfdc_lake.stages.track_finder import TrackFinder
from dfdc_lake.stages.tracker import TrackLinker, joined_tracks

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
    frame_indices: np.ndarray  # int32 [T], the original's sampled frames: a fake is decoded at these
    segment_frames: int  # sampled frames per segment of the original, so the fake's segments align
    probe: StreamProbe  # the original's frame size and rate: a fake that differs does not line up


@dataclass
class Findings:
    """What the stages found in one video, before it becomes samples and an outcome."""

    info: VideoInfo
    time_of: dict[int, float]  # sampled frame index -> presentation time (s)
    crops: dict[int, TrackCrops]  # by track_id; tracks without a crop in this video are left out
    face_frame_share: float
    audio: AudioFeatures | None
    face_verdicts: dict[int, FaceVerdict]  # by track_id
    audio_verdict: AudioVerdict

    def samples(self, family_id: str, entry: VideoEntry, config_hash: str) -> list[Sample]:
        """One ``Sample`` per track with crops."""
        time_of = self.time_of
        return [
            Sample(
                sample_id=f"{entry.video_id}-t{track_id}",
                video_id=entry.video_id,
                filename=entry.filename,
                part=entry.part,
                family_id=family_id,
                original=entry.original,
                label=entry.label,
                face_fake=self.face_verdicts[track_id].label,
                audio_fake=self.audio_verdict.label,
                track_id=track_id,
                num_tracks=len(self.crops),
                frame_indices=crops.frame_indices,
                timestamps_s=np.array([time_of[i] for i in crops.frame_indices.tolist()], np.float32),
                boxes_xyxy=crops.boxes_xyxy,
                det_scores=crops.scores,
                crops_jpeg=crops.jpeg,
                face_frame_share=self.face_frame_share,
                audio=self.audio,
                info=self.info,
                config_hash=config_hash,
                face_diff=self.face_verdicts[track_id].score,
                face_diff_per_frame=self.face_verdicts[track_id].per_frame,
                face_contrast=self.face_verdicts[track_id].contrast,
                audio_diff_db=self.audio_verdict.diff_db,
                face_detail_kept=self.face_verdicts[track_id].detail_kept,
                face_detail_kept_half_res=self.face_verdicts[track_id].detail_kept_half_res,
                **crops.landmark_fields(),
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
            audio_fake=self.audio_verdict.label,
            audio_diff_db=self.audio_verdict.diff_db,
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
        self.finder = TrackFinder(config.faces, detect)

    def setup(self) -> None:
        self.audio.setup()
        keep_freed_heap()  # clip after clip: freed pages are reused, not faulted in again

    def detect_tracks(self, video: DecodedVideo) -> tuple[list[FaceTrack], float]:
        """The video's face tracks and the share of its sampled frames with a face (``TrackFinder``)."""
        return self.finder.find(video)

    def analyze(
        self,
        family_id: str,
        entry: VideoEntry,
        data: ClipData,
        reference: Reference | None,
        timings: StageTimings,
        labels_known: bool = True,
    ) -> tuple[list[Sample], Outcome, Reference | None]:
        """Samples and outcome of one video; also its ``Reference`` when it is the family's original.

        Args:
            family_id: the family's id.
            entry: the video's catalog entry.
            data: its bytes, or its local file (decoded from disk).
            reference: the original's tracks, crops and audio (None: detect on this clip, labels unknown).
            timings: accumulates seconds per stage.
            labels_known: False for raw videos without metadata (face_fake / audio_fake become None).
        """
        # Audio first: its decode buffers are freed before the frames' segments take their memory.
        probe, index, audio = self._first_pass(data, timings)
        release_free_memory()
        # A fake of another size or frame rate than its original (a re-scaled or re-timed copy) cannot
        # be cut at the original's frames and boxes: its faces are found on their own, face unknown.
        aligned = reference is not None and probe.lines_up_with(reference.probe)
        scan = self._scan(data, reference if aligned else None, timings, probe, index)
        if scan.info is None:  # the decoder raises first; kept for the type checker
            raise VideoDecodeError("no frame could be decoded")
        crops = {track_id: merge_track_crops(parts) for track_id, parts in scan.crops.items()}
        with timings("labels"):
            face, voice = self._labels(entry, crops, audio, reference, labels_known, aligned)
        findings = Findings(scan.info, scan.time_of, crops, scan.share, audio, face, voice)
        samples = findings.samples(family_id, entry, self.config_hash)
        new_reference = None
        if entry.label == "REAL" and labels_known:
            indices = np.asarray(sorted(scan.time_of), np.int32)
            new_reference = Reference(
                scan.tracks, scan.share, crops, audio, indices, scan.segment_frames, probe
            )
        return samples, findings.outcome(family_id, entry), new_reference

    def _first_pass(
        self, data: ClipData, timings: StageTimings
    ) -> tuple[StreamProbe, PacketIndex | None, AudioFeatures | None]:
        """The streams, PyAV's frame numbering and the audio features, before any frame is decoded.

        With PyAV one demux of the clip gives all three (``decode.first_pass``); its time counts as
        "decode", the audio's decoding included, and "audio" is the spectrogram. With decord the clip is
        probed and its audio decoded apart, as "audio".

        Raises:
            EmptyFileError, VideoDecodeError: the clip is empty or not a readable container.
        """
        if self.config.decode.backend == "pyav":
            with timings("decode"):
                first = first_pass(data, self.config.audio.sample_rate_hz)
            with timings("audio"):
                audio = None if first.audio is None else self.audio.features(first.audio)
            return first.probe, first.index, audio
        probe = probe_streams(data)  # raises EmptyFileError for an empty file
        with timings("audio"):
            audio = self.audio.extract(data, probe.has_audio)
        return probe, None, audio

    def _scan(
        self,
        data: ClipData,
        reference: Reference | None,
        timings: StageTimings,
        probe: StreamProbe,
        index: PacketIndex | None,
    ) -> _Scan:
        """Decode segment by segment; per segment find (or take the original's) tracks and crop them.

        An original's tracks are linked across its segments (one ``TrackLinker``); each segment's parts
        of them are cropped while its frames are there, and joined under the final ids at the end.
        """
        wanted = None if reference is None else reference.frame_indices
        segment_frames = None if reference is None else reference.segment_frames
        scan = _Scan()
        linker = self.finder.linker() if reference is None else None
        if reference is not None:  # a fake's faces are the original's
            scan.shares = [(reference.face_frame_share, 1)]
        segments = iter(self.decoder.segments(data, wanted, segment_frames, probe, index))
        while True:
            with timings("decode"):
                video = next(segments, None)
            if video is None:
                return scan.finished(linker)
            scan.add_frames(video)
            if linker is not None:
                with timings("detect"):
                    tracks, dropped, share = self.finder.add_segment(linker, video)
                scan.drop(dropped)
                scan.tracks += tracks
                scan.shares.append((share, len(video.frame_indices)))
            else:
                tracks = reference.tracks if reference is not None else []
            with timings("crops"):
                for track in tracks:
                    crop = self.cropper.crop_track(video.pixels, video.frame_indices, track)
                    if crop.jpeg:
                        scan.crops.setdefault(track.track_id, []).append(crop)
            scan.segments += 1
            del video  # the segment's frames are freed before the next segment is decoded
            release_free_memory()

    def _labels(
        self,
        entry: VideoEntry,
        crops: dict[int, TrackCrops],
        audio: AudioFeatures | None,
        reference: Reference | None,
        labels_known: bool,
        aligned: bool,
    ) -> tuple[dict[int, FaceVerdict], AudioVerdict]:
        if not labels_known:
            return dict.fromkeys(crops, FaceVerdict(None)), AudioVerdict(None)
        if entry.label == "REAL":
            return dict.fromkeys(crops, FaceVerdict(False)), AudioVerdict(False)
        if reference is None:
            return dict.fromkeys(crops, FaceVerdict(None)), AudioVerdict(None)
        face = {
            track_id: self.labeler.face(fake, reference.crops.get(track_id) if aligned else None)
            for track_id, fake in crops.items()
        }
        return face, self.labeler.audio(audio, reference.audio)


@dataclass
class _Scan:
    """What the segments of one video added up to."""

    info: VideoInfo | None = None
    has_audio: bool = False
    time_of: dict[int, float] = field(default_factory=dict)
    tracks: list[FaceTrack] = field(default_factory=list)  # an original's: parts, then joined tracks
    crops: dict[int, list[TrackCrops]] = field(default_factory=dict)  # by track_id, per segment
    shares: list[tuple[float, int]] = field(default_factory=list)  # (face share, sampled frames)
    segments: int = 0
    segment_frames: int = 0

    def add_frames(self, video: DecodedVideo) -> None:
        self.info, self.has_audio = video.info, video.has_audio
        self.segment_frames = max(self.segment_frames, len(video.frame_indices))
        self.time_of.update(zip(video.frame_indices.tolist(), video.timestamps_s.tolist(), strict=True))

    def drop(self, track_ids: set[int]) -> None:
        """Forget the parts and crops of tracks the linker dropped (spurious)."""
        if track_ids:
            self.tracks = [t for t in self.tracks if t.track_id not in track_ids]
            for track_id in track_ids:
                self.crops.pop(track_id, None)

    def finished(self, linker: TrackLinker | None) -> _Scan:
        """An original's scan with its tracks joined and renumbered (``linker.finish``); a fake's as it is."""
        if linker is None:
            return self
        final = linker.finish()
        self.tracks = joined_tracks(self.tracks, final)
        kept = sorted((final[track_id], parts) for track_id, parts in self.crops.items() if track_id in final)
        self.crops = dict(kept)
        return self

    @property
    def share(self) -> float:
        frames = sum(n for _, n in self.shares)
        return sum(share * n for share, n in self.shares) / frames if frames else 0.0
