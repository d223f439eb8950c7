"""Decoding: sampled frames only, stream info, and distinct failures for unusable files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dfdc_lake.config import AudioConfig, DecodeConfig
from dfdc_lake.errors import VideoDecodeError
from dfdc_lake.stages.audio import LogMelExtractor
from dfdc_lake.stages.decode import (
    EmptyFileError,
    NoVideoStreamError,
    VideoDecoder,
    probe_streams,
    sample_frame_indices,
)
from tests.stages.clips import write_clip


def test_sampled_frames_and_info(tmp_path: Path) -> None:
    data = write_clip(tmp_path / "c.mp4", num_frames=25, fps=12).read_bytes()
    video = VideoDecoder(DecodeConfig(frame_stride=10)).decode(data)
    assert (video.info.num_frames, video.info.width_px, video.info.height_px) == (25, 160, 120)
    assert video.info.fps == pytest.approx(12.0)
    np.testing.assert_array_equal(video.frame_indices, [0, 10, 20])
    assert video.frames.shape == (3, 120, 160, 3) and video.frames.dtype == np.uint8
    np.testing.assert_allclose(video.timestamps_s, [0, 10 / 12, 20 / 12], rtol=1e-6)
    assert video.has_audio


def test_frame_sampling_respects_stride_and_cap() -> None:
    np.testing.assert_array_equal(sample_frame_indices(300, DecodeConfig()), np.arange(0, 300, 10))
    np.testing.assert_array_equal(sample_frame_indices(7, DecodeConfig(frame_stride=3, max_frames=2)), [0, 3])


def test_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    data = write_clip(tmp_path / "a.mp4", video=False).read_bytes()
    assert probe_streams(data).has_audio and not probe_streams(data).has_video
    with pytest.raises(NoVideoStreamError):
        VideoDecoder(DecodeConfig()).decode(data)


def test_empty_and_garbage_bytes(tmp_path: Path) -> None:
    with pytest.raises(EmptyFileError):
        VideoDecoder(DecodeConfig()).decode(b"")
    with pytest.raises(VideoDecodeError):
        VideoDecoder(DecodeConfig()).decode(b"\x00\x01 not a container" * 100)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_truncated_file_is_a_decode_error(tmp_path: Path, keep: float) -> None:
    data = write_clip(tmp_path / "c.mp4", num_frames=48).read_bytes()
    with pytest.raises(VideoDecodeError):
        VideoDecoder(DecodeConfig(frame_stride=1)).decode(data[: int(len(data) * keep)])


def test_log_mel_shape_and_hop(tmp_path: Path) -> None:
    config = AudioConfig()
    data = write_clip(tmp_path / "c.mp4", num_frames=24, fps=12).read_bytes()
    features = LogMelExtractor(config).extract(data)
    assert features is not None
    assert features.logmel.shape[0] == config.n_mels and features.logmel.dtype == np.float32
    assert features.hop_s == pytest.approx(0.01)
    assert features.logmel.shape[1] * features.hop_s == pytest.approx(2.0, abs=0.1)
    # A 440 Hz tone: the loudest band is the one holding 440 Hz, not the top or bottom band.
    loudest = int(features.logmel.mean(axis=1).argmax())
    assert 0 < loudest < config.n_mels // 2
    silent = write_clip(tmp_path / "s.mp4", audio=False).read_bytes()
    assert LogMelExtractor(config).extract(silent) is None
