"""Turns lake rows into model inputs: K face crops as uint8 images and a fixed-width log-mel window.

One code path for every reader (Ray Data over Parquet, WebDataset tars, the loader benchmark and
``predict`` on raw videos), so training and inference see identically prepared inputs.

Training picks K crops at random per epoch, mirrors the track at random and takes a random spectrogram
window; evaluation picks K evenly spaced crops and the centre window. Only the K picked crops are decoded.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dfdc_lake.train.seeding import numpy_rng

__all__ = [
    "LAKE_COLUMNS",
    "PNG_DECODERS",
    "SILENCE_DB",
    "InputSpec",
    "decode_rows",
    "decode_sample",
    "pick_frames",
    "png_decoder",
    "spectrogram_window",
]

# The Parquet columns training reads (projection keeps boxes and per-frame metadata off the wire).
LAKE_COLUMNS = [
    "sample_id",
    "video_id",
    "family_id",
    "is_fake",
    "face_fake",
    "audio_fake",
    "has_audio",
    "crops_jpeg",
    "logmel_f16",
    "logmel_shape",
]

# Value a missing spectrogram (or its padding) is filled with, in dB: quieter than any real frame.
SILENCE_DB = -100.0


@dataclass(frozen=True)
class InputSpec:
    """Shape of one model input."""

    image_size_px: int = 64
    frames_per_sample: int = 4
    audio_frames: int = 256
    n_mels: int = 64
    eval_frames: int | None = None  # crops per track outside training (None: frames_per_sample)

    def frames(self, train: bool) -> int:
        """Crops decoded per track: ``frames_per_sample`` in training, ``eval_frames`` otherwise."""
        return self.frames_per_sample if train or self.eval_frames is None else self.eval_frames


def pick_frames(num_crops: int, k: int, train: bool, rng: np.random.Generator) -> np.ndarray:
    """Indices of the K crops to use: random (sorted) in training, evenly spaced otherwise."""
    if num_crops <= 0:
        raise ValueError("a lake sample must hold at least one crop")
    if train:
        return np.sort(rng.choice(num_crops, size=k, replace=num_crops < k))
    return np.linspace(0, num_crops - 1, k).round().astype(np.int64)


_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


PNG_DECODERS = ("libpng", "spng", "pil")


def png_decoder() -> str:
    """Which library decodes a PNG crop in this process: ``"libpng"``, ``"spng"`` or ``"pil"``.

    Lake crops are JPEG; PNG is the loader benchmark's loose-file baseline. By default PNG goes through
    torchvision's libpng, as fast as the OpenCV the DFDC winners read their crops with (0.88 against
    OpenCV's 0.86 and PIL's 1.02 ms per real 168x224 crop). ``DFDC_LAKE_PNG_DECODER=spng`` selects
    libspng (``pyspng``, 0.63 ms), the fastest PNG decoder measured (the benchmark's ``--png-decoder``).

    decord loads ``libdecord.so`` with ``RTLD_GLOBAL`` and with it a bundled zlib 1.2.3; libpng then
    binds to that zlib and fails ("bad parameters to zlib") or crashes the process. So once decord is
    loaded, PNG always goes through PIL.
    """
    if "decord" in sys.modules:
        return "pil"
    choice = os.environ.get("DFDC_LAKE_PNG_DECODER", "libpng")
    if choice not in PNG_DECODERS:
        raise ValueError(f"DFDC_LAKE_PNG_DECODER={choice!r}: expected one of {', '.join(PNG_DECODERS)}")
    return choice


def _decode_crop(data: Any, size_px: int, mirror: bool = False) -> np.ndarray:
    """One crop (the lake's JPEG bytes, a PNG, or another format PIL reads) as uint8 ``[S, S, 3]``.

    JPEG goes through simplejpeg (libjpeg-turbo) straight from the Arrow buffer, no copy: the same
    pixels as torchvision's ``decode_jpeg`` (deprecated since torchvision 0.29), and ~10% more samples/s
    through the loader benchmark (README, Benchmarks). torch's antialiased bilinear resize matches PIL's
    bilinear resize to within one grey level. PNG: see ``png_decoder``; anything else: PIL.
    """
    import torch
    from torch.nn.functional import interpolate

    view = memoryview(data).cast("B")  # Arrow buffers export signed bytes
    if view[:3] == _JPEG_MAGIC:
        import simplejpeg

        image = torch.from_numpy(simplejpeg.decode_jpeg(view, colorspace="RGB")).permute(2, 0, 1)
    elif view[:8] == _PNG_MAGIC and (decoder := png_decoder()) != "pil":
        if decoder == "spng":
            import pyspng

            image = torch.from_numpy(pyspng.load(bytes(view), format="RGB")).permute(2, 0, 1)
        else:
            from torchvision.io import ImageReadMode, decode_png

            raw = torch.frombuffer(bytearray(view), dtype=torch.uint8)
            image = decode_png(raw, mode=ImageReadMode.RGB)
    else:
        from PIL import Image

        with Image.open(io.BytesIO(view)) as opened:
            image = torch.from_numpy(np.array(opened.convert("RGB"))).permute(2, 0, 1)
    resized = interpolate(image[None], size=(size_px, size_px), mode="bilinear", antialias=True)[0]
    if mirror:
        resized = resized.flip(-1)
    return resized.permute(1, 2, 0).numpy()


def spectrogram_window(
    logmel: np.ndarray | None, spec: InputSpec, train: bool, rng: np.random.Generator
) -> np.ndarray:
    """A float32 ``[n_mels, audio_frames]`` window: random (train) or centred, padded with silence."""
    out = np.full((spec.n_mels, spec.audio_frames), SILENCE_DB, dtype=np.float32)
    if logmel is None or logmel.size == 0:
        return out
    n_mels = min(spec.n_mels, logmel.shape[0])
    width = logmel.shape[1]
    if width <= spec.audio_frames:
        out[:n_mels, :width] = logmel[:n_mels]
        return out
    slack = width - spec.audio_frames
    start = int(rng.integers(0, slack + 1)) if train else slack // 2
    out[:n_mels] = logmel[:n_mels, start : start + spec.audio_frames]
    return out


def decode_sample(
    crops_jpeg: Sequence[bytes],
    logmel: np.ndarray | None,
    spec: InputSpec,
    train: bool,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode one track: ``faces`` uint8 ``[K, S, S, 3]`` and ``mel`` float32 ``[n_mels, W]``."""
    picks = pick_frames(len(crops_jpeg), spec.frames(train), train, rng)
    # Training mirrors whole tracks at random. Geometry only: a swapped face's tint and blur are what
    # the model should see, so colour and sharpness are left alone (random crops, which rescale the
    # blur, made the face stream learn less in the demo).
    mirror = bool(train and rng.random() < 0.5)
    faces = np.stack([_decode_crop(crops_jpeg[i], spec.image_size_px, mirror) for i in picks])
    return faces, spectrogram_window(logmel, spec, train, rng)


def _logmel_of(row: Mapping[str, Any]) -> np.ndarray | None:
    """The row's spectrogram from a ``logmel`` array (WebDataset) or the Parquet bytes.

    Kept in its stored dtype (float16): ``spectrogram_window`` converts only the window it takes.
    """
    if row.get("logmel") is not None:
        return np.asarray(row["logmel"])
    raw = row.get("logmel_f16")
    shape = row.get("logmel_shape")
    if not row.get("has_audio") or raw is None or shape is None:
        return None
    return np.frombuffer(raw, dtype="<f2").reshape(int(shape[0]), int(shape[1]))


def _label(value: Any) -> float:
    return float("nan") if value is None else float(bool(value))


def decode_rows(
    rows: Iterable[Mapping[str, Any]], spec: InputSpec, train: bool, *, seed: int = 0, epoch: int = 0
) -> dict[str, np.ndarray]:
    """Decode lake rows (dicts with ``LAKE_COLUMNS``) into a batch of numpy arrays.

    Every random draw for a row (crop picks, mirror, spectrogram window, augmentations) comes from
    ``seeding.numpy_rng(seed, epoch, sample_id)``: a sample decodes the same way in the same epoch of
    the same run, whichever reader, batch or worker it reaches.

    Returns keys ``faces`` uint8 [B,K,S,S,3], ``mel`` float32 [B,n_mels,W], ``has_audio``/``label``
    float32 [B], ``face_label``/``audio_label`` float32 [B] (NaN where the lake has null), and
    ``video_id``/``sample_id`` as string arrays.
    """
    cols: dict[str, list[Any]] = {k: [] for k in ("faces", "mel", "has_audio", "label", "face_label")}
    cols.update({"audio_label": [], "video_id": [], "sample_id": []})
    for row in rows:
        logmel = _logmel_of(row)
        rng = numpy_rng(seed, epoch, str(row["sample_id"]))
        faces, mel = decode_sample(row["crops_jpeg"], logmel, spec, train, rng)
        cols["faces"].append(faces)
        cols["mel"].append(mel)
        cols["has_audio"].append(float(logmel is not None))
        cols["label"].append(float(bool(row["is_fake"])))
        cols["face_label"].append(_label(row.get("face_fake")))
        cols["audio_label"].append(_label(row.get("audio_fake")))
        cols["video_id"].append(str(row["video_id"]))
        cols["sample_id"].append(str(row["sample_id"]))
    n = len(cols["label"])
    s, k = spec.image_size_px, spec.frames(train)
    return {
        "faces": np.stack(cols["faces"]) if n else np.zeros((0, k, s, s, 3), np.uint8),
        "mel": np.stack(cols["mel"]) if n else np.zeros((0, spec.n_mels, spec.audio_frames), np.float32),
        **{
            key: np.asarray(cols[key], dtype=np.float32)
            for key in ("has_audio", "label", "face_label", "audio_label")
        },
        "video_id": np.asarray(cols["video_id"], dtype=object),
        "sample_id": np.asarray(cols["sample_id"], dtype=object),
    }
