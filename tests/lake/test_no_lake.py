"""A lake path with no lake behind it: ``status``/``verify``/``gc`` say "no lake at URL" and exit 2, and a
file in the lake's place is refused by every lake command (exit 2, one line, no traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfdc_lake.cli import commands as cli
from dfdc_lake.errors import LakeNotFoundError
from dfdc_lake.lake.lake import Lake
from dfdc_lake.lake.storage import Storage

READ_COMMANDS = ("status", "verify", "gc")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize("command", READ_COMMANDS)
def test_no_lake_is_exit_2(lake_url: str, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing local folder and an empty S3 prefix are "no lake", never a healthy empty lake."""
    code, out = run_cli(capsys, command, lake_url)
    assert code == 2, out
    assert f"error: no lake at {lake_url.rstrip('/')}" in out
    assert "OK" not in out and "Traceback" not in out


def test_a_lake_is_found_by_any_marker(storage: Storage, lake_url: str) -> None:
    """The manifest alone (an ingest that committed nothing yet) is a lake; so is a run record."""
    with pytest.raises(LakeNotFoundError, match="no lake at"):
        Lake.open(lake_url, must_exist=True)
    Lake(storage).ensure_manifest()
    assert Lake.open(lake_url, must_exist=True).manifest() is not None
    storage.delete("lake.json")
    storage.write_bytes("runs/r1.json", b"{}")
    assert Lake.open(lake_url, must_exist=True).url == storage.root


def test_an_empty_folder_is_no_lake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(capsys, "verify", str(tmp_path))
    assert code == 2 and f"no lake at {tmp_path}" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "{lake}"],
        ["verify", "{lake}"],
        ["gc", "{lake}", "--delete"],
        ["ingest", "{source}", "{lake}"],
        ["sql", "{lake}", "select 1"],
        ["report", "{lake}", "--out", "{out}"],
        ["train", "{lake}", "--storage-path", "{out}"],
    ],
    ids=lambda argv: argv[0],
)
@pytest.mark.parametrize("under", [False, True], ids=["file", "under-file"])
def test_a_file_as_lake_is_exit_2(
    tmp_path: Path, argv: list[str], under: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every command that takes a lake refuses a file where the lake folder should be, before any work."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"x")
    lake = blocker / "lake" if under else blocker
    (tmp_path / "source").mkdir()
    values = {"lake": str(lake), "source": str(tmp_path / "source"), "out": str(tmp_path / "out")}
    code, out = run_cli(capsys, *(arg.format(**values) for arg in argv))
    assert code == 2, out
    assert f"error: no lake at {lake}: the lake path" in out and "Traceback" not in out
    assert blocker.read_bytes() == b"x" and not (tmp_path / "out").exists()
