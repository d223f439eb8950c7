"""``dfdc-lake ingest SOURCE LAKE`` and ``python pipelines/ingest.py SOURCE LAKE`` (same arguments)."""

from __future__ import annotations

import argparse
import json
import sys

from dfdc_lake.errors import EXIT_DATA_PROBLEMS, EXIT_OK

__all__ = ["EPILOG", "add_arguments", "add_config_options", "run"]

EPILOG = """\
examples:
  dfdc-lake ingest ./dfdc ./lake
  dfdc-lake ingest ./dfdc ./lake --set decode.frame_stride=5 --set lake.formats='["parquet"]'
  dfdc-lake ingest s3://bucket/dfdc s3://bucket/lake --address ray://head:10001
  dfdc-lake ingest ./dfdc ./lake --redo chunk-00003

Rerunning the same command resumes: committed chunks are skipped. Progress goes to stderr (one live
line on a terminal, `[ingest] videos K/N ...` lines elsewhere). Exit 1 when chunks failed: they stay
uncommitted, and a rerun redoes them. `dfdc-lake config` prints the settings a run would use."""


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """``--config FILE`` and repeatable ``--set SECTION.KEY=VALUE``: the ingest config, as every
    command that processes or plans a source takes it."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="JSON or YAML config file (every setting: docs/configuration.md, `dfdc-lake config`)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one setting, e.g. --set decode.frame_stride=5 (repeatable)",
    )


def add_arguments(parser: argparse.ArgumentParser, name: str = "ingest") -> None:
    parser.add_argument(
        "source", help="DFDC root with dfdc_train_part_* folders, one part folder, or zips; local or s3://"
    )
    parser.add_argument("lake", help="lake root: a local path or s3://bucket/prefix")
    add_config_options(parser)
    parser.add_argument(
        "--redo", nargs="+", default=[], metavar="CHUNK", help="reprocess these committed chunks"
    )
    parser.add_argument(
        "--address",
        help="Ray cluster to join (default: $RAY_ADDRESS, else a cluster started with `ray start` on this "
        "machine, else a new local Ray; 'local' forces a private one)",
    )
    parser.add_argument(
        "--lock-wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another run's lock",
    )
    parser.add_argument(
        "--progress-every",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="seconds between progress lines in a log or pipe (default 5; a terminal gets one live line)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the run report as one JSON document on stdout at the end (progress stays on stderr)",
    )


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from dfdc_lake.config import load_config
    from dfdc_lake.ingest.driver import ingest
    from dfdc_lake.lake.lake import Lake

    config = load_config(args.config, args.overrides)
    report = ingest(
        args.source,
        Lake.open(args.lake),
        config,
        redo=args.redo,
        address=args.address,
        lock_wait_s=args.lock_wait,
        progress_every_s=args.progress_every,
    )
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    if report.failed_chunks:
        print(
            f"{len(report.failed_chunks)} chunks failed and stay uncommitted; rerun the same command to redo them: "
            + ", ".join(sorted(report.failed_chunks)),
            file=sys.stderr,
        )
        return EXIT_DATA_PROBLEMS
    return EXIT_OK
