"""What several commands share: the LAKE argument, the machine-readable flag, deprecated option
spellings, redacted printing."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from dfdc_lake.io.s3_settings import redact

__all__ = ["DeprecatedAlias", "add_json_option", "add_lake_argument", "print_redacted"]


def add_json_option(
    parser: argparse.ArgumentParser, what: str = "print one JSON document (for scripts)"
) -> None:
    """``--json``: the one spelling every command takes for machine-readable output."""
    parser.add_argument("--json", action="store_true", help=what)


def add_lake_argument(parser: argparse.ArgumentParser) -> None:
    """``LAKE`` and ``--json``, as every lake command takes them."""
    parser.add_argument("lake", metavar="LAKE", help="lake root: a local folder or s3://bucket/prefix")
    add_json_option(parser)


class DeprecatedAlias(argparse.Action):
    """An old option spelling kept working: stores into the new option's ``dest`` and warns on stderr.

    Register it with ``help=f"deprecated spelling of {new}"`` and ``metavar`` as the new option has;
    pass the new spelling as ``replacement``.
    """

    def __init__(self, option_strings: Sequence[str], dest: str, replacement: str, **kwargs: Any) -> None:
        self.replacement = replacement
        super().__init__(option_strings, dest, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        print(
            f"{parser.prog}: warning: {option_string} is deprecated, use {self.replacement}",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, values)


def print_redacted(text: str) -> None:
    """Print ``text`` with any credential in a URL or setting masked."""
    sys.stdout.write(redact(text) + "\n")
