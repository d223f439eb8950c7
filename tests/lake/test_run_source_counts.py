"""The run record's ``source_counts``: round-trips, reads as None from records written before it, and
``status`` shows it from the latest run."""

from __future__ import annotations

import json

from dfdc_lake.cli.status import _format_status
from dfdc_lake.lake.lake import Lake
from dfdc_lake.lake.runs import NamedCount, SourceCounts
from dfdc_lake.lake.status import lake_status

from .fakes import run_record


def counts() -> SourceCounts:
    return SourceCounts(
        unlisted=NamedCount(count=7, first=["s3://bucket/dfdc/dfdc_train_part_3/notes.txt"]),
        missing=NamedCount(count=2, first=["aaaaaaaaaa.mp4", "bbbbbbbbbb.mp4"]),
        fakes_of_fakes=NamedCount(count=1, first=["cccccccccc.mp4"]),
    )


def test_source_counts_round_trip_and_status_shows_the_latest(lake: Lake) -> None:
    lake.write_run(run_record("20261128T100000-00000000", "2026-11-28T10:00:00Z", ["p00-c0000"]))
    assert lake.latest_run().source_counts is None  # type: ignore[union-attr]
    status = lake_status(lake)
    assert status["source_counts"] is None and "source (run):" not in _format_status(status)

    record = run_record("20261128T110000-00000000", "2026-11-28T11:00:00Z", ["p00-c0000"])
    lake.write_run(record.model_copy(update={"source_counts": counts()}))
    latest = lake.latest_run()
    assert latest is not None and latest.source_counts == counts()
    assert latest.source_counts.duplicates == NamedCount(count=0, first=[])

    status = lake_status(lake)
    assert status["source_counts"]["unlisted"]["count"] == 7
    assert json.loads(json.dumps(status))["source_counts"]["missing"]["first"] == [
        "aaaaaaaaaa.mp4",
        "bbbbbbbbbb.mp4",
    ]
    line = next(line for line in _format_status(status).splitlines() if line.startswith("source (run):"))
    assert line == (
        "source (run):     7 unlisted (e.g. s3://bucket/dfdc/dfdc_train_part_3/notes.txt); "
        "2 missing (e.g. aaaaaaaaaa.mp4); 1 fakes of fakes (e.g. cccccccccc.mp4)"
    )


def test_a_record_without_the_field_reads_and_nothing_odd_is_said_so(lake: Lake) -> None:
    record = run_record("20261128T100000-00000000", "2026-11-28T10:00:00Z", ["p00-c0000"])
    old = json.loads(record.to_json())
    del old["source_counts"]
    lake.storage.write_bytes(f"runs/{record.run_id}.json", json.dumps(old).encode())
    assert lake.latest_run().source_counts is None  # type: ignore[union-attr]

    lake.write_run(record.model_copy(update={"source_counts": SourceCounts()}))
    text = _format_status(lake_status(lake))
    assert "source (run):     nothing unlisted, missing, duplicated or empty" in text
