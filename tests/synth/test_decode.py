"""Every good clip decodes with decord as DFDC's do (H.264 yuv420p + AAC 48 kHz); broken ones do not."""

from __future__ import annotations

from pathlib import Path

import av
import decord
import numpy as np
import pytest

from dfdc_lake.synth.truth import ClipTruth


def _path(root: Path, truth: ClipTruth) -> Path:
    return root / f"dfdc_train_part_{truth.part}" / truth.filename


def _good(truth: dict[str, ClipTruth]) -> list[ClipTruth]:
    return [clip for clip in truth.values() if clip.decodable]


def test_decord_reads_every_good_video_with_the_true_geometry(tiny_corpus, tiny_truth):
    for clip in _good(tiny_truth):
        reader = decord.VideoReader(str(_path(tiny_corpus, clip)))
        assert len(reader) == clip.num_frames, clip.filename
        assert reader.get_avg_fps() == pytest.approx(clip.fps, abs=0.01)
        last = reader[len(reader) - 1].asnumpy()
        assert last.shape == (clip.height_px, clip.width_px, 3)
        assert last.std() > 5.0, "a rendered frame, not a blank one"


def test_decord_reads_the_audio_of_every_clip_that_has_it(tiny_corpus, tiny_truth):
    for clip in _good(tiny_truth):
        if not clip.has_audio:
            continue
        audio = decord.AudioReader(str(_path(tiny_corpus, clip)), mono=True)
        channels, samples = audio.shape
        assert channels == 1
        assert audio.duration() == pytest.approx(clip.duration_s, abs=0.1), clip.filename
        assert samples / audio.duration() == pytest.approx(48000, rel=0.01)
        assert np.abs(audio._array).max() > 0.1, "speech, not silence"


def test_streams_are_h264_yuv420p_and_aac_48k_mono(tiny_corpus, tiny_truth):
    for clip in _good(tiny_truth):
        with av.open(str(_path(tiny_corpus, clip))) as container:
            (video,) = container.streams.video
            assert video.codec_context.name == "h264"
            assert video.codec_context.format is not None
            assert video.codec_context.format.name == "yuv420p"
            assert video.average_rate is not None
            assert float(video.average_rate) == pytest.approx(clip.fps, abs=0.01)
            audio = list(container.streams.audio)
            assert len(audio) == (1 if clip.has_audio else 0), clip.filename
            if audio:
                assert audio[0].codec_context.name == "aac"
                assert audio[0].codec_context.sample_rate == 48000
                assert audio[0].codec_context.channels == 1


def test_the_no_audio_clips_have_no_audio_stream(tiny_corpus, tiny_truth):
    silent = [clip for clip in _good(tiny_truth) if "no_audio" in clip.tags]
    assert silent
    for clip in silent:
        with pytest.raises((decord.DECORDError, RuntimeError)):
            decord.AudioReader(str(_path(tiny_corpus, clip)))


def test_broken_files_really_fail_to_decode(tiny_corpus, tiny_truth):
    broken = {clip.broken: clip for clip in tiny_truth.values() if clip.broken}
    assert set(broken) == {"zero_byte", "truncated"}
    zero = _path(tiny_corpus, broken["zero_byte"])
    assert zero.stat().st_size == 0
    truncated = _path(tiny_corpus, broken["truncated"])
    assert truncated.stat().st_size > 1000
    for path in (zero, truncated):
        with pytest.raises((decord.DECORDError, RuntimeError)):
            decord.VideoReader(str(path))
        with pytest.raises(av.error.FFmpegError), av.open(str(path)) as container:
            for _ in container.decode(video=0):
                pass


def test_voice_fakes_show_exactly_the_reals_frames(tiny_corpus, tiny_truth):
    voice = [clip for clip in _good(tiny_truth) if clip.kind == "voice"]
    assert voice
    for clip in voice[:3]:
        real = tiny_truth[f"{clip.family_id}.mp4"]
        picks = [0, clip.num_frames // 2, clip.num_frames - 1]
        fake_frames = decord.VideoReader(str(_path(tiny_corpus, clip))).get_batch(picks).asnumpy()
        real_frames = decord.VideoReader(str(_path(tiny_corpus, real))).get_batch(picks).asnumpy()
        np.testing.assert_array_equal(fake_frames, real_frames)


def test_face_fakes_differ_from_their_real_only_around_the_swapped_face(tiny_corpus, tiny_truth):
    face = [clip for clip in _good(tiny_truth) if clip.kind == "face" and "low_light" not in clip.tags]
    assert face
    for clip in face:
        real = tiny_truth[f"{clip.family_id}.mp4"]
        index = clip.num_frames // 2
        fake_frame = decord.VideoReader(str(_path(tiny_corpus, clip)))[index].asnumpy().astype(np.int16)
        real_frame = decord.VideoReader(str(_path(tiny_corpus, real)))[index].asnumpy().astype(np.int16)
        diff = np.abs(fake_frame - real_frame).max(axis=2)
        x1, y1, x2, y2 = clip.face_boxes_xyxy[clip.swapped_person, index]
        inside = diff[int(y1) : int(y2), int(x1) : int(x2)].mean()
        outside = diff.copy()
        pad = 0.3 * (x2 - x1)
        outside[max(0, int(y1 - pad)) : int(y2 + pad), max(0, int(x1 - pad)) : int(x2 + pad)] = 0
        # Outside the face only the encoder's choices differ (a grey level or two on average).
        assert inside > 8.0, (clip.filename, inside)
        assert outside.mean() < 3.0 and inside > 5 * outside.mean(), (clip.filename, inside, outside.mean())
