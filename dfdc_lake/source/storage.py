"""One way to reach source bytes: local paths, ``s3://`` URLs and members of zip archives read in place.

URLs are plain fsspec URLs, turned into filesystems by :mod:`dfdc_lake.io.urls`. A zip member is ``zip://<member>::<archive_url>`` (fsspec's chaining), so
``dfdc_train_part_N.zip`` files are read where they lie, locally or on S3, without unpacking. S3
endpoint and credentials come from :mod:`dfdc_lake.io.s3_settings` (the standard AWS environment, as
for the lake; secrets are registered for redaction and never appear in URLs or logs); transient errors
are retried by :mod:`dfdc_lake.io.retry` (``policy`` arguments default to ``RetryPolicy.from_env()``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from fsspec import AbstractFileSystem

from dfdc_lake.io.retry import RetryPolicy, call_with_retry
from dfdc_lake.io.urls import fsspec_for

__all__ = [
    "ListedFile",
    "join_url",
    "list_dir",
    "list_zip_dir",
    "read_bytes",
    "read_clip",
    "split_zip_url",
    "zip_member_url",
]

T = TypeVar("T")

ZIP_PREFIX = "zip://"
# Archive reads fetch this much ahead: about one DFDC clip, so a member costs one or two range requests.
ARCHIVE_BLOCK_BYTES = 4 * 1024 * 1024
MAX_OPEN_ARCHIVES = 8


@dataclass(frozen=True)
class ListedFile:
    """One entry of a folder listing."""

    name: str  # base name
    url: str  # fsspec URL of the entry
    is_dir: bool
    size_bytes: int | None


def _url_to_fs(url: str) -> tuple[AbstractFileSystem, str]:
    """The filesystem and the filesystem-internal path of a local path or ``proto://`` URL."""
    if ZIP_PREFIX in url:
        raise ValueError(f"{url!r} is a zip member URL; use read_bytes or list_zip_dir")
    return fsspec_for(url)


def join_url(base: str, name: str) -> str:
    """``base/name`` for local paths and object-store URLs."""
    return f"{base.rstrip('/')}/{name}"


def zip_member_url(archive_url: str, member: str) -> str:
    """The fsspec URL of ``member`` inside the zip at ``archive_url``."""
    return f"{ZIP_PREFIX}{member}::{archive_url}"


def split_zip_url(url: str) -> tuple[str, str] | None:
    """``(member, archive_url)`` of a ``zip://member::archive`` URL, else None."""
    if not url.startswith(ZIP_PREFIX):
        return None
    member, sep, archive = url[len(ZIP_PREFIX) :].partition("::")
    if not sep or not member or not archive:
        raise ValueError(f"zip URL {url!r} is not of the form zip://<member>::<archive_url>")
    return member, archive


class _ArchiveCache:
    """Open zip archives, kept per process so the central directory is read once, not once per clip."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._open: OrderedDict[str, AbstractFileSystem] = OrderedDict()

    def get(self, archive_url: str) -> AbstractFileSystem:
        with self._lock:
            if archive_url in self._open:
                self._open.move_to_end(archive_url)
                return self._open[archive_url]
        from fsspec.implementations.zip import ZipFileSystem

        fs, path = _url_to_fs(archive_url)
        handle = fs.open(path, "rb", block_size=ARCHIVE_BLOCK_BYTES, cache_type="readahead")
        archive = ZipFileSystem(fo=handle)
        with self._lock:
            self._open[archive_url] = archive
            while len(self._open) > self._capacity:
                self._open.popitem(last=False)
        return archive

    def drop(self, archive_url: str) -> None:
        """Forget an archive whose handle may be broken (after an I/O error)."""
        with self._lock:
            self._open.pop(archive_url, None)

    def use(self, archive_url: str, func: Callable[[AbstractFileSystem], T]) -> T:
        """``func(archive)``; after any error but a missing member the archive is reopened next time."""
        try:
            return func(self.get(archive_url))
        except FileNotFoundError:
            raise
        except Exception:
            self.drop(archive_url)
            raise


_ARCHIVES = _ArchiveCache(MAX_OPEN_ARCHIVES)


def read_bytes(url: str, policy: RetryPolicy | None = None) -> bytes:
    """All bytes of a local file, an object, or a zip member, retrying transient errors.

    Raises:
        FileNotFoundError: the file, object or member does not exist.
        StorageError: a transient error persisted through every retry.
    """
    zip_parts = split_zip_url(url)
    if zip_parts is not None:
        member, archive_url = zip_parts
        return call_with_retry(
            lambda: _ARCHIVES.use(archive_url, lambda archive: archive.cat_file(member)),
            f"read {url}",
            policy,
        )

    def read() -> bytes:
        fs, path = _url_to_fs(url)
        return fs.cat_file(path)

    return call_with_retry(read, f"read {url}", policy)


def read_clip(url: str, policy: RetryPolicy | None = None) -> bytes | Path:
    """A video to decode: a local file's ``Path`` (decoded from disk, so a long clip is never held
    whole), else the bytes of an object or zip member (``read_bytes``).

    Raises:
        FileNotFoundError: the file, object or member does not exist.
        StorageError: a transient error persisted through every retry.
    """
    if split_zip_url(url) is None:
        from fsspec.implementations.local import LocalFileSystem

        fs, path = _url_to_fs(url)
        if isinstance(fs, LocalFileSystem):
            local = Path(path)
            if not local.is_file():
                raise FileNotFoundError(path)
            return local
    return read_bytes(url, policy)


def _entry(info: dict[str, Any], url: str) -> ListedFile:
    name = info["name"].rstrip("/").rsplit("/", 1)[-1]
    is_dir = info.get("type") == "directory"
    size = info.get("size")
    return ListedFile(
        name=name, url=url, is_dir=is_dir, size_bytes=None if is_dir or size is None else int(size)
    )


def list_dir(url: str, policy: RetryPolicy | None = None) -> list[ListedFile]:
    """The entries of a local folder or object-store prefix, sorted by name.

    Raises:
        FileNotFoundError: the folder does not exist.
    """
    fs, path = _url_to_fs(url)
    infos = call_with_retry(lambda: fs.ls(path, detail=True, refresh=True), f"list {url}", policy)
    from fsspec.implementations.local import LocalFileSystem

    local = isinstance(fs, LocalFileSystem)
    entries = []
    for info in infos:
        entry_url = info["name"] if local else fs.unstrip_protocol(info["name"])
        entries.append(_entry(info, entry_url))
    return sorted(entries, key=lambda e: e.name)


def list_zip_dir(archive_url: str, folder: str = "", policy: RetryPolicy | None = None) -> list[ListedFile]:
    """The entries of ``folder`` inside a zip archive (``""`` for its root), sorted by name."""

    def listing() -> list[dict[str, Any]]:
        return _ARCHIVES.use(archive_url, lambda archive: archive.ls(folder, detail=True))

    infos = call_with_retry(listing, f"list {archive_url}", policy)
    entries = [_entry(info, zip_member_url(archive_url, info["name"].rstrip("/"))) for info in infos]
    return sorted(entries, key=lambda e: e.name)
