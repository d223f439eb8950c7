"""Checks shared by the ingest tests: every catalog video accounted for exactly once, and a lake's rows."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from dfdc_lake.lake.commit import outcome_to_dict
from dfdc_lake.lake.lake import Lake
from dfdc_lake.lake.reader import read_samples_table
from dfdc_lake.source.catalog import load_catalog

REPO = Path(__file__).resolve().parents[2]


def assert_accounted_once(source: str, lake: str) -> dict[str, dict]:
    """Every catalog video has exactly one outcome across the lake's commit records; returns them
    (as the dicts the records store)."""
    catalog = load_catalog(source)
    outcomes = [outcome_to_dict(o) for record in Lake.open(lake).commits() for o in record.outcomes]
    counts = Counter(o["filename"] for o in outcomes)
    duplicated = [name for name, n in counts.items() if n > 1]
    assert not duplicated, f"videos with more than one outcome: {duplicated}"
    assert set(counts) == {entry.filename for entry in catalog.entries}
    table = read_samples_table(Lake.open(lake), columns=["sample_id", "filename"])
    ids = table.column("sample_id").to_pylist()
    assert len(ids) == len(set(ids)), "a sample id appears twice"
    per_video = Counter(table.column("filename").to_pylist())
    for outcome in outcomes:
        assert per_video.get(outcome["filename"], 0) == outcome["num_samples"], outcome
    return {o["filename"]: o for o in outcomes}


def sample_digest(lake: str) -> dict[str, tuple]:
    """sample_id -> (label, face_fake, audio_fake, frame indices, rounded boxes) for comparing runs."""
    table = read_samples_table(
        Lake.open(lake),
        columns=["sample_id", "label", "face_fake", "audio_fake", "frame_indices", "boxes_xyxy"],
    ).to_pylist()
    return {
        row["sample_id"]: (
            row["label"],
            row["face_fake"],
            row["audio_fake"],
            tuple(row["frame_indices"]),
            tuple(round(v, 1) for v in row["boxes_xyxy"]),
        )
        for row in table
    }


def ingest_command(source: str, lake: str, address: str, *extra: str) -> list[str]:
    """The user's command line for pipelines/ingest.py (run as a separate driver process)."""
    return [sys.executable, str(REPO / "pipelines" / "ingest.py"), source, lake, "--address", address, *extra]


def wait_until(predicate, timeout_s: float, what: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process exited ({process.returncode}) before {what}")
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def verify_clean_after_gc(lake: str) -> None:
    """gc the orphans of killed attempts, then every committed shard must verify."""
    from dfdc_lake.lake.verify import gc_lake, verify_lake

    gc_lake(Lake.open(lake), dry_run=False)
    report = verify_lake(Lake.open(lake))
    assert report.ok, report.problems
    assert not report.orphans, report.orphans
