"""The ``sql`` command: ``dfdc-lake sql LAKE "SELECT ..." [--format table|csv|json|parquet] [--out FILE]``.

The query runs in DuckDB over the lake's views (:mod:`dfdc_lake.lake.sql`: ``samples``, ``outcomes``,
``runs``, ``shards``). ``table`` (the default) prints aligned columns for a person; ``csv``, ``json``
(an array of objects; bytes as base64, NaN as null) and ``parquet`` (needs ``--out``) are for scripts.
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import math
import sys
from typing import TYPE_CHECKING, Any

from dfdc_lake.errors import DfdcLakeError
from dfdc_lake.io.s3_settings import redact

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["EPILOG", "add_arguments", "format_table", "run", "to_csv", "to_json"]

EPILOG = """\
examples:
  dfdc-lake sql ./lake "SELECT status, count(*) FROM outcomes GROUP BY status"
  dfdc-lake sql ./lake "SELECT video_id, face_fake FROM samples WHERE label = 'FAKE'" --json
  dfdc-lake sql ./lake "SELECT * FROM samples" --format parquet --out samples.parquet"""

FORMATS = ("table", "csv", "json", "parquet")
_MAX_CELL_CHARS = 48


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Arguments of ``sql``."""
    parser.add_argument("lake", metavar="LAKE", help="lake root: a local folder or s3://bucket/prefix")
    parser.add_argument(
        "query", metavar="QUERY", help="SQL over the views samples, outcomes, runs and shards"
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.add_argument(
        "--json", dest="format", action="store_const", const="json", help="the same as --format json"
    )
    parser.add_argument("--out", metavar="FILE", help="write the result to FILE (needed for parquet)")
    parser.add_argument(
        "--with-crops",
        action="store_true",
        help="keep crops_jpeg and logmel_f16 in the samples view (heavy; left out by default)",
    )
    parser.add_argument(
        "--max-rows",
        type=int,
        default=1000,
        metavar="N",
        help="rows printed by --format table (default 1000)",
    )


def _plain(value: Any, for_json: bool) -> Any:
    """A cell as JSON-able data: bytes as base64, NaN as None (strict JSON)."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, list):
        return [_plain(item, for_json) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item, for_json) for key, item in value.items()}
    if not for_json or isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)  # dates, decimals


def _cell(value: Any) -> str:
    """A cell for a person: NULL, short bytes summary, lists as JSON, long text cut."""
    if value is None:
        text = "NULL"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, bytes):
        text = f"<{len(value)} bytes>"
    elif isinstance(value, (list, dict)):
        text = json.dumps(_plain(value, True))
    elif isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= _MAX_CELL_CHARS else text[: _MAX_CELL_CHARS - 1] + "…"


def format_table(table: pa.Table, max_rows: int = 1000) -> str:
    """The result as aligned columns with a header, numbers right-aligned, and a row count."""
    import pyarrow as pa

    names = table.column_names
    if not names:
        return "(no result)"
    rows = table.slice(0, max(0, max_rows)).to_pylist()
    cells = [[_cell(row[name]) for name in names] for row in rows]
    widths = [max([len(name)] + [len(r[i]) for r in cells]) for i, name in enumerate(names)]
    numeric = [pa.types.is_integer(f.type) or pa.types.is_floating(f.type) for f in table.schema]

    def line(values: list[str]) -> str:
        padded = [
            v.rjust(w) if right else v.ljust(w) for v, w, right in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(padded).rstrip()

    out = [line(names), "  ".join("-" * w for w in widths)] + [line(r) for r in cells]
    shown = len(rows)
    count = f"({table.num_rows} row{'s' if table.num_rows != 1 else ''}"
    more = f"; first {shown} shown, --max-rows or --format csv for all)" if shown < table.num_rows else ")"
    return "\n".join([*out, count + more])


def to_csv(table: pa.Table) -> str:
    """CSV with a header; lists as JSON text, bytes as base64, NULL as an empty field."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.column_names)
    for row in table.to_pylist():
        values = [_plain(value, True) for value in row.values()]
        writer.writerow(
            ["" if v is None else json.dumps(v) if isinstance(v, (list, dict)) else v for v in values]
        )
    return buffer.getvalue()


def to_json(table: pa.Table) -> str:
    """A JSON array of row objects (strict JSON: bytes as base64, NaN and infinities as null)."""
    return json.dumps([_plain(row, True) for row in table.to_pylist()], indent=1) + "\n"


def _write_text(text: str, out: str | None) -> None:
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    with open(out, "w", encoding="utf-8") as handle:
        handle.write(text)


def run(args: argparse.Namespace) -> int:
    """Run the query and write its result."""
    import pyarrow.parquet as pq

    from dfdc_lake.lake.lake import Lake
    from dfdc_lake.lake.sql import connect, run_query

    if args.format == "parquet" and not args.out:
        raise DfdcLakeError("--format parquet writes a file: give --out FILE")
    con = connect(Lake.open(args.lake), with_crops=args.with_crops)
    table = run_query(con, args.query)
    if args.format == "parquet":
        pq.write_table(table, args.out)
        print(f"wrote {table.num_rows} rows to {args.out}", file=sys.stderr)
        return 0
    if args.format == "table":
        text = redact(format_table(table, args.max_rows))
    else:
        text = to_csv(table) if args.format == "csv" else to_json(table)
    _write_text(text, args.out)
    return 0
