"""The report's HTML: a page shell with inline CSS, tables, and horizontal bar charts as inline SVG.

Plain string templates; every value that comes from the lake passes through :func:`esc`. Pages hold
no script and load nothing from the network, so they open from disk anywhere.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["STATUS_COLOURS", "Raw", "bar_chart", "esc", "page", "table"]

STATUS_COLOURS = {
    "ok": "#2e7d32",
    "no_face": "#f9a825",
    "decode_error": "#c62828",
    "no_video_stream": "#ad1457",
    "missing": "#6a1b9a",
    "empty_file": "#4527a0",
    "error": "#b71c1c",
}
_BAR_COLOUR = "#3f6fb5"

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d232b;background:#f6f7f9}
header{background:#1d2a3a;color:#fff;padding:10px 24px}header a{color:#cfe0ff;margin-right:16px}
main{padding:12px 24px 40px;max-width:1500px}h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:22px 0 8px}
h3{font-size:15px;margin:16px 0 6px}table{border-collapse:collapse;background:#fff;margin:4px 0 12px}
td,th{border:1px solid #d8dde3;padding:3px 8px;text-align:left;vertical-align:top}th{background:#eef1f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}.banner{padding:10px 14px;border-radius:6px;margin:10px 0}
.bad{background:#fde7e7;border:1px solid #e0a0a0}.good{background:#e6f4e7;border:1px solid #a5d0a8}
.note{background:#fff8e1;border:1px solid #e8d48a}.grid{display:flex;flex-wrap:wrap;gap:18px}
.card{background:#fff;border:1px solid #d8dde3;border-radius:6px;padding:8px 12px}
figure{margin:0;display:inline-block;text-align:center;font-size:11px;color:#4a5562}
figure img{display:block;margin:0 auto}.strip td{padding:2px;text-align:center;font-size:11px}
.strip th{font-size:11px;white-space:nowrap}pre{background:#fff;border:1px solid #d8dde3;padding:8px;overflow:auto;max-height:420px}
.tag{display:inline-block;border-radius:3px;padding:0 5px;color:#fff;font-size:12px}.muted{color:#6b7683}
img.spec{image-rendering:pixelated;border:1px solid #d8dde3}
"""


def esc(value: Any) -> str:
    """Text of ``value`` escaped for HTML (``None`` as an em dash)."""
    return "—" if value is None else html.escape(str(value), quote=True)


def page(title: str, body: str, depth: int = 0) -> str:
    """A whole page: inline CSS, a header with links to the overview and the failures page."""
    up = "../" * depth
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width'><title>{esc(title)}</title>"
        f"<style>{_CSS}</style></head><body><header><b>dfdc-lake report</b> &nbsp; "
        f"<a href='{up}index.html'>overview</a><a href='{up}failures.html'>what went wrong</a></header>"
        f"<main>{body}</main></body></html>\n"
    )


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    """An HTML table; cells are escaped unless they are :class:`Raw`; ``numeric`` columns right-aligned."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    lines = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            text = cell.html if isinstance(cell, Raw) else esc(cell)
            cells.append(f"<td class='num'>{text}</td>" if i in numeric else f"<td>{text}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(lines)}</table>"


class Raw:
    """HTML that :func:`table` puts in a cell as is (already escaped by whoever built it)."""

    def __init__(self, html_text: str) -> None:
        self.html = html_text


def bar_chart(
    items: Sequence[tuple[str, float]],
    unit: str = "",
    colours: dict[str, str] | None = None,
    width_px: int = 560,
    value_format: str = "{:,.0f}",
) -> str:
    """A horizontal bar chart as inline SVG: one labelled bar per item, its value at the end."""
    if not items:
        return "<p class='muted'>nothing to show</p>"
    label_px, value_px, row_px = 150, 110, 22
    bar_space = width_px - label_px - value_px
    top = max((value for _, value in items), default=0.0) or 1.0
    parts = []
    for i, (label, value) in enumerate(items):
        y = i * row_px
        length = max(1.0, bar_space * value / top) if value > 0 else 0.0
        colour = (colours or {}).get(label, _BAR_COLOUR)
        text = value_format.format(value) + (f" {unit}" if unit else "")
        parts.append(
            f"<text x='{label_px - 6}' y='{y + 15}' text-anchor='end'>{esc(label)}</text>"
            f"<rect x='{label_px}' y='{y + 3}' width='{length:.1f}' height='{row_px - 6}' fill='{colour}'/>"
            f"<text x='{label_px + length + 6:.1f}' y='{y + 15}'>{esc(text)}</text>"
        )
    height = row_px * len(items)
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width_px}' height='{height}' "
        f"viewBox='0 0 {width_px} {height}' font-size='12' font-family='sans-serif' role='img'>"
        + "".join(parts)
        + "</svg>"
    )
