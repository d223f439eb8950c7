"""bench/augment_chain.py times the chain with and without FancyPCA and an older commit's chain."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.train.test_loader_bench import BENCH


def test_the_chain_bench_prints_a_rate_per_chain_and_size() -> None:
    command = [
        sys.executable, str(BENCH / "augment_chain.py"), "--sizes", "24,40", "--tracks", "2", "--passes", "1",
        "--baseline-rev", "HEAD",
    ]  # fmt: skip
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=True, cwd=BENCH.parent
    )
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [row["size_px"] for row in rows] == [24, 40]
    for row in rows:
        assert set(row["tracks_per_s"]) == {
            "albumentations",
            "albumentations_without_fancypca",
            "baseline_HEAD",
        }
        assert all(rate > 0 for rate in row["tracks_per_s"].values())
