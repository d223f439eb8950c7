"""``dfdc-lake status LAKE [--json]``: a lake's committed chunks, videos, samples, shards and lock.

Everything printed passes through ``redact``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from dfdc_lake.cli.common import add_lake_argument, print_redacted
from dfdc_lake.units import human_bytes

__all__ = ["EPILOG", "add_arguments", "run"]

EPILOG = """\
examples:
  dfdc-lake status ./lake
  dfdc-lake status s3://bucket/lake --json"""


def _format_source_counts(counts: dict[str, Any] | None) -> str | None:
    """One line of the latest run's source counts, with an example of each, or None without them."""
    if counts is None:
        return None
    found = [
        f"{value['count']} {name.replace('_', ' ')}"
        + (f" (e.g. {value['first'][0]})" if value["first"] else "")
        for name, value in counts.items()
        if value["count"]
    ]
    return f"{'source (run):':<18}" + ("; ".join(found) or "nothing unlisted, missing, duplicated or empty")


def _format_status(status: dict[str, Any]) -> str:
    lines = [f"lake:             {status['lake']}"]
    if status["manifest"] is None:
        lines.append("                  (no lake.json yet: nothing was ever committed here)")
    planned = status["chunks_planned"]
    lines.append(
        f"chunks committed: {status['chunks_committed']}"
        + ("" if planned is None else f" of {planned} planned, {status['chunks_pending']} pending")
    )
    videos = status["videos"]
    by_status = ", ".join(f"{k} {v}" for k, v in videos["by_status"].items()) or "-"
    lines.append(f"videos:           {videos['total']} ({by_status})")
    lines.append(f"samples:          {status['samples']}")
    for fmt, count in status["shards_by_format"].items():
        lines.append(f"{fmt + ':':<17} {count} shards, {human_bytes(status['bytes_by_format'][fmt])}")
    lines.append(
        f"config hashes:    {', '.join(f'{h} ({n} chunks)' for h, n in status['config_hashes'].items()) or '-'}"
    )
    run = status["latest_run"]
    if run:
        ended = run.get("finished_at") or "not finished"
        lines.append(f"latest run:       {run.get('run_id')} started {run.get('started_at')}, {ended}")
    source_line = _format_source_counts(status.get("source_counts"))
    if source_line is not None:
        lines.append(source_line)
    lock = status["lock"]
    if lock:
        state = "STALE" if lock["stale"] else "live"
        lines.append(
            f"lock:             held by {lock['owner']} (pid {lock['pid']} on {lock['host']}), "
            f"heartbeat {lock['heartbeat_age_s']:.0f}s ago ({state})"
        )
    return "\n".join(lines)


def _run_status(args: argparse.Namespace) -> int:
    from dfdc_lake.lake.lake import Lake
    from dfdc_lake.lake.status import lake_status

    status = lake_status(Lake.open(args.lake, must_exist=True))
    print_redacted(json.dumps(status, indent=1) if args.json else _format_status(status))
    return 0


def add_arguments(parser: argparse.ArgumentParser, name: str = "status") -> None:
    """Register the ``status`` options on ``parser``."""
    add_lake_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Print the lake's status; 0."""
    return _run_status(args)
