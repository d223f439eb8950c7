"""The commit protocol: a chunk exists for readers only once ``commits/<chunk_id>.json`` names its shards.

The commit record is the last write of a chunk attempt and is written atomically (rename / one PUT),
after checking that every shard it names is in place. Only this module writes commit records. It also
writes the lake manifest (``lake.json``, once) and the per-run records (``runs/<run_id>.json``).
Everything written here passes through :func:`~dfdc_lake.io.s3_settings.redact`.
"""

from __future__ import annotations

import json
import secrets
import socket
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dfdc_lake.errors import LakeCommitError, StorageError
from dfdc_lake.io.s3_settings import redact
from dfdc_lake.lake.runs import utc_now_iso
from dfdc_lake.lake.schema import SCHEMA_VERSION
from dfdc_lake.lake.shard import ShardInfo, attempt_dir, check_id
from dfdc_lake.lake.storage import Storage
from dfdc_lake.records import Outcome, OutcomeStatus

if TYPE_CHECKING:
    from dfdc_lake.lake.lock import LakeLock

__all__ = [
    "LAYOUT_VERSION",
    "RECORD_VERSION",
    "CommitRecord",
    "commit_chunk",
    "new_attempt_id",
    "outcome_to_dict",
    "read_commit",
    "read_commits",
    "read_lake_manifest",
    "write_lake_manifest",
]

RECORD_VERSION = 1
LAYOUT_VERSION = 1
MANIFEST = {"format": "dfdc-lake", "layout_version": LAYOUT_VERSION}
_OUTCOME_FIELDS = set(Outcome.__dataclass_fields__)
_REQUIRED_OUTCOME_FIELDS = {"video_id", "filename", "part", "family_id", "label", "status"}


def new_attempt_id() -> str:
    """A unique attempt id: ``<UTC yyyymmddTHHMMSS>-<8 hex random>``."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def outcome_to_dict(outcome: Outcome) -> dict[str, Any]:
    """An ``Outcome`` as the plain dict a commit record stores."""
    data = asdict(outcome)
    data["status"] = OutcomeStatus(outcome.status).value
    return data


def commit_path(chunk_id: str) -> str:
    """Lake-relative path of a chunk's commit record."""
    return f"commits/{check_id('chunk_id', chunk_id)}.json"


class CommitRecord(BaseModel):
    """``commits/<chunk_id>.json``: what one successful chunk attempt produced (see docs/lake-format.md)."""

    model_config = ConfigDict(extra="forbid")

    record_version: int = RECORD_VERSION
    chunk_id: str
    attempt_id: str
    config_hash: str = Field(min_length=1)
    schema_version: int = SCHEMA_VERSION
    created_at: str = Field(default_factory=utc_now_iso)
    host: str = Field(default_factory=socket.gethostname)
    shards: list[ShardInfo] = Field(default_factory=list)
    num_samples: int = Field(ge=0)
    videos: list[str]
    outcomes: list[Outcome]  # one per video of the chunk, typed (status is an OutcomeStatus)
    timings_s: dict[str, float] = Field(default_factory=dict)

    @field_validator("outcomes", mode="before")
    @classmethod
    def _outcomes_are_outcomes(cls, outcomes: Any) -> Any:
        """Name the video and the offending keys before pydantic's field-by-field errors."""
        for item in outcomes if isinstance(outcomes, list) else []:
            if not isinstance(item, dict):
                continue
            missing, extra = _REQUIRED_OUTCOME_FIELDS - item.keys(), item.keys() - _OUTCOME_FIELDS
            if missing or extra:
                raise ValueError(
                    f"outcome {item.get('filename')!r}: missing {sorted(missing)}, unknown {sorted(extra)}"
                )
            OutcomeStatus(item["status"])  # ValueError names the bad status
        return outcomes

    @model_validator(mode="after")
    def _consistent(self) -> CommitRecord:
        if self.record_version != RECORD_VERSION:
            raise ValueError(f"record_version {self.record_version} is not {RECORD_VERSION}")
        folder = attempt_dir(self.chunk_id, self.attempt_id) + "/"
        for shard in self.shards:
            if not shard.path.startswith(folder):
                raise ValueError(f"shard {shard.path!r} is not under {folder!r}")
        for fmt in {shard.format for shard in self.shards}:
            rows = sum(shard.rows for shard in self.shards if shard.format == fmt)
            if rows != self.num_samples:
                raise ValueError(f"{fmt} shards hold {rows} rows but num_samples is {self.num_samples}")
        filenames = [item.filename for item in self.outcomes]
        if len(set(filenames)) != len(filenames) or sorted(filenames) != sorted(self.videos):
            raise ValueError("every video of the chunk needs exactly one outcome")
        per_video = sum(item.num_samples for item in self.outcomes)
        if per_video != self.num_samples:
            raise ValueError(f"outcomes count {per_video} samples but num_samples is {self.num_samples}")
        return self

    @classmethod
    def build(
        cls,
        *,
        outcomes: Sequence[Outcome | dict[str, Any]],
        num_samples: int | None = None,
        videos: list[str] | None = None,
        **fields: Any,
    ) -> CommitRecord:
        """Build and validate a record; LakeCommitError says what is inconsistent.

        Args:
            outcomes: one per catalog video of the chunk, as ``Outcome`` records or dicts.
            num_samples: rows written (default: the sum over the outcomes).
            videos: the chunk's video file names (default: those of the outcomes).
            **fields: the other fields (chunk_id, attempt_id, config_hash, shards, timings_s, ...).
        """
        items = [item if isinstance(item, dict) else outcome_to_dict(item) for item in outcomes]
        if num_samples is None:
            num_samples = sum(int(item.get("num_samples", 0)) for item in items)
        if videos is None:
            videos = [item["filename"] for item in items]
        try:
            return cls(outcomes=items, num_samples=num_samples, videos=videos, **fields)
        except ValidationError as err:
            raise LakeCommitError(
                f"commit record of chunk {fields.get('chunk_id')!r} is inconsistent: {err}"
            ) from None

    def shards_of(self, fmt: str) -> list[ShardInfo]:
        """The shards of one format, in order."""
        return [shard for shard in self.shards if shard.format == fmt]

    def to_json(self) -> str:
        """The record as written to the lake (redacted)."""
        return redact(self.model_dump_json(indent=1))


def _parse_record(data: bytes, url: str) -> CommitRecord:
    try:
        return CommitRecord.model_validate_json(data)
    except ValidationError as err:
        raise LakeCommitError(f"commit record {url} is invalid: {err}") from None


def commit_chunk(storage: Storage, record: CommitRecord, lock: LakeLock | None = None) -> str:
    """Publish a chunk: check its shards are in place, then write its commit record, atomically, last.

    Args:
        storage: the lake's storage.
        record: the attempt's record; it replaces any earlier record of the chunk.
        lock: the run's lake lock, checked just before the write (a lost lock raises LakeLockedError).

    Returns:
        The URL of the commit record.
    """
    write_lake_manifest(storage)
    for shard in record.shards:
        try:
            size = storage.size(shard.path)
        except FileNotFoundError:
            raise LakeCommitError(
                f"chunk {record.chunk_id}: shard {storage.url(shard.path)} is missing"
            ) from None
        if size != shard.bytes:
            raise LakeCommitError(
                f"chunk {record.chunk_id}: {storage.url(shard.path)} is {size} bytes, not {shard.bytes}"
            )
    if lock is not None:
        lock.check()
    rel = commit_path(record.chunk_id)
    try:
        storage.write_bytes(rel, record.to_json().encode())
    except StorageError as err:
        raise LakeCommitError(f"commit of chunk {record.chunk_id} failed: {err}") from err
    return storage.url(rel)


def read_commit(storage: Storage, chunk_id: str) -> CommitRecord | None:
    """The chunk's commit record, or None if it is not committed."""
    rel = commit_path(chunk_id)
    try:
        data = storage.read_bytes(rel)
    except FileNotFoundError:
        return None
    return _parse_record(data, storage.url(rel))


def commit_chunk_ids(storage: Storage) -> list[str]:
    """Chunk ids that have a commit record (lists ``commits/`` only)."""
    return [rel.removeprefix("commits/").removesuffix(".json") for rel in storage.iter_json_names("commits")]


def read_commits(storage: Storage) -> list[CommitRecord]:
    """Every commit record, sorted by chunk id. Lists ``commits/`` only, never ``chunks/``."""
    ids = commit_chunk_ids(storage)
    with ThreadPoolExecutor(max_workers=1 if storage.is_local else 16) as pool:
        records = list(pool.map(lambda chunk_id: read_commit(storage, chunk_id), ids))
    return [record for record in records if record is not None]


def write_lake_manifest(storage: Storage) -> dict[str, Any]:
    """Write ``lake.json`` if absent (once, never overwritten); refuse a lake of another layout."""
    if storage.put_if_absent("lake.json", json.dumps(MANIFEST).encode()):
        return dict(MANIFEST)
    url = storage.url("lake.json")
    try:
        manifest = json.loads(storage.read_bytes("lake.json"))
    except (ValueError, FileNotFoundError) as err:
        raise LakeCommitError(f"{url} is unreadable: {err}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST["format"]:
        raise LakeCommitError(f"{url} does not describe a dfdc-lake lake: {manifest!r}")
    if manifest.get("layout_version") != LAYOUT_VERSION:
        raise LakeCommitError(
            f"{url} has layout_version {manifest.get('layout_version')!r}; this code reads {LAYOUT_VERSION}"
        )
    return manifest


def read_lake_manifest(storage: Storage) -> dict[str, Any] | None:
    """``lake.json`` or None when absent."""
    try:
        return json.loads(storage.read_bytes("lake.json"))
    except FileNotFoundError:
        return None
