"""The command line's contract: --version, config, --json everywhere, -v anywhere, --set messages,
the deprecated train --format, and the exit codes of dfdc_lake.errors."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from dfdc_lake.cli import commands as cli
from dfdc_lake.cli import train as train_command
from dfdc_lake.errors import EXIT_DATA_PROBLEMS, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE
from dfdc_lake.lake.lake import open_storage
from tests.lake.fakes import make_samples, write_chunk

REPO = Path(__file__).resolve().parents[2]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_version_comes_from_the_installed_package(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.strip() == f"dfdc-lake {version('dfdc-lake')}"


def test_config_json_shows_the_override_and_every_section(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "config", "--json", "--set", "decode.frame_stride=5")
    document = json.loads(out)
    assert code == EXIT_OK and document["ingest"]["decode"]["frame_stride"] == 5
    assert {"faces", "crops", "audio", "labels", "lake", "ray"} <= set(document["ingest"])
    default_hash = json.loads(run_cli(capsys, "config", "--json")[1])["config_hash"]
    assert document["config_hash"] != default_hash  # frame_stride is part of the hash
    code, out, _ = run_cli(capsys, "config", "--set", "ray.tasks_in_flight=3")  # not hashed
    assert code == EXIT_OK and f"config_hash {default_hash}" in out and "ray.tasks_in_flight = 3" in out


def test_config_train_prints_the_training_settings(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys, "config", "--train", "--json", "--set", "epochs=3", "--set", "train.lr=0.01"
    )
    document = json.loads(out)
    assert code == EXIT_OK and document["train"]["epochs"] == 3 and document["train"]["lr"] == 0.01
    assert len(document["train_hash"]) == 16


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["config", "--set", "nope.x=1"], ["no section 'nope'", "decode, faces, crops, audio, labels"]),
        (["config", "--set", "decode.nope=1"], ["'decode' has no setting 'nope'", "frame_stride"]),
        (["config", "--set", "frame_stride=5"], ["did you mean decode.frame_stride?"]),
        (["config", "--set", "decode.frame_stride=0"], ["decode.frame_stride: Input should be greater"]),
        (["config", "--train", "--set", "epoch=3"], ["no setting 'epoch'", "did you mean epochs?"]),
        (["config", "--train", "--set", "decode.frame_stride=1"], ["bare key=value", "batch_size"]),
    ],
)
def test_set_errors_name_the_bad_name_and_the_valid_ones(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: list[str]
) -> None:
    code, out, err = run_cli(capsys, *argv)
    assert code == EXIT_USAGE and out == "" and err.count("\n") == 1
    assert all(text in err for text in expected), err
    assert "pydantic.dev" not in err and "Traceback" not in err


def test_verbose_is_accepted_before_and_after_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["-v", "config"]).verbose
    assert parser.parse_args(["config", "-v"]).verbose
    assert not parser.parse_args(["config"]).verbose


def test_every_command_has_json_and_examples() -> None:
    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert set(commands) == set(cli.COMMANDS)
    for name, sub in commands.items():
        help_text = sub.format_help()
        assert "--json" in help_text and f"dfdc-lake {name} " in (sub.epilog or ""), name
    assert "implementation" not in parser.format_help() and "exit codes:" in parser.format_help()


def test_sql_json_is_format_json() -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["sql", "lake", "SELECT 1", "--json"]).format == "json"
    assert parser.parse_args(["sql", "lake", "SELECT 1", "--format", "csv"]).format == "csv"


def test_train_format_is_a_deprecated_spelling_of_shard_format(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="dfdc-lake train")
    train_command.add_arguments(parser)
    new = parser.parse_args(["lake", "--storage-path", "runs", "--shard-format", "webdataset"])
    assert capsys.readouterr().err == ""
    old = parser.parse_args(["lake", "--storage-path", "runs", "--format", "webdataset"])
    assert "--format is deprecated, use --shard-format" in capsys.readouterr().err
    assert train_command._overrides(new)["format"] == train_command._overrides(old)["format"] == "webdataset"


def test_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = open_storage(str(tmp_path / "lake"))
    record = write_chunk(storage, "p00-c0000", make_samples(2), formats=("parquet",))
    assert run_cli(capsys, "verify", str(tmp_path / "lake"))[0] == EXIT_OK
    shard = record.shards[0].path
    storage.write_bytes(shard, storage.read_bytes(shard)[:-10])  # committed data no longer matches
    assert run_cli(capsys, "verify", str(tmp_path / "lake"))[0] == EXIT_DATA_PROBLEMS
    with pytest.raises(SystemExit) as usage:
        cli.main(["verify", "--no-such-option"])
    assert usage.value.code == EXIT_USAGE

    def broken_run(args: argparse.Namespace) -> int:
        raise KeyError("a bug")

    module = types.ModuleType("tests.cli.broken_command")
    module.run = broken_run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    code = cli._run(module.__name__, argparse.Namespace(command="broken"))
    err = capsys.readouterr().err
    assert code == EXIT_INTERNAL and "Traceback" in err and "KeyError: 'a bug'" in err


def test_the_pipeline_scripts_take_verbose() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "pipelines" / "ingest.py"), "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and "-v, --verbose" in result.stdout and "examples:" in result.stdout
