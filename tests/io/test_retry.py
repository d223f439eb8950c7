"""Only allow-listed transient errors are retried, a bounded number of times."""

from __future__ import annotations

import errno

import pytest

from dfdc_lake.errors import StorageError
from dfdc_lake.io.retry import RetryPolicy, call_with_retry, is_transient

FAST = RetryPolicy(attempts=3, base_delay_s=0.001, max_delay_s=0.002)


class EndpointConnectionError(Exception):
    """Named like botocore's, which is matched by name."""


class _Flaky:
    def __init__(self, errors: list[BaseException]) -> None:
        self.errors = errors
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "data"


@pytest.mark.parametrize(
    "err",
    [ConnectionResetError(), TimeoutError(), OSError(errno.ETIMEDOUT, "timed out"), EndpointConnectionError(),
     OSError("SlowDown: please reduce your request rate")],
)  # fmt: skip
def test_transient_errors_are_retried(err: BaseException) -> None:
    assert is_transient(err)
    flaky = _Flaky([err, err])
    assert call_with_retry(flaky, "read x", FAST) == "data" and flaky.calls == 3


@pytest.mark.parametrize(
    "err",
    [FileNotFoundError("x"), PermissionError("denied"), ValueError("bug"), OSError(errno.ENOSPC, "full")],
)
def test_other_errors_fail_at_once(err: BaseException) -> None:
    assert not is_transient(err)
    flaky = _Flaky([err])
    with pytest.raises(type(err)):
        call_with_retry(flaky, "read x", FAST)
    assert flaky.calls == 1


def test_retries_are_bounded() -> None:
    flaky = _Flaky([ConnectionResetError("reset")] * 10)
    with pytest.raises(StorageError, match="read s3://b/k failed after 3 attempts"):
        call_with_retry(flaky, "read s3://b/k", FAST)
    assert flaky.calls == 3


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(attempts=8, base_delay_s=0.1, max_delay_s=0.5)
    delays = [policy.delay_s(k) for k in range(6)]
    assert all(0.05 <= d <= 0.1 * 2**k for k, d in enumerate(delays))
    assert max(delays) <= 0.5
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
