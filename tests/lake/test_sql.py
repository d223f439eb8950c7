"""``dfdc-lake sql`` and ``Lake.duckdb()``: DuckDB views over committed shards and records, local and S3."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest

from dfdc_lake.cli import main
from dfdc_lake.cli.sql import format_table
from dfdc_lake.lake.lake import Lake
from dfdc_lake.lake.sql import HEAVY_COLUMNS, QueryError, run_query
from dfdc_lake.lake.status import lake_status
from dfdc_lake.records import OutcomeStatus
from tests.lake.fakes import make_samples, run_record, write_chunk


def _three_chunks(lake: Lake) -> None:
    """Two committed chunks with failures among their outcomes, one uncommitted attempt (orphans)."""
    write_chunk(lake, "p00-c0000", make_samples(5, seed=1), extra={"nofaceaaaa.mp4": OutcomeStatus.NO_FACE})
    write_chunk(
        lake,
        "p01-c0000",
        make_samples(3, seed=2),
        extra={"brokenaaaa.mp4": OutcomeStatus.DECODE_ERROR, "emptyaaaaa.mp4": OutcomeStatus.EMPTY_FILE},
    )
    write_chunk(lake, "p02-c0000", make_samples(4, seed=3), commit=False)
    lake.write_run(run_record("20260101T000000-aaaaaaaa", "2026-01-01T00:00:00Z", ["p00-c0000", "p01-c0000"]))


def test_views_count_what_status_counts(lake: Lake) -> None:
    """The counted claim of docs/querying.md: the samples view holds status's samples, the outcomes view its
    videos by status, on local disk and on S3; the uncommitted attempt's rows are never read."""
    _three_chunks(lake)
    status = lake_status(lake)
    con = lake.duckdb()
    assert (
        run_query(con, "SELECT count(*) AS n FROM samples").column("n")[0].as_py() == status["samples"] == 8
    )
    by_status = run_query(con, "SELECT status, count(*) AS n FROM outcomes GROUP BY status").to_pylist()
    assert {row["status"]: row["n"] for row in by_status} == status["videos"]["by_status"]
    assert status["videos"]["by_status"] == {"decode_error": 1, "empty_file": 1, "no_face": 1, "ok": 8}
    shards = run_query(con, "SELECT format, sum(rows) AS rows FROM shards GROUP BY format ORDER BY format")
    assert shards.to_pylist() == [{"format": "parquet", "rows": 8}, {"format": "webdataset", "rows": 8}]
    runs = run_query(con, "SELECT run_id, chunks_planned, config FROM runs").to_pylist()
    assert runs[0]["run_id"] == "20260101T000000-aaaaaaaa" and runs[0]["chunks_planned"] == 2
    assert "audio" in json.loads(runs[0]["config"])


def test_samples_leave_out_the_heavy_columns_unless_asked(lake: Lake) -> None:
    write_chunk(lake, "p00-c0000", make_samples(3, seed=4))
    light = run_query(lake.duckdb(), "SELECT * FROM samples LIMIT 1").column_names
    assert not set(HEAVY_COLUMNS) & set(light) and "det_scores" in light
    heavy = run_query(lake.duckdb(with_crops=True), "SELECT crops_jpeg FROM samples ORDER BY sample_id")
    assert heavy.column("crops_jpeg")[0].as_py()[0][:2] == b"\xff\xd8"  # a JPEG


def test_an_empty_lake_has_empty_views(tmp_path) -> None:
    con = Lake.open(str(tmp_path / "nothing")).duckdb()
    for view in ("samples", "outcomes", "runs", "shards"):
        assert run_query(con, f"SELECT count(*) AS n FROM {view}").column("n")[0].as_py() == 0
    assert "family_id" in run_query(con, "SELECT * FROM samples").column_names


def test_a_refused_query_says_why(tmp_path) -> None:
    con = Lake.open(str(tmp_path / "nothing")).duckdb()
    with pytest.raises(QueryError, match="no_such_column"):
        run_query(con, "SELECT no_such_column FROM samples")


def test_command_prints_an_aligned_table(tmp_path, capsys) -> None:
    lake = str(tmp_path / "lake")
    _three_chunks(Lake.open(lake))
    query = "SELECT status, count(*) AS videos FROM outcomes GROUP BY status ORDER BY videos DESC, status"
    assert main(["sql", lake, query]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["status", "videos"] and set(lines[1]) <= {"-", " "}
    assert lines[2].split() == ["ok", "8"] and lines[-1] == "(4 rows)"
    assert len({len(line) for line in lines[2:-1]}) == 1  # right-aligned counts: same width


def test_command_writes_csv_json_and_parquet(tmp_path, capsys) -> None:
    lake = str(tmp_path / "lake")
    _three_chunks(Lake.open(lake))
    query = "SELECT sample_id, det_scores FROM samples ORDER BY sample_id"
    assert main(["sql", lake, query, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 8 and json.loads(rows[0]["det_scores"])[1] is None  # NaN (a gap) as null
    assert main(["sql", lake, query, "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 8
    out = tmp_path / "result.parquet"
    assert main(["sql", lake, query, "--format", "parquet", "--out", str(out)]) == 0
    assert pq.read_table(out).num_rows == 8
    assert main(["sql", lake, query, "--format", "parquet"]) == 2  # parquet needs --out
    assert main(["sql", lake, "SELEC nonsense"]) == 2
    assert "error" in capsys.readouterr().err


def test_table_cells_are_short_and_bytes_summarized() -> None:
    import pyarrow as pa

    table = pa.table({"b": [b"\xff\xd8" * 100], "t": ["x" * 200], "n": [None]}, schema=None)
    text = format_table(table)
    assert "<200 bytes>" in text and "…" in text and "NULL" in text
