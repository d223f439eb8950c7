"""Score raw videos with a trained checkpoint: the ingest stages on one clip, then the detector.

Every video gets a probability and a ``mode`` saying what it rests on:
- ``faces+audio`` / ``faces``: the detector on the clip's face tracks (video P(fake) = max over tracks,
  or the DFDC winner's confident strategy over the crops' scores: ``aggregation``);
- ``audio_only``: no face was found but the audio decoded; the fused head runs with the face stream
  hidden (training hid it for a share of samples, so this is a trained path);
- ``prior``: nothing usable (broken file, no face and no audio): the fake rate scored for.
The probability is re-calibrated to ``fake_rate`` (default: the training fake rate) and clipped, as
DFDC's log loss punishes confident mistakes without bound.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dfdc_lake.config import Config
from dfdc_lake.lake.schema import sample_to_row
from dfdc_lake.source.storage import read_clip
from dfdc_lake.train.inference.checkpoint import LoadedCheckpoint
from dfdc_lake.train.inputs.features import decode_rows, spectrogram_window
from dfdc_lake.train.model.aggregation import AGGREGATIONS, confident_strategy
from dfdc_lake.train.model.metrics import shift_logits, sigmoid

__all__ = ["VideoPrediction", "VideoScorer"]

log = logging.getLogger(__name__)


@dataclass
class VideoPrediction:
    """One row of the submission, with how it was obtained."""

    filename: str
    label: float  # P(fake), clipped
    mode: str  # faces+audio | faces | audio_only | prior
    status: str  # the ingest outcome status (ok, no_face, decode_error, ...)
    reason: str | None = None
    num_tracks: int = 0


@dataclass
class VideoScorer:
    """Stage: raw video -> ``VideoPrediction``. ``setup()`` loads MTCNN and the stages once."""

    checkpoint: LoadedCheckpoint
    config: Config  # the ingest config of the lake (same processing as training saw)
    fake_rate: float | None = None  # None: the training fake rate
    clip: float = 0.01
    aggregation: str | None = None  # max | confident; None: what the run validated with
    _processor: Any = field(default=None, init=False, repr=False)
    _audio: Any = field(default=None, init=False, repr=False)

    def setup(self) -> None:
        if self._processor is not None:
            return
        from dfdc_lake.stages.audio import LogMelExtractor
        from dfdc_lake.stages.faces import FaceDetector, detect_fn
        from dfdc_lake.stages.family import FamilyProcessor

        self._processor = FamilyProcessor(self.config, detect_fn(FaceDetector(self.config.faces)))
        self._processor.setup()
        self._audio = LogMelExtractor(self.config.audio)

    @property
    def target_rate(self) -> float:
        return self.checkpoint.train_fake_rate if self.fake_rate is None else self.fake_rate

    @property
    def strategy(self) -> str:
        """The video aggregation in use: ``aggregation``, else the run's (``max`` for older runs)."""
        if self.aggregation is not None:
            return self.aggregation
        saved = self.checkpoint.meta.get("video_aggregation")
        return saved if saved in AGGREGATIONS else "max"

    def _probability(self, logits: np.ndarray, crop_logits: np.ndarray | None = None) -> float:
        def at_target(values: np.ndarray) -> np.ndarray:
            return sigmoid(shift_logits(values, self.checkpoint.model_rate, self.target_rate))

        if not len(logits):
            p = self.target_rate
        elif self.strategy == "confident" and crop_logits is not None:
            p = confident_strategy(at_target(crop_logits))
        else:
            p = float(np.max(at_target(logits)))
        return float(min(max(p, self.clip), 1.0 - self.clip))

    def _run(self, batch: dict[str, np.ndarray], has_face: float) -> np.ndarray:
        return self._run_crops(batch, has_face)[0]

    def _run_crops(self, batch: dict[str, np.ndarray], has_face: float) -> tuple[np.ndarray, np.ndarray]:
        """Fused logits per track and per crop ``[tracks, K]``."""
        import torch

        model = self.checkpoint.model
        device = next(model.parameters()).device
        with torch.no_grad():
            faces = torch.from_numpy(batch["faces"]).to(device)
            mel = torch.from_numpy(batch["mel"]).to(device)
            flags = torch.full((len(faces),), has_face, device=device)
            out = model(faces, mel, flags, torch.from_numpy(batch["has_audio"]).to(device), per_crop=True)
        return out["fake"].float().cpu().numpy(), out["fake_crops"].float().cpu().numpy()

    def _audio_only(self, source: str) -> np.ndarray | None:
        try:
            features = self._audio.extract(read_clip(source))
        except (OSError, RuntimeError, ValueError) as err:  # a broken file's audio is as good as absent
            log.debug("no audio from %s: %s", source, err)
            return None
        if features is None:
            return None
        spec = self.checkpoint.input_spec
        mel = spectrogram_window(features.logmel, spec, False, np.random.default_rng(0))[None]
        faces = np.zeros((1, spec.frames_per_sample, spec.image_size_px, spec.image_size_px, 3), np.uint8)
        return self._run({"faces": faces, "mel": mel, "has_audio": np.ones(1, np.float32)}, has_face=0.0)

    def process(self, source: str) -> VideoPrediction:
        """Score one video (a local path or URL); a bad video gets a row, only a storage outage raises."""
        self.setup()
        filename = source.rstrip("/").rsplit("/", 1)[-1]
        samples, outcome = self._processor.process_video(source)
        status, reason = outcome.status.value, outcome.reason
        if samples:
            rows = [sample_to_row(s) for s in samples]
            batch = decode_rows(rows, self.checkpoint.input_spec, False)
            mode = "faces+audio" if batch["has_audio"].any() else "faces"
            p = self._probability(*self._run_crops(batch, 1.0))
            return VideoPrediction(filename, p, mode, status, reason, len(rows))
        logits = self._audio_only(source) if status not in ("missing", "empty_file") else None
        if logits is not None:
            return VideoPrediction(filename, self._probability(logits), "audio_only", status, reason)
        p = float(min(max(self.target_rate, self.clip), 1.0 - self.clip))
        return VideoPrediction(filename, p, "prior", status, reason)
