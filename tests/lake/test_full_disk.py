"""Shard writers on a full local disk (a real tmpfs): a narrow ``NoSpaceError`` that says how much space
is left, and no staging file left behind, whether the disk fills while writing rows or while publishing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dfdc_lake.errors import NoSpaceError, StorageError
from dfdc_lake.lake.lake import open_storage
from dfdc_lake.lake.writers import ChunkWriter
from tests.fixtures.tmpfs import fill_leaving, small_tmpfs

from .fakes import make_samples


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "disk", size_mb=1) as folder:
        yield folder


@pytest.mark.parametrize("free_bytes", [0, 100_000], ids=["full", "fills-up-when-publishing"])
def test_a_full_disk_is_a_no_space_error_and_leaves_no_staging_file(
    small_disk: Path, free_bytes: int
) -> None:
    fill_leaving(small_disk, free_bytes)
    storage = open_storage(small_disk / "lake")
    with (
        pytest.raises(NoSpaceError) as caught,
        ChunkWriter(storage, "p00-c0000", "a1", ("parquet", "webdataset")) as writer,
    ):
        for sample in make_samples(8):
            writer.write(sample)
    assert isinstance(caught.value, StorageError)  # callers that handle storage failures still do
    message = str(caught.value)
    assert "no space left on device while" in message and "free of 1.0 MiB" in message
    assert not [p for p in (small_disk / "lake").rglob("*") if p.is_file()]
