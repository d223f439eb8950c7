"""README.md stays a front door: short, current facts only, and its links and commands are real.

The reference material lives in docs/ (its Python examples are run by tests/lake/test_readme_api.py
and tests/report/test_readme_section.py); the history lives in CHANGELOG.md.
"""

from __future__ import annotations

import re
from pathlib import Path

from dfdc_lake.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
MAX_LINES = 250
# Phrases of a lab notebook: they date a fact instead of stating it.
HISTORY_PHRASES = ("this round", "later session", "review mends", "this session")


def test_the_readme_is_short_and_has_no_history() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= MAX_LINES, f"README.md has {len(text.splitlines())} lines"
    found = [phrase for phrase in HISTORY_PHRASES if phrase in text.lower()]
    assert not found, f"README.md reads like history: {found}; move it to CHANGELOG.md"


def test_the_readme_links_resolve() -> None:
    """Every relative link and picture of the README names a file of the repository."""
    text = README.read_text()
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if "://" not in t]
    assert "docs/img/report-family.png" in local
    assert {"docs/benchmarks.md", "docs/labels.md", "docs/deployment.md", "docs/development.md"} <= set(local)
    assert [t for t in local if not (REPO / t).exists()] == []


def test_the_readme_commands_exist() -> None:
    """Each ``dfdc-lake COMMAND`` the README shows is a command, and its ``--options`` are that command's."""
    text = re.sub(r"<!--.*?-->", "", README.read_text(), flags=re.S)  # notes to the editor are not shown
    choices = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    blocks = "\n".join(re.findall(r"```bash\n(.*?)```", text, flags=re.S))
    shown = re.findall(r"^dfdc-lake ([a-z]+)([^\n#]*)", blocks, flags=re.M)
    shown += re.findall(r"`dfdc-lake ([a-z]+)([^`]*)`", text)
    assert {command for command, _ in shown} >= {"plan", "ingest", "status", "report", "train", "predict"}
    for command, rest in shown:
        assert command in choices, f"README shows `dfdc-lake {command}`, which does not exist"
        help_text = choices[command].format_help()
        for option in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", rest):
            assert option in help_text, f"README shows `dfdc-lake {command} ... {option}`"
