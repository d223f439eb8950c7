"""A full disk under a training run's folder, said as such.

Ray Train copies each checkpoint into the run folder (``pyarrow.fs.copy_files``) from a worker; when
that disk is full the copy fails with ``OSError(ENOSPC)`` deep in a worker, and ``fit()`` raised a
``WorkerGroupError`` whose text buries it under tracebacks (``dfdc-lake train`` exited 3, an internal
error). :func:`run_folder_space_errors` turns it into a :class:`~dfdc_lake.errors.NoSpaceError` naming
the run folder and the space left (exit 2). The checkpoint being copied is not registered with Ray
Train, so a rerun of the same command, once there is space, resumes from the last whole one.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

from dfdc_lake.errors import NoSpaceError
from dfdc_lake.io.disk_space import space_left
from dfdc_lake.io.s3_settings import redact

__all__ = ["is_no_space", "run_folder_space_errors"]

_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
_NO_SPACE_TEXT = ("No space left on device", "[Errno 28]", "Disk quota exceeded")


def is_no_space(err: BaseException) -> bool:
    """Whether ``err``, an error it carries (causes, Ray Train's worker failures) or, where Ray passed
    it on as text only, its message, is a full disk."""
    seen: set[int] = set()
    todo: list[BaseException] = [err]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, NoSpaceError) or (isinstance(current, OSError) and current.errno in _NO_SPACE):
            return True
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
        todo += list(getattr(current, "worker_failures", {}).values())
        cause = getattr(current, "cause", None)  # a RayTaskError's own
        if isinstance(cause, BaseException):
            todo.append(cause)
    return any(text in str(err) for text in _NO_SPACE_TEXT)


def _space_of(url: str) -> str:
    """`` (N MiB free of M MiB)`` for a local run folder, else ``""``."""
    folder = url.removeprefix("file://")
    space = "" if "://" in folder else space_left(folder)
    return f" ({space})" if space else ""


@contextmanager
def run_folder_space_errors(run_url: str) -> Iterator[None]:
    """Raise a full disk under the run folder ``run_url`` as one clear ``NoSpaceError``."""
    try:
        yield
    except NoSpaceError:
        raise
    except Exception as err:
        if not is_no_space(err):
            raise
        raise NoSpaceError(
            redact(
                f"the run folder {run_url} is out of space{_space_of(run_url)}: no space left on device "
                "while writing a checkpoint or run file; free some space, then rerun the same command: "
                "it resumes from the last whole checkpoint"
            )
        ) from err
