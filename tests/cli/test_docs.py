"""docs/cli.md and docs/configuration.md are what the code generates now."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfdc_lake.cli.commands import COMMANDS
from dfdc_lake.cli.docs import DOCS_COMMAND, generated_pages

REPO = Path(__file__).resolve().parents[2]
PAGES = generated_pages(REPO)


@pytest.mark.parametrize("path", list(PAGES), ids=lambda path: path.name)
def test_generated_page_is_fresh(path: Path) -> None:
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    assert current == PAGES[path], f"{path.relative_to(REPO)} is stale: run `{DOCS_COMMAND}` and commit it"


def test_the_pages_cover_every_command_exit_code_and_setting() -> None:
    cli_page, settings_page = PAGES[REPO / "docs" / "cli.md"], PAGES[REPO / "docs" / "configuration.md"]
    assert all(f"## `dfdc-lake {name}`" in cli_page for name in COMMANDS)
    assert all(f"| {code} |" in cli_page for code in range(4))
    assert "`decode.frame_stride`" in settings_page and "`epochs`" in settings_page
