"""``dfdc-lake config [--config FILE] [--set ...] [--json] [--train]``: the effective settings and their
hash, as a run with the same options would use them. Reads nothing but the config file."""

from __future__ import annotations

import argparse
import json
from typing import Any

from dfdc_lake.cli.common import add_json_option
from dfdc_lake.cli.ingest import add_config_options

__all__ = ["EPILOG", "add_arguments", "flatten", "run", "settings_document"]

EPILOG = """\
examples:
  dfdc-lake config                                   # the defaults and their hash
  dfdc-lake config --set decode.frame_stride=5 --json
  dfdc-lake config --config ingest.yaml              # what `ingest --config ingest.yaml` would use
  dfdc-lake config --train --recipe dfdc --set epochs=3

Each text line is `setting = value`, with the value as JSON, so any line works as a --set.
The ingest hash is the one recorded with every chunk (scheduling settings, ray.*, are not part of it);
with --train it is the training hash recorded with every run."""


def add_arguments(parser: argparse.ArgumentParser, name: str = "config") -> None:
    """Register the ``config`` options on ``parser``."""
    add_config_options(parser)
    parser.add_argument(
        "--train",
        action="store_true",
        help="the training settings instead (--config is then a training settings file and --set takes "
        "a bare KEY=VALUE, as `dfdc-lake train` does)",
    )
    parser.add_argument(
        "--recipe", choices=("demo", "dfdc"), default=None, help="with --train: the named training defaults"
    )
    add_json_option(parser, "print one JSON document: the settings and their hash")


def settings_document(args: argparse.Namespace) -> dict[str, Any]:
    """``{"ingest": settings, "config_hash": hash}``, or with ``--train`` ``{"train": ..., "train_hash": ...}``."""
    if args.train:
        from dfdc_lake.train.config import load_train_config

        train = load_train_config(args.config, args.overrides, args.recipe)
        return {"train": train.model_dump(mode="json"), "train_hash": train.train_hash()}
    if args.recipe is not None:
        from dfdc_lake.errors import ConfigError

        raise ConfigError("--recipe names training defaults: use it with --train")
    from dfdc_lake.config import load_config

    config = load_config(args.config, args.overrides)
    return {"ingest": config.model_dump(mode="json"), "config_hash": config.config_hash()}


def flatten(settings: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``(dotted.name, value)`` for every leaf setting, in the models' field order."""
    rows: list[tuple[str, Any]] = []
    for key, value in settings.items():
        if isinstance(value, dict):
            rows += flatten(value, f"{prefix}{key}.")
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


def run(args: argparse.Namespace) -> int:
    """Print the settings; 0 (an invalid file or --set is a ConfigError: exit 2)."""
    document = settings_document(args)
    if args.json:
        print(json.dumps(document, indent=1))
        return 0
    kind, hash_key = ("train", "train_hash") if args.train else ("ingest", "config_hash")
    lines = [f"# {kind} settings, {hash_key} {document[hash_key]}"]
    lines += [f"{name} = {json.dumps(value)}" for name, value in flatten(document[kind])]
    print("\n".join(lines))
    return 0
