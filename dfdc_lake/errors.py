"""The few exception types dfdc-lake raises.

Bad *inputs* (a video that does not decode, has no face or no audio) are recorded as outcomes and
never raise out of a family; these exceptions are for bad configuration, unusable metadata, storage
failures and bugs.

Exit codes of ``dfdc-lake`` and ``pipelines/*.py`` (the one place they are defined; ``docs/cli.md``
shows this table):

- ``EXIT_OK`` (0): the command did what was asked.
- ``EXIT_DATA_PROBLEMS`` (1): the command ran, and the data has problems: ``verify`` found committed
  data that does not match its commit record, or ``ingest`` left chunks failed (uncommitted; rerun the
  same command to redo them).
- ``EXIT_USAGE`` (2): a usage, configuration or source error: a bad option (argparse), an invalid
  ``--config``/``--set``, an unusable source or lake, storage that stayed unreachable. Every
  ``DfdcLakeError`` ends here, as one line on stderr without a traceback.
- ``EXIT_INTERNAL`` (3): an internal error (a bug): an exception dfdc-lake did not raise on purpose.
  The traceback is printed on stderr.
"""

__all__ = [
    "EXIT_CODES",
    "EXIT_DATA_PROBLEMS",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_USAGE",
    "CatalogError",
    "ConfigError",
    "DfdcLakeError",
    "LakeCommitError",
    "LakeLockedError",
    "LakeNotFoundError",
    "NoSpaceError",
    "SourceProblemsError",
    "StorageError",
    "VideoDecodeError",
]

EXIT_OK = 0
EXIT_DATA_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3

# code -> meaning, for the docs and help text.
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "ok: the command did what was asked",
    EXIT_DATA_PROBLEMS: "the data has problems: verify found committed data that does not match its "
    "commit record, or ingest left failed chunks uncommitted (rerun the same command to redo them)",
    EXIT_USAGE: "a usage, configuration or source error (bad option, invalid --config/--set, unusable "
    "source or lake, storage unreachable): one line on stderr, no traceback",
    EXIT_INTERNAL: "an internal error (a bug): the traceback is printed on stderr",
}


class DfdcLakeError(Exception):
    """Base class of every error dfdc-lake raises on purpose."""


class ConfigError(DfdcLakeError, ValueError):
    """The configuration (file or CLI override) is invalid."""


class CatalogError(DfdcLakeError, ValueError):
    """A DFDC ``metadata.json`` is unusable: not JSON, wrong types, hostile keys."""


class SourceProblemsError(CatalogError):
    """A DFDC source is unusable in one or more places; ``problems`` holds every one, one line each.

    Raised once, after every part of the source was looked at, so a user fixes them all in one round
    instead of meeting them one run at a time. The message shows the first ``MAX_SHOWN`` problems.
    """

    MAX_SHOWN = 50

    def __init__(self, where: str, problems: list[str]) -> None:
        self.where = where
        self.problems = list(problems)
        shown = "\n".join(f"  - {problem}" for problem in self.problems[: self.MAX_SHOWN])
        more = len(self.problems) - self.MAX_SHOWN
        if more > 0:
            shown += f"\n  ... and {more} more"
        count = f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        super().__init__(f"{where} is refused, {count}:\n{shown}")

    def __reduce__(self) -> tuple[type, tuple[str, list[str]]]:
        # The default would call __init__ with the message alone; keep the problems across processes.
        return type(self), (self.where, self.problems)


class VideoDecodeError(DfdcLakeError):
    """A video could not be opened or decoded. Caught per video and turned into an outcome."""


class StorageError(DfdcLakeError, OSError):
    """Reading or writing the source or the lake failed after retries (disk full, denied, S3 down)."""


class NoSpaceError(StorageError):
    """The lake's file system is full (ENOSPC, or a quota: EDQUOT). Ingest stops at once instead of
    failing chunk after chunk; what was committed stays, and a rerun after freeing space goes on."""


class LakeCommitError(DfdcLakeError):
    """A chunk's commit record could not be written or a committed record is inconsistent."""


class LakeLockedError(DfdcLakeError):
    """Another ingest run holds the lake's lock."""


class LakeNotFoundError(DfdcLakeError):
    """No lake where one was asked for: nothing at the URL, or a file where the lake folder should be.

    Raised where the lake is opened, so ``status``/``verify``/``gc`` of a mistyped path never read as a
    healthy, empty lake, and ``ingest`` never trips over a file in the lake's place.
    """
