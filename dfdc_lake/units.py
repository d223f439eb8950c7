"""Sizes and durations as people read them, the same in every command and page."""

from __future__ import annotations

__all__ = ["format_duration", "human_bytes"]


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KiB' (every command and the report print sizes this way)."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def format_duration(seconds: float) -> str:
    """41 -> '0m41s', 3725 -> '1h02m05s' (progress lines, ETAs, estimates)."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
