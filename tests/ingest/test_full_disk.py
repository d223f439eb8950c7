"""A full disk under a local lake: ingest stops with one clear error naming the lake and the space
(exit 2), commits nothing by halves, leaves no staging file behind, and a rerun after space is freed
completes with ``verify`` clean. The disk is a real tmpfs filled with a ballast file (ENOSPC for real).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dfdc_lake.lake.lake import Lake
from dfdc_lake.lake.verify import verify_lake
from tests.fixtures.tmpfs import fill_leaving, small_tmpfs
from tests.ingest.helpers import assert_accounted_once, ingest_command, verify_clean_after_gc
from tests.ingest.small_source import copy_small_families

pytestmark = [pytest.mark.ray, pytest.mark.slow]

# Three chunks of ~0.37 MB of shards each (both formats): room for about one of them.
FREE_BYTES = 600_000
SETTINGS = ("--set", "lake.videos_per_chunk=4", "--set", "ray.min_videos_per_task=1")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "disk", size_mb=4) as folder:
        yield folder


def test_a_full_disk_stops_ingest_cleanly_and_a_rerun_after_freeing_space_completes(
    tiny_corpus: Path, ray_cluster, small_disk: Path, tmp_path: Path
) -> None:
    source = str(copy_small_families(tiny_corpus, tmp_path / "source"))
    lake = str(small_disk / "lake")
    ballast = fill_leaving(small_disk, FREE_BYTES)
    command = ingest_command(source, lake, ray_cluster.address, *SETTINGS)

    full = subprocess.run(command, capture_output=True, text=True, timeout=600)

    assert full.returncode == 2, full.stderr[-4000:]
    last_line = full.stderr.strip().splitlines()[-1]
    assert f"the lake {lake} is out of space" in last_line and "no space left on device" in last_line
    assert "free of 4.0 MiB" in last_line and "rerun the same command" in last_line
    committed = Lake.open(lake).commits()
    assert len(committed) < 3  # it stopped: not every chunk fitted
    report = verify_lake(Lake.open(lake))  # every commit record's shards are there, whole
    assert report.ok, report.problems
    assert not [p for p in Path(lake).rglob("*.tmp")], "staging files left on the full disk"

    ballast.unlink()
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)

    assert rerun.returncode == 0, rerun.stderr[-4000:]
    assert f"{len(committed)} already committed" in rerun.stderr
    assert len(Lake.open(lake).commits()) == 3
    assert_accounted_once(source, lake)
    verify_clean_after_gc(lake)
