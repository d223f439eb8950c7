"""Audio manipulations of a whole track (float32 ``[channels, samples]``): a new voice, a shifted
pitch, a band-limited and compressed (TTS-like) voice. Each keeps the length and the level (RMS)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

__all__ = ["band_limited", "fit_track", "level_matched", "pitch_shifted"]


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0


def level_matched(samples: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``samples`` scaled to ``reference``'s RMS level (peaks kept under full scale)."""
    gain = _rms(reference) / max(_rms(samples), 1e-9)
    peak = float(np.abs(samples).max()) * gain if samples.size else 0.0
    if peak > 0.99:
        gain *= 0.99 / peak
    return (samples * gain).astype(np.float32)


def _resampled(samples: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    if from_hz == to_hz:
        return samples
    from scipy.signal import resample_poly

    ratio = Fraction(to_hz, from_hz).limit_denominator(1000)
    return resample_poly(samples, ratio.numerator, ratio.denominator, axis=-1).astype(np.float32)


def fit_track(samples: np.ndarray, rate_hz: int, like: np.ndarray, like_rate_hz: int) -> np.ndarray:
    """A donor track made to replace ``like``: same rate, channel count and length (looped or cut)."""
    out = _resampled(samples, rate_hz, like_rate_hz).mean(axis=0, keepdims=True)
    channels, length = like.shape
    if out.shape[1] == 0:
        return np.zeros_like(like)
    repeats = -(-length // out.shape[1])
    return np.repeat(np.tile(out, (1, repeats))[:, :length], channels, axis=0).astype(np.float32)


def _stft(signal: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    padded = np.pad(signal, (n_fft, n_fft + hop))
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    return np.fft.rfft(frames * np.hanning(n_fft), axis=1).T  # [bins, frames]


def _istft(spectrum: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    window = np.hanning(n_fft)
    frames = np.fft.irfft(spectrum.T, n=n_fft, axis=1) * window
    length = hop * (len(frames) - 1) + n_fft
    out, norm = np.zeros(length), np.zeros(length)
    for index, frame in enumerate(frames):
        out[index * hop : index * hop + n_fft] += frame
        norm[index * hop : index * hop + n_fft] += window**2
    return out / np.maximum(norm, 1e-3)


def _time_stretched(signal: np.ndarray, stretch: float, n_fft: int = 2048, hop: int = 512) -> np.ndarray:
    """``signal`` made ``stretch`` times longer at the same pitch (phase vocoder)."""
    spectrum = _stft(signal.astype(np.float64), n_fft, hop)
    positions = np.arange(0, spectrum.shape[1] - 1, 1.0 / stretch)
    expected = 2 * np.pi * hop * np.arange(spectrum.shape[0]) / n_fft
    phase = np.angle(spectrum[:, 0])
    out = np.empty((spectrum.shape[0], len(positions)), np.complex128)
    for column, position in enumerate(positions):
        left, frac = int(position), position - int(position)
        magnitude = (1 - frac) * np.abs(spectrum[:, left]) + frac * np.abs(spectrum[:, left + 1])
        out[:, column] = magnitude * np.exp(1j * phase)
        delta = np.angle(spectrum[:, left + 1]) - np.angle(spectrum[:, left]) - expected
        phase = phase + expected + (delta - 2 * np.pi * np.round(delta / (2 * np.pi)))
    return _istft(out, n_fft, hop)[n_fft:]


def pitch_shifted(samples: np.ndarray, rate_hz: int, semitones: float) -> np.ndarray:
    """Pitch (and formants) moved by ``semitones``: phase-vocoder stretch, then resampling back."""
    from scipy.signal import resample_poly

    ratio = Fraction(2 ** (semitones / 12)).limit_denominator(200)
    channels, length = samples.shape
    out = np.zeros_like(samples)
    for channel in range(channels):
        stretched = _time_stretched(samples[channel], float(ratio))
        shifted = resample_poly(stretched, ratio.denominator, ratio.numerator)[:length]
        out[channel, : len(shifted)] = shifted
    return level_matched(out, samples)


def band_limited(
    samples: np.ndarray, rate_hz: int, low_hz: float, high_hz: float, ratio: float
) -> np.ndarray:
    """A TTS-like voice: band-passed to ``[low_hz, high_hz]`` and compressed by ``ratio`` above its RMS."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(6, [low_hz, min(high_hz, 0.45 * rate_hz)], btype="bandpass", fs=rate_hz, output="sos")
    band = sosfiltfilt(sos, samples.astype(np.float64), axis=-1)
    window = max(1, rate_hz // 100)  # a 10 ms level follower
    envelope = np.sqrt(np.convolve(np.square(band).mean(axis=0), np.ones(window) / window, mode="same"))
    threshold = max(_rms(band), 1e-9)
    gain = np.where(envelope > threshold, (envelope / threshold) ** (1.0 / ratio - 1.0), 1.0)
    return level_matched((band * gain).astype(np.float32), samples)
