"""The few exception types dfdc-lake raises.

Bad *inputs* (a video that does not decode, has no face or no audio) are recorded as outcomes and
never raise out of a family; these exceptions are for bad configuration, unusable metadata, storage
failures and bugs.
"""

__all__ = [
    "CatalogError",
    "ConfigError",
    "DfdcLakeError",
    "LakeCommitError",
    "LakeLockedError",
    "StorageError",
    "VideoDecodeError",
]


class DfdcLakeError(Exception):
    """Base class of every error dfdc-lake raises on purpose."""


class ConfigError(DfdcLakeError, ValueError):
    """The configuration (file or CLI override) is invalid."""


class CatalogError(DfdcLakeError, ValueError):
    """A DFDC ``metadata.json`` is unusable: not JSON, wrong types, hostile keys."""


class VideoDecodeError(DfdcLakeError):
    """A video could not be opened or decoded. Caught per video and turned into an outcome."""


class StorageError(DfdcLakeError, OSError):
    """Reading or writing the source or the lake failed after retries (disk full, denied, S3 down)."""


class LakeCommitError(DfdcLakeError):
    """A chunk's commit record could not be written or a committed record is inconsistent."""


class LakeLockedError(DfdcLakeError):
    """Another ingest run holds the lake's lock."""
