"""Speech-like audio: voiced syllables with a speaker's pitch and vocal-tract formants.

A *script* (syllable timing, vowels, pauses; from the family's seed) says what is said; a *speaker*
(pitch, formant scale; from the identity's name, the same in every corpus) says who says it. A voice
swap keeps the script and changes the speaker, as voice conversion does.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

__all__ = ["Speaker", "converted_voice", "speaker_for", "synthesize_speech"]

_CONTROL_HZ = 200  # formant/pitch/envelope control rate
_MAX_HARMONIC_HZ = 4500.0
# F1, F2, F3 (Hz) of /a/, /e/, /i/, /o/, /u/ for an average adult voice.
_VOWELS = np.array(
    [(730, 1090, 2440), (530, 1840, 2480), (270, 2290, 3010), (570, 840, 2410), (300, 870, 2240)],
    dtype=np.float64,
)
_BANDWIDTHS_HZ = np.array([90.0, 110.0, 170.0])
_FORMANT_GAINS = np.array([1.0, 0.6, 0.3])


@dataclass(frozen=True)
class Speaker:
    """A voice: mean pitch, vocal-tract scale (formants), and how much the pitch wanders."""

    pitch_hz: float
    formant_scale: float
    intonation: float


def speaker_for(identity: str) -> Speaker:
    """The fixed voice of ``identity`` (derived from its name, not from the corpus seed)."""
    rng = np.random.default_rng(zlib.crc32(identity.encode()))
    high = bool(rng.random() < 0.5)
    pitch = rng.uniform(170.0, 250.0) if high else rng.uniform(85.0, 150.0)
    return Speaker(
        pitch_hz=float(pitch),
        formant_scale=float(rng.uniform(1.05, 1.2) if high else rng.uniform(0.85, 1.0)),
        intonation=float(rng.uniform(0.05, 0.15)),
    )


def _script(seed: int, duration_s: float) -> list[tuple[float, float, int, bool]]:
    """Syllables as (start_s, length_s, vowel index, has consonant onset)."""
    rng = np.random.default_rng(seed)
    syllables = []
    time_s = float(rng.uniform(0.05, 0.3))
    while time_s < duration_s:
        for _ in range(int(rng.integers(3, 9))):
            length = float(rng.uniform(0.12, 0.28))
            syllables.append((time_s, length, int(rng.integers(len(_VOWELS))), bool(rng.random() < 0.6)))
            time_s += length + float(rng.uniform(0.0, 0.06))
        time_s += float(rng.uniform(0.25, 0.6))
    return syllables


def _controls(
    syllables: list[tuple[float, float, int, bool]], speaker: Speaker, n_ctrl: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Envelope [n], formants [n, 3] and pitch [n] at the control rate."""
    times = np.arange(n_ctrl) / _CONTROL_HZ
    envelope = np.zeros(n_ctrl)
    formants = np.tile(_VOWELS[0], (n_ctrl, 1))
    accent = np.zeros(n_ctrl)
    for start, length, vowel, _ in syllables:
        inside = (times >= start) & (times < start + length)
        phase = (times[inside] - start) / length
        envelope[inside] = np.sin(np.pi * phase) ** 0.7
        formants[times >= start] = _VOWELS[vowel]
        accent[inside] = np.sin(np.pi * phase) * (0.5 + 0.5 * np.cos(start * 3.1))
    kernel = np.ones(7) / 7.0  # ~35 ms glide between vowels
    formants = np.stack([np.convolve(formants[:, i], kernel, mode="same") for i in range(3)], axis=1)
    formants *= speaker.formant_scale
    drift = np.sin(2 * np.pi * 0.4 * times) * 0.5 + accent
    pitch = speaker.pitch_hz * (1.0 + speaker.intonation * drift)
    return envelope, formants, pitch


def synthesize_speech(script_seed: int, speaker: Speaker, duration_s: float, rate_hz: int) -> np.ndarray:
    """Mono speech-like audio, float32 in [-0.5, 0.5], ``round(duration_s * rate_hz)`` samples."""
    num_samples = round(duration_s * rate_hz)
    n_ctrl = int(np.ceil(duration_s * _CONTROL_HZ)) + 2
    syllables = _script(script_seed, duration_s)
    envelope, formants, pitch = _controls(syllables, speaker, n_ctrl)
    ctrl_times = np.arange(n_ctrl) / _CONTROL_HZ
    times = np.arange(num_samples) / rate_hz
    phase = 2 * np.pi * np.cumsum(np.interp(times, ctrl_times, pitch)) / rate_hz
    signal = np.zeros(num_samples)
    for k in range(1, int(_MAX_HARMONIC_HZ / pitch.min()) + 1):
        freq = k * pitch
        gain = (_FORMANT_GAINS / (1.0 + ((freq[:, None] - formants) / _BANDWIDTHS_HZ) ** 2)).sum(axis=1)
        amp = envelope * gain * (freq < _MAX_HARMONIC_HZ) / k**0.5
        signal += np.interp(times, ctrl_times, amp) * np.sin(k * phase)
    rng = np.random.default_rng(script_seed ^ zlib.crc32(repr(speaker).encode()))
    hiss = np.diff(rng.normal(size=num_samples + 1))
    for start, _length, _vowel, consonant in syllables:
        if consonant:
            lo, hi = int(max(0.0, start - 0.04) * rate_hz), int(start * rate_hz)
            signal[lo:hi] += hiss[lo:hi] * 0.3
    peak = float(np.abs(signal).max())
    return (signal * (0.5 / peak if peak > 0 else 0.0)).astype(np.float32)


# Voice-conversion models of narrowband speech leave no energy above this (the third formant and up).
CONVERTED_VOICE_BAND_HZ = 2500.0


def converted_voice(signal: np.ndarray, rate_hz: int) -> np.ndarray:
    """A swapped voice as a voice-conversion model outputs it: band-limited to CONVERTED_VOICE_BAND_HZ."""
    spectrum = np.fft.rfft(signal.astype(np.float64))
    spectrum[np.fft.rfftfreq(len(signal), 1.0 / rate_hz) > CONVERTED_VOICE_BAND_HZ] = 0.0
    return np.fft.irfft(spectrum, n=len(signal)).astype(np.float32)
