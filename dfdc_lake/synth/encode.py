"""Writing clips as DFDC does: H.264 (yuv420p) in mp4 with an AAC mono 48 kHz track; and breaking them."""

from __future__ import annotations

import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from dfdc_lake.synth.profiles import Profile

__all__ = ["break_file", "rgb_to_yuv420p", "write_mp4"]


# Full-range luma (PIL's ITU-R 601-2 "L") to limited range 16..235.
_LIMITED_LUMA = [16 + (219 * level + 127) // 255 for level in range(256)]


def rgb_to_yuv420p(rgb: np.ndarray | Image.Image) -> np.ndarray:
    """BT.601 limited-range YUV 4:2:0 of an RGB frame, in PyAV's planar layout ``[H * 3 / 2, W]``.

    Integer arithmetic only (PIL's fixed-point luma and box filter, numpy for chroma), so the
    encoder's input is the same on every machine, whatever swscale's CPU-specific paths do.
    """
    image = rgb if isinstance(rgb, Image.Image) else Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    width, height = image.size
    out = np.empty((height * 3 // 2, width), np.uint8)
    flat = out.reshape(-1)
    flat[: height * width] = np.asarray(image.convert("L").point(_LIMITED_LUMA)).reshape(-1)
    half = np.asarray(image.reduce(2), dtype=np.int32)  # mean of each 2x2 block
    red, green, blue = half[..., 0], half[..., 1], half[..., 2]
    quarter = (height // 2) * (width // 2)
    for offset, (kr, kg, kb) in (
        (height * width, (-38, -74, 112)),
        (height * width + quarter, (112, -94, -18)),
    ):
        chroma = red * kr + green * kg + blue * kb
        chroma += 128
        chroma >>= 8
        chroma += 128
        flat[offset : offset + quarter] = chroma.reshape(-1)
    return out


def write_mp4(
    path: Path,
    frames: Iterable[np.ndarray | Image.Image],
    *,
    width_px: int,
    height_px: int,
    fps: Fraction,
    audio: np.ndarray | None,
    profile: Profile,
) -> None:
    """Encode RGB frames (arrays or PIL images) and mono float32 audio, if any, into ``path``, atomically.

    The file appears under its name only once complete (temp name, then rename).
    """
    import av

    temp = path.with_name(f".{path.name}.partial")
    with av.open(str(temp), mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height = width_px, height_px
        video.pix_fmt = "yuv420p"
        video.options = {
            "crf": str(profile.crf),
            "preset": profile.preset,
            "threads": str(profile.encoder_threads),
            # x264's macroblock tree reads uninitialized padding for widths that are not a multiple of
            # 128 (480, 1080, ...): without this the same frames gave different bytes from run to run.
            "x264-params": "mbtree=0",
        }
        sound = None
        if audio is not None:
            sound = container.add_stream("aac", rate=profile.audio_rate_hz, layout="mono")
            sound.bit_rate = profile.audio_bitrate
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb_to_yuv420p(rgb), format="yuv420p")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None and audio is not None:
            samples = av.AudioFrame.from_ndarray(audio.reshape(1, -1), format="fltp", layout="mono")
            samples.sample_rate = profile.audio_rate_hz
            samples.pts = 0
            container.mux(sound.encode(samples))
            container.mux(sound.encode(None))
    os.replace(temp, path)


def break_file(path: Path, how: str) -> None:
    """Break an encoded clip in place: ``zero_byte`` empties it, ``truncated`` keeps its first 40 %.

    The mp4 muxer writes the index (moov) last, so a truncated file has no index and cannot be opened.

    Raises:
        ValueError: ``how`` is not ``zero_byte`` or ``truncated``.
    """
    if how == "zero_byte":
        path.write_bytes(b"")
    elif how == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * 0.4)])
    else:
        raise ValueError(f"unknown way to break a file: {how!r}")
