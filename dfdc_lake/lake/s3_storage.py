"""The ``s3://`` backend of :class:`~dfdc_lake.lake.storage.Storage`, on s3fs (imported here only).

Retries happen in one place, :class:`~dfdc_lake.io.retry.RetryPolicy`; s3fs and botocore are told
not to retry on their own, so an outage costs a known, bounded time before a clear StorageError.
Conditional writes use ``If-None-Match: *`` and ``If-Match: <etag>``. A server that answers them with
``NotImplemented`` gets a check-then-write fallback (logged once); its race window is the time
between the check and the PUT.
"""

from __future__ import annotations

import errno
import io
import logging
import os
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from typing import IO, Any, TypeVar

from dfdc_lake.errors import StorageError
from dfdc_lake.io.retry import RetryPolicy, is_transient, s3_error_code, s3_http_status
from dfdc_lake.io.s3_settings import S3Settings, redact
from dfdc_lake.lake.storage import Storage

__all__ = ["S3Storage"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_DENIED_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
}
_CONDITION_FAILED = {"PreconditionFailed", "ConditionalRequestConflict"}
_READ_BLOCK_BYTES = 8 * 1024 * 1024


def _s3fs_module() -> Any:
    try:
        import s3fs
    except ImportError:  # pragma: no cover - s3fs is a hard dependency; this guards trimmed installs
        raise StorageError("s3:// lakes need s3fs: pip install 's3fs>=2024.2'") from None
    return s3fs


def _io_error_types() -> tuple[type[BaseException], ...]:
    """What s3fs, botocore and aiohttp raise for I/O failures (programming errors are not in here)."""
    import asyncio

    import aiohttp
    import botocore.exceptions

    return (
        OSError,
        asyncio.TimeoutError,
        botocore.exceptions.BotoCoreError,
        botocore.exceptions.ClientError,
        aiohttp.ClientError,
    )


class S3Storage(Storage):
    """A lake under ``s3://bucket/prefix``."""

    is_local = False

    def __init__(self, url: str, retry: RetryPolicy, settings: S3Settings | None = None) -> None:
        bucket_and_prefix = url.removeprefix("s3://").strip("/")
        if not bucket_and_prefix or bucket_and_prefix.startswith("/"):
            raise ValueError(f"lake URL {url!r} has no bucket")
        self.root = f"s3://{bucket_and_prefix}"
        self._root_path = bucket_and_prefix
        self.retry = retry
        self.settings = settings or S3Settings.from_env()
        options = self.settings.storage_options()
        options["config_kwargs"] = {**options["config_kwargs"], "retries": {"total_max_attempts": 1}}
        self._fs = _s3fs_module().S3FileSystem(**options)
        self._fs.retries = 1  # this instance's options are ours alone (see the retries config above)
        self._conditional_supported = True

    @property
    def endpoint_label(self) -> str:
        return self.settings.endpoint_label

    def _path(self, rel: str) -> str:
        return self.url(rel).removeprefix("s3://")

    def _describe(self, err: BaseException, action: str, url: str) -> str:
        code, status = s3_error_code(err), s3_http_status(err)
        if code in _DENIED_CODES or status == 403 or isinstance(err, PermissionError):
            reason = (
                f"access denied ({code or status or 'forbidden'}); check AWS_ACCESS_KEY_ID / "
                f"AWS_SECRET_ACCESS_KEY or AWS_PROFILE (access key id {self.settings.access_key_hint})"
            )
        elif code == "NoSuchBucket":
            reason = "the bucket does not exist"
        elif is_transient(err):
            reason = (
                f"unreachable or failing after {self.retry.attempts} attempts "
                f"({type(err).__name__}: {err}); check AWS_ENDPOINT_URL and that the server is up"
            )
        else:
            reason = f"{type(err).__name__}: {err}"
        return redact(f"{action} {url} failed at S3 endpoint {self.endpoint_label}: {reason}")

    def _call(self, action: str, rel: str, func: Callable[[], T]) -> T:
        url = self.url(rel)
        try:
            return self.retry.call(func, f"{action} {url}")
        except StorageError:
            raise
        except FileNotFoundError as err:
            if s3_error_code(err) == "NoSuchBucket":
                raise StorageError(self._describe(err, action, url)) from err
            raise FileNotFoundError(errno.ENOENT, "no such object", url) from None
        except _io_error_types() as err:
            raise StorageError(self._describe(err, action, url)) from err

    def read_bytes(self, rel: str) -> bytes:
        return self._call("reading", rel, lambda: self._fs.cat_file(self._path(rel)))

    def write_bytes(self, rel: str, data: bytes) -> None:
        self._call("writing", rel, lambda: self._fs.pipe_file(self._path(rel), data))

    def put_file(self, local_path: str | os.PathLike[str], rel: str) -> None:
        src = os.fspath(local_path)
        try:
            self._call("uploading", rel, lambda: self._fs.put_file(src, self._path(rel)))
        finally:
            with suppress(FileNotFoundError):
                os.unlink(src)  # consumed either way: a failed shard is rebuilt by a new attempt

    def _info(self, rel: str) -> dict[str, Any]:
        path = self._path(rel)

        def head() -> dict[str, Any]:
            self._fs.invalidate_cache(path)
            return self._fs.info(path)

        info = self._call("reading", rel, head)
        if info.get("type") != "file":
            raise FileNotFoundError(errno.ENOENT, "not an object", self.url(rel))
        return info

    def exists(self, rel: str) -> bool:
        try:
            self._info(rel)
        except FileNotFoundError:
            return False
        return True

    def size(self, rel: str) -> int:
        return int(self._info(rel)["size"])

    def open_read(self, rel: str) -> AbstractContextManager[IO[bytes]]:
        raw = _RangeReader(self, rel, self.size(rel))
        return io.BufferedReader(raw, buffer_size=_READ_BLOCK_BYTES)

    def read_range(self, rel: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of an object."""
        return self._call("reading", rel, lambda: self._fs.cat_file(self._path(rel), start=start, end=end))

    def list_files(self, prefix: str = "") -> dict[str, int]:
        top = self._path(prefix)

        def find() -> dict[str, Any]:
            self._fs.invalidate_cache(top)
            return self._fs.find(top, detail=True)

        found = self._call("listing", prefix, find)
        cut = len(self._root_path) + 1
        return {key[cut:]: int(info["size"]) for key, info in found.items() if info.get("type") == "file"}

    def delete(self, rel: str) -> None:
        with suppress(FileNotFoundError):
            self._call("deleting", rel, lambda: self._fs.rm_file(self._path(rel)))

    def _request(self, method: str, rel: str, **kwargs: Any) -> dict[str, Any]:
        """One S3 API call through s3fs (its error translation, our retries), with a fully read body."""
        from fsspec.asyn import sync

        bucket, key, _ = self._fs.split_path(self._path(rel))

        async def call() -> dict[str, Any]:
            response = await self._fs._call_s3(method, Bucket=bucket, Key=key, **kwargs)
            if "Body" in response:
                async with response["Body"] as body:
                    response["Data"] = await body.read()
            return response

        try:
            return self._call(method, rel, lambda: sync(self._fs.loop, call))
        finally:
            self._fs.invalidate_cache(self._path(rel))

    def read_versioned(self, rel: str) -> tuple[bytes, str] | None:
        try:
            response = self._request("get_object", rel)
        except FileNotFoundError:
            return None
        return response["Data"], str(response["ETag"])

    def _conditional(self, method: str, rel: str, fallback: Callable[[], bool], **kwargs: Any) -> bool:
        if not self._conditional_supported:
            return fallback()
        try:
            self._request(method, rel, **kwargs)
        except FileNotFoundError:
            return False
        except StorageError as err:
            cause = err.__cause__ or err
            if s3_error_code(cause) in _CONDITION_FAILED or s3_http_status(cause) == 412:
                return False
            if s3_error_code(cause) == "NotImplemented" or s3_http_status(cause) == 501:
                log.warning(
                    "%s does not support conditional writes; the lake lock falls back", self.endpoint_label
                )
                self._conditional_supported = False
                return fallback()
            raise
        return True

    def put_if_absent(self, rel: str, data: bytes) -> bool:
        def fallback() -> bool:  # race window: between this check and the PUT
            if self.exists(rel):
                return False
            self.write_bytes(rel, data)
            return True

        return self._conditional("put_object", rel, fallback, Body=data, IfNoneMatch="*")

    def put_if_version(self, rel: str, data: bytes, version: str) -> bool:
        def fallback() -> bool:
            current = self.read_versioned(rel)
            if current is None or current[1] != version:
                return False
            self.write_bytes(rel, data)
            return True

        return self._conditional("put_object", rel, fallback, Body=data, IfMatch=version)

    def delete_if_version(self, rel: str, version: str) -> bool:
        def fallback() -> bool:
            current = self.read_versioned(rel)
            if current is None or current[1] != version:
                return False
            self.delete(rel)
            return True

        return self._conditional("delete_object", rel, fallback, IfMatch=version)


class _RangeReader(io.RawIOBase):
    """A seekable raw reader that fetches byte ranges, each under the storage's retry policy."""

    def __init__(self, storage: S3Storage, rel: str, size: int) -> None:
        super().__init__()
        self._storage, self._rel, self._size, self._pos = storage, rel, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        end = min(self._size, self._pos + len(view))
        if end <= self._pos:
            return 0
        data = self._storage.read_range(self._rel, self._pos, end)
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def readall(self) -> bytes:
        chunks = []
        while self._pos < self._size:
            end = min(self._size, self._pos + _READ_BLOCK_BYTES)
            chunks.append(self._storage.read_range(self._rel, self._pos, end))
            self._pos = end
        return b"".join(chunks)
