"""Every lake test runs against local disk and against the real S3 server (SeaweedFS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfdc_lake.io.retry import RetryPolicy
from dfdc_lake.lake.lake import Lake, open_storage
from dfdc_lake.lake.storage import Storage


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def lake_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty lake root: a local folder, or a fresh bucket on the test S3 server."""
    if request.param == "s3":
        return request.getfixturevalue("s3_lake_url")
    return str(tmp_path / "lake")


@pytest.fixture
def storage(lake_url: str) -> Storage:
    """The lake's storage with a short retry policy (tests do not wait out long backoffs)."""
    return open_storage(lake_url, retry=RetryPolicy(attempts=3, base_delay_s=0.1, max_delay_s=0.5))


@pytest.fixture
def lake(storage: Storage) -> Lake:
    """The lake handle over that storage."""
    return Lake(storage)
