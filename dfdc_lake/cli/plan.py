"""``dfdc-lake plan SOURCE [LAKE]``: what an ingest would do, and roughly how long and how big, before
any work. Reads the catalog (and the lake's commit records); writes nothing anywhere."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import TYPE_CHECKING

from dfdc_lake.units import human_bytes

if TYPE_CHECKING:
    from dfdc_lake.plan.counts import RunPlanSummary
    from dfdc_lake.plan.estimate import RunEstimate

__all__ = ["EPILOG", "add_arguments", "format_estimate", "run"]

EPILOG = """\
examples:
  dfdc-lake plan ./dfdc                            # counts, then a timed sample of 2 families
  dfdc-lake plan s3://bucket/dfdc s3://bucket/lake --cores 64 --gpus 8
  dfdc-lake plan ./dfdc ./lake --no-estimate --json

Nothing is written, in the source or the lake."""

BUSY_SHARE = 0.8  # below this share of a core for the sample, the output says the machine is busy


def add_arguments(parser: argparse.ArgumentParser, name: str = "plan") -> None:
    parser.add_argument(
        "source", help="DFDC root with dfdc_train_part_* folders, one part folder, or zips; local or s3://"
    )
    parser.add_argument(
        "lake", nargs="?", help="lake to resume (local or s3://): count the chunks it already holds"
    )
    from dfdc_lake.cli.ingest import add_config_options

    add_config_options(parser)
    parser.add_argument(
        "--cores",
        type=int,
        help="CPUs of the cluster the run will use, taken as free (default: this machine's, as busy as it "
        "is now)",
    )
    parser.add_argument(
        "--gpus", type=int, default=0, help="GPUs of that cluster: detection is then left out of the time"
    )
    parser.add_argument(
        "--sample-families",
        type=int,
        default=2,
        metavar="K",
        help="families processed here to measure the cost per clip (default 2)",
    )
    parser.add_argument(
        "--no-estimate", action="store_true", help="counts only: process no sample, estimate nothing"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document (for scripts)")


def format_estimate(estimate: RunEstimate) -> str:
    """The estimate as text: the result first, then how it was made."""
    from dfdc_lake.units import format_duration

    c = estimate.costs
    sizes = ", ".join(f"{fmt} {human_bytes(n)}" for fmt, n in estimate.bytes_by_format.items())
    per_clip = ", ".join(
        f"{fmt} {human_bytes(c.bytes_per_original[fmt])} per original / "
        f"{human_bytes(c.bytes_per_fake.get(fmt, 0.0))} per fake"
        for fmt in c.bytes_per_original
    )
    lines = [
        f"{'estimate':<16}wall ~{format_duration(estimate.wall_s)} for {estimate.chunks} chunks "
        f"({estimate.originals} originals, {estimate.fakes} fakes; {estimate.tasks} family tasks) on "
        f"{estimate.cores} cores" + (f" and {estimate.gpus} GPUs" if estimate.gpus else ""),
        f"{'':<16}lake ~{sizes or '-'}",
        f"{'how':<16}measured here on {len(c.families)} families of this source ({c.originals} originals, "
        f"{c.fakes} fakes; {c.passes} passes in {c.sample_s:.1f} s; MTCNN load and a warm-up video "
        f"{c.setup_s:.1f} s apart): "
        f"CPU {c.s_per_original:.3g} s per original ({c.detect_s_per_original:.3g} s of it detection), "
        f"{c.s_per_fake:.3g} s per fake; {per_clip}",
        f"{'':<16}{estimate.formula}",
    ]
    if c.cpu_share < BUSY_SHARE and estimate.busy_share == 1:
        lines.append(
            f"{'note':<16}this machine is busy (the sample got {c.cpu_share:.0%} of a core); the estimate "
            "prices free cores"
        )
    return "\n".join(lines)


def _plan(args: argparse.Namespace) -> tuple[RunPlanSummary, RunEstimate | None]:
    from dfdc_lake.config import load_config
    from dfdc_lake.plan.chunks import plan_chunks
    from dfdc_lake.plan.counts import summarize_plan
    from dfdc_lake.source.catalog import load_catalog

    if (args.cores is not None and args.cores < 1) or args.gpus < 0 or args.sample_families < 1:
        from dfdc_lake.errors import ConfigError

        raise ConfigError("--cores and --sample-families must be >= 1 and --gpus >= 0")
    config = load_config(args.config, args.overrides)
    catalog = load_catalog(args.source)
    families = catalog.families()
    chunks = plan_chunks(families, config.lake.videos_per_chunk)
    committed: set[str] = set()
    if args.lake is not None:
        from dfdc_lake.lake.lake import Lake

        committed = Lake.open(args.lake).committed_chunk_ids(config.config_hash())
    summary = summarize_plan(catalog, chunks, config, families=families, lake=args.lake, committed=committed)
    todo = [chunk for chunk in chunks if chunk.chunk_id not in committed]
    if args.no_estimate or not todo:  # nothing to measure, or nothing left to estimate
        return summary, None
    from dfdc_lake.plan.clip_costs import measure_clip_costs
    from dfdc_lake.plan.estimate import estimate_run

    costs = measure_clip_costs(families, config, args.sample_families)
    if args.cores is None:  # this machine, as busy as the sample found it
        return summary, estimate_run(costs, todo, config, os.cpu_count() or 1, args.gpus, costs.cpu_share)
    return summary, estimate_run(costs, todo, config, args.cores, args.gpus)


def run(args: argparse.Namespace) -> int:
    from dfdc_lake.io.s3_settings import redact
    from dfdc_lake.plan.counts import format_summary

    started = time.perf_counter()
    summary, estimate = _plan(args)
    if args.json:
        document = {
            "summary": summary.to_dict(),
            "estimate": None if estimate is None else estimate.to_dict(),
            "plan_s": round(time.perf_counter() - started, 3),
        }
        text = json.dumps(document, indent=1)
    else:
        text = format_summary(summary)
        if estimate is not None:
            text += "\n" + format_estimate(estimate)
        text += f"\n(planned in {time.perf_counter() - started:.1f} s; nothing was written)"
    sys.stdout.write(redact(text) + "\n")
    return 0
