"""Write small real H.264/AAC clips with PyAV for the cases the synthetic corpus does not cover
(an audio-only file) and for quick decoder checks."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

__all__ = ["reencode", "write_clip"]


def write_clip(
    path: Path,
    *,
    width_px: int = 160,
    height_px: int = 120,
    num_frames: int = 24,
    fps: int = 12,
    video: bool = True,
    audio: bool = True,
    tone_hz: float = 440.0,
    b_frames: int = 0,
) -> Path:
    """An mp4 with a moving gradient (H.264) and/or a sine tone (AAC, 48 kHz mono).

    ``b_frames``: that many non-reference B-frames between every two reference frames (x264 would
    otherwise choose none for this gradient).
    """
    import av

    with av.open(str(path), "w", format="mp4") as container:
        if video:
            vstream = container.add_stream("libx264", rate=fps)
            vstream.width, vstream.height, vstream.pix_fmt = width_px, height_px, "yuv420p"
            if b_frames:
                vstream.options = {"x264-params": f"bframes={b_frames}:b-adapt=0:b-pyramid=none"}
        if audio:
            astream = container.add_stream("aac", rate=48000)
            astream.layout = "mono"
        if video:
            ramp = np.linspace(0, 255, width_px, dtype=np.float32)[None, :, None]
            for i in range(num_frames):
                frame = np.broadcast_to((ramp + 8 * i) % 256, (height_px, width_px, 3)).astype(np.uint8)
                if b_frames:  # x264 puts no B-frames into a gradient alone, nor between frames without pts
                    frame = frame.copy()
                    left = (2 * i) % max(1, width_px - height_px // 4)
                    frame[height_px // 3 : height_px // 3 + height_px // 4, left : left + height_px // 4] = (
                        200
                    )
                picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
                if b_frames:
                    picture.pts = i
                for packet in vstream.encode(picture):
                    container.mux(packet)
            for packet in vstream.encode():
                container.mux(packet)
        if audio:
            t = np.arange(int(48000 * num_frames / fps)) / 48000
            samples = (0.3 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)
            for start in range(0, len(samples), 1024):
                frame = av.AudioFrame.from_ndarray(
                    samples[None, start : start + 1024], format="flt", layout="mono"
                )
                frame.sample_rate = 48000
                frame.time_base = Fraction(1, 48000)
                frame.pts = start
                for packet in astream.encode(frame):
                    container.mux(packet)
            for packet in astream.encode():
                container.mux(packet)
    return path


def reencode(source: Path, target: Path, *, crf: int, audio_bitrate: int, half_size: bool = False) -> Path:
    """Decode a clip and encode it again (H.264 at ``crf``, AAC at ``audio_bitrate``), keeping its timing.

    This is what separates a DFDC fake from its original when nothing was swapped: codec noise.
    ``half_size`` halves the width and height too (the competition's test-set augmentation).
    """
    import av

    with av.open(str(source)) as video_in, av.open(str(source)) as audio_in, av.open(str(target), "w") as out:
        vin = video_in.streams.video[0]
        vout = out.add_stream("libx264", rate=vin.average_rate)
        scale = 2 if half_size else 1
        # yuv420p wants even sides
        width, height = vin.width // scale // 2 * 2, vin.height // scale // 2 * 2
        vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
        vout.time_base = vin.time_base
        vout.options = {"crf": str(crf), "preset": "medium"}
        aout = None
        if audio_in.streams.audio:
            aout = out.add_stream("aac", rate=48000, layout="mono")
            aout.bit_rate = audio_bitrate
        for frame in video_in.decode(video=0):
            if half_size:
                pts, time_base = frame.pts, frame.time_base
                frame = frame.reformat(width=vout.width, height=vout.height)
                frame.pts, frame.time_base = pts, time_base
            out.mux(vout.encode(frame))
        out.mux(vout.encode(None))
        if aout is not None:
            for sound in audio_in.decode(audio=0):
                sound.pts = None
                out.mux(aout.encode(sound))
            out.mux(aout.encode(None))
    return target
