"""What a run would do, before it does anything: the catalog and chunk plan summed up as counts.

Pure data from the catalog, the chunk plan and (optionally) the set of chunks a lake already holds;
nothing is decoded, no Ray. ``dfdc-lake plan`` prints it (with a time estimate, see ``estimate``) and
``ingest`` prints it at the start of every run; the catalog's odd-but-usable counts
(:class:`~dfdc_lake.lake.runs.SourceCounts`) also go into the run record.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from dfdc_lake.config import Config
from dfdc_lake.lake.runs import NamedCount, SourceCounts
from dfdc_lake.plan.chunks import Chunk
from dfdc_lake.records import Family
from dfdc_lake.source.catalog import Catalog

__all__ = [
    "FAKES_PER_ORIGINAL_BINS",
    "NAMES_SHOWN",
    "LakeProgress",
    "RunPlanSummary",
    "Spread",
    "format_summary",
    "source_counts",
    "summarize_plan",
]

NAMES_SHOWN = 5  # names kept with each count (in the summary and the run record)
# Histogram bins of fakes per original: (label, lowest, highest). DFDC has 0 to ~40.
FAKES_PER_ORIGINAL_BINS = (("0", 0, 0), ("1-2", 1, 2), ("3-5", 3, 5), ("6-10", 6, 10),
                           ("11-20", 11, 20), ("21-40", 21, 40), (">40", 41, None))  # fmt: skip


@dataclass(frozen=True)
class Spread:
    """Smallest, median and largest of a list of counts."""

    min: int
    median: float
    max: int

    @classmethod
    def of(cls, values: Sequence[int]) -> Spread | None:
        return cls(min(values), float(statistics.median(values)), max(values)) if values else None

    def __str__(self) -> str:
        return f"min {self.min} / median {self.median:g} / max {self.max}"


@dataclass(frozen=True)
class LakeProgress:
    """How much of the plan a lake already holds, committed with the plan's config hash."""

    lake: str
    committed_chunks: int
    remaining_chunks: int
    remaining_clips: int
    committed_outside_plan: int  # chunks committed with this hash that the plan does not have


@dataclass(frozen=True)
class RunPlanSummary:
    """Everything ``plan`` and ``ingest`` say about a run before it starts (counts, no timing)."""

    source: str
    config_hash: str
    parts: list[int]
    clips: int
    real: int
    fake: int
    families: int
    fakes_per_original: Spread | None  # over families whose REAL original is listed
    fakes_per_original_histogram: dict[str, int]
    originals_missing: int  # families whose original is not listed (their fakes detect on their own)
    videos_per_chunk: int
    chunks: int
    clips_per_chunk: Spread | None
    counts: SourceCounts
    zero_byte: NamedCount = field(default_factory=NamedCount)
    lake: LakeProgress | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``plan --json``)."""
        data = asdict(self)
        data["counts"] = self.counts.model_dump()
        data["zero_byte"] = self.zero_byte.model_dump()
        return data


def _named(names: Iterable[str]) -> NamedCount:
    listed = list(names)
    return NamedCount(count=len(listed), first=listed[:NAMES_SHOWN])


def source_counts(catalog: Catalog) -> SourceCounts:
    """The catalog's odd-but-usable findings as counts with the first few names (for the run record)."""
    return SourceCounts(
        unlisted=_named(catalog.unlisted),
        missing=_named(e.filename for e in catalog.entries if e.size_bytes is None),
        duplicates=_named(d.dropped_url for d in catalog.duplicates),
        empty_parts=_named(f"dfdc_train_part_{part}" for part in catalog.empty_parts),
        fakes_of_fakes=_named(catalog.fakes_of_fakes),
    )


def _histogram(fakes_per_original: Iterable[int]) -> dict[str, int]:
    counts = dict.fromkeys((label for label, _, _ in FAKES_PER_ORIGINAL_BINS), 0)
    for n in fakes_per_original:
        for label, low, high in FAKES_PER_ORIGINAL_BINS:
            if n >= low and (high is None or n <= high):
                counts[label] += 1
                break
    return counts


def _lake_progress(lake: str, chunks: list[Chunk], committed: set[str]) -> LakeProgress:
    planned = {chunk.chunk_id for chunk in chunks}
    remaining = [chunk for chunk in chunks if chunk.chunk_id not in committed]
    return LakeProgress(
        lake=lake,
        committed_chunks=len(planned & committed),
        remaining_chunks=len(remaining),
        remaining_clips=sum(chunk.num_videos for chunk in remaining),
        committed_outside_plan=len(committed - planned),
    )


def summarize_plan(
    catalog: Catalog,
    chunks: list[Chunk],
    config: Config,
    *,
    families: list[Family] | None = None,
    lake: str | None = None,
    committed: set[str] | None = None,
) -> RunPlanSummary:
    """Sum up what a run of ``config`` over ``catalog`` would do.

    Args:
        catalog: the source's catalog.
        chunks: its chunk plan (``plan_chunks(catalog.families(), config.lake.videos_per_chunk)``).
        config: the run's configuration (its hash and ``lake.videos_per_chunk``).
        families: ``catalog.families()`` when the caller has them already.
        lake: the lake's URL (shown); with ``committed``, the summary says what remains.
        committed: chunk ids the lake holds committed with ``config``'s hash.
    """
    families = catalog.families() if families is None else families
    with_original = [len(f.fakes) for f in families if f.original is not None]
    real = sum(1 for entry in catalog.entries if entry.label == "REAL")
    return RunPlanSummary(
        source=catalog.source_url,
        config_hash=config.config_hash(),
        parts=catalog.parts,
        clips=len(catalog.entries),
        real=real,
        fake=len(catalog.entries) - real,
        families=len(families),
        fakes_per_original=Spread.of(with_original),
        fakes_per_original_histogram=_histogram(with_original),
        originals_missing=len(families) - len(with_original),
        videos_per_chunk=config.lake.videos_per_chunk,
        chunks=len(chunks),
        clips_per_chunk=Spread.of([chunk.num_videos for chunk in chunks]),
        counts=source_counts(catalog),
        zero_byte=_named(e.filename for e in catalog.entries if e.size_bytes == 0),
        lake=None if lake is None else _lake_progress(lake, chunks, committed or set()),
    )


def _count_line(label: str, named: NamedCount, what: str) -> str:
    line = f"{label:<16}{named.count}"
    if named.count:
        line += f" {what} (e.g. {', '.join(named.first[:3])})"
    return line


def _parts_text(parts: list[int]) -> str:
    if not parts:
        return "none"
    if parts == list(range(parts[0], parts[-1] + 1)) and len(parts) > 2:
        return f"{len(parts)} (dfdc_train_part_{parts[0]} .. {parts[-1]})"
    return f"{len(parts)} ({', '.join(f'dfdc_train_part_{p}' for p in parts)})"


def format_summary(summary: RunPlanSummary, prefix: str = "") -> str:
    """The summary as aligned text lines, each starting with ``prefix``."""
    s, counts = summary, summary.counts
    histogram = ", ".join(f"{k}: {v}" for k, v in s.fakes_per_original_histogram.items() if v)
    lines = [
        f"plan for {s.source} (config {s.config_hash})",
        f"{'parts':<16}{_parts_text(s.parts)}",
        f"{'clips':<16}{s.clips}: {s.real} REAL, {s.fake} FAKE",
        f"{'families':<16}{s.families}; fakes per original {s.fakes_per_original or '-'}; "
        f"{s.originals_missing} without their original",
        f"{'':<16}originals by fake count: {histogram or '-'}",
        f"{'chunks':<16}{s.chunks} of ~{s.videos_per_chunk} clips (clips per chunk {s.clips_per_chunk or '-'})",
        _count_line("unlisted", counts.unlisted, "files not in their part's metadata.json, not ingested"),
        _count_line("missing", counts.missing, "listed but absent, recorded as 'missing'"),
        _count_line("zero-byte", s.zero_byte, "empty files, recorded as 'empty_file'"),
        _count_line("duplicates", counts.duplicates, "listed by a second part, kept once"),
        _count_line("empty parts", counts.empty_parts, "parts with metadata {}"),
        _count_line(
            "fakes of fakes", counts.fakes_of_fakes, "FAKEs made from a FAKE, ingested without a REAL"
        ),
    ]
    if s.lake is not None:
        lake = s.lake
        line = (
            f"{'lake':<16}{lake.lake}: {lake.committed_chunks} of {s.chunks} chunks committed with this "
            f"config, {lake.remaining_chunks} remain ({lake.remaining_clips} clips)"
        )
        if lake.committed_outside_plan:
            line += f"; {lake.committed_outside_plan} committed chunks are not in this plan"
        lines.append(line)
    return "\n".join(prefix + line for line in lines)
