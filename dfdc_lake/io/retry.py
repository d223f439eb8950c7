"""Bounded exponential backoff for transient I/O errors, from an explicit allow-list.

One policy serves the source reader and the lake. Transient: an S3 reply with HTTP 5xx, 429 or a
throttling code (``SlowDown``...), dropped or refused connections, timeouts. Everything else (403, 404,
a failed precondition, a full disk, a missing file) is answered at once. botocore and aiohttp errors are
matched by class name, so neither is imported for the check.

Two ways to call, one loop: :meth:`RetryPolicy.call` lets the last error propagate unchanged (for
callers that translate errors themselves, like the S3 lake backend); :func:`call_with_retry` turns
a transient error that outlived every attempt into a :class:`~dfdc_lake.errors.StorageError`.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from dfdc_lake.errors import StorageError
from dfdc_lake.io.s3_settings import redact

__all__ = ["RetryPolicy", "call_with_retry", "error_chain", "is_transient", "s3_error_code", "s3_http_status"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_TRANSIENT_S3_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "ServiceUnavailable",
        "InternalError",
        "RequestLimitExceeded",
    }
)
# Where a client kept only the text of an S3 reply, these marks in an OSError's message say throttling.
_TRANSIENT_MESSAGE_MARKS = (*sorted(_TRANSIENT_S3_CODES), "503 ")
_TRANSIENT_ERRNOS = frozenset(
    {
        errno.EAGAIN,
        errno.ETIMEDOUT,
        errno.ECONNRESET,
        errno.ECONNREFUSED,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
    }
)
# Names of exception classes (matched over the MRO) that botocore / aiohttp use for broken connections.
_TRANSIENT_CLASS_NAMES = frozenset(
    {
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ProxyConnectionError",
        "ResponseStreamingError",
        "ClientConnectionError",
        "ClientPayloadError",
        "ServerDisconnectedError",
        "ServerTimeoutError",
        "IncompleteRead",
        "TimeoutError",  # asyncio.TimeoutError is not the builtin before Python 3.11
    }
)
# A StorageError has been retried already; retrying it again would multiply the attempts.
_NEVER_TRANSIENT = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, StorageError)


def error_chain(err: BaseException) -> Iterator[BaseException]:
    """``err`` and the exceptions it was raised from (``__cause__``, then ``__context__``)."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _client_error_response(err: BaseException) -> dict | None:
    for exc in error_chain(err):
        response = getattr(exc, "response", None)
        if isinstance(response, dict) and "Error" in response:
            return response
    return None


def s3_error_code(err: BaseException) -> str | None:
    """The S3 error code (``NoSuchKey``, ``SlowDown``...) behind ``err``, if it came from an S3 reply."""
    response = _client_error_response(err)
    return None if response is None else str(response["Error"].get("Code") or "") or None


def s3_http_status(err: BaseException) -> int | None:
    """The HTTP status of the S3 reply behind ``err``, if any."""
    response = _client_error_response(err)
    if response is None:
        return None
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


def _looks_transient(exc: BaseException) -> bool:
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    if any(cls.__name__ in _TRANSIENT_CLASS_NAMES for cls in type(exc).__mro__):
        return True
    if not isinstance(exc, OSError):
        return False
    return exc.errno in _TRANSIENT_ERRNOS or any(mark in str(exc) for mark in _TRANSIENT_MESSAGE_MARKS)


def is_transient(err: BaseException) -> bool:
    """Whether ``err`` is on the allow-list of errors worth retrying.

    An S3 reply decides by its status and code; otherwise ``err`` or an error it was raised from must be
    a broken connection, a timeout, or an OSError with a transient errno or throttling message. Missing
    files, denied access and errors that were already retried (StorageError) never are.
    """
    status = s3_http_status(err)
    if status is not None:
        return status >= 500 or status == 429 or s3_error_code(err) in _TRANSIENT_S3_CODES
    if isinstance(err, _NEVER_TRANSIENT):
        return False
    return any(_looks_transient(exc) for exc in error_chain(err))


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries in all, sleeping ``base_delay_s * 2**i`` (capped at ``max_delay_s``) between them.

    The defaults ride out a few seconds of outage (a restarting S3 gateway) and give up within ~8 s;
    ``DFDC_LAKE_IO_ATTEMPTS`` and ``DFDC_LAKE_IO_BACKOFF_S`` override them for a whole process.
    """

    attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be >= 1, got {self.attempts}")
        if self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError(f"RetryPolicy delays must be >= 0, got {self!r}")

    @classmethod
    def from_env(cls) -> RetryPolicy:
        """The default policy, overridden by ``DFDC_LAKE_IO_ATTEMPTS`` / ``DFDC_LAKE_IO_BACKOFF_S``."""
        default = cls()
        try:
            attempts = int(os.environ.get("DFDC_LAKE_IO_ATTEMPTS", default.attempts))
            base = float(os.environ.get("DFDC_LAKE_IO_BACKOFF_S", default.base_delay_s))
        except ValueError as err:
            raise ValueError(f"bad DFDC_LAKE_IO_ATTEMPTS / DFDC_LAKE_IO_BACKOFF_S: {err}") from None
        return cls(attempts=attempts, base_delay_s=base, max_delay_s=default.max_delay_s)

    def delay_s(self, attempt: int) -> float:
        """Seconds to sleep after failed try number ``attempt`` (0-based)."""
        return min(self.base_delay_s * (2**attempt), self.max_delay_s)

    def call(self, func: Callable[[], T], what: str) -> T:
        """Run ``func``, retrying transient errors; the last error propagates unchanged.

        Args:
            func: the operation (no arguments).
            what: a short description for the log, e.g. ``"PUT s3://b/k"`` (never include credentials).
        """
        for attempt in range(self.attempts):
            try:
                return func()
            except Exception as err:
                if not is_transient(err) or attempt == self.attempts - 1:
                    raise
                delay = self.delay_s(attempt)
                log.warning(
                    "%s failed (%s), retry %d/%d in %.1fs",
                    what,
                    type(err).__name__,
                    attempt + 1,
                    self.attempts - 1,
                    delay,
                )
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns or raises


def call_with_retry(func: Callable[[], T], what: str, policy: RetryPolicy | None = None) -> T:
    """Run ``func`` under ``policy``; a transient error that outlives every attempt becomes a StorageError.

    Args:
        func: the I/O to attempt (no arguments).
        what: a short description for logs and the final error (never include credentials).
        policy: attempts and delays (default: :meth:`RetryPolicy.from_env`).

    Raises:
        StorageError: a transient error persisted through every attempt (its message is redacted).
    """
    policy = policy or RetryPolicy.from_env()
    try:
        return policy.call(func, what)
    except Exception as err:
        if not is_transient(err):
            raise
        raise StorageError(redact(f"{what} failed after {policy.attempts} attempts: {err!r}")) from err
