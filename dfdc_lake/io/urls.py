"""The one place that turns a URL into a filesystem, for sources, lakes and training runs alike.

A URL is a local path (or ``file://``) or ``s3://bucket/key``; sources may also chain fsspec
protocols (``zip://member::s3://bucket/part.zip``), which only :func:`fsspec_for` accepts. S3 endpoint
and credentials come from :mod:`dfdc_lake.io.s3_settings` (the standard AWS environment), so a
filesystem built here carries them to wherever it is pickled (Ray workers, Ray Train's storage).
"""

from __future__ import annotations

import os
from typing import Any

from dfdc_lake.errors import StorageError
from dfdc_lake.io.s3_settings import S3_PROTOCOLS, storage_options_for

__all__ = ["arrow_filesystem", "check_storage_url", "fsspec_filesystem", "fsspec_for", "is_s3"]


def is_s3(url: str | os.PathLike[str]) -> bool:
    """Whether ``url`` names an object on S3 (``s3://``, ``s3a://``)."""
    protocol, sep, _ = os.fspath(url).partition("://")
    return bool(sep) and protocol in S3_PROTOCOLS


def check_storage_url(url: str | os.PathLike[str], what: str = "storage") -> str:
    """``url`` as text when it is a local path, ``file://`` or ``s3://`` URL; StorageError otherwise."""
    text = os.fspath(url)
    if is_s3(text) or "://" not in text or text.startswith("file://"):
        return text
    raise StorageError(f"unsupported {what} URL {text!r}: use a local path or s3://bucket/prefix")


def fsspec_for(url: str) -> tuple[Any, str]:
    """The fsspec filesystem of any fsspec URL (chains included) and the path in its terms."""
    import fsspec

    return fsspec.core.url_to_fs(url, **storage_options_for(url))


def fsspec_filesystem(url: str | os.PathLike[str]) -> tuple[Any, str]:
    """An fsspec filesystem for a local path or ``s3://`` URL, and the path in its terms.

    Hand the filesystem to ``pyarrow.parquet``, Ray Data or Hugging Face ``datasets``.
    """
    import fsspec

    text = check_storage_url(url)
    if is_s3(text):
        return fsspec.filesystem("s3", **storage_options_for(text)), text.split("://", 1)[1].rstrip("/")
    return fsspec.filesystem("file"), os.path.abspath(text.removeprefix("file://"))


def arrow_filesystem(url: str | os.PathLike[str]) -> tuple[Any, str]:
    """A pyarrow filesystem for a local path or ``s3://`` URL, and the path in its terms.

    S3 goes through fsspec with the settings above: that is the filesystem handed to Ray Train
    (``RunConfig.storage_filesystem``) and to its workers, so the endpoint travels with it.
    """
    import pyarrow.fs as pafs

    text = check_storage_url(url)
    if is_s3(text):
        fs, path = fsspec_filesystem(text)
        return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path
    return pafs.LocalFileSystem(), os.path.abspath(text.removeprefix("file://"))
