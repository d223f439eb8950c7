"""Clip I/O for the manipulation set with PyAV: YUV 4:2:0 frames in, float audio in, x264 + AAC out.

Frames stay in the decoder's planar YUV 4:2:0 layout (``[H * 3 / 2, W]``, as PyAV's ``to_ndarray``
gives them), so a control re-encodes exactly what the original's decoder produced and a face edit
converts only its face region to RGB and back: every pixel it does not touch goes to the encoder as
decoded, and what differs from the original outside the face is the codec's noise alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from dfdc_lake.errors import VideoDecodeError

__all__ = [
    "ClipInfo",
    "ClipWriter",
    "EncodeSettings",
    "probe",
    "read_audio",
    "read_frames",
    "remux_with_audio",
]


@dataclass(frozen=True)
class ClipInfo:
    """What a derived clip must match: geometry, timing and the audio track's shape."""

    width_px: int
    height_px: int
    num_frames: int
    fps: Fraction
    time_base: Fraction
    audio_rate_hz: int | None  # None: no audio stream
    audio_channels: int
    audio_bitrate: int | None

    @property
    def duration_s(self) -> float:
        return self.num_frames / float(self.fps)

    @property
    def has_audio(self) -> bool:
        return self.audio_rate_hz is not None


@dataclass(frozen=True)
class EncodeSettings:
    """x264 settings of a derived clip (DFDC's fakes: CRF 23; its encoder ran preset medium)."""

    crf: int = 23
    preset: str = "veryfast"
    threads: int = 1


def _open(path: Path) -> Any:
    import av

    try:
        return av.open(str(path))
    except (av.FFmpegError, OSError) as err:
        raise VideoDecodeError(f"{path}: cannot open: {err}") from err


def probe(path: Path) -> ClipInfo:
    """Geometry, frame count (by demuxing, no decoding) and audio shape of the clip at ``path``.

    Raises:
        VideoDecodeError: the file does not open or holds no video frame.
    """
    with _open(path) as container:
        if not container.streams.video:
            raise VideoDecodeError(f"{path}: no video stream")
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        width, height = int(video.codec_context.width), int(video.codec_context.height)
        time_base, rate = video.time_base, video.average_rate
        frames = sum(1 for packet in container.demux(video) if packet.size)
    if frames == 0 or not rate or time_base is None:
        raise VideoDecodeError(f"{path}: the video stream has no frames or no frame rate")
    return ClipInfo(
        width_px=width,
        height_px=height,
        num_frames=frames,
        fps=Fraction(rate),
        time_base=Fraction(time_base),
        audio_rate_hz=int(audio.rate) if audio is not None else None,
        audio_channels=min(2, audio.layout.nb_channels) if audio is not None else 0,
        audio_bitrate=int(audio.bit_rate) if audio is not None and audio.bit_rate else None,
    )


def read_frames(path: Path, max_frames: int | None = None) -> Iterator[tuple[Any, np.ndarray]]:
    """Decode ``path``'s frames in presentation order as ``(av frame, planar yuv420p uint8 copy)``.

    The av frame carries ``pts`` and can be ``reformat``-ted (the ``quarter_res`` control).
    """
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            if max_frames is not None and index >= max_frames:
                return
            if frame.format.name != "yuv420p":
                frame = frame.reformat(format="yuv420p")
            yield frame, frame.to_ndarray()


def read_audio(path: Path, max_samples: int | None = None) -> tuple[np.ndarray, int] | None:
    """The first audio track as float32 ``[channels, samples]`` (mono or stereo) and its rate.

    None when the clip has no audio stream.
    """
    import av

    with _open(path) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        layout = "mono" if stream.layout.nb_channels == 1 else "stereo"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=stream.rate)
        chunks = [out.to_ndarray() for frame in container.decode(stream) for out in resampler.resample(frame)]
        chunks += [out.to_ndarray() for out in resampler.resample(None)]
        rate = int(stream.rate)
    channels = 1 if layout == "mono" else 2
    samples = np.concatenate(chunks, axis=1) if chunks else np.zeros((channels, 0), np.float32)
    if max_samples is not None:
        samples = samples[:, :max_samples]
    return np.ascontiguousarray(samples, dtype=np.float32), rate


def _add_audio_stream(container: Any, rate_hz: int, channels: int, bitrate: int | None) -> Any:
    stream = container.add_stream("aac", rate=rate_hz, layout="mono" if channels == 1 else "stereo")
    stream.bit_rate = bitrate or 64000 * channels
    return stream


def _mux_audio(container: Any, stream: Any, samples: np.ndarray) -> None:
    """Encode a whole track (float32 ``[channels, samples]``) into ``stream`` and flush it."""
    import av

    layout = stream.layout.name
    if samples.shape[0] != stream.layout.nb_channels:
        raise ValueError(f"{samples.shape[0]} audio channels for a {layout} track")
    clipped = np.ascontiguousarray(np.clip(samples, -1.0, 1.0), dtype=np.float32)
    frame = av.AudioFrame.from_ndarray(clipped, format="fltp", layout=layout)
    frame.sample_rate, frame.pts = stream.rate, 0
    container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def remux_with_audio(
    video_from: Path, path: Path, samples: np.ndarray | None, rate_hz: int, bitrate: int | None
) -> None:
    """Write ``path`` with ``video_from``'s video packets as they are and ``samples`` as its AAC track.

    Two derived clips whose frames are the same (a voice swap and the CRF 23 re-encode) share one
    video encode this way. Atomic, as ``ClipWriter``.
    """
    import av

    temp = path.with_name(f".{path.name}.partial")
    try:
        with _open(video_from) as source, av.open(str(temp), mode="w", format="mp4") as target:
            video = target.add_stream_from_template(source.streams.video[0])
            if samples is not None:
                _mux_audio(target, _add_audio_stream(target, rate_hz, samples.shape[0], bitrate), samples)
            for packet in source.demux(source.streams.video[0]):
                if packet.dts is not None:
                    packet.stream = video
                    target.mux(packet)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    os.replace(temp, path)


class ClipWriter:
    """An mp4 being written: libx264 yuv420p video at the source's time base, AAC audio; atomic.

    Use as a context manager; the file appears under its name only when the block ends without error.
    """

    def __init__(
        self,
        path: Path,
        *,
        width_px: int,
        height_px: int,
        fps: Fraction,
        time_base: Fraction,
        settings: EncodeSettings,
        audio_rate_hz: int | None = None,
        audio_channels: int = 1,
        audio_bitrate: int | None = None,
    ) -> None:
        import av

        self.path = path
        self._temp = path.with_name(f".{path.name}.partial")
        self._container = av.open(str(self._temp), mode="w", format="mp4")
        self._video = self._container.add_stream("libx264", rate=fps)
        self._video.width, self._video.height = width_px, height_px
        self._video.pix_fmt = "yuv420p"
        # The source's time base and pts go through unchanged, so frame i shows at the original's time.
        self._video.codec_context.time_base = time_base
        self._video.options = {
            "crf": str(settings.crf),
            "preset": settings.preset,
            "threads": str(settings.threads),
            # Reproducible bytes: x264's macroblock tree reads uninitialized padding (see synth.encode).
            "x264-params": "mbtree=0",
        }
        self._time_base = time_base
        self._audio: Any = None
        if audio_rate_hz is not None:
            self._audio = _add_audio_stream(self._container, audio_rate_hz, audio_channels, audio_bitrate)

    def write_frame(self, planes: np.ndarray, pts: int | None) -> None:
        """Encode one planar yuv420p frame (``[H * 3 / 2, W]`` uint8) shown at ``pts`` (time-base units)."""
        import av

        frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        frame.pts, frame.time_base = pts, self._time_base
        self._container.mux(self._video.encode(frame))

    def write_audio(self, samples: np.ndarray) -> None:
        """Encode the whole audio track: float32 ``[channels, samples]`` at the rate given at opening.

        Raises:
            ValueError: the writer was opened without audio, or the channel count differs.
        """
        if self._audio is None:
            raise ValueError(f"{self.path.name}: opened without an audio track")
        _mux_audio(self._container, self._audio, samples)

    def __enter__(self) -> ClipWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, trace: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                self._container.mux(self._video.encode(None))
        finally:
            self._container.close()
        if kind is None:
            os.replace(self._temp, self.path)
        else:
            self._temp.unlink(missing_ok=True)
