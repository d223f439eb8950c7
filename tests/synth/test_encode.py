"""The encoder's own pieces: colour conversion and breaking files."""

from __future__ import annotations

import av
import numpy as np
import pytest

from dfdc_lake.synth.encode import break_file, rgb_to_yuv420p


def _planes(yuv: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    flat = yuv.reshape(-1)
    quarter = (height // 2) * (width // 2)
    luma = flat[: height * width].reshape(height, width)
    u = flat[height * width : height * width + quarter].reshape(height // 2, width // 2)
    v = flat[height * width + quarter :].reshape(height // 2, width // 2)
    return luma, u, v


@pytest.mark.parametrize(
    ("rgb", "expected"),
    [((0, 0, 0), (16, 128, 128)), ((255, 255, 255), (235, 128, 128)), ((255, 0, 0), (81, 90, 240))],
)
def test_bt601_limited_range_values(rgb, expected):
    frame = np.broadcast_to(np.array(rgb, np.uint8), (270, 480, 3))
    luma, u, v = _planes(rgb_to_yuv420p(frame), 270, 480)
    assert (int(luma[0, 0]), int(u[0, 0]), int(v[0, 0])) == expected
    assert (luma == luma[0, 0]).all() and (u == u[0, 0]).all() and (v == v[0, 0]).all()


def test_conversion_round_trips_through_ffmpeg(tmp_path):
    rng = np.random.default_rng(0)
    smooth = np.kron(rng.integers(0, 256, size=(27, 48, 3)), np.ones((10, 10, 1))).astype(np.uint8)
    frame = av.VideoFrame.from_ndarray(rgb_to_yuv420p(smooth), format="yuv420p")
    back = frame.reformat(format="rgb24").to_ndarray()
    assert np.abs(back.astype(int) - smooth).mean() < 4.0


def test_break_file(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(bytes(range(256)) * 10)
    break_file(path, "truncated")
    assert path.read_bytes() == (bytes(range(256)) * 10)[:1024]
    break_file(path, "zero_byte")
    assert path.stat().st_size == 0
    with pytest.raises(ValueError, match="unknown way"):
        break_file(path, "melted")
