"""A clip to decode: its bytes (an object, a zip member, a clip passed in memory) or a local file.

A local file is decoded from disk: a worker never holds a long local video whole (a 10-minute 1080p
clip is ~200 MB). PyAV and decord read either form through ``open_clip``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

__all__ = ["ClipData", "clip_size", "open_clip"]

ClipData = bytes | Path


def open_clip(clip: ClipData) -> str | BinaryIO:
    """What ``av.open`` and ``decord.VideoReader`` read: a local file's path, or the bytes in a buffer."""
    return str(clip) if isinstance(clip, Path) else io.BytesIO(clip)


def clip_size(clip: ClipData) -> int:
    """The clip's size in bytes."""
    return clip.stat().st_size if isinstance(clip, Path) else len(clip)
