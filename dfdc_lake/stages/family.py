"""Turn one DFDC family (a REAL original and its FAKEs) into ``Sample`` records and one ``Outcome`` per video.

Each video is read and decoded once. Faces are detected and tracked on the original only; every fake
reuses the original's tracks (DFDC fakes are pixel-aligned to their original) and is compared with it
at the same frames and boxes to label the manipulated modality. When the original is absent or
unusable, each fake is detected on its own and its modality labels are unknown.

A video that cannot be read, has no video stream or no face becomes an ``Outcome`` with a reason; an
unexpected exception becomes status ``error``. Only ``StorageError`` (storage still failing after
retries) leaves ``process``, so the caller can retry the whole chunk instead of recording an outage as
a property of the data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from dfdc_lake.config import Config
from dfdc_lake.errors import StorageError, VideoDecodeError
from dfdc_lake.records import Family, Outcome, OutcomeStatus, Sample, VideoEntry, video_id_of
from dfdc_lake.source.storage import read_clip
from dfdc_lake.stages.analysis import TIMING_KEYS, Reference, StageTimings, VideoAnalyzer
from dfdc_lake.stages.clip import ClipData
from dfdc_lake.stages.decode import EmptyFileError, NoVideoStreamError
from dfdc_lake.stages.faces import DetectFn

__all__ = ["RAW_VIDEO_PART", "TIMING_KEYS", "FamilyProcessor", "FamilyResult"]

log = logging.getLogger(__name__)

RAW_VIDEO_PART = -1  # ``part`` of videos processed without a DFDC catalog (predict)


@dataclass
class FamilyResult:
    samples: list[Sample]
    outcomes: list[Outcome]
    timings_s: dict[str, float]  # seconds per stage (TIMING_KEYS), summed over the family's videos


def _failure(entry: VideoEntry, family_id: str, status: OutcomeStatus, reason: str) -> Outcome:
    return Outcome(entry.video_id, entry.filename, entry.part, family_id, entry.label, status, reason)


def _decode_status(err: VideoDecodeError) -> OutcomeStatus:
    if isinstance(err, EmptyFileError):
        return OutcomeStatus.EMPTY_FILE
    if isinstance(err, NoVideoStreamError):
        return OutcomeStatus.NO_VIDEO_STREAM
    return OutcomeStatus.DECODE_ERROR


@dataclass
class FamilyProcessor:
    """Processes families with an injectable face detector.

    Args:
        config: the run's configuration.
        detect: a ``DetectFn``. It receives frames already downscaled by the processor (longest side at
            most ``faces.detect_max_side_px``, uint8 ``[T, h, w, 3]``) and returns boxes (and, if it has
            them, MTCNN's five points per face) in the pixels of those frames; the processor maps them
            back to source pixels. ``faces.detect_fn(FaceDetector())``
            builds one in-process; the Ray layer passes a call to a detection actor.
        read: fetches a video by URL: its bytes, or a local file's ``Path`` (``storage.read_clip``: a local
            file is decoded from disk; s3:// objects and zip members are read whole, with retries).
    """

    config: Config
    detect: DetectFn
    read: Callable[[str], ClipData] = read_clip
    analyzer: VideoAnalyzer = field(init=False, repr=False)
    _ready: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        self.analyzer = VideoAnalyzer(self.config, self.detect)

    def setup(self) -> None:
        """Build the heavy stage state (the mel filterbank) once per worker; called on first use."""
        if not self._ready:
            self.analyzer.setup()
            self._ready = True

    def process(self, family: Family, on_video: Callable[[Outcome], None] | None = None) -> FamilyResult:
        """All samples and one outcome per video of ``family`` (original first, then fakes in order).

        ``on_video``, when given, is called with each video's outcome as soon as that video is done
        (progress per video: a DFDC family has up to ~40 clips).

        Raises:
            StorageError: reading kept failing after retries (the chunk should be retried later).
        """
        self.setup()
        timings = StageTimings()
        samples: list[Sample] = []
        outcomes: list[Outcome] = []
        reference: Reference | None = None
        if family.original is not None:
            video_samples, outcome, reference = self._guarded(
                family.family_id, family.original, None, timings
            )
            samples += video_samples
            outcomes.append(outcome)
            if on_video is not None:
                on_video(outcome)
        for fake in family.fakes:
            video_samples, outcome, _ = self._guarded(family.family_id, fake, reference, timings)
            samples += video_samples
            outcomes.append(outcome)
            if on_video is not None:
                on_video(outcome)
        return FamilyResult(samples=samples, outcomes=outcomes, timings_s=dict(timings.seconds))

    def process_video(self, source: str | bytes, video_id: str | None = None) -> tuple[list[Sample], Outcome]:
        """Process one raw video without metadata (for ``predict``), as an original-less clip.

        Faces are detected on the clip itself. ``label`` carries the placeholder ``"REAL"`` and
        ``face_fake`` / ``audio_fake`` are None (unknown); ``part`` is ``RAW_VIDEO_PART``.

        Args:
            source: a URL (local path, s3://, zip member) or the video's bytes.
            video_id: the id to record; defaults to the file name without ``.mp4`` (``"video"`` for bytes).
        """
        self.setup()
        if isinstance(source, bytes):
            vid = video_id or "video"
            entry = VideoEntry(vid, f"{vid}.mp4", RAW_VIDEO_PART, "REAL", None, "<bytes>", len(source))
        else:
            name = source.rstrip("/").rsplit("/", 1)[-1]
            vid = video_id or video_id_of(name)
            entry = VideoEntry(vid, name, RAW_VIDEO_PART, "REAL", None, source, None)
        data = source if isinstance(source, bytes) else None
        samples, outcome, _ = self._guarded(
            entry.video_id, entry, None, StageTimings(), data, labels_known=False
        )
        return samples, outcome

    def _guarded(
        self,
        family_id: str,
        entry: VideoEntry,
        reference: Reference | None,
        timings: StageTimings,
        data: ClipData | None = None,
        labels_known: bool = True,
    ) -> tuple[list[Sample], Outcome, Reference | None]:
        try:
            if data is None:
                with timings("read"):
                    data = self.read(entry.url)
            return self.analyzer.analyze(family_id, entry, data, reference, timings, labels_known)
        except StorageError:
            raise
        except FileNotFoundError as err:
            return [], _failure(entry, family_id, OutcomeStatus.MISSING, f"not found: {err}"), None
        except VideoDecodeError as err:
            return [], _failure(entry, family_id, _decode_status(err), str(err)), None
        except Exception as err:  # a bug or an unforeseen input: recorded, the family goes on
            log.exception("unexpected failure on %s", entry.url)
            reason = f"{type(err).__name__}: {err}"
            return [], _failure(entry, family_id, OutcomeStatus.ERROR, reason), None
