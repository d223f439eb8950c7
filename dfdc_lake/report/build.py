"""Build the whole report: read the records once, draw the chosen families, the failures, the overview.

The overview is written last, so it can carry the report's own build time.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dfdc_lake.report.facts import read_facts
from dfdc_lake.report.families import choose_families, read_families
from dfdc_lake.report.family_page import FamilyPageWriter
from dfdc_lake.report.pages import FamilyLink, failures_page, overview_page

if TYPE_CHECKING:
    from dfdc_lake.lake.lake import Lake

__all__ = ["ReportOptions", "ReportSummary", "build_report"]


@dataclass(frozen=True)
class ReportOptions:
    """What the report draws.

    Attributes:
        families: family pages for a deterministic sample of this many families with samples.
        family_ids: families that get a page whatever the sample (added before it).
        frames_per_track: crop thumbnails per face track (evenly spaced over the track).
        gallery: ``no_face`` videos shown with frames decoded from the source.
        full_verify: read every shard whole (``verify``) instead of the listing check.
    """

    families: int = 20
    family_ids: tuple[str, ...] = ()
    frames_per_track: int = 10
    gallery: int = 12
    full_verify: bool = False


@dataclass
class ReportSummary:
    """Where the report is, what it holds and how long each part took."""

    index: Path
    family_pages: int = 0
    images: int = 0
    verify_ok: bool = True
    seconds: dict[str, float] = field(default_factory=dict)

    def line(self) -> str:
        parts = ", ".join(f"{name} {s:.1f}s" for name, s in self.seconds.items() if name != "total")
        health = "" if self.verify_ok else "; VERIFY FAILS (see its first page)"
        return (
            f"report: {self.index} ({self.family_pages} family pages, {self.images} images) "
            f"in {self.seconds.get('total', 0.0):.1f}s ({parts}){health}"
        )


def build_report(
    lake: Lake, out_dir: str | os.PathLike[str], options: ReportOptions = ReportOptions()
) -> ReportSummary:
    """Write the report of ``lake`` under ``out_dir`` (created; earlier pages of the same names replaced).

    Raises:
        ReportError: a ``family_ids`` entry is not in the lake.
    """
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = ReportSummary(index=out / "index.html")
    facts = read_facts(lake, full_verify=options.full_verify)
    summary.verify_ok = facts.health.ok
    summary.seconds["records"] = time.perf_counter() - started
    chosen = choose_families(facts.records, options.families, options.family_ids)
    families = read_families(lake, facts.records, chosen, skip=facts.health.missing_paths)
    writer = FamilyPageWriter(out, frames_per_track=options.frames_per_track)
    links = []
    for family in families:
        writer.write(family)
        links.append(FamilyLink(family.family_id, family.part, len(family.videos), len(family.fakes)))
    summary.family_pages = len(families)
    summary.seconds["families"] = time.perf_counter() - started - summary.seconds["records"]
    mark = time.perf_counter()
    (out / "failures.html").write_text(failures_page(facts, out, options.gallery), encoding="utf-8")
    summary.seconds["failures"] = time.perf_counter() - mark
    with_samples = len({o.family_id for r in facts.records for o in r.outcomes if o.num_samples > 0})
    built_s = time.perf_counter() - started
    summary.index.write_text(overview_page(facts, links, with_samples, built_s), encoding="utf-8")
    summary.images = writer.images_written + sum(1 for _ in (out / "img" / "no_face").glob("*.jpg"))
    summary.seconds["total"] = time.perf_counter() - started
    return summary
