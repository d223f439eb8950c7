"""Sampled frames held as YUV planes: crop windows, detector frames and whole frames as PyAV gives them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dfdc_lake.config import DecodeConfig
from dfdc_lake.stages.decode import VideoDecoder
from dfdc_lake.stages.frames import RgbFrames, Yuv420Frames, concat_frames


def _colour_clip(path: Path, *, pix_fmt: str = "yuv420p", x264_params: str = "", frames: int = 6) -> Path:
    """H.264 of random colour blocks (so chroma differs from pixel to pixel pair), 96x64."""
    import av

    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 96, 64, pix_fmt
        if x264_params:
            stream.options = {"x264-params": x264_params}
        for _ in range(frames):
            blocks = rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)
            image = np.repeat(np.repeat(blocks, 4, axis=0), 4, axis=1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _pyav_rgb(path: Path) -> np.ndarray:
    """Every frame converted whole by PyAV, as before frames were held as YUV."""
    import av

    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


DECODE_ALL = DecodeConfig(frame_stride=1, reference_frames_only=False)


@pytest.mark.parametrize("x264_params", ["", "colormatrix=bt709:range=pc"])
def test_crop_windows_are_the_pixels_of_a_whole_frame_conversion(tmp_path: Path, x264_params: str) -> None:
    clip = _colour_clip(tmp_path / "c.mp4", x264_params=x264_params)
    video = VideoDecoder(DECODE_ALL).decode(clip)
    assert isinstance(video.pixels, Yuv420Frames)
    whole = _pyav_rgb(clip)
    np.testing.assert_array_equal(video.frames, whole)
    # Odd and even edges, the frame's corners, a single pixel: each converted alone, bit for bit.
    for left, top, right, bottom in [
        (0, 0, 96, 64),
        (3, 5, 40, 33),
        (1, 1, 2, 2),
        (57, 30, 96, 64),
        (0, 63, 95, 64),
    ]:
        for position in (0, len(whole) - 1):
            window = video.pixels.window(position, (left, top, right, bottom))
            np.testing.assert_array_equal(window, whole[position, top:bottom, left:right])


def test_colour_flags_change_the_conversion(tmp_path: Path) -> None:
    """The test above would pass without carrying the stream's colour flags if they changed nothing."""
    flagged = VideoDecoder(DECODE_ALL).decode(
        _colour_clip(tmp_path / "c.mp4", x264_params="colormatrix=bt709:range=pc")
    )
    assert isinstance(flagged.pixels, Yuv420Frames)
    unflagged = Yuv420Frames(flagged.pixels.planes)
    assert not np.array_equal(unflagged.rgb(), flagged.frames)


def test_detector_frames_match_an_rgb_area_shrink(tmp_path: Path) -> None:
    video = VideoDecoder(DECODE_ALL).decode(_colour_clip(tmp_path / "c.mp4"))
    positions = np.array([4, 0, 2])
    small, scale = video.pixels.downscaled(positions, 48)
    reference, reference_scale = RgbFrames(video.frames).downscaled(positions, 48)
    assert small.shape == reference.shape == (3, 32, 48, 3) and scale == reference_scale == (0.5, 0.5)
    # Shrunk in YUV rather than RGB: a few levels apart on saturated random colours (0.75 on a real
    # DFDC frame); another frame would be ~80 apart.
    assert np.abs(small.astype(int) - reference.astype(int)).mean() < 6.0
    assert np.abs(small[1:].astype(int) - reference[:-1].astype(int)).mean() > 40
    same, unscaled = video.pixels.downscaled(np.array([1]), 500)  # already fits: converted, not scaled
    np.testing.assert_array_equal(same[0], video.frames[1])
    assert unscaled == (1.0, 1.0)


def test_other_pixel_formats_are_held_as_rgb(tmp_path: Path) -> None:
    clip = _colour_clip(tmp_path / "c.mp4", pix_fmt="yuv444p")
    video = VideoDecoder(DECODE_ALL).decode(clip)
    assert isinstance(video.pixels, RgbFrames)
    np.testing.assert_array_equal(video.frames, _pyav_rgb(clip))


def test_segments_concatenate_and_hold_half_the_bytes_of_rgb(tmp_path: Path) -> None:
    clip = _colour_clip(tmp_path / "c.mp4")
    parts = list(VideoDecoder(DECODE_ALL).segments(clip, segment_frames=4))
    assert [len(p.pixels) for p in parts] == [4, 2]
    joined = concat_frames([p.pixels for p in parts])
    assert isinstance(joined, Yuv420Frames)
    assert joined.nbytes * 2 == joined.rgb().nbytes
    np.testing.assert_array_equal(joined.rgb(), _pyav_rgb(clip))
    mixed = concat_frames([parts[0].pixels, RgbFrames(parts[1].frames)])
    assert isinstance(mixed, RgbFrames)
    np.testing.assert_array_equal(mixed.rgb(), joined.rgb())


def test_bad_layouts_are_refused() -> None:
    with pytest.raises(ValueError, match="yuv420p planes"):
        Yuv420Frames(np.zeros((1, 64, 96), np.uint8))  # 64 rows is not 3/2 of an even height
    with pytest.raises(ValueError, match="uint8"):
        RgbFrames(np.zeros((1, 8, 8), np.uint8))
