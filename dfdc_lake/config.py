"""One validated configuration for every stage, with DFDC-sensible defaults and a stable hash.

The hash covers everything that changes what lands in the lake (sampling, detection, crops, audio,
labels, shard formats); it leaves out how the work is scheduled (Ray resources), so moving a run from
a laptop to a GPU cluster does not invalidate committed chunks.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dfdc_lake.errors import ConfigError

__all__ = [
    "AudioConfig",
    "Config",
    "CropConfig",
    "DecodeConfig",
    "FaceConfig",
    "LabelConfig",
    "LakeConfig",
    "RayConfig",
    "load_config",
    "read_config_file",
    "stable_hash",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DecodeConfig(_Section):
    """Which frames of a video are decoded and sampled."""

    frame_stride: int = Field(10, ge=1, description="Keep every Nth frame (the DFDC winners used ~10).")
    max_frames: int | None = Field(None, ge=1, description="Cap on sampled frames per video; None = all.")
    backend: Literal["pyav", "decord"] = Field(
        "pyav", description="'pyav': streaming decode (see reference_frames_only); 'decord': every frame."
    )
    reference_frames_only: bool = Field(
        True,
        description="PyAV only: skip non-reference frames and take the decoded frame nearest each stride "
        "target (a fake is still cut at exactly its original's frames).",
    )
    segment_mb: int = Field(
        256,
        ge=1,
        description="RGB frames held at once per video: a longer video is processed in segments of "
        "this size (tracks carry over from one segment to the next).",
    )


class FaceConfig(_Section):
    """Face detection (MTCNN) and tracking across the sampled frames."""

    detect_max_side_px: int = Field(
        640, ge=64, description="Frames are downscaled so their longest side is at most this for MTCNN."
    )
    min_face_px: int = Field(16, ge=8, description="MTCNN min_face_size, in detection-image pixels.")
    thresholds: tuple[float, float, float] = Field(
        (0.6, 0.7, 0.7),
        description="MTCNN's three stage thresholds (P-Net, R-Net, O-Net): each stage keeps the candidate "
        "faces it scores above its threshold.",
    )
    min_score: float = Field(0.9, ge=0.0, le=1.0, description="Detections below this are dropped.")
    batch_size: int | None = Field(
        None,
        ge=1,
        description="Frames per MTCNN call; None: 16 on a GPU, 2 on a CPU (on a CPU a larger batch is no "
        "faster and its working set grows with it: measured +85 MB at 1, +336 MB at 16 on 640x360 frames).",
    )
    detect_every: int = Field(
        4,
        ge=1,
        description="Detect on every Nth sampled frame of an original (and its last). The frames between "
        "two of them take the tracks' interpolated boxes when both show the same faces barely moved "
        "(steady_iou), and are detected again otherwise (see between). 1: detect on every sampled frame.",
    )
    steady_iou: float = Field(
        0.9,
        gt=0.0,
        le=1.0,
        description="With detect_every > 1: the frames between two detected frames are skipped only when "
        "each face in one matches a face in the other with at least this IoU (same count of faces).",
    )
    between: Literal["windows", "frames"] = Field(
        "windows",
        description="With detect_every > 1, the frames between two detected frames that are not steady: "
        "'windows' looks for each face in a window around its interpolated box when both ends show the "
        "same faces (the whole frame where a window finds none, or the faces differ); 'frames' detects "
        "them whole.",
    )
    normalize_exposure: bool = Field(True, description="Stretch dark/low-contrast frames before MTCNN.")
    track_iou: float = Field(0.3, gt=0.0, lt=1.0, description="IoU needed to extend a track.")
    max_gap_frames: int = Field(4, ge=0, description="Sampled frames a track may miss and be gap-filled.")
    min_track_share: float = Field(
        0.25, ge=0.0, le=1.0, description="Tracks seen in fewer sampled frames than this share are dropped."
    )
    smooth_window: int = Field(3, ge=1, description="Moving-average window over box coordinates.")
    device: str = Field("auto", description="'auto' (cuda if available), 'cpu', or a torch device string.")


class CropConfig(_Section):
    """The face crops stored per track."""

    margin: float = Field(0.3, ge=0.0, le=2.0, description="Box grown by this share on each side.")
    max_side_px: int = Field(
        384,
        ge=32,
        description="Crops are downscaled so the longest side fits (the DFDC winners trained on 380 px faces).",
    )
    jpeg_quality: int = Field(90, ge=30, le=100, description="JPEG quality of the stored crops.")


class AudioConfig(_Section):
    """The log-mel spectrogram stored per video."""

    sample_rate_hz: int = Field(16000, ge=4000, description="Audio is resampled to mono at this rate.")
    n_mels: int = Field(64, ge=8, description="Mel bands of the spectrogram.")
    n_fft: int = Field(400, ge=64, description="FFT window in samples (400 = 25 ms at 16 kHz).")
    hop_length: int = Field(
        160, ge=16, description="Samples between spectrogram columns (160 = 10 ms at 16 kHz)."
    )


class LabelConfig(_Section):
    """Thresholds of the fake-vs-original scores (defined in dfdc_lake/stages/labels.py).

    Each modality has two: a score above ``*_fake_above`` is true, below ``*_real_below`` false, and
    between them unknown (null), so a label is never a guess. The scores are kept in the lake:
    relabelling with other thresholds needs no re-ingest.
    """

    face_fake_above: float = Field(
        1.8,
        gt=0.0,
        description="face_diff (change inside the face box relative to its fine detail, in multiples of "
        "the same in the crop's margin) above which a track is face_fake.",
    )
    face_real_below: float = Field(
        1.45, gt=0.0, description="face_diff below which a fake's track is not face_fake."
    )
    face_min_contrast: float = Field(
        16.0,
        ge=0.0,
        description="Grey-level spread (median std of the original's grey crops) below which face_fake "
        "is unknown: in a face this dark or flat a swap changes a few grey levels and scores like a re-encode.",
    )
    face_detail_fake_below: float = Field(
        0.8,
        gt=0.0,
        description="The lower of face_detail_kept and face_detail_kept_half_res (the share of the "
        "original face's fine detail the fake kept, relative to its margin's, at full and at half "
        "resolution) below which a track is face_fake whatever face_diff says.",
    )
    face_detail_real_above: float = Field(
        0.85,
        gt=0.0,
        description="The lower detail score below which a track is at least unknown, never false.",
    )
    audio_fake_above_db: float = Field(
        0.8,
        gt=0.0,
        description="audio_diff_db (mean abs. difference of the time-averaged log-mel spectra) above "
        "which a fake is audio_fake.",
    )
    audio_real_below_db: float = Field(
        0.6, gt=0.0, description="audio_diff_db below which a fake is not audio_fake."
    )

    @model_validator(mode="after")
    def _bands_ordered(self) -> LabelConfig:
        if self.face_real_below > self.face_fake_above:
            raise ValueError("labels.face_real_below must not exceed labels.face_fake_above")
        if self.face_detail_fake_below > self.face_detail_real_above:
            raise ValueError("labels.face_detail_fake_below must not exceed labels.face_detail_real_above")
        if self.audio_real_below_db > self.audio_fake_above_db:
            raise ValueError("labels.audio_real_below_db must not exceed labels.audio_fake_above_db")
        return self


class LakeConfig(_Section):
    """What the lake's shards look like and how videos are grouped into chunks (units of commit)."""

    formats: tuple[Literal["parquet", "webdataset"], ...] = Field(
        ("parquet", "webdataset"), description="Shard formats written for every chunk (one or both)."
    )
    shard_target_bytes: int = Field(
        256 * 1024 * 1024,
        ge=1024,
        description="A new shard starts when the next sample would take the current one past this size.",
    )
    videos_per_chunk: int = Field(
        60, ge=1, description="Families are packed into chunks of about this many videos."
    )

    @model_validator(mode="after")
    def _formats_nonempty(self) -> LakeConfig:
        if not self.formats:
            raise ValueError("lake.formats must name at least one of 'parquet', 'webdataset'")
        return self


class RayConfig(_Section):
    """Scheduling only: not part of the config hash."""

    detector_actors: int = Field(
        0,
        ge=0,
        description="Detection actors, when detection runs in actors; 0 = one per GPU share the cluster "
        "has now (one with 'cpu').",
    )
    detector_placement: Literal["auto", "gpu", "cpu", "task"] = Field(
        "auto",
        description="'auto': GPU actors when the cluster has GPUs at start, else 'task'; 'gpu': always ask "
        "for GPUs (pending GPU actors make an autoscaling cluster add GPU nodes); 'cpu': CPU actors; "
        "'task': no actor, each family task runs its own MTCNN on the CPU it holds.",
    )
    gpus_per_detector: float = Field(
        0.5, ge=0.0, le=8.0, description="Fractional GPU share per detection actor."
    )
    cpus_per_detector: float = Field(
        0.0, ge=0.0, description="CPUs reserved per detection actor (0: it only borrows CPU while detecting)."
    )
    detector_torch_threads: int = Field(
        0, ge=0, description="torch threads in a CPU detection actor; 0 = torch default."
    )
    cpus_per_decoder: float = Field(
        1.0,
        gt=0.0,
        description="CPUs reserved per family task (decode, crops, audio; detection with 'task').",
    )
    min_videos_per_task: int = Field(
        4,
        ge=1,
        description="A chunk's families are packed into tasks of at least this many videos (a family is "
        "never split); each task writes its own shards. 1 = one task per family. Smaller tasks balance "
        "the slots better at a chunk's end; a DFDC family averages ~6 videos, so there 4 changes little.",
    )
    tasks_in_flight: int = Field(
        0,
        ge=0,
        description="Family tasks running at once (bounds memory); 0 = one per CPU the decoders can get.",
    )
    chunks_in_flight: int = Field(
        0,
        ge=0,
        description="Chunks with tasks running or waiting to commit at once; 0 = as many as tasks_in_flight "
        "needs. Chunks commit as soon as their last task is done.",
    )
    task_retries: int = Field(2, ge=0, description="Ray retries of a family task whose worker died.")


class Config(_Section):
    """The ingest settings: one section per stage, each with DFDC-sensible defaults. Everything but
    ``ray`` goes into the config hash recorded with every chunk; a rerun with another hash reprocesses."""

    decode: DecodeConfig = DecodeConfig()
    faces: FaceConfig = FaceConfig()
    crops: CropConfig = CropConfig()
    audio: AudioConfig = AudioConfig()
    labels: LabelConfig = LabelConfig()
    lake: LakeConfig = LakeConfig()
    ray: RayConfig = RayConfig()

    def config_hash(self) -> str:
        """A short, stable hash of everything that changes what the lake holds."""
        return stable_hash(self.model_dump(mode="json", exclude={"ray"}))

    def with_overrides(self, overrides: list[str]) -> Config:
        """Apply ``section.key=value`` overrides (values parsed as JSON, else kept as strings).

        Raises:
            ConfigError: an override names no section or setting (the message lists the valid ones),
                or a value is invalid.
        """
        data = self.model_dump(mode="json")
        for item in overrides:
            section, field, value = _section_override(item, data)
            data[section][field] = value
        return validate_config(Config, data, "invalid configuration from --set overrides")


def _section_override(item: str, data: dict[str, Any]) -> tuple[str, str, Any]:
    """``(section, key, value)`` of one ``section.key=value`` override, checked against ``data``."""
    key, sep, raw = item.partition("=")
    parts = key.strip().split(".")
    if not sep or not key.strip():
        raise ConfigError(f"--set {item!r} is not of the form section.key=value")
    if len(parts) == 1:
        owners = [f"{name}.{parts[0]}" for name, section in data.items() if parts[0] in section]
        hint = f"; did you mean {' or '.join(owners)}?" if owners else f"; {one_of('sections', data)}"
        raise ConfigError(f"--set {item!r} is not of the form section.key=value{hint}")
    if parts[0] not in data:
        raise ConfigError(f"--set {item!r}: there is no section {parts[0]!r}; {one_of('sections', data)}")
    section = data[parts[0]]
    if len(parts) != 2 or parts[1] not in section:
        raise ConfigError(
            f"--set {item!r}: section {parts[0]!r} has no setting {'.'.join(parts[1:])!r}; "
            f"{one_of('its settings', section)}"
        )
    return parts[0], parts[1], parse_override_value(raw)


def one_of(what: str, names: Any) -> str:
    """``"the sections are: a, b, c"``: the valid names, for an error message about an unknown one."""
    return f"the {what} are: {', '.join(names)}"


def parse_override_value(raw: str) -> Any:
    """A ``key=value`` override's value: parsed as JSON where it parses, else the string itself."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


ModelT = TypeVar("ModelT", bound=BaseModel)


def format_validation_error(err: ValidationError) -> str:
    """Pydantic's errors, one line each as ``setting: problem (got value)``, without its doc links."""
    lines = []
    for error in err.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "settings"
        shown = error["type"] != "missing" and not isinstance(error.get("input"), dict)  # not a whole section
        got = f" (got {error['input']!r})" if shown else ""
        lines.append(f"{where}: {error['msg']}{got}")
    return "; ".join(lines)


def validate_config(model: type[ModelT], data: Any, what: str) -> ModelT:
    """``model`` validated from ``data``; a ConfigError starting with ``what`` otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{what}: {format_validation_error(err)}") from None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping in a JSON or YAML (``.yaml``/``.yml``) config file; ConfigError names the file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err}") from None
    try:
        if path.suffix in {".yaml", ".yml"}:
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
    except Exception as err:  # json.JSONDecodeError, yaml.YAMLError
        raise ConfigError(f"config file {path} does not parse: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping, not {type(data).__name__}")
    return data


def stable_hash(payload: Any) -> str:
    """A short hash of a JSON-able payload that does not depend on key order."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Load a JSON or YAML config file (or the defaults) and apply CLI overrides."""
    config = (
        Config()
        if path is None
        else validate_config(Config, read_config_file(path), f"invalid configuration from {path}")
    )
    return config.with_overrides(overrides or [])
