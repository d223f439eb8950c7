"""Shard bookkeeping shared by the writers: ``ShardInfo``, paths, and size-bounded rotation.

A shard is built in a local staging file and published with one atomic step (rename or PUT) when it
is full or the writer closes, so a reader never sees half a shard; what a crashed writer published
stays an orphan until ``gc`` (no commit record names it).
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import os
import re
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any, ClassVar, Literal, TypeVar

from dfdc_lake.lake.local_storage import local_io_errors
from dfdc_lake.lake.schema import sample_to_row
from dfdc_lake.lake.storage import Storage
from dfdc_lake.records import Sample

__all__ = [
    "DEFAULT_SHARD_TARGET_BYTES",
    "ShardFormat",
    "ShardInfo",
    "attempt_dir",
    "check_id",
    "sha256_file",
]

ShardFormat = Literal["parquet", "webdataset"]
DEFAULT_SHARD_TARGET_BYTES = 256 * 1024 * 1024
_W = TypeVar("_W", bound="PublishOnSuccess")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class ShardInfo:
    """One closed shard, as listed in a commit record."""

    path: str  # relative to the lake root
    format: ShardFormat
    rows: int
    bytes: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_id(kind: str, value: str) -> str:
    """Validate a chunk or attempt id (it becomes a path segment)."""
    if not isinstance(value, str) or not _ID.match(value) or ".." in value:
        raise ValueError(
            f"{kind} {value!r} must be 1-128 characters of [A-Za-z0-9._-], not starting with . or -"
        )
    return value


def attempt_dir(chunk_id: str, attempt_id: str) -> str:
    """Lake-relative folder of one attempt's shards."""
    return f"chunks/{check_id('chunk_id', chunk_id)}/{check_id('attempt_id', attempt_id)}"


def sha256_file(path: str | os.PathLike[str], block_bytes: int = 4 * 1024 * 1024) -> str:
    """Hex sha256 of a local file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(block_bytes):
            digest.update(block)
    return digest.hexdigest()


class PublishOnSuccess(abc.ABC):
    """A writer used as a context manager: ``close()`` (publish) on success, ``abort()`` on an exception."""

    @abc.abstractmethod
    def close(self) -> Any: ...

    @abc.abstractmethod
    def abort(self) -> None: ...

    def __enter__(self: _W) -> _W:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            try:
                self.close()
            except BaseException:  # publishing failed (a full disk): leave no staging file behind
                self.abort()
                raise
        else:
            self.abort()


class RotatingShardWriter(PublishOnSuccess):
    """Writes rows to ``chunks/<chunk_id>/<attempt_id>[/<subdir>]/part-NNNNN<suffix>``, starting a new
    shard when the next row would take the current one past ``shard_target_bytes`` (a shard always takes
    at least one row). ``subdir`` (one path segment) keeps writers of one attempt that run at the same
    time (a chunk's family groups) out of each other's files.

    Use as a context manager: on a clean exit the last shard is published; on an exception the open
    shard is discarded (shards already published stay as orphans).
    """

    format: ClassVar[ShardFormat]
    suffix: ClassVar[str]

    def __init__(
        self,
        storage: Storage,
        chunk_id: str,
        attempt_id: str,
        shard_target_bytes: int = DEFAULT_SHARD_TARGET_BYTES,
        subdir: str = "",
    ) -> None:
        if shard_target_bytes < 1:
            raise ValueError(f"shard_target_bytes must be positive, got {shard_target_bytes}")
        self.storage = storage
        self.folder = attempt_dir(chunk_id, attempt_id)
        if subdir:
            self.folder += "/" + check_id("subdir", subdir)
        self.target_bytes = shard_target_bytes
        self.shards: list[ShardInfo] = []
        self.rows_written = 0
        self._index = 0
        self._shard_rows = 0
        self._staging: str | None = None
        self._closed = False

    # -- what a format implements ------------------------------------------------------------------
    @abc.abstractmethod
    def _prepare(self, row: dict[str, Any]) -> tuple[Any, int]:
        """The row in this format's form, and the bytes it will add to a shard (estimated)."""

    @abc.abstractmethod
    def _open(self, path: str) -> None:
        """Start a shard file at the local ``path``."""

    @abc.abstractmethod
    def _append(self, prepared: Any, nbytes: int) -> None:
        """Add one prepared row to the open shard."""

    @abc.abstractmethod
    def _shard_bytes(self) -> int:
        """Bytes in the open shard so far, counting rows buffered but not yet on disk."""

    @abc.abstractmethod
    def _close_file(self, discard: bool) -> None:
        """Finish (or, with ``discard``, just release) the open shard file."""

    # -- rotation ----------------------------------------------------------------------------------
    def write(self, sample: Sample) -> None:
        """Append one sample."""
        self.write_row(sample_to_row(sample))

    def write_row(self, row: dict[str, Any]) -> None:
        """Append one row made by ``sample_to_row``."""
        if self._closed:
            raise ValueError(f"{type(self).__name__} for {self.folder} is closed")
        prepared, nbytes = self._prepare(row)
        if (
            self._staging is not None
            and self._shard_rows > 0
            and self._shard_bytes() + nbytes > self.target_bytes
        ):
            self._finish_shard()
        if self._staging is None:
            self._staging = self.storage.staging_path(self._shard_rel())
            with local_io_errors("writing", self._staging):
                self._open(self._staging)
        with local_io_errors("writing", self._staging):
            self._append(prepared, nbytes)
        self._shard_rows += 1
        self.rows_written += 1

    def _shard_rel(self) -> str:
        return f"{self.folder}/part-{self._index:05d}{self.suffix}"

    def _finish_shard(self) -> None:
        assert self._staging is not None
        staging = self._staging
        with local_io_errors("writing", staging):
            self._close_file(discard=False)
            info = ShardInfo(
                path=self._shard_rel(),
                format=self.format,
                rows=self._shard_rows,
                bytes=os.path.getsize(staging),
                sha256=sha256_file(staging),
            )
        self._staging = None
        self.storage.put_file(staging, info.path)
        self.shards.append(info)
        self._index += 1
        self._shard_rows = 0

    def close(self) -> list[ShardInfo]:
        """Publish the open shard (if it has rows) and return every shard written."""
        if not self._closed:
            if self._staging is not None:
                self._finish_shard()
            self._closed = True
        return list(self.shards)

    def abort(self) -> None:
        """Drop the open shard without publishing it (never raises: it runs while handling an error)."""
        if self._staging is not None:
            with contextlib.suppress(OSError):  # e.g. the disk is full: we are throwing the file away
                self._close_file(discard=True)
            with contextlib.suppress(OSError):
                os.unlink(self._staging)
            self._staging = None
        self._closed = True
