"""Log-mel spectrogram of a clip's audio, resampled to mono ``sample_rate_hz``.

Column ``j`` of the spectrogram starts at ``j * hop_s`` seconds, so training can cut audio windows
aligned with the crops' ``timestamps_s``. A clip without an audio stream yields ``None`` (``has_audio``
false), which is data, not an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dfdc_lake.config import AudioConfig
from dfdc_lake.records import AudioFeatures
from dfdc_lake.stages.clip import ClipData, open_clip

__all__ = ["TOP_DB", "LogMelExtractor", "MonoResampler"]

log = logging.getLogger(__name__)

TOP_DB = 80.0  # dynamic range kept below each spectrogram's peak
AMIN = 1e-10  # power floor before the log


class MonoResampler:
    """Audio frames in, mono float32 samples at ``rate_hz`` out (only the resampled samples are held)."""

    def __init__(self, rate_hz: int) -> None:
        import av

        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=rate_hz)
        self._chunks: list[np.ndarray] = []

    def add(self, frame: Any) -> None:
        self._chunks += [out.to_ndarray().reshape(-1) for out in self._resampler.resample(frame)]

    def samples(self) -> np.ndarray | None:
        """Flush the resampler; the samples so far, or None when there are none."""
        self.add(None)
        if not self._chunks:
            return None
        samples = np.concatenate(self._chunks).astype(np.float32, copy=False)
        return samples if samples.size else None


@dataclass
class LogMelExtractor:
    """Decodes a clip's audio with PyAV and computes a log-mel spectrogram with torchaudio."""

    config: AudioConfig
    _mel: Any = field(default=None, init=False, repr=False)

    def setup(self) -> None:
        """Build the mel filterbank once."""
        if self._mel is not None:
            return
        import torchaudio

        self._mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=self.config.sample_rate_hz,
            n_fft=self.config.n_fft,
            hop_length=self.config.hop_length,
            n_mels=self.config.n_mels,
            power=2.0,
        )

    def decode(self, data: ClipData) -> np.ndarray | None:
        """Mono float32 samples at ``sample_rate_hz``; None when the clip has no decodable audio.

        Streamed through PyAV's resampler frame by frame, so only the resampled mono samples are held
        (38 MB for 10 minutes at 16 kHz; decoding the whole track first took about 1 GB). Ingest with
        PyAV takes the same samples from its one demux of the clip (``decode.first_pass``).
        """
        import av

        try:
            with av.open(open_clip(data), mode="r") as container:
                if not container.streams.audio:
                    return None
                mono = MonoResampler(self.config.sample_rate_hz)
                for frame in container.decode(container.streams.audio[0]):
                    mono.add(frame)
                return mono.samples()
        except (av.FFmpegError, ValueError) as err:
            log.debug("no decodable audio: %s", str(err).splitlines()[0] if str(err) else type(err).__name__)
            return None

    def features(self, samples: np.ndarray) -> AudioFeatures:
        """The log-mel spectrogram (dB, ``TOP_DB`` below the peak) of mono samples."""
        import torch

        self.setup()
        with torch.no_grad():
            power = self._mel(torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)))
            db = 10.0 * torch.log10(torch.clamp(power, min=AMIN))
            db = torch.maximum(db, db.max() - TOP_DB)
        return AudioFeatures(
            logmel=db.numpy().astype(np.float32),
            sample_rate_hz=self.config.sample_rate_hz,
            hop_s=self.config.hop_length / self.config.sample_rate_hz,
        )

    def extract(self, data: ClipData, has_audio: bool = True) -> AudioFeatures | None:
        """Log-mel features of a clip, or None when it has no (decodable) audio stream.

        Args:
            data: the clip's bytes or local file.
            has_audio: False when a probe already found no audio stream (skips decoding).
        """
        if not has_audio:
            return None
        samples = self.decode(data)
        return None if samples is None else self.features(samples)
