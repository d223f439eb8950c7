"""The ``report`` command: ``dfdc-lake report LAKE --out DIR [--families N] [--family ID]... [--verify]``.

Writes a static HTML report (open ``DIR/index.html`` from disk; no server, no network) and prints
where it is and how long it took.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["EPILOG", "add_arguments", "run"]

EPILOG = """\
examples:
  dfdc-lake report ./lake --out ./report          # then open ./report/index.html
  dfdc-lake report s3://bucket/lake --out ./report --families 50 --verify"""


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Arguments of ``report``."""
    parser.add_argument("lake", metavar="LAKE", help="lake root: a local folder or s3://bucket/prefix")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write the report into")
    parser.add_argument(
        "--families",
        type=int,
        default=20,
        metavar="N",
        help="family pages for a deterministic sample of N (default 20)",
    )
    parser.add_argument(
        "--family", action="append", default=[], metavar="ID", help="also a page for this family (repeatable)"
    )
    parser.add_argument(
        "--frames-per-track", type=int, default=10, metavar="K", help="crop thumbnails per track (default 10)"
    )
    parser.add_argument(
        "--gallery",
        type=int,
        default=12,
        metavar="N",
        help="no_face videos shown with source frames (default 12)",
    )
    parser.add_argument(
        "--verify",
        action="store_true",
        help="check every shard whole (sha256, rows, schema) instead of the quick listing check",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON document")


def run(args: argparse.Namespace) -> int:
    """Build the report and print its summary line."""
    from dfdc_lake.io.s3_settings import redact
    from dfdc_lake.lake.lake import Lake
    from dfdc_lake.report.build import ReportOptions, build_report

    options = ReportOptions(
        families=args.families,
        family_ids=tuple(args.family),
        frames_per_track=args.frames_per_track,
        gallery=args.gallery,
        full_verify=args.verify,
    )
    summary = build_report(Lake.open(args.lake), args.out, options)
    if args.json:
        import json
        from dataclasses import asdict

        sys.stdout.write(redact(json.dumps(asdict(summary), indent=1, default=str)) + "\n")
    else:
        sys.stdout.write(redact(summary.line()) + "\n")
    return 0
