"""The ``status``, ``verify`` and ``gc`` commands (see ``dfdc_lake.cli``).

``status LAKE [--json]``; ``verify LAKE [--json]`` exits 0 when clean, 1 when committed data is wrong;
``gc LAKE [--delete] [--json]`` lists orphans and deletes them only with ``--delete``.
Everything printed passes through ``redact``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from dfdc_lake.io.s3_settings import redact

__all__ = ["add_arguments", "human_bytes", "run"]


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Arguments of one of the three commands."""
    parser.add_argument("lake", metavar="LAKE", help="lake root: a local folder or s3://bucket/prefix")
    parser.add_argument("--json", action="store_true", help="print one JSON document (for scripts)")
    if name == "gc":
        parser.add_argument("--delete", action="store_true", help="really delete (default: dry run)")


def _print(text: str) -> None:
    sys.stdout.write(redact(text) + "\n")


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KiB' (every command and the report print sizes this way)."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{n} B"  # pragma: no cover


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

    status = lake_status(Lake.open(args.lake))
    _print(json.dumps(status, indent=1) if args.json else _format_status(status))
    return 0


def _run_verify(args: argparse.Namespace) -> int:
    from dfdc_lake.lake.lake import Lake
    from dfdc_lake.lake.verify import verify_lake

    report = verify_lake(Lake.open(args.lake))
    if args.json:
        _print(json.dumps(report.to_dict(), indent=1))
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
        _print("\n".join(lines))
    return 0 if report.ok else 1


def _run_gc(args: argparse.Namespace) -> int:
    from dfdc_lake.lake.lake import Lake
    from dfdc_lake.lake.verify import gc_lake

    paths = gc_lake(Lake.open(args.lake), dry_run=not args.delete)
    if args.json:
        _print(json.dumps({"lake": args.lake, "deleted": bool(args.delete), "paths": paths}, indent=1))
        return 0
    verb = "deleted" if args.delete else "would delete"
    lines = [f"{verb} {path}" for path in paths]
    lines.append(
        f"{verb} {len(paths)} orphaned objects" + ("" if args.delete else " (dry run; --delete to do it)")
    )
    _print("\n".join(lines))
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``status``, ``verify`` or ``gc`` as chosen by ``args.command``."""
    handlers = {"status": _run_status, "verify": _run_verify, "gc": _run_gc}
    return handlers[args.command](args)
