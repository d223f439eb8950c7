"""The validated training configuration: folds, inputs, model, optimisation and scheduling.

Kept apart from the ingest ``Config`` on purpose: its hash must not change when training settings do,
or every committed chunk of a lake would look stale. ``train_hash()`` is recorded with each run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dfdc_lake.config import parse_override_value, read_config_file, stable_hash, validate_config
from dfdc_lake.errors import ConfigError
from dfdc_lake.train.recipes import recipe_defaults

__all__ = ["SCHEDULING_FIELDS", "TrainConfig", "load_train_config"]

# Where and how the run is scheduled; left out of the hash (like Config.ray).
SCHEDULING_FIELDS = frozenset(
    {"num_workers", "use_gpu", "cpus_per_worker", "keep_checkpoints", "max_failures"}
    | {"checkpoint_every_steps", "checkpoint_every_minutes"}
)


class TrainConfig(BaseModel):
    """Every training setting, with defaults that train a small detector on CPU in minutes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Input and folds.
    format: Literal["parquet", "webdataset"] = Field("parquet", description="Which committed shards to read.")
    split_by: Literal["family", "part"] = Field(
        "family", description="'family': an original and its fakes share a fold; 'part': whole DFDC parts."
    )
    num_folds: int = Field(5, ge=2, description="Folds the families (or parts) are dealt into.")
    val_fold: int = Field(0, ge=0, description="Which fold validates; the others train.")
    val_parts: tuple[int, ...] | None = Field(
        None, description="With split_by='part': these parts validate (overrides num_folds/val_fold)."
    )
    seed: int = Field(0, description="Seeds the fold assignment, the model init and the shuffles.")

    # What one sample looks like to the model.
    image_size_px: int = Field(96, ge=16, description="Face crops are resized to this square size.")
    frames_per_sample: int = Field(4, ge=1, description="Crops per track per step (random in training).")
    eval_frames: int = Field(
        12,
        ge=1,
        description="Crops per track (evenly spaced) for validation and predict: the model averages its "
        "face features over them, and more than training uses is cheap there and steadier.",
    )
    audio_frames: int = Field(
        256,
        ge=8,
        description="Spectrogram columns per sample (hop 10 ms at the default 16 kHz/160 -> 2.56 s).",
    )

    # Model.
    backbone: str = Field("mobilenetv3_small_050", description="timm model name for the face stream.")
    pretrained_path: str | None = Field(
        None, description="Local ImageNet weights for the backbone (never downloaded); None = random init."
    )
    pretrained: bool = Field(
        False,
        description="Start the backbone from timm's pretrained weights through the Hugging Face cache "
        "(HF_HOME; HF_HUB_OFFLINE=1 never downloads). pretrained_path, when set, wins.",
    )
    channels_last: bool = Field(False, description="NHWC memory layout for the face backbone (GPU speed).")
    audio_channels: int = Field(32, ge=4, description="Width of the spectrogram CNN.")
    fusion_hidden: int = Field(128, ge=8)
    dropout: float = Field(0.2, ge=0.0, lt=1.0)
    modality_dropout: float = Field(
        0.15,
        ge=0.0,
        lt=1.0,
        description="Training share of samples whose face stream is hidden (teaches audio-only).",
    )
    label_smoothing: float = Field(
        0.1,
        ge=0.0,
        lt=1.0,
        description="BCE targets become eps/2 and 1 - eps/2 (every head): fewer overconfident errors, "
        "which log loss punishes hardest.",
    )
    aux_weight: float = Field(
        0.5, ge=0.0, description="Weight of the face_fake and audio_fake auxiliary losses."
    )

    # Optimisation.
    epochs: int = Field(8, ge=1)
    batch_size: int = Field(32, ge=1, description="Per worker.")
    lr: float = Field(2e-3, gt=0.0)
    weight_decay: float = Field(1e-4, ge=0.0)
    imbalance: Literal["pos_weight", "none"] = Field(
        "pos_weight",
        description="'pos_weight': BCE weighs fakes by n_real/n_fake, so the ~5.2:1 DFDC imbalance does not "
        "dominate; logits are then re-calibrated to the wanted fake rate. 'none': plain BCE.",
    )

    # Recipe, augmentation, precision, aggregation (train/recipes.py says where the dfdc values come from).
    recipe: Literal["demo", "dfdc"] = Field(
        "demo",
        description="Named defaults the other settings start from: 'demo' (CPU demo), 'dfdc' (1st place).",
    )
    augmentation: Literal["flip", "dfdc", "dfdc_fancy_pca"] = Field(
        "flip",
        description="'flip': mirror whole tracks; 'dfdc': the DFDC winner's chain with landmark cutout, "
        "without FancyPCA (its per-crop PCA costs more than the rest of the chain at 380 px); "
        "'dfdc_fancy_pca': the chain with FancyPCA among its colour ops, as the winner had it.",
    )
    resize: Literal["stretch", "isotropic"] = Field(
        "stretch",
        description="'stretch': crops squashed to a square; 'isotropic': longest side scaled, zero-padded.",
    )
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto",
        description="Autocast dtype ('fp16' adds a GradScaler); 'auto': bf16 on a GPU that has it, else fp32.",
    )
    aggregation: Literal["max", "confident"] = Field(
        "max",
        description="Video score from its tracks: 'max' over track scores, or the DFDC winner's 'confident' "
        "strategy over per-frame scores (validation and predict).",
    )

    bn_recalibration_samples: int = Field(
        256,
        ge=0,
        description="Recent training samples BatchNorm statistics are recomputed on before validation.",
    )

    # Scheduling (not hashed).
    num_workers: int = Field(1, ge=1, description="Ray Train workers.")
    use_gpu: bool = Field(False, description="One GPU per worker.")
    cpus_per_worker: float = Field(1.0, gt=0.0)
    keep_checkpoints: int = Field(2, ge=1, description="Best checkpoints kept (the latest is always kept).")
    max_failures: int = Field(
        0,
        ge=-1,
        description="Worker-group failures Ray Train recovers from (from the last checkpoint); -1 = no limit.",
    )
    checkpoint_every_steps: int = Field(
        0,
        ge=0,
        description="Steps between step checkpoints (model, optimizer, data position) that a rerun or a "
        "worker-group restart resumes mid-epoch from; 0 = by checkpoint_every_minutes only. Not hashed: "
        "every draw derives from (seed, epoch, sample), so where a run checkpoints does not change what "
        "it learns.",
    )
    checkpoint_every_minutes: float = Field(
        10.0,
        ge=0.0,
        description="Also write a step checkpoint once this many minutes passed since the last one (rank "
        "0's clock decides); 0 = by checkpoint_every_steps only. A preemption loses at most this much.",
    )

    @model_validator(mode="after")
    def _check_folds(self) -> TrainConfig:
        if self.val_fold >= self.num_folds:
            raise ValueError(f"val_fold {self.val_fold} is not below num_folds {self.num_folds}")
        if self.val_parts is not None and self.split_by != "part":
            raise ValueError("val_parts only applies with split_by='part'")
        return self

    def train_hash(self) -> str:
        """A short, stable hash of every setting that changes what a run learns."""
        return stable_hash(self.model_dump(mode="json", exclude=set(SCHEDULING_FIELDS)))

    def with_overrides(self, overrides: dict[str, Any]) -> TrainConfig:
        """A copy with the given (non-None) settings replaced and validated."""
        data = self.model_dump(mode="json")
        for key, value in overrides.items():
            if key not in data:
                raise ConfigError(_unknown_setting(key, data))
            if value is not None:
                data[key] = value
        return _validate(data, "command-line options")


def _validate(data: Any, origin: str) -> TrainConfig:
    return validate_config(TrainConfig, data, f"invalid training configuration from {origin}")


def load_train_config(
    path: str | Path | None = None, overrides: list[str] | None = None, recipe: str | None = None
) -> TrainConfig:
    """Load training settings from a JSON/YAML file (or defaults) and apply ``key=value`` overrides.

    Values are parsed as JSON where they parse, else kept as strings (``backbone=resnet18``). The
    recipe (``recipe`` argument, else ``--set recipe=``, else the file's ``recipe``) supplies the
    defaults; the file's fields and then the overrides go on top of it.
    """
    data = read_config_file(path) if path is not None else {}
    parsed = _parse_overrides(overrides or [])
    if recipe is None:
        recipe = parsed.get("recipe") or (data.get("recipe") if isinstance(data, dict) else None)
    if recipe is not None and isinstance(data, dict):
        try:
            data = {**recipe_defaults(str(recipe)), **data, "recipe": recipe}
        except ValueError as err:
            raise ConfigError(str(err)) from None
        parsed.pop("recipe", None)
    config = _validate(data, str(path) if path else "defaults")
    return config.with_overrides(parsed)


def _parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """``--set key=value`` items as a mapping; ``train.key=value`` is accepted as the same ``key``."""
    parsed: dict[str, Any] = {}
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r} is not of the form key=value (e.g. --set epochs=3)")
        parsed[key.strip().removeprefix("train.")] = parse_override_value(raw)
    return parsed


def _unknown_setting(key: str, settings: dict[str, Any]) -> str:
    """The error for a setting TrainConfig lacks: close matches first, then every valid name."""
    import difflib

    from dfdc_lake.config import one_of

    close = difflib.get_close_matches(key, list(settings), n=3)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    dotted = " (training settings take a bare key=value)" if "." in key else ""
    return f"training has no setting {key!r}{hint}{dotted}; {one_of('settings', settings)}"
