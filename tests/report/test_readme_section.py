"""docs/querying.md's "Seeing and querying a lake" section stays true: its Python example runs as written
against a real (local) lake, its counts are status's, and its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dfdc_lake.cli import build_parser
from dfdc_lake.lake.status import lake_status
from tests.report.helpers import write_small_lake

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "querying.md"


def _section() -> str:
    text = PAGE.read_text()
    start = text.index("## Seeing and querying a lake")
    return text[start : text.index("\n## ", start + 1)]


def test_the_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)  # nothing may reach the Hub
    lake = write_small_lake(str(tmp_path / "lake"))
    (example,) = re.findall(r"```python\n(.*?)```", _section(), flags=re.S)
    code = re.sub(r'Lake\.open\("[^"]+"\)', f"Lake.open({lake.url!r})", example)
    code = code.replace('"/tmp/hf-cache"', repr(str(tmp_path / "hf-cache")))
    namespace: dict = {}
    exec(compile(code, "docs/querying.md", "exec"), namespace)
    status = lake_status(lake)
    assert namespace["table"].num_rows == len(namespace["hf"]) == status["samples"]
    assert 0 < namespace["fakes"] < status["samples"]


def test_the_commands_and_options_exist() -> None:
    section = _section()
    parser = build_parser()
    for command in ("report", "sql"):
        assert f"dfdc-lake {command} " in section
        help_text = parser._subparsers._group_actions[0].choices[command].format_help()  # type: ignore[union-attr]
        for option in re.findall(r"`(--[a-z-]+)", section):
            if option in ("--families", "--family", "--gallery", "--frames-per-track", "--verify"):
                assert command != "report" or option in help_text
            if option in ("--format", "--out", "--with-crops"):
                assert command != "sql" or option in help_text
    assert (REPO / "docs" / "img" / "report-family.png").stat().st_size < 300_000
