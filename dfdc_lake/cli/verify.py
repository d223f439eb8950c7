"""``dfdc-lake verify LAKE [--json]``: every committed shard against its commit record (sha256, rows).

Exits 0 when clean, 1 when committed data is wrong, 2 when there is no lake at LAKE.
"""

from __future__ import annotations

import argparse
import json

from dfdc_lake.cli.common import add_lake_argument, print_redacted
from dfdc_lake.units import human_bytes

__all__ = ["EPILOG", "add_arguments", "run"]

EPILOG = """\
examples:
  dfdc-lake verify ./lake
  dfdc-lake verify s3://bucket/lake --json

Exit 0 when every committed shard matches its commit record, 1 when committed data is wrong."""


def add_arguments(parser: argparse.ArgumentParser, name: str = "verify") -> None:
    """Register the ``verify`` options on ``parser``."""
    add_lake_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Verify the lake; 0 when clean, 1 when committed data is wrong."""
    from dfdc_lake.lake.lake import Lake
    from dfdc_lake.lake.verify import verify_lake

    report = verify_lake(Lake.open(args.lake, must_exist=True))
    if args.json:
        print_redacted(json.dumps(report.to_dict(), indent=1))
    else:
        lines = [
            f"checked {report.chunks_checked} chunks, {report.shards_checked} shards, "
            f"{human_bytes(report.bytes_checked)} in {report.lake}"
        ]
        lines += [f"PROBLEM {p.kind}: {p.path}: {p.detail}" for p in report.problems]
        if report.orphans:
            lines.append(
                f"{len(report.orphans)} orphaned (uncommitted) objects under chunks/; `dfdc-lake gc` lists them"
            )
        lines.append("OK" if report.ok else f"{len(report.problems)} problems")
        print_redacted("\n".join(lines))
    return 0 if report.ok else 1
