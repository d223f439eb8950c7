"""The ``dfdc-lake`` command. Each subcommand lives in its own module and is imported only when used,
so ``dfdc-lake --help`` stays fast (no torch or ray import)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from dfdc_lake.errors import DfdcLakeError

__all__ = ["main"]

# name -> (module, one-line help). Each module defines add_arguments(parser) and run(args) -> int.
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("dfdc_lake.synth.command", "write a synthetic DFDC-shaped corpus with ground truth"),
    "ingest": ("dfdc_lake.distributed.command", "turn DFDC parts into a lake of Parquet/WebDataset shards"),
    "status": ("dfdc_lake.lake.commands", "summarize a lake's committed chunks"),
    "verify": ("dfdc_lake.lake.commands", "check every committed shard against its commit record"),
    "gc": ("dfdc_lake.lake.commands", "remove orphaned shards of failed attempts (dry run by default)"),
    "train": ("dfdc_lake.train.command", "train the audio-visual detector from a lake with Ray Train"),
    "predict": ("dfdc_lake.train.predict", "score raw videos with a trained checkpoint"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dfdc-lake", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(module_name)
        module.add_arguments(sub_parser, name)
        sub_parser.set_defaults(_module=module_name)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args) or 0)
    except DfdcLakeError as err:
        print(f"dfdc-lake {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
