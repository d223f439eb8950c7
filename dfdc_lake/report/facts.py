"""What the report says about a lake as a whole, read so that a damaged lake still gets its report.

Commit records are read one by one (a record that does not parse is reported, not raised), and the
lake's health is checked by :func:`~dfdc_lake.lake.verify.verify_lake`, the cheap way by default: one
listing of ``chunks/`` against the records gives missing shards, size mismatches and orphans without
reading a shard (seconds on any lake). ``full_verify`` reads every shard whole (sha256, rows, schema):
hours on the full DFDC lake, so it is asked for, never the default.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dfdc_lake.errors import LakeCommitError, StorageError
from dfdc_lake.io.s3_settings import redact
from dfdc_lake.lake.commit import CommitRecord
from dfdc_lake.lake.runs import RunRecord
from dfdc_lake.lake.verify import Problem, load_records, verify_lake

if TYPE_CHECKING:
    from dfdc_lake.lake.lake import Lake

__all__ = ["Health", "LakeFacts", "read_facts"]


@dataclass
class Health:
    """Problems of committed data (``verify``'s kinds) and orphans; ``how`` says which check ran."""

    how: str  # "listing" (cheap) or "full verify"
    problems: list[Problem] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def missing_paths(self) -> set[str]:
        """Lake-relative paths of committed shards that are not there (readers must skip them)."""
        return {p.path for p in self.problems if p.kind in ("missing_shard", "size_mismatch")}


@dataclass
class LakeFacts:
    """The records and health of a lake, as the report pages use them."""

    url: str  # redacted
    manifest: dict | None
    records: list[CommitRecord]
    runs: list[RunRecord]
    health: Health
    runs_error: str | None = None

    @property
    def latest_run(self) -> RunRecord | None:
        return self.runs[-1] if self.runs else None

    @property
    def is_empty(self) -> bool:
        return not self.records

    def count_by(self, key: str) -> Counter[str]:
        """Videos counted by an outcome attribute (``status``, ``label``, ``part``)."""
        counts: Counter[str] = Counter()
        for record in self.records:
            for outcome in record.outcomes:
                value = getattr(outcome, key)
                counts[str(getattr(value, "value", value))] += 1
        return counts

    def stage_seconds(self) -> dict[str, float]:
        """Seconds per stage summed over every commit record (worker time, not wall time).

        ``wall`` (a chunk's span, not a stage) is left out.
        """
        total: Counter[str] = Counter()
        for record in self.records:
            total.update({k: v for k, v in record.timings_s.items() if k != "wall"})
        return dict(total)


def read_facts(lake: Lake, full_verify: bool = False) -> LakeFacts:
    """Read a lake's records and check its health; damaged parts are reported on the result."""
    record_problems: list[Problem] = []
    records = load_records(lake.storage, record_problems)
    report = verify_lake(lake, read_shards=full_verify, records=records)
    health = Health(
        "full verify" if full_verify else "listing", record_problems + report.problems, report.orphans
    )
    runs: list[RunRecord] = []
    runs_error = None
    try:
        runs = lake.runs()
    except (LakeCommitError, StorageError, ValueError) as err:
        runs_error = redact(str(err))[:500]
    try:
        manifest = lake.manifest()
    except (LakeCommitError, ValueError) as err:
        manifest, runs_error = None, (runs_error or "") + f" lake.json: {redact(str(err))[:300]}"
    return LakeFacts(redact(lake.url), manifest, records, runs, health, runs_error)
