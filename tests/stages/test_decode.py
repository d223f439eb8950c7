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


@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_both_backends_sample_the_same_frames(tmp_path: Path, backend: str) -> None:
    data = write_clip(tmp_path / "c.mp4", num_frames=25, fps=12).read_bytes()
    config = DecodeConfig(frame_stride=10, backend=backend, reference_frames_only=False)
    video = VideoDecoder(config).decode(data)
    reference = VideoDecoder(DecodeConfig(frame_stride=10, backend="decord")).decode(data)
    np.testing.assert_array_equal(video.frame_indices, [0, 10, 20])
    np.testing.assert_allclose(video.timestamps_s, reference.timestamps_s, atol=1e-6)
    assert video.info == reference.info
    # Both convert BT.601 limited-range YUV to RGB; their rounding may differ by a level or two.
    assert np.abs(video.frames.astype(int) - reference.frames.astype(int)).max() <= 3


def test_reference_frames_only_takes_the_nearest_decoded_frame(tmp_path: Path) -> None:
    data = write_clip(tmp_path / "c.mp4", num_frames=60, fps=12, b_frames=2).read_bytes()
    nonref = VideoDecoder(DecodeConfig(frame_stride=5)).decode(data)
    every = VideoDecoder(DecodeConfig(frame_stride=1, reference_frames_only=False)).decode(data)
    targets = np.arange(0, 60, 5)
    assert len(nonref.frame_indices) >= len(targets) - 2  # two targets may share their nearest frame
    assert np.all(np.diff(nonref.frame_indices) > 0)
    nearest = np.abs(nonref.frame_indices[:, None] - targets[None, :]).min(axis=1)
    assert nearest.max() <= 2, nonref.frame_indices
    assert set(nonref.frame_indices.tolist()) != set(targets.tolist())  # B-frames were not decoded
    # each sampled frame is exactly the frame of that number, with its own timestamp
    np.testing.assert_array_equal(nonref.frames, every.frames[nonref.frame_indices])
    np.testing.assert_allclose(nonref.timestamps_s, every.timestamps_s[nonref.frame_indices])


def test_wanted_frames_are_decoded_exactly(tmp_path: Path) -> None:
    data = write_clip(tmp_path / "c.mp4", num_frames=40, fps=12, b_frames=2).read_bytes()
    wanted = np.array([1, 7, 13, 33], np.int32)
    video = VideoDecoder(DecodeConfig()).decode(data, wanted=wanted)
    np.testing.assert_array_equal(video.frame_indices, wanted)
    every = VideoDecoder(DecodeConfig(frame_stride=1, reference_frames_only=False)).decode(data)
    np.testing.assert_array_equal(video.frames, every.frames[wanted])  # bit for bit
    np.testing.assert_allclose(video.timestamps_s, every.timestamps_s[wanted])


def test_frames_neither_wanted_nor_referenced_are_not_decoded(tmp_path: Path) -> None:
    import io

    import av

    from dfdc_lake.stages.decode_pyav import _decoded, index_packets

    data = write_clip(tmp_path / "c.mp4", num_frames=40, fps=12, b_frames=3).read_bytes()
    with av.open(io.BytesIO(data)) as container:
        index = index_packets(container, container.streams.video[0])
    counts = {}
    for name, wanted in (("all", None), ("sparse", {1, 7, 13, 33})):
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "NONE"  # as stream_frames decodes
            ranks = [index.rank_of_pts[int(f.pts)] for f in _decoded(container, stream, index, wanted)]
        counts[name] = len(ranks)
        assert wanted is None or wanted <= set(ranks)
    assert counts["all"] == 40
    assert counts["sparse"] <= 40 - 20  # 30 of its frames are B-frames, 26 of them not wanted


@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_segments_bound_the_frames_held_and_add_up_to_the_whole(tmp_path: Path, backend: str) -> None:
    data = write_clip(tmp_path / "c.mp4", num_frames=48, fps=12).read_bytes()
    decoder = VideoDecoder(DecodeConfig(frame_stride=2, backend=backend))
    whole = decoder.decode(data)
    parts = list(decoder.segments(data, segment_frames=5))
    assert [len(p.frame_indices) for p in parts] == [5] * (len(whole.frame_indices) // 5) + (
        [len(whole.frame_indices) % 5] if len(whole.frame_indices) % 5 else []
    )
    np.testing.assert_array_equal(np.concatenate([p.frame_indices for p in parts]), whole.frame_indices)
    np.testing.assert_array_equal(np.concatenate([p.frames for p in parts]), whole.frames)


def test_segment_size_follows_segment_mb() -> None:
    from dfdc_lake.records import VideoInfo
    from dfdc_lake.stages.decode import segment_frames_for

    full_hd = VideoInfo(fps=29.97, num_frames=18000, width_px=1920, height_px=1080)
    assert segment_frames_for(full_hd, DecodeConfig(segment_mb=256)) == 43  # 43 x 5.9 MiB
    assert segment_frames_for(full_hd, DecodeConfig(segment_mb=16)) == 2


def _counting_opens(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Count ``av.open`` calls from now on."""
    import av

    opened: list[object] = []
    real_open = av.open

    def counted(*args: object, **kwargs: object) -> object:
        opened.append(args[0])
        return real_open(*args, **kwargs)

    monkeypatch.setattr(av, "open", counted)
    return opened


def test_first_pass_is_the_probe_the_frame_numbers_and_the_audio_in_one_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    import av

    from dfdc_lake.stages.decode import first_pass
    from dfdc_lake.stages.decode_pyav import index_packets

    data = write_clip(tmp_path / "c.mp4", num_frames=30, fps=12, b_frames=2).read_bytes()
    opened = _counting_opens(monkeypatch)
    first = first_pass(data, AudioConfig().sample_rate_hz)
    assert len(opened) == 1
    monkeypatch.undo()
    assert first.probe == probe_streams(data)
    with av.open(io.BytesIO(data)) as container:
        index = index_packets(container, container.streams.video[0])
    assert first.index is not None and first.index.info == index.info
    np.testing.assert_array_equal(first.index.pts_sorted, index.pts_sorted)
    assert first.index.rank_of_pts == index.rank_of_pts
    samples = LogMelExtractor(AudioConfig()).decode(data)
    assert first.audio is not None and samples is not None and len(samples) > 16_000
    np.testing.assert_array_equal(first.audio, samples)  # the same samples, bit for bit

    silent = first_pass(write_clip(tmp_path / "s.mp4", audio=False).read_bytes(), 16_000)
    assert silent.audio is None and silent.index is not None and not silent.probe.has_audio
    sound_only = first_pass(write_clip(tmp_path / "a.mp4", video=False).read_bytes(), 16_000)
    assert sound_only.index is None and not sound_only.probe.has_video
    with pytest.raises(EmptyFileError):
        first_pass(b"", 16_000)
    with pytest.raises(VideoDecodeError):
        first_pass(b"\x00\x01 not a container" * 100, 16_000)


@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_a_clip_is_opened_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    """PyAV: the first pass, then the frames (it was four opens: probe, audio, frame numbers, frames).
    decord: PyAV probes and decodes the audio, and decord opens the clip for the frames."""
    from dfdc_lake.config import Config
    from dfdc_lake.stages.family import FamilyProcessor

    path = write_clip(tmp_path / "c.mp4", num_frames=30, fps=12)
    config = Config().with_overrides([f"decode.backend={backend}"])

    def no_faces(frames: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)) for _ in frames]

    processor = FamilyProcessor(config=config, detect=no_faces)
    processor.setup()
    opened = _counting_opens(monkeypatch)
    _, outcome = processor.process_video(str(path))
    assert outcome.status.value == "no_face"
    assert len(opened) == 2


@pytest.mark.parametrize("wanted", [None, np.array([1, 7, 13], np.int32)])
def test_decoding_stops_after_the_last_sampled_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wanted: np.ndarray | None
) -> None:
    from dfdc_lake.stages import decode_pyav

    data = write_clip(tmp_path / "c.mp4", num_frames=60, fps=12, b_frames=2).read_bytes()
    whole = VideoDecoder(DecodeConfig(frame_stride=1, reference_frames_only=False)).decode(data)
    decoded: list[int] = []
    real_decoded = decode_pyav._decoded

    def counted(*args: object) -> object:
        for frame in real_decoded(*args):  # type: ignore[arg-type]
            decoded.append(int(frame.pts))
            yield frame

    monkeypatch.setattr(decode_pyav, "_decoded", counted)
    video = VideoDecoder(DecodeConfig(frame_stride=10, max_frames=2)).decode(data, wanted=wanted)
    last = int(video.frame_indices[-1])
    assert last <= 13
    assert len(decoded) <= last + 4  # the decoder's reordering delay, not the other ~45 frames
    np.testing.assert_array_equal(video.frames, whole.frames[video.frame_indices])


def test_free_memory_is_given_back_only_above_the_budget() -> None:
    from dfdc_lake.stages.heap import keep_freed_heap, release_free_memory, resident_bytes

    keep_freed_heap()
    resident = resident_bytes()
    assert resident is not None and resident > 10 << 20  # this Python with numpy holds > 10 MB
    assert not release_free_memory(above_bytes=resident + (1 << 30))
    assert release_free_memory(above_bytes=0)
