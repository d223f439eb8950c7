"""Speech-like audio: a pitch per speaker, syllable-rate rhythm, and the right voice in every clip."""

from __future__ import annotations

from pathlib import Path

import decord
import numpy as np

from dfdc_lake.synth.truth import ClipTruth
from dfdc_lake.synth.voice import speaker_for, synthesize_speech

RATE_HZ = 48000


def _median_pitch_hz(audio: np.ndarray, rate_hz: int = RATE_HZ) -> float:
    """Median autocorrelation pitch over the loud 40 ms windows (search 70-320 Hz)."""
    window = int(0.04 * rate_hz)
    level = np.abs(audio).max()
    pitches = []
    for start in range(0, len(audio) - window, window):
        chunk = audio[start : start + window]
        if np.abs(chunk).max() < 0.3 * level:
            continue
        chunk = chunk - chunk.mean()
        corr = np.correlate(chunk, chunk, mode="full")[window - 1 :]
        low, high = int(rate_hz / 320), int(rate_hz / 70)
        pitches.append(rate_hz / (low + int(np.argmax(corr[low:high]))))
    return float(np.median(pitches))


def test_speech_is_deterministic_and_carries_the_speakers_pitch():
    for identity in ("astronaut", "lfw001", "lfw020", "lfw048"):
        speaker = speaker_for(identity)
        audio = synthesize_speech(11, speaker, 2.0, RATE_HZ)
        assert audio.dtype == np.float32 and audio.shape == (2 * RATE_HZ,)
        assert 0.45 < np.abs(audio).max() <= 0.5
        np.testing.assert_array_equal(audio, synthesize_speech(11, speaker, 2.0, RATE_HZ))
        pitch = _median_pitch_hz(audio)
        assert abs(pitch / speaker.pitch_hz - 1.0) < 0.2, (identity, pitch, speaker.pitch_hz)


def test_speech_comes_in_syllables():
    audio = synthesize_speech(3, speaker_for("lfw003"), 6.0, RATE_HZ)
    hop = RATE_HZ // 100
    envelope = np.sqrt(np.mean(audio[: len(audio) // hop * hop].reshape(-1, hop) ** 2, axis=1))
    spectrum = np.abs(np.fft.rfft(envelope - envelope.mean()))
    freqs = np.fft.rfftfreq(len(envelope), d=0.01)
    fast = freqs > 1.5  # below: the rhythm of phrases and pauses
    assert 2.0 <= freqs[fast][np.argmax(spectrum[fast])] <= 8.0, "amplitude modulated at a syllable rate"
    assert (envelope < 0.05 * envelope.max()).mean() > 0.1, "pauses between words and phrases"


def _audio(root: Path, clip: ClipTruth) -> np.ndarray:
    path = root / f"dfdc_train_part_{clip.part}" / clip.filename
    return decord.AudioReader(str(path), mono=True)._array[0]


def test_each_clip_speaks_with_its_recorded_voice(tiny_corpus, tiny_truth):
    checked = 0
    for clip in tiny_truth.values():
        if not (clip.decodable and clip.has_audio and clip.label == "FAKE" and clip.tags == ()):
            continue
        real = tiny_truth[f"{clip.family_id}.mp4"]
        fake_audio, real_audio = _audio(tiny_corpus, clip), _audio(tiny_corpus, real)
        if clip.kind == "face":
            np.testing.assert_array_equal(fake_audio, real_audio)
        else:
            assert clip.audio_identity != real.audio_identity
            assert np.abs(fake_audio - real_audio).mean() > 0.01
        assert clip.audio_identity is not None
        pitch = _median_pitch_hz(fake_audio)
        assert abs(pitch / speaker_for(clip.audio_identity).pitch_hz - 1.0) < 0.2, (clip.filename, pitch)
        checked += 1
    assert checked >= 9
