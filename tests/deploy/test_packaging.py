"""``pip install .`` (not editable) ships every package of the tree: pyproject lists them by hand."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_pyproject_lists_every_package_of_the_tree() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(REPO).parts) for init in (REPO / "dfdc_lake").rglob("__init__.py")
    }
    assert found <= listed, f"packages missing from [tool.setuptools] packages: {sorted(found - listed)}"
    assert listed - found == {"dfdc_lake.schemas"}, sorted(
        listed - found
    )  # schemas/ maps to dfdc_lake.schemas
