"""One storage layer for a lake on local disk or under ``s3://bucket/prefix``.

Paths given to a :class:`Storage` are relative to the lake root (``commits/p00-c0000.json``), so a lake
can be copied between disk and S3. Writes are atomic: a temp name then ``os.replace`` (with fsync)
locally, one PUT on S3. Failures raise :class:`~dfdc_lake.errors.StorageError` naming the URL (and the
endpoint) after transient errors were retried; a missing file raises ``FileNotFoundError``.

Retries come from :mod:`dfdc_lake.io.retry` and S3 endpoint and credentials from
:mod:`dfdc_lake.io.s3_settings`, the same ones the source reader uses. The backends
(``local_storage``, ``s3_storage``) import this module, never the reverse; :class:`~dfdc_lake.lake.lake.Lake`
picks one for a URL.

Conditional writes (used by the lake lock) compare a *version*: the sha256 of the content locally,
the ETag on S3.
"""

from __future__ import annotations

import abc
import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import PurePosixPath
from typing import IO

from dfdc_lake.io.retry import RetryPolicy

__all__ = ["Storage", "check_rel"]


def check_rel(rel: str) -> str:
    """Validate a lake-relative path (no absolute paths, no ``..``) and return it normalized."""
    path = PurePosixPath(rel)
    if rel.startswith("/") or ".." in path.parts or "\\" in rel:
        raise ValueError(f"lake path {rel!r} must be relative to the lake root, without '..'")
    return str(path) if rel else ""


class Storage(abc.ABC):
    """A lake root's bytes. Opened by :meth:`dfdc_lake.lake.lake.Lake.open` (or :func:`~dfdc_lake.lake.lake.open_storage`)."""

    root: str
    is_local: bool
    retry: RetryPolicy

    @property
    @abc.abstractmethod
    def endpoint_label(self) -> str:
        """Where the bytes go, for messages (``local disk`` or the S3 endpoint)."""

    def url(self, rel: str = "") -> str:
        """The absolute URL (or local path) of a lake-relative path."""
        rel = check_rel(rel)
        return f"{self.root}/{rel}" if rel else self.root

    def rel(self, url: str) -> str:
        """The inverse of :meth:`url`."""
        prefix = self.root + "/"
        if not url.startswith(prefix):
            raise ValueError(f"{url!r} is not inside the lake {self.root!r}")
        return url[len(prefix) :]

    @abc.abstractmethod
    def read_bytes(self, rel: str) -> bytes:
        """The whole content of a file; ``FileNotFoundError`` if absent."""

    @abc.abstractmethod
    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write a whole file atomically (readers see the old content or the new, never a part)."""

    @abc.abstractmethod
    def put_file(self, local_path: str | os.PathLike[str], rel: str) -> None:
        """Publish a finished local file (usually from :meth:`staging_path`) at ``rel``, atomically.

        The local file is consumed (moved or uploaded, then removed).
        """

    def staging_path(self, rel: str) -> str:
        """A fresh local path to build the file that will be published at ``rel``."""
        name = PurePosixPath(check_rel(rel)).name
        spool = os.environ.get("DFDC_LAKE_SPOOL_DIR") or None
        fd, path = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=spool)
        os.close(fd)
        return path

    @abc.abstractmethod
    def exists(self, rel: str) -> bool:
        """Whether a file exists at ``rel``."""

    @abc.abstractmethod
    def size(self, rel: str) -> int:
        """Size in bytes of the file at ``rel``; ``FileNotFoundError`` if absent."""

    @abc.abstractmethod
    def open_read(self, rel: str) -> AbstractContextManager[IO[bytes]]:
        """A seekable binary reader (transient read errors are retried)."""

    @abc.abstractmethod
    def list_files(self, prefix: str = "") -> dict[str, int]:
        """Every file under the lake-relative folder ``prefix``: relative path -> size in bytes."""

    @abc.abstractmethod
    def delete(self, rel: str) -> None:
        """Remove a file; a missing file is not an error."""

    def remove_empty_dirs(self, prefix: str) -> None:
        """Remove folders left empty under ``prefix`` (object stores have none)."""
        del prefix

    @abc.abstractmethod
    def read_versioned(self, rel: str) -> tuple[bytes, str] | None:
        """``(content, version)`` of a file, or None if absent."""

    @abc.abstractmethod
    def put_if_absent(self, rel: str, data: bytes) -> bool:
        """Create the file only if nothing is there; False if something is."""

    @abc.abstractmethod
    def put_if_version(self, rel: str, data: bytes, version: str) -> bool:
        """Replace the file only if its current version is ``version``; False otherwise (or if absent)."""

    @abc.abstractmethod
    def delete_if_version(self, rel: str, version: str) -> bool:
        """Delete the file only if its current version is ``version``."""

    def iter_json_names(self, prefix: str) -> Iterator[str]:
        """Relative paths of the ``*.json`` files directly under ``prefix`` (temp files skipped)."""
        for rel in sorted(self.list_files(prefix)):
            name = PurePosixPath(rel).name
            if (
                name.endswith(".json")
                and not name.startswith(".")
                and rel.count("/") == prefix.count("/") + 1
            ):
                yield rel

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r})"
