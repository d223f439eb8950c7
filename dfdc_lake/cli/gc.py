"""``dfdc-lake gc LAKE [--delete] [--json]``: orphaned shards of failed attempts, deleted only with ``--delete``."""

from __future__ import annotations

import argparse
import json

from dfdc_lake.cli.common import add_lake_argument, print_redacted

__all__ = ["EPILOG", "add_arguments", "run"]

EPILOG = """\
examples:
  dfdc-lake gc ./lake              # list what would be deleted
  dfdc-lake gc ./lake --delete"""


def add_arguments(parser: argparse.ArgumentParser, name: str = "gc") -> None:
    """Register the ``gc`` options on ``parser``."""
    add_lake_argument(parser)
    parser.add_argument("--delete", action="store_true", help="really delete (default: dry run)")


def run(args: argparse.Namespace) -> int:
    """List (or with --delete, remove) the lake's orphans; 0."""
    from dfdc_lake.lake.lake import Lake
    from dfdc_lake.lake.verify import gc_lake

    paths = gc_lake(Lake.open(args.lake, must_exist=True), dry_run=not args.delete)
    if args.json:
        print_redacted(
            json.dumps({"lake": args.lake, "deleted": bool(args.delete), "paths": paths}, indent=1)
        )
        return 0
    verb = "deleted" if args.delete else "would delete"
    lines = [f"{verb} {path}" for path in paths]
    lines.append(
        f"{verb} {len(paths)} orphaned objects" + ("" if args.delete else " (dry run; --delete to do it)")
    )
    print_redacted("\n".join(lines))
    return 0
