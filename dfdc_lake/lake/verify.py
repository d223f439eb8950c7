"""``verify``: every committed shard is there, intact (sha256), holds the rows its record says, with a
known schema version; and ``gc``: remove what no commit record names (orphans of failed or
superseded attempts), never a committed shard, never while a live run holds the lake lock.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import IO, TYPE_CHECKING, Any

from dfdc_lake.errors import LakeCommitError, StorageError
from dfdc_lake.io.s3_settings import redact
from dfdc_lake.lake.commit import CommitRecord, commit_chunk_ids, read_commit
from dfdc_lake.lake.schema import KNOWN_SCHEMA_VERSIONS, sample_schema
from dfdc_lake.lake.shard import ShardInfo
from dfdc_lake.lake.storage import Storage

if TYPE_CHECKING:
    from dfdc_lake.lake.lake import Lake

__all__ = ["Problem", "VerifyReport", "find_orphans", "gc_lake", "load_records", "verify_lake"]

SCHEMA_VERSION_KEY = b"dfdc_lake.schema_version"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the lake. ``kind`` is a stable word scripts can match on."""

    kind: str  # bad_record | missing_shard | size_mismatch | sha256_mismatch | row_count_mismatch |
    #            unknown_schema_version | schema_mismatch | unreadable_shard
    path: str
    detail: str


@dataclass
class VerifyReport:
    """What ``verify_lake`` found; ``ok`` is False when any committed data is wrong (orphans are not)."""

    lake: str
    chunks_checked: int = 0
    shards_checked: int = 0
    bytes_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


class _HashingReader:
    """A read-only stream that hashes what passes through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.digest, self.count = raw, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        self.count += len(data)
        return data

    def drain(self) -> str:
        while self.read(4 * 1024 * 1024):
            pass
        return self.digest.hexdigest()


def _unreadable(err: Exception) -> str:
    return f"unreadable_shard: {redact(f'{type(err).__name__}: {err}')}"


def _check_parquet(stream: IO[bytes]) -> tuple[str, int | None, list[str]]:
    """sha256, rows and schema complaints of a Parquet shard (one pass for the hash, one footer read).

    A footer that cannot be read is a complaint, and the hash still says whether the bytes changed.
    """
    import pyarrow.parquet as pq

    sha = _HashingReader(stream).drain()
    stream.seek(0)
    try:
        meta = pq.ParquetFile(stream).metadata
    except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
        return sha, None, [_unreadable(err)]
    version_text = (meta.metadata or {}).get(SCHEMA_VERSION_KEY, b"").decode()
    if not version_text.isdigit() or int(version_text) not in KNOWN_SCHEMA_VERSIONS:
        return sha, meta.num_rows, [f"unknown_schema_version: {SCHEMA_VERSION_KEY.decode()}={version_text!r}"]
    expected = sample_schema(int(version_text)).names
    if meta.schema.to_arrow_schema().names != expected:
        return sha, meta.num_rows, ["schema_mismatch: columns differ from the sample schema"]
    return sha, meta.num_rows, []


def _check_tar(stream: IO[bytes]) -> tuple[str, int | None, list[str]]:
    """sha256, samples and schema complaints of a WebDataset shard, in one streaming pass.

    A tar that cannot be parsed is a complaint; the rest of its bytes are still hashed.
    """
    reader = _HashingReader(stream)
    keys: set[str] = set()
    complaints: set[str] = set()
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
            for member in tar:
                key, _, suffix = member.name.partition(".")
                keys.add(key)
                extracted = tar.extractfile(member) if suffix == "json" else None
                if extracted is not None:
                    version = json.loads(extracted.read()).get("schema_version")
                    if version not in KNOWN_SCHEMA_VERSIONS:
                        complaints.add(f"unknown_schema_version: schema_version={version!r} in {member.name}")
    except (tarfile.TarError, ValueError, UnicodeDecodeError) as err:  # json errors are ValueErrors
        return reader.drain(), None, [_unreadable(err)]
    return reader.drain(), len(keys), sorted(complaints)


def _check_shard(
    storage: Storage, shard: ShardInfo, listing: dict[str, int], read: bool = True
) -> list[Problem]:
    if shard.path not in listing:
        return [Problem("missing_shard", shard.path, "named by the commit record but not in the lake")]
    if listing[shard.path] != shard.bytes:
        return [
            Problem("size_mismatch", shard.path, f"{listing[shard.path]} bytes, record says {shard.bytes}")
        ]
    if not read:
        return []
    check = _check_parquet if shard.format == "parquet" else _check_tar
    try:
        with storage.open_read(shard.path) as stream:
            sha, rows, complaints = check(stream)
    except StorageError:
        raise  # an outage or a permission problem is not the shard's fault: stop, do not report
    except (OSError, ValueError, tarfile.TarError) as err:  # pyarrow's ArrowInvalid is a ValueError
        return [Problem("unreadable_shard", shard.path, redact(f"{type(err).__name__}: {err}"))]
    problems = [Problem(text.split(":")[0], shard.path, text.split(": ", 1)[1]) for text in complaints]
    if sha != shard.sha256:
        problems.append(
            Problem("sha256_mismatch", shard.path, f"sha256 {sha[:16]}…, record says {shard.sha256[:16]}…")
        )
    if rows is not None and rows != shard.rows:
        problems.append(Problem("row_count_mismatch", shard.path, f"{rows} rows, record says {shard.rows}"))
    return problems


def load_records(storage: Storage, problems: list[Problem]) -> list[CommitRecord]:
    """Every commit record that parses; each one that does not (or names another chunk, or an unknown
    schema version) becomes a ``bad_record`` / ``unknown_schema_version`` problem instead of an error."""
    records = []
    for chunk_id in commit_chunk_ids(storage):
        try:
            record = read_commit(storage, chunk_id)
        except (LakeCommitError, ValueError) as err:
            problems.append(Problem("bad_record", f"commits/{chunk_id}.json", redact(str(err))))
            continue
        if record is None:
            continue
        if record.chunk_id != chunk_id:
            problems.append(
                Problem("bad_record", f"commits/{chunk_id}.json", f"names chunk {record.chunk_id}")
            )
        if record.schema_version not in KNOWN_SCHEMA_VERSIONS:
            problems.append(
                Problem(
                    "unknown_schema_version",
                    f"commits/{chunk_id}.json",
                    f"schema_version={record.schema_version}",
                )
            )
        records.append(record)
    return records


def find_orphans(lake: Lake, records: list[CommitRecord] | None = None) -> list[str]:
    """Lake-relative paths under ``chunks/`` that no commit record names (commit records read first)."""
    storage = lake.storage
    if records is None:
        records = [r for r in (read_commit(storage, c) for c in commit_chunk_ids(storage)) if r is not None]
    committed = {shard.path for record in records for shard in record.shards}
    return sorted(rel for rel in storage.list_files("chunks") if rel not in committed)


def verify_lake(
    lake: Lake, workers: int = 4, read_shards: bool = True, records: list[CommitRecord] | None = None
) -> VerifyReport:
    """Check every committed shard against its commit record and report orphans.

    Args:
        lake: the lake.
        workers: shards checked in parallel (each is read once, whole).
        read_shards: False checks only what one listing of ``chunks/`` tells (missing shards, sizes,
            orphans): seconds on any lake, where reading every shard takes hours on all of DFDC.
        records: commit records already read with :func:`load_records` (their problems are the
            caller's); default: read them now.
    """
    storage = lake.storage
    report = VerifyReport(lake=redact(storage.root))
    if records is None:
        records = load_records(storage, report.problems)
    listing = storage.list_files("chunks")
    shards = [shard for record in records for shard in record.shards]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for problems in pool.map(lambda shard: _check_shard(storage, shard, listing, read_shards), shards):
            report.problems.extend(problems)
    committed = {shard.path for shard in shards}
    report.chunks_checked, report.shards_checked = len(records), len(shards)
    report.bytes_checked = sum(shard.bytes for shard in shards)
    report.orphans = sorted(rel for rel in listing if rel not in committed)
    return report


def gc_lake(lake: Lake, dry_run: bool = True) -> list[str]:
    """Remove orphaned shards (of failed or superseded attempts); committed shards are never touched.

    Deleting takes the lake lock (so no ingest can commit meanwhile) and raises LakeLockedError while a
    live run holds it; a dry run only lists.

    Returns:
        The lake-relative paths removed (or that would be, with ``dry_run``).
    """
    if dry_run:
        return find_orphans(lake)
    with lake.lock(owner="gc", timeout_s=0, heartbeat_s=0):
        orphans = find_orphans(lake)
        for rel in orphans:
            lake.storage.delete(rel)
        lake.storage.remove_empty_dirs("chunks")
    return orphans
