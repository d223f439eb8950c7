"""``dfdc-lake synth`` end to end, through the real CLI entry point."""

from __future__ import annotations

import argparse
import json

from dfdc_lake.cli import commands as cli
from dfdc_lake.cli import synth as command
from dfdc_lake.synth.truth import load_ground_truth

ARGS = ["--parts", "1", "--families", "1", "--fakes", "2", "--seed", "5"]


def test_cli_writes_a_corpus_and_prints_a_summary(tmp_path, capsys):
    out = tmp_path / "corpus"
    assert cli.main(["synth", str(out), *ARGS, "--cases", "no_audio,zero_byte"]) == 0
    printed = capsys.readouterr().out
    assert "wrote 7 videos in 2 families over 1 part(s)" in printed
    assert "no_audio 3" in printed and "zero_byte 1" in printed and "MB in" in printed
    part = out / "dfdc_train_part_0"
    metadata = json.loads((part / "metadata.json").read_text())
    assert len(metadata) == 7
    assert set(load_ground_truth(part)) == set(metadata)


def test_cli_refuses_to_overwrite_unless_asked(tmp_path, capsys):
    out = tmp_path / "corpus"
    assert cli.main(["synth", str(out), *ARGS, "--cases", "none"]) == 0
    assert cli.main(["synth", str(out), *ARGS, "--cases", "none"]) == 2
    assert "exists" in capsys.readouterr().err
    assert cli.main(["synth", str(out), *ARGS, "--cases", "none", "--seed", "6", "--overwrite"]) == 0
    assert len(json.loads((out / "dfdc_train_part_0" / "metadata.json").read_text())) == 3


def test_bad_options_are_reported_not_raised(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    command.add_arguments(parser, "synth")
    args = parser.parse_args([str(tmp_path / "x"), "--cases", "sideways"])
    assert command.run(args) == 2
    assert "unknown hard case" in capsys.readouterr().err
    args = parser.parse_args([str(tmp_path / "y"), "--families", "0", "--cases", "none"])
    assert command.run(args) == 2
    assert "empty" in capsys.readouterr().err


def test_overwrite_never_removes_a_folder_without_ground_truth(tmp_path, capsys):
    part = tmp_path / "corpus" / "dfdc_train_part_0"
    part.mkdir(parents=True)
    (part / "metadata.json").write_text("{}")
    assert cli.main(["synth", str(tmp_path / "corpus"), *ARGS, "--cases", "none", "--overwrite"]) == 2
    assert "not a synthetic part" in capsys.readouterr().err
    assert (part / "metadata.json").read_text() == "{}"
