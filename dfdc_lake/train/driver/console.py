"""What ``dfdc-lake train`` shows while it runs: one line per epoch, and a live line on a terminal.

The lines are read on the driver from the run's own ``metrics.jsonl`` (rank 0 writes it once an epoch's
checkpoint is durable), so they hold for any worker count and any storage, and Ray's own INFO output
can stay off the terminal. An epoch line::

    epoch 3/8  loss 0.912  val log loss 0.318  AUC 0.941  212 samples/s  epoch 0m41s  ETA 3m25s
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from dfdc_lake.units import format_duration

__all__ = ["EpochReporter", "epoch_line"]


def _number(record: dict[str, Any], key: str, digits: int = 3) -> str:
    value = record.get(key)
    return "-" if value is None else f"{value:.{digits}f}"


def epoch_line(record: dict[str, Any], epochs: int, eta_s: float | None) -> str:
    """One epoch of ``metrics.jsonl`` as the line the terminal shows."""
    train_s = record.get("train_s") or 0.0
    rate = (
        f"{record['train_samples'] / train_s:.0f} samples/s"
        if train_s and record.get("train_samples")
        else "-"
    )
    parts = [
        f"epoch {record['epoch'] + 1}/{epochs}",
        f"loss {_number(record, 'train_loss')}",
        f"val log loss {_number(record, 'val_log_loss')}",
        f"AUC {_number(record, 'val_auc')}",
        rate,
        f"epoch {format_duration(record.get('epoch_s') or 0.0)}",
    ]
    if eta_s is not None:
        parts.append(f"ETA {format_duration(eta_s)}" if eta_s > 0 else "done")
    return "  ".join(parts)


@dataclass
class EpochReporter:
    """Polls ``metrics.jsonl`` in a thread and prints each new epoch once.

    ``read_records`` returns the file's records (``RunFiles.read_jsonl``); epochs already there when the
    reporter starts (a resumed run) are not printed again. ETA = mean epoch time of this invocation's
    epochs times the epochs left.
    """

    read_records: Any  # () -> list[dict]
    epochs: int
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    poll_s: float = 2.0
    _seen: set[int] = field(default_factory=set)
    _durations: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _started: float = field(default_factory=time.monotonic)
    _live: bool = False

    def __enter__(self) -> EpochReporter:
        self._seen = {int(r["epoch"]) for r in self._records()}
        self._live = self.stream.isatty()
        self._thread = threading.Thread(target=self._loop, name="dfdc-lake-epochs", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.poll()  # the last epoch, written just before fit() returned

    def _records(self) -> list[dict[str, Any]]:
        try:
            return list(self.read_records())
        except OSError:  # a transient read error costs one refresh, never the run
            return []

    def poll(self) -> None:
        """Print the epochs that appeared since the last poll."""
        for record in sorted(self._records(), key=lambda r: r["epoch"]):
            epoch = int(record["epoch"])
            if epoch in self._seen:
                continue
            self._seen.add(epoch)
            if record.get("epoch_s"):
                self._durations.append(float(record["epoch_s"]))
            left = self.epochs - 1 - epoch
            eta = sum(self._durations) / len(self._durations) * left if self._durations else None
            self._write(epoch_line(record, self.epochs, eta) + "\n")

    def _write(self, text: str) -> None:
        prefix = "\r\x1b[K" if self._live else ""
        self.stream.write(prefix + text)
        self.stream.flush()

    def _loop(self) -> None:
        while not self._stop.wait(1.0 if self._live else self.poll_s):
            self.poll()
            if self._live:
                done = len(self._seen)
                running = f"epoch {min(done + 1, self.epochs)}/{self.epochs} running"
                self.stream.write(
                    f"\r\x1b[K{running}, {format_duration(time.monotonic() - self._started)} in"
                )
                self.stream.flush()
