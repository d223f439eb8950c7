"""Decode the sampled frames of a clip from memory or a local file.

The container is probed first with PyAV (headers only), so an empty file, a file without a video
stream, and a file that is not a container at all get distinct reasons; ingest with PyAV probes in
``first_pass``, which also numbers the frames and decodes the audio in the same demux. Frames are then
decoded by the configured backend (``decode.backend``): PyAV, streaming and by default reference frames
only (``decode_pyav``), or decord (every frame decoded, the sampled ones copied out with ``get_batch``).
Either way they come out in segments whose frames fit in ``decode.segment_mb``, so a worker's memory
does not grow with the length of a video.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dfdc_lake.config import DecodeConfig
from dfdc_lake.errors import VideoDecodeError
from dfdc_lake.records import VideoInfo
from dfdc_lake.stages.clip import ClipData, clip_size, open_clip
from dfdc_lake.stages.frames import RgbFrames, SampledFrames, concat_frames

if TYPE_CHECKING:
    from dfdc_lake.stages.audio import MonoResampler
    from dfdc_lake.stages.decode_pyav import PacketIndex

__all__ = [
    "DecodedVideo",
    "EmptyFileError",
    "FirstPass",
    "NoVideoStreamError",
    "StreamProbe",
    "VideoDecoder",
    "first_pass",
    "probe_of",
    "probe_streams",
    "sample_frame_indices",
    "segment_frames_for",
]

log = logging.getLogger(__name__)


class EmptyFileError(VideoDecodeError):
    """The file has zero bytes."""


class NoVideoStreamError(VideoDecodeError):
    """The container opens but holds no video stream."""


@dataclass(frozen=True)
class StreamProbe:
    has_video: bool
    has_audio: bool
    # The first video stream's coded size and average frame rate from the headers (0 when unknown):
    # a fake is cut at its original's frames and boxes only when these match.
    width_px: int = 0
    height_px: int = 0
    fps: float = 0.0

    def lines_up_with(self, other: StreamProbe) -> bool:
        """Same frame size and frame rate (within 0.5%): frame numbers and boxes carry over."""
        same_size = (self.width_px, self.height_px) == (other.width_px, other.height_px)
        return same_size and abs(self.fps - other.fps) <= 0.005 * max(self.fps, other.fps)


@dataclass
class DecodedVideo:
    """The sampled frames of one clip."""

    info: VideoInfo
    frame_indices: np.ndarray  # int32 [T], source frame index of each sampled frame
    pixels: SampledFrames  # the frames as decoded (YUV planes from PyAV, RGB from decord)
    has_audio: bool
    # Presentation time of each sampled frame from the stream's timestamps, float32 [T]. Not
    # frame_index / fps: variable-frame-rate clips exist, and audio windows must line up with faces.
    timestamps_s: np.ndarray

    @property
    def frames(self) -> np.ndarray:
        """All sampled frames as RGB uint8 [T, H, W, 3] (converted on each call from YUV)."""
        return self.pixels.rgb()


def probe_streams(data: ClipData) -> StreamProbe:
    """Which streams the container holds (reads headers only).

    Raises:
        EmptyFileError: ``data`` is empty.
        VideoDecodeError: ``data`` is not a readable media container.
    """
    with _open_container(data) as container:
        return probe_of(container)


def _open_container(data: ClipData) -> Any:
    """A PyAV container of ``data``; EmptyFileError or VideoDecodeError when it is none."""
    if not clip_size(data):
        raise EmptyFileError("the file is empty (0 bytes)")
    import av

    try:
        return av.open(open_clip(data), mode="r")
    except av.FFmpegError as err:
        raise VideoDecodeError(f"not a readable media container: {err}") from None


def probe_of(container: Any) -> StreamProbe:
    """The streams of an open PyAV container, from its headers."""
    videos = container.streams.video
    if not videos:
        return StreamProbe(has_video=False, has_audio=bool(container.streams.audio))
    video = videos[0]
    rate = video.average_rate or video.guessed_rate
    return StreamProbe(
        has_video=True,
        has_audio=bool(container.streams.audio),
        width_px=int(video.codec_context.width or 0),
        height_px=int(video.codec_context.height or 0),
        fps=float(rate) if rate else 0.0,
    )


@dataclass(frozen=True)
class FirstPass:
    """What one demux of a whole clip gives before any frame is decoded."""

    probe: StreamProbe
    index: PacketIndex | None  # None: no video stream
    audio: np.ndarray | None  # mono float32 samples (None: no audio stream, or it did not decode)


def first_pass(data: ClipData, audio_rate_hz: int) -> FirstPass:
    """Probe the streams, number the video frames and decode the audio, in one open and one demux.

    The same as ``probe_streams``, ``index_packets`` and ``LogMelExtractor.decode`` one after the other,
    which opened the clip three times: each open decodes a frame to probe the stream (15-45 ms of CPU
    per 1080p clip), and the audio took its own demux. Measured on the three real sample clips: 79-94
    -> 50-60 ms of CPU per clip, the same samples and frame numbers.

    Raises:
        EmptyFileError: ``data`` is empty.
        VideoDecodeError: not a readable container, or its video packets cannot be demuxed.
    """
    import av

    from dfdc_lake.stages.audio import MonoResampler
    from dfdc_lake.stages.decode_pyav import packet_index, packet_pts

    with _open_container(data) as container:
        probe = probe_of(container)
        if not probe.has_video:
            return FirstPass(probe, None, None)
        video = container.streams.video[0]
        audio = container.streams.audio[0] if probe.has_audio else None
        mono = MonoResampler(audio_rate_hz) if audio is not None else None
        pts_values: list[int] = []
        try:
            for packet in container.demux(*([video] if audio is None else [video, audio])):
                if packet.stream.type == "video":
                    if (pts := packet_pts(packet)) is not None:
                        pts_values.append(pts)
                elif mono is not None:
                    mono = _add_audio(mono, packet)
        except av.FFmpegError as err:
            raise VideoDecodeError(f"demuxing failed: {err}") from None
        samples = _flushed(mono)
        return FirstPass(probe, packet_index(video, pts_values), samples)


def _add_audio(mono: MonoResampler, packet: Any) -> MonoResampler | None:
    """Decode one audio packet into ``mono``; None from now on if the audio does not decode (the video
    goes on: a clip with a broken audio track is still a clip, its audio unknown)."""
    import av

    try:
        for frame in packet.decode():
            mono.add(frame)
    except (av.FFmpegError, ValueError):
        return None
    return mono


def _flushed(mono: MonoResampler | None) -> np.ndarray | None:
    import av

    if mono is None:
        return None
    try:
        return mono.samples()
    except (av.FFmpegError, ValueError):
        return None


def sample_frame_indices(num_frames: int, config: DecodeConfig) -> np.ndarray:
    """Every ``frame_stride``-th frame index from 0, capped at ``max_frames``; int32 [T]."""
    indices = np.arange(0, max(num_frames, 0), config.frame_stride, dtype=np.int32)
    if config.max_frames is not None:
        indices = indices[: config.max_frames]
    return indices


def segment_frames_for(info: VideoInfo, config: DecodeConfig) -> int:
    """Sampled frames per segment: as many RGB frames as fit in ``segment_mb`` (at least one)."""
    frame_bytes = max(1, info.width_px * info.height_px * 3)
    return max(1, (config.segment_mb * 1024 * 1024) // frame_bytes)


@dataclass
class VideoDecoder:
    """Decodes a clip's sampled frames from its bytes, in segments of bounded memory.

    ``config.backend`` picks PyAV (streaming; reference frames only unless told otherwise) or decord
    (every frame, sampled frames copied out).
    """

    config: DecodeConfig

    def decode(
        self, data: ClipData, wanted: np.ndarray | None = None, probe: StreamProbe | None = None
    ) -> DecodedVideo:
        """All sampled frames at once (short clips, tests, ``predict``); see :meth:`segments`."""
        parts = list(self.segments(data, wanted, segment_frames=1 << 30, probe=probe))
        if len(parts) == 1:
            return parts[0]
        first = parts[0]
        return DecodedVideo(
            info=first.info,
            frame_indices=np.concatenate([p.frame_indices for p in parts]),
            pixels=concat_frames([p.pixels for p in parts]),
            has_audio=first.has_audio,
            timestamps_s=np.concatenate([p.timestamps_s for p in parts]),
        )

    def segments(
        self,
        data: ClipData,
        wanted: np.ndarray | None = None,
        segment_frames: int | None = None,
        probe: StreamProbe | None = None,
        index: PacketIndex | None = None,
    ) -> Iterator[DecodedVideo]:
        """Probe the container, then yield the sampled frames segment by segment (at least one).

        Args:
            data: the clip's bytes or local file.
            wanted: exact frame numbers to decode (a fake at its original's frames); None samples every
                ``frame_stride``-th frame (with PyAV and ``reference_frames_only``, the nearest
                reference frame to each).
            segment_frames: sampled frames per segment (default: as many as fit in ``segment_mb``).
            probe: the container's streams when the caller already probed them.
            index: PyAV's frame numbering when the caller took it (``decode.first_pass``).

        Raises:
            EmptyFileError, NoVideoStreamError, VideoDecodeError: the clip cannot be decoded.
        """
        probe = probe or probe_streams(data)
        if not probe.has_video:
            raise NoVideoStreamError("the container holds no video stream")
        if self.config.backend == "decord":
            parts = self._decord(data, wanted, segment_frames)
        else:
            parts = self._pyav(data, wanted, segment_frames, index)
        produced = False
        for info, indices, frames, timestamps in parts:
            if len(frames) != len(indices):
                raise VideoDecodeError(f"{len(frames)} frames decoded for {len(indices)} frame numbers")
            produced = True
            yield DecodedVideo(info, indices, frames, probe.has_audio, timestamps)
        if not produced:
            raise VideoDecodeError("no frame could be decoded")

    def _frames_per_segment(self, info: VideoInfo, segment_frames: int | None) -> int:
        return segment_frames if segment_frames is not None else segment_frames_for(info, self.config)

    def _pyav(
        self,
        data: ClipData,
        wanted: np.ndarray | None,
        segment_frames: int | None,
        index: PacketIndex | None,
    ) -> Iterator[tuple[VideoInfo, np.ndarray, SampledFrames, np.ndarray]]:
        from dfdc_lake.stages.decode_pyav import stream_frames

        info, segments = stream_frames(
            data,
            wanted,
            stride=self.config.frame_stride,
            max_frames=self.config.max_frames,
            reference_only=self.config.reference_frames_only,
            segment_frames=lambda found: self._frames_per_segment(found, segment_frames),
            index=index,
        )
        for indices, frames, timestamps in segments:
            yield info, indices, frames, timestamps

    def _decord(
        self, data: ClipData, wanted: np.ndarray | None, segment_frames: int | None
    ) -> Iterator[tuple[VideoInfo, np.ndarray, SampledFrames, np.ndarray]]:
        import decord

        try:
            reader = decord.VideoReader(open_clip(data), ctx=decord.cpu(0))
            num_frames = len(reader)
            indices = sample_frame_indices(num_frames, self.config) if wanted is None else wanted
            indices = np.asarray(indices, np.int32)[np.asarray(indices) < num_frames]
            if len(indices) == 0:
                raise VideoDecodeError("the video stream has no frames")
            height, width = reader[0].shape[:2]
            info = VideoInfo(float(reader.get_avg_fps()), num_frames, int(width), int(height))
            step = self._frames_per_segment(info, segment_frames)
            for start in range(0, len(indices), step):
                part = indices[start : start + step]
                frames = RgbFrames(reader.get_batch(part.tolist()).asnumpy())
                timestamps = reader.get_frame_timestamp(part.tolist())[:, 0].astype(np.float32)
                yield info, part, frames, timestamps
        except VideoDecodeError:
            raise
        except (decord.DECORDError, RuntimeError, ValueError, UnicodeDecodeError) as err:
            # decord reports corrupt or truncated streams through these; the message is all it gives.
            raise VideoDecodeError(f"decord failed: {type(err).__name__}: {_first_line(err)}") from None


def _first_line(err: BaseException, limit: int = 300) -> str:
    text = str(err).strip().splitlines()
    return text[0][:limit] if text else ""
