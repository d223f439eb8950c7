"""Frames of a video the lake has no crop of (``no_face``), decoded from the source at report time.

The lake keeps no frames of a video where no face was found, so the report goes back to the source the
run record names. When that source is not reachable from where the report runs (another machine's
path, no credentials, a synthetic source), the report says so instead of showing frames.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from dfdc_lake.errors import DfdcLakeError, VideoDecodeError
from dfdc_lake.records import VideoEntry

__all__ = ["SourceFrames", "sample_frames"]


def sample_frames(data: bytes, count: int = 3) -> list[np.ndarray]:
    """``count`` frames spread over the clip (not its first or last), RGB uint8, decoded by ingest's
    decoder at exactly those frame numbers.

    Raises:
        VideoDecodeError: the clip cannot be decoded (reasons as in ingest's decode stage).
    """
    import av

    from dfdc_lake.config import DecodeConfig
    from dfdc_lake.stages.decode import VideoDecoder, probe_streams

    probe = probe_streams(data)
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            total = int(container.streams.video[0].frames) if container.streams.video else 0
    except av.FFmpegError as err:
        raise VideoDecodeError(f"not a readable media container: {err}") from None
    wanted = np.unique(np.linspace(0, max(total - 1, 0), count + 2)[1:-1].round().astype(np.int32))
    decoder = VideoDecoder(DecodeConfig(reference_frames_only=False))
    return list(decoder.decode(data, wanted=wanted if total else None, probe=probe).frames[:count])


@dataclass
class SourceFrames:
    """The run's source, opened once: its catalog maps a file name to the clip's URL."""

    source: str
    entries: dict[tuple[int, str], VideoEntry] = field(default_factory=dict)
    problem: str | None = None

    @classmethod
    def open(cls, source: str | None) -> SourceFrames:
        """The source's catalog, or a ``problem`` saying why the source is not reachable."""
        if not source:
            return cls("", problem="the lake has no run record naming its source")
        from dfdc_lake.source.catalog import load_catalog

        try:
            catalog = load_catalog(source)
        except (DfdcLakeError, OSError, ValueError) as err:
            return cls(source, problem=f"{type(err).__name__}: {str(err).splitlines()[0][:300]}")
        return cls(source, {(entry.part, entry.filename): entry for entry in catalog.entries})

    def frames(self, part: int, filename: str, count: int = 3) -> list[np.ndarray] | str:
        """Frames of one clip, or the reason there are none."""
        if self.problem is not None:
            return f"source not reachable: {self.problem}"
        entry = self.entries.get((part, filename))
        if entry is None:
            return f"{filename} is not in part {part} of the source any more"
        from dfdc_lake.source.storage import read_bytes

        try:
            return sample_frames(read_bytes(entry.url), count)
        except (DfdcLakeError, OSError) as err:
            return f"{type(err).__name__}: {str(err)[:300]}"
