"""Ingest progress: one live line on a terminal, plain lines in a log (or under ``ray job submit``)."""

from __future__ import annotations

import io
import re

import pytest

from dfdc_lake.cli import main
from dfdc_lake.ingest.progress import ProgressTracker
from dfdc_lake.synth.corpus import write_corpus


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal, as sys.stderr does in an interactive shell."""

    def isatty(self) -> bool:
        return True


def _run(stream: io.StringIO) -> ProgressTracker:
    tracker = ProgressTracker(total_videos=10, stream=stream, min_interval_s=0, live_interval_s=0)
    for statuses in (["ok", "ok"], ["ok", "no_face"], ["decode_error"]):
        tracker.record(statuses)
        tracker.maybe_print()
    tracker.record(["ok"] * 5)
    tracker.maybe_print(force=True)
    return tracker


def test_on_a_terminal_one_line_is_rewritten_in_place() -> None:
    stream = FakeTerminal()
    _run(stream)
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")  # one line, ended by the final report
    updates = text.rstrip("\n").split("\r")[1:]
    assert len(updates) == 4
    assert all(update.endswith("\x1b[K") for update in updates)  # each erases what a longer one left
    assert "videos 2/10" in updates[0] and "videos 10/10 (100.0%)" in updates[-1]
    assert "videos/min" in updates[-1] and "ETA" in updates[-1] and "failed 1" in updates[-1]


def test_in_a_log_every_report_is_a_plain_line() -> None:
    stream = io.StringIO()  # a file, a pipe, `ray job submit`'s log: isatty() is False
    _run(stream)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4 and "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()
    assert lines[0].startswith("[ingest] videos 2/10") and lines[-1].startswith("[ingest] videos 10/10")


def test_a_live_line_is_cut_to_the_terminal_width(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    stream = FakeTerminal()
    tracker = ProgressTracker(total_videos=10, stream=stream, live_interval_s=0)
    tracker.record(["ok"])
    tracker.maybe_print()
    shown = stream.getvalue().removeprefix("\r").removesuffix("\x1b[K")
    assert len(shown) < 40 and shown.endswith("…")
    tracker.close()  # a run that stops early still leaves the cursor on a new line
    assert stream.getvalue().endswith("\n")


def test_the_terminal_is_not_flooded() -> None:
    stream = FakeTerminal()
    tracker = ProgressTracker(total_videos=10, stream=stream, live_interval_s=60)
    for _ in range(50):
        tracker.record(["ok"])
        tracker.maybe_print()
    assert stream.getvalue().count("\r") == 1


# Every frame sampled and detected: each tiny clip then takes a noticeable moment, as a DFDC clip does.
SLOWER_CLIPS = ["--set", "decode.frame_stride=1", "--set", "faces.detect_every=1"]
SLOWER_CLIPS += ["--set", 'lake.formats=["parquet"]']


@pytest.mark.ray
@pytest.mark.slow
def test_one_family_of_12_clips_counts_videos_as_they_finish(ray_cluster, tmp_path, capsys) -> None:
    """The progress line moves inside a family task: a 12-clip family shows counts between 0 and 12."""
    source = tmp_path / "dfdc"
    write_corpus(source, parts=1, families=1, fakes_per_family=11, cases=())
    argv = ["ingest", str(source), str(tmp_path / "lake"), "--address", ray_cluster.address]
    code = main([*argv, "--progress-every", "0.2", *SLOWER_CLIPS])
    err = capsys.readouterr().err
    assert code == 0, err
    counts = [int(k) for k in re.findall(r"^\[ingest\] videos (\d+)/12 ", err, flags=re.MULTILINE)]
    assert counts[-1] == 12 and counts == sorted(counts)
    assert any(0 < k < 12 for k in counts), err  # not only 0/12 then 12/12
