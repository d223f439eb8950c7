"""``dfdc-lake train LAKE``: train the audio-visual detector from a lake's committed shards with Ray Train.

    dfdc-lake train ./lake --storage-path ./runs --name av1 --epochs 10
    dfdc-lake train s3://bucket/lake --storage-path s3://bucket/runs --num-workers 8 --use-gpu
    dfdc-lake train ./lake --split-by part --val-parts 45,46,47,48,49 --set backbone=efficientnet_b0
    dfdc-lake train s3://bucket/lake --storage-path s3://bucket/runs --recipe dfdc --use-gpu
    dfdc-lake train ./lake --storage-path ./runs --name av1 --recipe dfdc --preview 16

Run the same command again (same --storage-path and --name) to resume from the last checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["EPILOG", "add_arguments", "run"]

EPILOG = """\
examples:
  dfdc-lake train ./lake --storage-path ./runs --name av1 --epochs 10
  dfdc-lake train s3://bucket/lake --storage-path s3://bucket/runs --recipe dfdc --use-gpu --num-workers 8
  dfdc-lake train ./lake --storage-path ./runs --split-by part --val-parts 45,46,47,48,49
  dfdc-lake train ./lake --storage-path ./runs --set backbone=efficientnet_b0 --set dropout=0.3

Run the same command again (same --storage-path and --name) to resume from the last checkpoint.
--set takes a bare KEY=VALUE (train.KEY=VALUE also works); `dfdc-lake config --train` prints the
settings. The run's summary is one JSON line on stdout at the end."""

# CLI flag -> TrainConfig field, for the settings worth a flag; everything else via --set key=value.
_FLAGS: dict[str, tuple[str, Any, str]] = {
    "shard_format": ("format", str, "shard format to read: parquet or webdataset"),
    "split_by": ("split_by", str, "fold unit: family or part"),
    "num_folds": ("num_folds", int, "number of folds"),
    "val_fold": ("val_fold", int, "which fold validates"),
    "seed": ("seed", int, "seed of folds, init and shuffles"),
    "epochs": ("epochs", int, "total epochs of the run, counting resumed ones"),
    "batch_size": ("batch_size", int, "samples per step per worker"),
    "lr": ("lr", float, "peak learning rate (cosine decay)"),
    "backbone": ("backbone", str, "timm model name of the face stream"),
    "image_size": ("image_size_px", int, "face crop input size in pixels"),
    "frames": ("frames_per_sample", int, "face crops per track per training step"),
    "eval_frames": ("eval_frames", int, "face crops per track in validation and predict"),
    "imbalance": ("imbalance", str, "pos_weight or none"),
    "num_workers": ("num_workers", int, "Ray Train workers"),
    "pretrained_path": ("pretrained_path", str, "local ImageNet weights file for the backbone"),
}


def add_arguments(parser: argparse.ArgumentParser, name: str = "train") -> None:
    """Register the ``train`` options on ``parser``."""
    parser.add_argument("lake", help="lake root: a local folder or s3://bucket/prefix")
    parser.add_argument("--storage-path", required=True, help="where runs live (local folder or s3://)")
    parser.add_argument(
        "--name", default="dfdc-av", help="run name; an existing run is resumed (default dfdc-av)"
    )
    parser.add_argument("--config", help="training settings file (JSON or YAML, TrainConfig fields)")
    parser.add_argument("--recipe", choices=("demo", "dfdc"), default=None,
                        help="named defaults the file and --set go on top of: demo (CPU demo) or dfdc "
                             "(the DFDC 1st-place setup) (default: the file's recipe, else demo)")  # fmt: skip
    parser.add_argument("--preview", type=int, default=None, metavar="N",
                        help="write STORAGE_PATH/NAME/augmentations.html with N training samples as the "
                             "model would see them (augmented), and exit without training")  # fmt: skip
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override any training setting, e.g. --set dropout=0.3 (repeatable)")  # fmt: skip
    parser.add_argument("--val-parts", help="with --split-by part: comma-separated parts that validate")
    parser.add_argument("--use-gpu", action="store_true", default=None, help="one GPU per worker")
    parser.add_argument("--address", help="Ray cluster to join (default: RAY_ADDRESS, else a local Ray)")
    parser.add_argument(
        "--json", action="store_true", help="accepted for uniformity: the summary is one JSON line either way"
    )
    from dfdc_lake.train.config import TrainConfig

    for flag, (field, kind, help_text) in _FLAGS.items():
        default = TrainConfig.model_fields[field].default
        parser.add_argument(
            "--" + flag.replace("_", "-"), dest=flag, type=kind, help=f"{help_text} (default {default})"
        )
    from dfdc_lake.cli.common import DeprecatedAlias

    parser.add_argument(
        "--format", dest="shard_format", action=DeprecatedAlias, replacement="--shard-format",
        metavar="SHARD_FORMAT", help="deprecated spelling of --shard-format",
    )  # fmt: skip


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = {field: getattr(args, flag) for flag, (field, _, _) in _FLAGS.items()}
    values["use_gpu"] = args.use_gpu
    if args.val_parts:
        values["val_parts"] = [int(p) for p in args.val_parts.split(",") if p.strip()]
    return values


def run(args: argparse.Namespace) -> int:
    """Train (or resume) and print a one-line JSON summary; 0 on success."""
    from dfdc_lake.lake.lake import Lake
    from dfdc_lake.train.config import load_train_config
    from dfdc_lake.train.driver.trainer import train

    cfg = load_train_config(args.config, args.overrides, args.recipe).with_overrides(_overrides(args))
    if args.preview is not None:
        from dfdc_lake.report.augmentations import write_augmentation_page

        page = write_augmentation_page(Lake.open(args.lake), args.storage_path, args.name, cfg, args.preview)
        print(json.dumps({"preview": page, "samples": args.preview}), file=sys.stdout, flush=True)
        return 0
    verbose = bool(getattr(args, "verbose", False))
    result = train(
        Lake.open(args.lake), args.storage_path, args.name, cfg, address=args.address, verbose=verbose
    )
    last = result.metrics[-1] if result.metrics else {}
    summary = {
        "run": result.run_url,
        "epochs_done": len(result.metrics),
        "best_checkpoint": result.best_checkpoint,
        "latest_checkpoint": result.latest_checkpoint,
        "val_log_loss": last.get("val_log_loss"),
        "prior_log_loss": last.get("prior_log_loss"),
        "val_auc": last.get("val_auc"),
    }
    print(json.dumps(summary), file=sys.stdout, flush=True)
    return 0
