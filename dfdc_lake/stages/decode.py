"""Decode the sampled frames of a clip from memory.

The container is probed first with PyAV (headers only), so an empty file, a file without a video
stream, and a file that is not a container at all get distinct reasons instead of decord's opaque
errors. Frames are then decoded with decord, and only the sampled ones (every ``frame_stride``-th) are
colour-converted and copied out (``get_batch``).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import numpy as np

from dfdc_lake.config import DecodeConfig
from dfdc_lake.errors import VideoDecodeError
from dfdc_lake.records import VideoInfo

__all__ = [
    "DecodedVideo",
    "EmptyFileError",
    "NoVideoStreamError",
    "StreamProbe",
    "VideoDecoder",
    "probe_streams",
    "sample_frame_indices",
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


@dataclass
class DecodedVideo:
    """The sampled frames of one clip."""

    info: VideoInfo
    frame_indices: np.ndarray  # int32 [T], source frame index of each sampled frame
    frames: np.ndarray  # uint8 [T, H, W, 3] RGB
    has_audio: bool
    # Presentation time of each sampled frame from the stream's timestamps, float32 [T]. Not
    # frame_index / fps: variable-frame-rate clips exist, and audio windows must line up with faces.
    timestamps_s: np.ndarray


def probe_streams(data: bytes) -> StreamProbe:
    """Which streams the container holds (reads headers only).

    Raises:
        EmptyFileError: ``data`` is empty.
        VideoDecodeError: ``data`` is not a readable media container.
    """
    if not data:
        raise EmptyFileError("the file is empty (0 bytes)")
    import av

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            return StreamProbe(
                has_video=bool(container.streams.video), has_audio=bool(container.streams.audio)
            )
    except av.FFmpegError as err:
        raise VideoDecodeError(f"not a readable media container: {err}") from None


def sample_frame_indices(num_frames: int, config: DecodeConfig) -> np.ndarray:
    """Every ``frame_stride``-th frame index from 0, capped at ``max_frames``; int32 [T]."""
    indices = np.arange(0, max(num_frames, 0), config.frame_stride, dtype=np.int32)
    if config.max_frames is not None:
        indices = indices[: config.max_frames]
    return indices


@dataclass
class VideoDecoder:
    """Decodes a clip's sampled frames from its bytes."""

    config: DecodeConfig

    def decode(self, data: bytes) -> DecodedVideo:
        """Probe the container, then decode the sampled frames.

        Raises:
            EmptyFileError, NoVideoStreamError, VideoDecodeError: the clip cannot be decoded.
        """
        probe = probe_streams(data)
        if not probe.has_video:
            raise NoVideoStreamError("the container holds no video stream")
        import decord

        try:
            reader = decord.VideoReader(io.BytesIO(data), ctx=decord.cpu(0))
            num_frames = len(reader)
            fps = float(reader.get_avg_fps())
            indices = sample_frame_indices(num_frames, self.config)
            if len(indices) == 0:
                raise VideoDecodeError("the video stream has no frames")
            frames = reader.get_batch(indices.tolist()).asnumpy()
            timestamps = reader.get_frame_timestamp(indices.tolist())[:, 0].astype(np.float32)
        except VideoDecodeError:
            raise
        except (decord.DECORDError, RuntimeError, ValueError, UnicodeDecodeError) as err:
            # decord reports corrupt or truncated streams through these; the message is all it gives.
            raise VideoDecodeError(f"decord failed: {type(err).__name__}: {_first_line(err)}") from None
        if frames.ndim != 4 or frames.shape[0] != len(indices) or frames.shape[-1] != 3:
            raise VideoDecodeError(f"decoded frames have unexpected shape {frames.shape}")
        height, width = int(frames.shape[1]), int(frames.shape[2])
        info = VideoInfo(fps=fps, num_frames=num_frames, width_px=width, height_px=height)
        return DecodedVideo(
            info=info,
            frame_indices=indices,
            frames=frames,
            has_audio=probe.has_audio,
            timestamps_s=timestamps,
        )


def _first_line(err: BaseException, limit: int = 300) -> str:
    text = str(err).strip().splitlines()
    return text[0][:limit] if text else ""
