"""The :class:`Lake` handle: a lake opened once from its URL and passed to everything that touches it.

    lake = Lake.open("s3://bucket/dfdc")          # or a local folder
    for record in lake.commits():                 # typed CommitRecords, outcomes typed too
        ...
    urls = lake.shard_urls("parquet", families={"abqwwspghj"})
    fs, root = lake.arrow_filesystem()            # pyarrow filesystem with the S3 settings baked in

A ``Lake`` pickles as its URL and retry policy and reopens on the other side, so a Ray task receives
the handle, not a string to reopen by hand.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from dfdc_lake.errors import LakeNotFoundError
from dfdc_lake.io.retry import RetryPolicy
from dfdc_lake.io.s3_settings import redact
from dfdc_lake.io.urls import arrow_filesystem, check_storage_url, fsspec_filesystem, is_s3
from dfdc_lake.lake.commit import (
    CommitRecord,
    commit_chunk,
    read_commit,
    read_commits,
    read_lake_manifest,
    write_lake_manifest,
)
from dfdc_lake.lake.lock import LOCK_PATH, LakeLock, LockInfo, read_lock
from dfdc_lake.lake.runs import RunRecord, read_run_records, write_run_record
from dfdc_lake.lake.storage import Storage

if TYPE_CHECKING:
    from dfdc_lake.config import Config, LakeConfig
    from dfdc_lake.lake.writers import ChunkWriter

__all__ = ["SHARD_FORMATS", "Lake", "open_storage"]

SHARD_FORMATS = ("parquet", "webdataset")

# Any one of these makes a folder (or S3 prefix) a lake: the manifest, written first by every ingest;
# the lock, taken just before it; commit and run records, for lakes older than the manifest.
_LAKE_MARKERS = ("lake.json", LOCK_PATH)
_LAKE_FOLDERS = ("commits", "runs")


def _check_local_root(root: str) -> None:
    """Refuse a local lake root that is a file, or lies under one (``os.makedirs`` would fail later
    with ``FileExistsError`` or ``NotADirectoryError`` halfway through a command)."""
    path = root
    while not os.path.lexists(path):
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent
    if not os.path.isdir(path):
        where = "is a file" if path == root else f"lies under the file {path}"
        raise LakeNotFoundError(
            redact(f"no lake at {root}: the lake path {where}; a lake is a folder or s3://bucket/prefix")
        )


def _holds_lake(storage: Storage) -> bool:
    """Whether the lake root holds a lake (cheap: a few existence checks, one listing at most)."""
    if any(storage.exists(name) for name in _LAKE_MARKERS):
        return True
    return any(storage.list_files(folder) for folder in _LAKE_FOLDERS)


def open_storage(url: str | os.PathLike[str], retry: RetryPolicy | None = None) -> Storage:
    """The storage backend for a lake URL: a local path (or ``file://``) or ``s3://bucket[/prefix]``."""
    text = check_storage_url(url, "lake")
    policy = retry or RetryPolicy.from_env()
    if is_s3(text):
        from dfdc_lake.lake.s3_storage import S3Storage

        return S3Storage(text, policy)
    from dfdc_lake.lake.local_storage import LocalStorage

    storage = LocalStorage(text.removeprefix("file://"), policy)
    _check_local_root(storage.root)
    return storage


def _check_format(fmt: str) -> str:
    if fmt not in SHARD_FORMATS:
        raise ValueError(f"unknown shard format {fmt!r}; use 'parquet' or 'webdataset'")
    return fmt


class Lake:
    """One lake (local folder or ``s3://bucket/prefix``): its storage, filesystems and records."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    @classmethod
    def open(
        cls, url: str | os.PathLike[str], retry: RetryPolicy | None = None, *, must_exist: bool = False
    ) -> Lake:
        """Open the lake at ``url``. Nothing is read or written unless ``must_exist``.

        Args:
            url: a local folder (or ``file://``) or ``s3://bucket/prefix``.
            retry: the retry policy of its storage (default: from the environment).
            must_exist: refuse a root that holds no lake (commands that only read one: ``status``,
                ``verify``, ``gc``); ``ingest`` leaves it off, since it creates the lake.

        Raises:
            StorageError: the URL is neither a local path nor ``s3://``.
            LakeNotFoundError: a local root is a file (or lies under one), or ``must_exist`` and
                there is no lake there (an empty S3 prefix included).
        """
        lake = cls(open_storage(url, retry))
        if must_exist and not _holds_lake(lake.storage):
            raise LakeNotFoundError(redact(f"no lake at {lake.url} (no lake.json, commits or runs there)"))
        return lake

    def __reduce__(self) -> tuple[Any, ...]:
        return (Lake.open, (self.url, self.storage.retry))

    def __repr__(self) -> str:
        return f"Lake({self.url!r})"

    @property
    def url(self) -> str:
        """The lake root as opened (a local path or ``s3://bucket/prefix``)."""
        return self.storage.root

    @property
    def is_local(self) -> bool:
        return self.storage.is_local

    # -- filesystems ---------------------------------------------------------------------------------
    def fsspec_filesystem(self) -> tuple[Any, str]:
        """An fsspec filesystem and the lake root in its terms (for pyarrow, Ray Data, ``datasets``).

        Readers get a client with botocore's own retries (:mod:`dfdc_lake.io.urls`); the storage's
        client has them off because it retries under its own policy.
        """
        return fsspec_filesystem(self.url)

    @cached_property
    def _arrow(self) -> tuple[Any, str]:
        return arrow_filesystem(self.url)

    def arrow_filesystem(self) -> tuple[Any, str]:
        """A pyarrow filesystem and the lake root in its terms (picklable: safe to send to workers)."""
        return self._arrow

    def arrow_path(self, url: str) -> str:
        """A URL inside the lake (as :meth:`shard_urls` gives) in the pyarrow filesystem's terms."""
        return f"{self._arrow[1]}/{self.storage.rel(url)}"

    # -- records -------------------------------------------------------------------------------------
    def commits(self, config_hash: str | None = None) -> list[CommitRecord]:
        """Every commit record (sorted by chunk id), optionally only those of one ingest config."""
        records = read_commits(self.storage)
        return [r for r in records if config_hash is None or r.config_hash == config_hash]

    def commit(self, chunk_id: str) -> CommitRecord | None:
        """One chunk's commit record, or None when it is not committed."""
        return read_commit(self.storage, chunk_id)

    def committed_chunk_ids(self, config_hash: str) -> set[str]:
        """Chunks committed with this config hash (a rerun skips them)."""
        return {record.chunk_id for record in self.commits(config_hash)}

    def commit_chunk(self, record: CommitRecord, lock: LakeLock | None = None) -> str:
        """Publish a chunk attempt: its shards are checked, then its record is written, last."""
        return commit_chunk(self.storage, record, lock)

    def runs(self) -> list[RunRecord]:
        """Every ingest run record, oldest first."""
        return read_run_records(self.storage)

    def latest_run(self) -> RunRecord | None:
        """The most recently started run, or None."""
        runs = self.runs()
        return runs[-1] if runs else None

    def write_run(self, record: RunRecord) -> str:
        """Write (or rewrite) a run record; returns its URL."""
        return write_run_record(self.storage, record)

    def ingest_config(self, config_hashes: Collection[str]) -> Config | None:
        """The ingest config of the latest run that wrote one of ``config_hashes``, or None."""
        for run in reversed(self.runs()):
            if run.config_hash in config_hashes:
                return run.config
        return None

    # -- shards --------------------------------------------------------------------------------------
    def shard_urls(
        self,
        fmt: str = "parquet",
        *,
        families: Iterable[str] | None = None,
        parts: Iterable[int] | None = None,
        config_hash: str | None = None,
        records: list[CommitRecord] | None = None,
    ) -> list[str]:
        """URLs of committed shards of one format, in chunk then shard order (never a listing).

        Args:
            fmt: ``"parquet"`` or ``"webdataset"``.
            families: only chunks holding a sample of one of these families.
            parts: only chunks holding a sample of one of these DFDC parts.
            config_hash: only chunks committed with this ingest config.
            records: the commit records to use (default: read them now).
        """
        _check_format(fmt)
        wanted_families = None if families is None else frozenset(families)
        wanted_parts = None if parts is None else frozenset(parts)
        urls = []
        for record in self.commits(config_hash) if records is None else records:
            if config_hash is not None and record.config_hash != config_hash:
                continue
            holding = [o for o in record.outcomes if o.num_samples > 0]
            if wanted_families is not None and not {o.family_id for o in holding} & wanted_families:
                continue
            if wanted_parts is not None and not {o.part for o in holding} & wanted_parts:
                continue
            urls += [self.storage.url(shard.path) for shard in record.shards_of(fmt) if shard.rows]
        return urls

    def shard_paths(self, fmt: str = "parquet", **filters: Any) -> list[str]:
        """:meth:`shard_urls` in the terms of :meth:`arrow_filesystem` (what pyarrow and Ray open)."""
        return [self.arrow_path(url) for url in self.shard_urls(fmt, **filters)]

    def chunk_writer(
        self, chunk_id: str, attempt_id: str, config: LakeConfig, subdir: str = ""
    ) -> ChunkWriter:
        """A writer of one chunk attempt's shards (under ``subdir`` of the attempt's folder, if given),
        in the formats and sizes of ``config``."""
        from dfdc_lake.lake.writers import ChunkWriter

        return ChunkWriter.from_config(self.storage, chunk_id, attempt_id, config, subdir)

    # -- lock and manifest ---------------------------------------------------------------------------
    def lock(self, owner: str, **options: Any) -> LakeLock:
        """The lake lock for ``owner`` (enter it to hold it); options as :class:`LakeLock`."""
        return LakeLock(self.storage, owner, **options)

    def lock_holder(self) -> LockInfo | None:
        """Who holds the lake lock now, or None."""
        return read_lock(self.storage)

    def manifest(self) -> dict[str, Any] | None:
        """``lake.json``, or None when nothing was ever committed."""
        return read_lake_manifest(self.storage)

    def ensure_manifest(self) -> dict[str, Any]:
        """Write ``lake.json`` once; refuse a folder that holds a lake of another layout."""
        return write_lake_manifest(self.storage)

    # -- the ecosystem's readers (each imports its library when called) --------------------------------
    def to_arrow_dataset(
        self, families: Iterable[str] | None = None, parts: Iterable[int] | None = None
    ) -> Any:
        """A ``pyarrow.dataset.Dataset`` over the committed Parquet shards, with the lake's filesystem."""
        from dfdc_lake.lake.datasets import arrow_dataset

        return arrow_dataset(self, families, parts)

    def duckdb(self, con: Any = None, with_crops: bool = False) -> Any:
        """A DuckDB connection with the views ``samples``, ``outcomes``, ``runs`` and ``shards``."""
        from dfdc_lake.lake.sql import connect

        return connect(self, con, with_crops=with_crops)

    def to_ray_dataset(self, columns: list[str] | None = None, **read_options: Any) -> Any:
        """A Ray Data ``Dataset`` of the committed Parquet rows (``ray.data.read_parquet``)."""
        from dfdc_lake.lake.datasets import ray_dataset

        return ray_dataset(self, columns, **read_options)

    def to_hf_dataset(self, columns: list[str] | None = None, **load_options: Any) -> Any:
        """A Hugging Face ``datasets.Dataset`` of the committed Parquet rows (no Hub access)."""
        from dfdc_lake.lake.datasets import hf_dataset

        return hf_dataset(self, columns, **load_options)
