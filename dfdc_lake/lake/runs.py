"""Run records: ``runs/<run_id>.json``, one per ingest run, rewritten as the run goes (start, end).

A :class:`RunRecord` carries the ingest :class:`~dfdc_lake.config.Config` itself, so a reader (training,
``predict``, ``status``) gets typed settings and their defaults from one place. Records are redacted
before they are written.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dfdc_lake.config import Config
from dfdc_lake.errors import LakeCommitError
from dfdc_lake.io.s3_settings import redact
from dfdc_lake.lake.shard import check_id
from dfdc_lake.lake.storage import Storage

__all__ = [
    "NamedCount",
    "PlannedChunk",
    "RunPlan",
    "RunRecord",
    "SourceCounts",
    "read_run_records",
    "utc_now_iso",
    "write_run_record",
]


def utc_now_iso() -> str:
    """Current UTC time as ``2026-11-28T18:15:07Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PlannedChunk(BaseModel):
    """One chunk of a run's plan: its stable id and the video file names it holds."""

    chunk_id: str
    videos: list[str] = Field(default_factory=list)


class RunPlan(BaseModel):
    """How a run cut the catalog into chunks."""

    videos_per_chunk: int = Field(ge=1)
    chunks: list[PlannedChunk] = Field(default_factory=list)

    @property
    def chunk_ids(self) -> list[str]:
        return [chunk.chunk_id for chunk in self.chunks]


class NamedCount(BaseModel):
    """How many of something there are, and the first few of them by name (file name, URL or part)."""

    count: int = Field(0, ge=0)
    first: list[str] = Field(default_factory=list)


class SourceCounts(BaseModel):
    """What the catalog found odd but usable in the source (``dfdc_lake.source.catalog.Catalog``).

    ``unlisted``: files in a part that its metadata does not list (not ingested); ``missing``: clips
    listed but absent (outcome ``missing``); ``duplicates``: clips listed by more than one part (kept
    once); ``empty_parts``: parts whose metadata is ``{}``; ``fakes_of_fakes``: FAKEs made from a FAKE.
    """

    model_config = ConfigDict(extra="ignore")

    unlisted: NamedCount = Field(default_factory=NamedCount)
    missing: NamedCount = Field(default_factory=NamedCount)
    duplicates: NamedCount = Field(default_factory=NamedCount)
    empty_parts: NamedCount = Field(default_factory=NamedCount)
    fakes_of_fakes: NamedCount = Field(default_factory=NamedCount)

    def items(self) -> list[tuple[str, NamedCount]]:
        """``(name, count)`` in the order above."""
        return [(name, getattr(self, name)) for name in type(self).model_fields]


class RunRecord(BaseModel):
    """``runs/<run_id>.json``: what one ingest run set out to do and how it ended (see docs/lake-format.md)."""

    model_config = ConfigDict(extra="ignore")  # records of newer code stay readable

    run_id: str
    source: str
    config: Config
    config_hash: str
    plan: RunPlan
    todo: list[str] = Field(default_factory=list)
    started_at: str = Field(default_factory=utc_now_iso)
    finished_at: str | None = None
    committed: list[str] = Field(default_factory=list)
    failed: dict[str, str] = Field(default_factory=dict)
    wall_s: float | None = None
    source_counts: SourceCounts | None = None  # None in records written before it existed
    written_at: str | None = None

    def to_json(self) -> str:
        """The record as written to the lake (redacted)."""
        return redact(self.model_dump_json(indent=1))


def write_run_record(storage: Storage, record: RunRecord) -> str:
    """Write (or rewrite) ``runs/<run_id>.json`` atomically and return its URL."""
    rel = f"runs/{check_id('run_id', record.run_id)}.json"
    stamped = record.model_copy(update={"written_at": utc_now_iso()})
    storage.write_bytes(rel, stamped.to_json().encode())
    return storage.url(rel)


def _parse(data: bytes, url: str) -> RunRecord:
    try:
        return RunRecord.model_validate_json(data)
    except ValidationError as err:
        raise LakeCommitError(f"run record {url} is invalid: {err}") from None


def read_run_records(storage: Storage) -> list[RunRecord]:
    """Every run record, oldest first (by ``started_at``, then run id)."""
    records = []
    for rel in storage.iter_json_names("runs"):
        try:
            data = storage.read_bytes(rel)
        except FileNotFoundError:
            continue
        try:
            json.loads(data)
        except ValueError as err:
            raise LakeCommitError(f"run record {storage.url(rel)} is not JSON: {err}") from None
        records.append(_parse(data, storage.url(rel)))
    return sorted(records, key=lambda r: (r.started_at, r.run_id))
