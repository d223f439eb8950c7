"""The local-disk backend of :class:`~dfdc_lake.lake.storage.Storage`.

Atomic writes: a temp file in the destination folder, fsync, ``os.replace``, fsync of the folder.
Conditional writes serialize on an ``flock`` of a hidden ``.<name>.guard`` file next to the target,
which is sound for processes on one host (and on NFS with working ``flock``).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import IO

from dfdc_lake.errors import NoSpaceError, StorageError
from dfdc_lake.io.disk_space import space_left
from dfdc_lake.io.retry import RetryPolicy
from dfdc_lake.io.s3_settings import redact
from dfdc_lake.lake.storage import Storage, check_rel

__all__ = ["LocalStorage", "local_io_errors"]

_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
_DENIED = {errno.EACCES, errno.EPERM}


def _describe(err: OSError, action: str, path: str) -> str:
    if err.errno in _NO_SPACE:
        space = space_left(path)
        return (
            f"no space left on device while {action} {path} "
            f"({space + '; ' if space else ''}free some space or point the lake elsewhere)"
        )
    if err.errno in _DENIED:
        return f"permission denied while {action} {path} (check the owner and mode of the lake folder)"
    if err.errno == errno.EROFS:
        return f"read-only file system while {action} {path}"
    return f"{action} {path} failed: {err.strerror or err}"


@contextmanager
def local_io_errors(action: str, path: str) -> Iterator[None]:
    """Turn OS errors on a local file (except not-found / exists, which callers handle) into a clear
    StorageError: disk full, permission denied, read-only file system."""
    try:
        yield
    except (FileNotFoundError, FileExistsError, StorageError):
        raise
    except OSError as err:
        error = NoSpaceError if err.errno in _NO_SPACE else StorageError
        raise error(redact(_describe(err, action, path))) from err


def _unlink_quiet(path: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _rename_into_place(tmp: str, path: str) -> None:
    """fsync ``tmp``, rename it to ``path`` and fsync the folder; ``tmp`` is removed if that fails."""
    try:
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        _unlink_quiet(tmp)
        raise
    _fsync_dir(os.path.dirname(path))


class LocalStorage(Storage):
    """A lake in a local folder."""

    is_local = True

    def __init__(self, root: str, retry: RetryPolicy) -> None:
        self.root = os.path.abspath(os.path.expanduser(root)).rstrip("/") or "/"
        self.retry = retry

    @property
    def endpoint_label(self) -> str:
        return "local disk"

    def _path(self, rel: str) -> str:
        rel = check_rel(rel)
        return os.path.join(self.root, rel) if rel else self.root

    def _temp_beside(self, path: str) -> str:
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
        os.close(fd)
        return tmp

    def _write_temp_beside(self, path: str, data: bytes) -> str:
        """A temp file beside ``path`` holding ``data`` (not yet fsynced)."""
        tmp = self._temp_beside(path)
        try:
            with open(tmp, "wb") as f:
                f.write(data)
        except BaseException:
            _unlink_quiet(tmp)
            raise
        return tmp

    def read_bytes(self, rel: str) -> bytes:
        path = self._path(rel)
        with local_io_errors("reading", path), open(path, "rb") as f:
            return f.read()

    def write_bytes(self, rel: str, data: bytes) -> None:
        path = self._path(rel)
        with local_io_errors("writing", path):
            _rename_into_place(self._write_temp_beside(path, data), path)

    def staging_path(self, rel: str) -> str:
        path = self._path(rel)
        with local_io_errors("creating a file in", os.path.dirname(path)):
            return self._temp_beside(path)

    def put_file(self, local_path: str | os.PathLike[str], rel: str) -> None:
        src = os.fspath(local_path)
        path = self._path(rel)
        with local_io_errors("publishing", path):
            if os.path.dirname(os.path.abspath(src)) != os.path.dirname(path):
                tmp = self._temp_beside(path)
                try:
                    shutil.copyfile(src, tmp)
                except BaseException:
                    _unlink_quiet(tmp)
                    raise
                finally:
                    _unlink_quiet(src)
                src = tmp
            _rename_into_place(src, path)

    def exists(self, rel: str) -> bool:
        return os.path.isfile(self._path(rel))

    def size(self, rel: str) -> int:
        path = self._path(rel)
        with local_io_errors("reading", path):
            return os.path.getsize(path)

    def open_read(self, rel: str) -> AbstractContextManager[IO[bytes]]:
        path = self._path(rel)
        with local_io_errors("opening", path):
            return open(path, "rb")

    def list_files(self, prefix: str = "") -> dict[str, int]:
        top = self._path(prefix)
        found: dict[str, int] = {}
        with local_io_errors("listing", top):
            for folder, _dirs, files in os.walk(top):
                for name in files:
                    full = os.path.join(folder, name)
                    found[os.path.relpath(full, self.root).replace(os.sep, "/")] = os.path.getsize(full)
        return found

    def delete(self, rel: str) -> None:
        path = self._path(rel)
        with local_io_errors("deleting", path):
            _unlink_quiet(path)

    def remove_empty_dirs(self, prefix: str) -> None:
        """Remove folders under ``prefix`` that hold no files any more (after gc)."""
        top = self._path(prefix)
        for folder, _dirs, _files in sorted(os.walk(top), key=lambda item: -len(item[0])):
            if folder != top:
                with suppress(OSError):  # not empty: keep it
                    os.rmdir(folder)

    @contextmanager
    def _guard(self, path: str) -> Iterator[None]:
        guard = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.guard")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(guard, "a+b") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def read_versioned(self, rel: str) -> tuple[bytes, str] | None:
        try:
            data = self.read_bytes(rel)
        except FileNotFoundError:
            return None
        return data, hashlib.sha256(data).hexdigest()

    def put_if_absent(self, rel: str, data: bytes) -> bool:
        path = self._path(rel)
        with local_io_errors("creating", path):
            tmp = self._write_temp_beside(path, data)
            try:
                _fsync_file(tmp)
                os.link(tmp, path)  # atomic create-with-content: fails if anything is there
            except FileExistsError:
                return False
            finally:
                _unlink_quiet(tmp)
            _fsync_dir(os.path.dirname(path))
            return True

    def put_if_version(self, rel: str, data: bytes, version: str) -> bool:
        path = self._path(rel)
        with local_io_errors("replacing", path), self._guard(path):
            current = self.read_versioned(rel)
            if current is None or current[1] != version:
                return False
            self.write_bytes(rel, data)
            return True

    def delete_if_version(self, rel: str, version: str) -> bool:
        path = self._path(rel)
        with local_io_errors("deleting", path), self._guard(path):
            current = self.read_versioned(rel)
            if current is None or current[1] != version:
                return False
            _unlink_quiet(path)
            return True
