"""What ``dfdc-lake train`` shows: one line per epoch read from metrics.jsonl, nothing of Ray's INFO."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from pathlib import Path

import pytest

from dfdc_lake.train.driver.console import EpochReporter, epoch_line
from dfdc_lake.units import format_duration


def _record(epoch: int, epoch_s: float = 10.0) -> dict:
    return {
        "epoch": epoch,
        "train_loss": 0.9 - 0.1 * epoch,
        "val_log_loss": 0.5 - 0.05 * epoch,
        "val_auc": 0.8 + 0.01 * epoch,
        "train_samples": 400,
        "train_s": 8.0,
        "epoch_s": epoch_s,
    }


def test_an_epoch_line_says_loss_validation_rate_and_eta() -> None:
    line = epoch_line(_record(2), epochs=8, eta_s=205)
    assert line == (
        "epoch 3/8  loss 0.700  val log loss 0.400  AUC 0.820  50 samples/s  epoch 0m10s  ETA 3m25s"
    )
    assert epoch_line({"epoch": 7, "val_auc": None}, epochs=8, eta_s=0).endswith("done")
    assert "AUC -" in epoch_line({"epoch": 0, "val_auc": None}, epochs=1, eta_s=None)
    assert [format_duration(s) for s in (0.4, 59, 61, 3725)] == ["0m00s", "0m59s", "1m01s", "1h02m05s"]


def test_each_new_epoch_is_printed_once_and_a_resumed_runs_earlier_epochs_not_again() -> None:
    records = [_record(0), _record(1)]  # a resumed run: two epochs were done before this invocation
    lock = threading.Lock()

    def read() -> list[dict]:
        with lock:
            return [json.loads(json.dumps(r)) for r in records]

    out = io.StringIO()
    with EpochReporter(read, epochs=4, stream=out, poll_s=0.05):
        with lock:
            records.append(_record(2, epoch_s=20.0))
        time.sleep(0.3)
        with lock:
            records.append(_record(3, epoch_s=30.0))  # written just before fit() returns
    lines = out.getvalue().splitlines()
    assert [line.split("  ")[0] for line in lines] == ["epoch 3/4", "epoch 4/4"]
    assert lines[0].endswith("ETA 0m20s")  # one epoch left at this invocation's mean epoch time
    assert lines[1].endswith("done")


def test_ray_trains_own_info_stays_off_the_terminal_unless_verbose() -> None:
    import logging

    from ray.train.v2._internal.execution import context

    from dfdc_lake.train.config import TrainConfig
    from dfdc_lake.train.driver.trainer import _run_config
    from dfdc_lake.train.model.worker_loop import _quiet_report_lines

    assert _run_config("/tmp/runs", "r", TrainConfig()).logging_config.log_level == "WARNING"
    assert _run_config("/tmp/runs", "r", TrainConfig(), verbose=True).logging_config.log_level == "INFO"
    # The per-report line comes from a logger named after its file, which that filter misses.
    assert "Reporting training result" in Path(context.__file__).read_text()
    before = context.logger.level
    try:
        context.logger.setLevel(logging.INFO)
        _quiet_report_lines()
        assert not context.logger.isEnabledFor(logging.INFO)
    finally:
        context.logger.setLevel(before)


@pytest.mark.slow
def test_training_prints_one_line_per_epoch(trained_run) -> None:
    epochs = len(trained_run.metrics())
    lines = [line for line in trained_run.stderr.splitlines() if re.match(r"epoch \d+/\d+  loss", line)]
    assert len(lines) == epochs, trained_run.stderr
    assert lines[-1].endswith("done")
