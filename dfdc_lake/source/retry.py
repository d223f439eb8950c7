"""Bounded exponential backoff for transient I/O errors, from an explicit allow-list.

Only errors that a second try can plausibly fix are retried (dropped connections, timeouts, throttling);
a missing key or a denied request fails at once. Errors are matched by class name so botocore and
aiohttp need not be imported for the check.
"""

from __future__ import annotations

import errno
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from dfdc_lake.errors import StorageError

__all__ = ["DEFAULT_RETRY", "RetryPolicy", "call_with_retry", "is_transient"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# Exception classes (any class in the error's MRO) that signal a transient condition.
TRANSIENT_ERROR_NAMES = frozenset(
    {
        "ConnectionError",  # builtins: ConnectionResetError, ConnectionRefusedError, BrokenPipeError, ...
        "TimeoutError",
        "IncompleteRead",
        "EndpointConnectionError",  # botocore
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ResponseStreamingError",
        "ClientConnectionError",  # aiohttp
        "ClientPayloadError",
        "ServerDisconnectedError",
        "ServerTimeoutError",
    }
)
TRANSIENT_ERRNOS = frozenset(
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
# Throttling and server-side hiccups that S3 clients surface in the message only.
TRANSIENT_MESSAGES = ("SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "503 ")
NEVER_TRANSIENT = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


def is_transient(err: BaseException) -> bool:
    """Whether ``err`` is on the allow-list of errors worth retrying."""
    if isinstance(err, NEVER_TRANSIENT):
        return False
    if any(cls.__name__ in TRANSIENT_ERROR_NAMES for cls in type(err).__mro__):
        return True
    if isinstance(err, OSError) and err.errno in TRANSIENT_ERRNOS:
        return True
    return isinstance(err, OSError) and any(text in str(err) for text in TRANSIENT_MESSAGES)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry: delay ``base_delay_s * 2**k`` (jittered), capped."""

    attempts: int = 4
    base_delay_s: float = 0.25
    max_delay_s: float = 4.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError(f"invalid retry policy {self!r}: attempts >= 1 and delays >= 0 required")

    def delay_s(self, retry_index: int) -> float:
        """Sleep before retry ``retry_index`` (0-based), with jitter in [50%, 100%] of the step."""
        step = min(self.max_delay_s, self.base_delay_s * (2**retry_index))
        return step * random.uniform(0.5, 1.0)


DEFAULT_RETRY = RetryPolicy()


def call_with_retry(fn: Callable[[], T], what: str, policy: RetryPolicy = DEFAULT_RETRY) -> T:
    """Call ``fn``, retrying transient errors; other errors propagate unchanged.

    Args:
        fn: the I/O to attempt.
        what: a short description for logs and the final error (never include credentials).
        policy: attempts and delays.

    Raises:
        StorageError: a transient error persisted through every attempt.
    """
    for attempt in range(policy.attempts):
        try:
            return fn()
        except Exception as err:
            if not is_transient(err):
                raise
            if attempt + 1 >= policy.attempts:
                raise StorageError(f"{what} failed after {policy.attempts} attempts: {err!r}") from err
            delay = policy.delay_s(attempt)
            log.warning("%s: transient %s, retrying in %.2fs", what, type(err).__name__, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover - the loop always returns or raises
