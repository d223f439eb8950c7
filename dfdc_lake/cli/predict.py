"""``dfdc-lake predict CHECKPOINT VIDEO...``: score raw videos the way DFDC did, into a submission CSV.

    dfdc-lake predict runs/av1 --folder test_videos --out submission.csv
    dfdc-lake predict runs/av1/epoch_0005 a.mp4 b.mp4 --fake-rate 0.5

CHECKPOINT is a checkpoint folder (``epoch_NNNN``) or a run folder (its best checkpoint by validation
log loss), local or s3://. Videos go through the same stages as ingest (with the lake's ingest config,
stored in the checkpoint), no lake needed. ``--out`` gets exactly the competition's ``filename,label``
columns; ``<out>.details.csv`` says per video how the label was obtained (faces+audio, faces,
audio_only or prior) and why, and videos without a face or that failed to decode are named on stderr.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dfdc_lake.errors import ConfigError

if TYPE_CHECKING:
    from dfdc_lake.config import Config

__all__ = ["EPILOG", "add_arguments", "run", "write_submission"]

EPILOG = """\
examples:
  dfdc-lake predict runs/av1 --folder test_videos --out submission.csv
  dfdc-lake predict runs/av1/epoch_0005 a.mp4 b.mp4 --fake-rate 0.5 --json

CHECKPOINT is a checkpoint folder (epoch_NNNN) or a run folder (its best checkpoint). OUT gets the
competition's filename,label columns; OUT.details.csv says how each label was obtained."""

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser, name: str = "predict") -> None:
    """Register the ``predict`` options on ``parser``."""
    parser.add_argument("checkpoint", help="checkpoint folder or run folder (local or s3://)")
    parser.add_argument("videos", nargs="*", help="video files or URLs to score")
    parser.add_argument("--folder", help="score every *.mp4 in this folder (sorted by name)")
    parser.add_argument("--out", default="submission.csv", help="submission CSV (default submission.csv)")
    parser.add_argument("--fake-rate", type=float, default=None,
                        help="fake rate of the scored set to calibrate for (default: the training fake rate; "
                             "0.5 for a balanced test set)")  # fmt: skip
    parser.add_argument(
        "--clip", type=float, default=0.01, help="clip labels to [clip, 1-clip] (default 0.01)"
    )
    parser.add_argument("--config", help="ingest config file (default: the one stored with the checkpoint)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override an ingest setting, e.g. --set faces.device=cpu")  # fmt: skip
    parser.add_argument("--device", default="cpu", help="torch device for the detector model (default cpu)")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON summary on stdout (videos, files written, labels by mode)")  # fmt: skip
    parser.add_argument("--aggregation", choices=("max", "confident"), default=None,
                        help="video score from its tracks: max over tracks, or the DFDC winner's confident "
                             "strategy over per-crop scores (default: what the run validated with)")  # fmt: skip


def _videos(args: argparse.Namespace) -> list[str]:
    videos = list(args.videos)
    if args.folder:
        folder = Path(args.folder)
        if not folder.is_dir():
            raise ConfigError(f"--folder {folder} is not a folder")
        videos += sorted(str(p) for p in folder.iterdir() if p.suffix.lower() == ".mp4")
    if not videos:
        raise ConfigError("no videos to score: give VIDEO arguments or --folder")
    return videos


def _ingest_config(args: argparse.Namespace, stored: dict[str, Any] | None) -> Config:
    from dfdc_lake.config import Config, load_config

    if args.config:
        return load_config(args.config, args.overrides)
    if stored is None:
        log.warning(
            "the checkpoint carries no ingest config; using the defaults (pass --config to match the lake)"
        )
        return Config().with_overrides(args.overrides)
    return Config.model_validate(stored).with_overrides(args.overrides)


def write_submission(predictions: Iterable, out: str | Path) -> Path:
    """Write ``filename,label`` (the competition format) and ``<out>.details.csv``; returns the details path."""
    predictions = list(predictions)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["filename", "label"])
        for p in predictions:
            writer.writerow([p.filename, f"{p.label:.6f}"])
    details = out.with_name(out.name + ".details.csv")
    with details.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["filename", "label", "mode", "status", "num_tracks", "reason"])
        for p in predictions:
            writer.writerow([p.filename, f"{p.label:.6f}", p.mode, p.status, p.num_tracks, p.reason or ""])
    return details


def run(args: argparse.Namespace) -> int:
    """Score the videos and write the submission; 0 when every video got a row."""
    from dfdc_lake.train.inference.checkpoint import load_checkpoint
    from dfdc_lake.train.inference.scorer import VideoScorer

    if not 0.0 <= args.clip < 0.5:
        raise ConfigError(f"--clip {args.clip} must be in [0, 0.5)")
    if args.fake_rate is not None and not 0.0 < args.fake_rate < 1.0:
        raise ConfigError(f"--fake-rate {args.fake_rate} must be strictly between 0 and 1")
    videos = _videos(args)
    checkpoint = load_checkpoint(args.checkpoint, device=args.device)
    scorer = VideoScorer(
        checkpoint, _ingest_config(args, checkpoint.meta.get("ingest_config")), args.fake_rate, args.clip,
        args.aggregation,
    )  # fmt: skip
    predictions = []
    for source in videos:
        prediction = scorer.process(source)
        predictions.append(prediction)
        if prediction.mode in ("audio_only", "prior"):
            print(
                f"dfdc-lake predict: {prediction.filename}: {prediction.status}"
                f"{' (' + prediction.reason + ')' if prediction.reason else ''}; label from {prediction.mode}",
                file=sys.stderr,
            )
    details = write_submission(predictions, args.out)
    modes = {
        m: sum(p.mode == m for p in predictions) for m in ("faces+audio", "faces", "audio_only", "prior")
    }
    print(
        f"dfdc-lake predict: {len(predictions)} videos -> {args.out} ({details.name}); {modes}",
        file=sys.stderr,
    )
    if args.json:
        import json

        document = {"videos": len(predictions), "out": str(args.out), "details": str(details), "modes": modes}
        print(json.dumps(document, indent=1))
    return 0
