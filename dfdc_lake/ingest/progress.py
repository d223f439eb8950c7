"""Progress of a long ingest: videos done/total, rate, ETA and failures, printed at a steady pace.

On a terminal the report is one live line, rewritten in place (carriage return, then erase to the end
of the line) at most once a second and cut to the terminal's width so it never wraps; the final report
ends the line. Anywhere else (a log file, a pipe, ``ray job submit``'s log stream) every report is a
plain line of its own every ``min_interval_s``, which reads well in a log and greps well.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO

from dfdc_lake.units import format_duration

__all__ = ["ProgressTracker"]


@dataclass
class ProgressTracker:
    """Counts finished videos by outcome status and renders a one-line progress report.

    The rate only counts videos processed in this run, so a resumed run's ETA is not skewed by the
    videos it skipped.
    """

    total_videos: int
    skipped_videos: int = 0
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    min_interval_s: float = 5.0
    live_interval_s: float = 1.0  # on a terminal: the live line is rewritten at most this often
    started_at: float = field(default_factory=time.monotonic)
    by_status: Counter[str] = field(default_factory=Counter)
    _last_print: float = 0.0
    _live_open: bool = False  # a live line is on the terminal and not yet ended

    @property
    def done(self) -> int:
        return self.skipped_videos + sum(self.by_status.values())

    @property
    def poll_interval_s(self) -> float:
        """How often the driver should refresh the counts: often enough for the next report, and at
        least every 2 s (a cheap call to the progress actor)."""
        return max(0.05, min(2.0, self.min_interval_s, self.live_interval_s))

    @property
    def failures(self) -> int:
        return sum(n for status, n in self.by_status.items() if status not in {"ok", "no_face"})

    def record(self, statuses: list[str]) -> None:
        self.by_status.update(statuses)

    def record_counts(self, counts: dict[str, int]) -> None:
        self.by_status.update(counts)

    def line(self) -> str:
        elapsed = time.monotonic() - self.started_at
        processed = sum(self.by_status.values())
        rate_per_min = processed / elapsed * 60 if elapsed > 0 else 0.0
        remaining = self.total_videos - self.done
        eta = format_duration(remaining / rate_per_min * 60) if rate_per_min > 0 else "?"
        pct = 100.0 * self.done / self.total_videos if self.total_videos else 100.0
        return (
            f"[ingest] videos {self.done}/{self.total_videos} ({pct:.1f}%)"
            f" | {rate_per_min:.1f} videos/min | elapsed {format_duration(elapsed)} | ETA {eta}"
            f" | no_face {self.by_status.get('no_face', 0)} | failed {self.failures}"
        )

    @property
    def live(self) -> bool:
        """Whether the stream is a terminal (one line rewritten in place) rather than a log."""
        isatty = getattr(self.stream, "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:  # a closed stream
            return False

    def maybe_print(self, force: bool = False) -> None:
        """Report progress if the interval has passed; ``force`` reports now, and on a terminal it is
        the final report, which ends the live line."""
        now = time.monotonic()
        live = self.live
        interval = self.live_interval_s if live else self.min_interval_s
        if not force and now - self._last_print < interval:
            return
        self._last_print = now
        if not live:
            print(self.line(), file=self.stream, flush=True)
            return
        width = shutil.get_terminal_size(fallback=(120, 24)).columns
        text = self.line()
        if len(text) >= width:
            text = text[: max(1, width - 2)] + "…"
        self.stream.write("\r" + text + "\x1b[K" + ("\n" if force else ""))
        self.stream.flush()
        self._live_open = not force

    def close(self) -> None:
        """End a live line left open (a run that stops without its final report)."""
        if self._live_open:
            self.stream.write("\n")
            self.stream.flush()
            self._live_open = False
