"""The audio-visual detector: a timm face stream and a small spectrogram CNN, fused into P(fake).

Heads (all logits):
- ``fake``: the fused video-track prediction trained on ``is_fake`` (the DFDC label);
- ``face``: face stream alone, trained on ``face_fake`` where the lake has it (masked where null);
- ``audio``: audio stream alone, trained on ``audio_fake`` where known.

The fused head also sees two presence flags, so it can answer from audio alone (a video without a
detected face: training hides the face stream of a share of samples to teach it) or from faces alone
(a clip without an audio track, whose spectrogram input is silence).
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from dfdc_lake.errors import ConfigError
from dfdc_lake.train.inputs.features import SILENCE_DB

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "AVDetector", "ModelSpec", "build_model"]

# Frequency bands the spectrogram CNN keeps apart after pooling over time.
FREQUENCY_BANDS = 8
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild the network from a checkpoint."""

    backbone: str = "mobilenetv3_small_050"
    audio_channels: int = 32
    fusion_hidden: int = 128
    dropout: float = 0.2
    pretrained_path: str | None = None
    pretrained: bool = False  # timm's pretrained weights through the Hugging Face cache (model/pretrained.py)
    channels_last: bool = False  # NHWC backbone weights and inputs

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SpectrogramCNN(nn.Module):
    """Four conv blocks over ``[B, n_mels, W]`` dB spectrograms, pooled over time per frequency band.

    Each spectrogram is standardised on its own over its real columns (loudness carries no fake
    signal, and any dB convention works) and the blocks use GroupNorm: no batch statistics, so train and eval modes
    agree and silent (missing) audio cannot skew running averages.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        widths = [1, channels, channels * 2, channels * 2, channels * 4]
        blocks: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(widths):
            blocks += [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.GroupNorm(4, c_out),
                nn.ReLU(inplace=True),
            ]
            blocks.append(nn.MaxPool2d(2))
        # Pool over time only: which frequency band a trace sits in (a vocoder's band limit, say) is
        # the signal, and a global average would throw it away.
        self.body = nn.Sequential(
            *blocks[:-1],
            nn.AdaptiveAvgPool2d((FREQUENCY_BANDS, 1)),
            nn.Flatten(),
            nn.Linear(widths[-1] * FREQUENCY_BANDS, widths[-1]),
            nn.ReLU(inplace=True),
        )
        self.num_features = widths[-1]

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        # Padding columns (all SILENCE_DB: a clip shorter than the window, or no audio) are left out
        # of the statistics and set to the mean, so short clips are standardised like long ones.
        valid = (mel != SILENCE_DB).any(dim=1, keepdim=True)
        count = (valid.sum(dim=2, keepdim=True) * mel.shape[1]).clamp(min=1)
        mean = (mel * valid).sum(dim=(1, 2), keepdim=True) / count
        var = (((mel - mean) * valid) ** 2).sum(dim=(1, 2), keepdim=True) / count
        x = torch.where(valid, (mel - mean) / var.sqrt().clamp(min=1e-3), 0.0)
        return self.body(x.unsqueeze(1))


def _face_backbone(spec: ModelSpec) -> nn.Module:
    """The timm backbone: random init, a local weights file, or timm's pretrained weights.

    A ``pretrained_path`` that does not exist here falls back to the Hugging Face cache when
    ``pretrained`` is set (the driver resolved the file in its own cache; a worker on another node
    looks in its own).
    """
    import os

    import timm

    path = spec.pretrained_path
    if path is not None and not os.path.exists(path) and not spec.pretrained:
        raise ConfigError(f"pretrained_path {path!r} does not exist")
    if path is None or not os.path.exists(path):
        if not spec.pretrained:
            return timm.create_model(spec.backbone, pretrained=False, num_classes=0)
        from dfdc_lake.train.model.pretrained import resolve_pretrained

        path = resolve_pretrained(spec.backbone)
    # pretrained_cfg_overlay points timm at a local file, so nothing is downloaded.
    return timm.create_model(
        spec.backbone, pretrained=True, num_classes=0, pretrained_cfg_overlay={"file": path}
    )


class AVDetector(nn.Module):
    """Faces ``uint8 [B,K,S,S,3]`` + spectrogram ``[B,n_mels,W]`` -> logits ``fake``, ``face``, ``audio``."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        self.face = _face_backbone(spec)
        if spec.channels_last:
            self.face.to(memory_format=torch.channels_last)
        # Models with a pre-logits projection (MobileNetV3, LCNet) output head_hidden_size features.
        face_dim = getattr(self.face, "head_hidden_size", None) or getattr(self.face, "num_features", None)
        if not isinstance(face_dim, int):
            raise ValueError(f"timm model {spec.backbone!r} does not report its feature width (num_features)")
        self.audio = SpectrogramCNN(spec.audio_channels)
        audio_dim = self.audio.num_features
        self.face_head = nn.Linear(face_dim, 1)
        self.audio_head = nn.Linear(audio_dim, 1)
        # LayerNorm keeps the fused head's input scale the same in train mode (batch statistics) and
        # eval mode (running statistics), so its calibration survives the switch.
        self.face_norm, self.audio_norm = nn.LayerNorm(face_dim), nn.LayerNorm(audio_dim)
        self.fusion = nn.Sequential(
            nn.Linear(face_dim + audio_dim + 4, spec.fusion_hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(spec.dropout),
            nn.Linear(spec.fusion_hidden, 1),
        )
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def encode_crops(self, faces: torch.Tensor) -> torch.Tensor:
        """Backbone features ``[B, K, D]`` of each of a track's K crops."""
        b, k, h, w, c = faces.shape
        x = faces.reshape(b * k, h, w, c).permute(0, 3, 1, 2).float().div_(255.0)
        x = (x - self.mean) / self.std
        if self.spec.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.face(x).reshape(b, k, -1)

    def encode_faces(self, faces: torch.Tensor) -> torch.Tensor:
        """Mean of the backbone features over a track's K crops."""
        return self.encode_crops(faces).mean(dim=1)

    def forward(
        self,
        faces: torch.Tensor,
        mel: torch.Tensor,
        has_face: torch.Tensor,
        has_audio: torch.Tensor,
        per_crop: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Logits ``fake``/``face``/``audio`` per track; with ``per_crop`` also ``fake_crops`` ``[B, K]``: the
        fused head on each crop's features alone (the per-frame scores the confident strategy pools)."""
        crops = self.encode_crops(faces)
        audio_feat = self.audio(mel)
        out = self._heads(crops.mean(dim=1), audio_feat, has_face, has_audio)
        if per_crop:
            b, k, d = crops.shape

            def repeat(t: torch.Tensor) -> torch.Tensor:
                return t.repeat_interleave(k, dim=0)

            each = self._heads(
                crops.reshape(b * k, d), repeat(audio_feat), repeat(has_face), repeat(has_audio)
            )
            out["fake_crops"] = each["fake"].reshape(b, k)
        return out

    def _heads(
        self,
        face_feat: torch.Tensor,
        audio_feat: torch.Tensor,
        has_face: torch.Tensor,
        has_audio: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        hf, ha = has_face.float().unsqueeze(1), has_audio.float().unsqueeze(1)
        face_logit, audio_logit = self.face_head(face_feat), self.audio_head(audio_feat)
        # The modality logits go in too: "fake if the face OR the voice was swapped" is then a small step.
        fused = torch.cat(
            [
                self.face_norm(face_feat) * hf,
                self.audio_norm(audio_feat) * ha,
                face_logit * hf,
                audio_logit * ha,
                hf,
                ha,
            ],
            dim=1,
        )
        # "Fake if the face OR the voice was swapped" as a noisy-OR of the modality heads; the fusion
        # head learns a residual on top (and carries fakes whose modality labels are unknown).
        p_either = 1 - (1 - torch.sigmoid(face_logit) * hf) * (1 - torch.sigmoid(audio_logit) * ha)
        either_logit = torch.logit(p_either.clamp(1e-4, 1 - 1e-4))
        return {
            "fake": (either_logit + self.fusion(fused)).squeeze(1),
            "face": face_logit.squeeze(1),
            "audio": audio_logit.squeeze(1),
        }


def build_model(spec: ModelSpec, seed: int | None = None) -> AVDetector:
    """Build the detector; ``seed`` makes the random initialisation reproducible."""
    if seed is not None:
        torch.manual_seed(seed)
    return AVDetector(spec)
