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

# Optional columns (sample schema 5): MTCNN's 5 points per crop as fractions of the crop's width and
# height (10 floats a crop), and whether each crop's points were interpolated. Read when the shards have
# them; the landmark cutout falls back to random erasing when they don't.
LANDMARK_COLUMNS = ["crop_landmarks", "crop_landmarks_interpolated"]


def lake_columns(available: Iterable[str] | None = None) -> list[str]:
    """``LAKE_COLUMNS`` plus the landmark columns that ``available`` (a shard's or the current sample
    schema's column names) holds."""
    if available is None:
        from dfdc_lake.lake.schema import sample_schema

        available = sample_schema().names
    names = set(available)
    return LAKE_COLUMNS + [c for c in LANDMARK_COLUMNS if c in names]


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
    augmentation: str = "flip"  # "flip": mirror whole tracks; "dfdc"/"dfdc_fancy_pca": the winner's chain
    resize: str = "stretch"  # "stretch": squash to a square; "isotropic": longest side to S, zero-pad

    @classmethod
    def from_config(cls, cfg: Any, n_mels: int) -> InputSpec:
        """The input shape and augmentation a ``TrainConfig`` asks for (``n_mels``: the lake's)."""
        return cls(
            cfg.image_size_px, cfg.frames_per_sample, cfg.audio_frames, n_mels, cfg.eval_frames,
            augmentation=cfg.augmentation, resize=cfg.resize,
        )  # fmt: skip

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
    """One crop (the lake's JPEG bytes, a PNG, or another format PIL reads) squashed to uint8 ``[S, S, 3]``.

    torch's antialiased bilinear resize matches PIL's bilinear resize to within one grey level.
    """
    resized = _stretch(_decode_image(data), size_px)
    if mirror:
        resized = resized.flip(-1)
    return resized.permute(1, 2, 0).numpy()


def _stretch(image: Any, size_px: int) -> Any:
    from torch.nn.functional import interpolate

    return interpolate(image[None], size=(size_px, size_px), mode="bilinear", antialias=True)[0]


# The winner's IsotropicResize pairs (interpolation when shrinking, when enlarging: OpenCV's INTER_AREA,
# INTER_CUBIC, INTER_LINEAR); training picks one at random, evaluation uses the first (his validation's).
ISOTROPIC_MODES = (("area", "bicubic"), ("area", "bilinear"), ("bilinear", "bilinear"))
# As torch's uint8 kernels (~40x faster than its float path on a 380 px crop): INTER_AREA's shrinking is
# an antialiased bilinear one; INTER_LINEAR shrinks without antialiasing.
_TORCH_MODES = {"area": ("bilinear", True), "bilinear": ("bilinear", False), "bicubic": ("bicubic", True)}


def isotropic_resize(
    image: Any, size_px: int, modes: tuple[str, str] = ISOTROPIC_MODES[0]
) -> tuple[Any, tuple[int, int, int, int]]:
    """Scale a uint8 ``[3, H, W]`` tensor so its longest side is ``size_px``, zero-pad it to a centred square.

    Returns the ``[3, S, S]`` tensor and where the image sits in it: ``(left, top, width, height)`` pixels.
    """
    import torch
    from torch.nn.functional import interpolate

    h, w = int(image.shape[-2]), int(image.shape[-1])
    scale = size_px / max(h, w)
    nh, nw = max(1, min(size_px, round(h * scale))), max(1, min(size_px, round(w * scale)))
    mode, antialias = _TORCH_MODES[modes[0] if scale < 1 else modes[1]]
    resized = interpolate(image[None], size=(nh, nw), mode=mode, antialias=antialias, align_corners=False)
    out = torch.zeros((3, size_px, size_px), dtype=torch.uint8)
    top, left = (size_px - nh) // 2, (size_px - nw) // 2
    out[:, top : top + nh, left : left + nw] = resized[0]
    return out, (left, top, nw, nh)


def _landmarks_px(
    landmarks: Sequence[float] | None, picks: np.ndarray, places: list[tuple[int, int, int, int]]
) -> np.ndarray | None:
    """The picked crops' 5 points ``[K, 5, 2]`` in pixels of the model input, or None when the row has none."""
    if landmarks is None:
        return None
    points = np.asarray(landmarks, dtype=np.float32).reshape(-1, 5, 2)
    if len(points) <= int(picks.max()):
        return None  # not one set of points per crop: treat as absent rather than misplace a cutout
    place = np.asarray(places, dtype=np.float32)  # [K, 4]: left, top, width, height
    return points[picks] * place[:, None, 2:4] + place[:, None, 0:2]


def _decode_track(
    crops: Sequence[bytes],
    picks: np.ndarray,
    spec: InputSpec,
    train: bool,
    rng: np.random.Generator,
    landmarks: Sequence[float] | None,
) -> np.ndarray:
    """The picked crops resized as ``spec.resize`` says and, in training, augmented as ``spec.augmentation`` says."""
    import torch

    from dfdc_lake.train.inputs.augment import CHAINS, augment_track

    chain = train and spec.augmentation in CHAINS
    modes = ISOTROPIC_MODES[int(rng.integers(len(ISOTROPIC_MODES)))] if chain else ISOTROPIC_MODES[0]
    size = spec.image_size_px
    images, places = [], []
    for i in picks:
        image = _decode_image(crops[i])
        if spec.resize == "isotropic":
            resized, place = isotropic_resize(image, size, modes)
        else:
            resized, place = _stretch(image, size), (0, 0, size, size)
        images.append(resized)
        places.append(place)
    faces = torch.stack(images)
    if chain:
        faces = augment_track(faces, _landmarks_px(landmarks, picks, places), rng, CHAINS[spec.augmentation])
    elif train and rng.random() < 0.5:
        faces = faces.flip(-1)
    return faces.permute(0, 2, 3, 1).numpy()


def _decode_image(data: Any) -> Any:
    """One crop (the lake's JPEG bytes, a PNG, or another format PIL reads) as a uint8 ``[3, H, W]`` tensor.

    JPEG goes through simplejpeg (libjpeg-turbo) straight from the Arrow buffer, no copy: the same
    pixels as torchvision's ``decode_jpeg`` (deprecated since torchvision 0.29), and ~10% more samples/s
    through the loader benchmark (README, Benchmarks). PNG: see ``png_decoder``; anything else: PIL.
    """
    import torch

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
    return image


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
    landmarks: Sequence[float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode one track: ``faces`` uint8 ``[K, S, S, 3]`` and ``mel`` float32 ``[n_mels, W]``.

    ``landmarks`` is the row's ``crop_landmarks`` (10 floats a crop) or None; only the ``dfdc``
    augmentation uses them.
    """
    picks = pick_frames(len(crops_jpeg), spec.frames(train), train, rng)
    if spec.augmentation != "flip" or spec.resize != "stretch":
        faces = _decode_track(crops_jpeg, picks, spec, train, rng, landmarks)
        return faces, spectrogram_window(logmel, spec, train, rng)
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
        faces, mel = decode_sample(row["crops_jpeg"], logmel, spec, train, rng, row.get("crop_landmarks"))
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
