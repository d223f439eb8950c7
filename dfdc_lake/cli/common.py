"""What several commands share: the LAKE argument, the machine-readable flag, redacted printing."""

from __future__ import annotations

import argparse
import sys

from dfdc_lake.io.s3_settings import redact

__all__ = ["add_lake_argument", "print_redacted"]


def add_lake_argument(parser: argparse.ArgumentParser) -> None:
    """``LAKE`` and ``--json``, as every lake command takes them."""
    parser.add_argument("lake", metavar="LAKE", help="lake root: a local folder or s3://bucket/prefix")
    parser.add_argument("--json", action="store_true", help="print one JSON document (for scripts)")


def print_redacted(text: str) -> None:
    """Print ``text`` with any credential in a URL or setting masked."""
    sys.stdout.write(redact(text) + "\n")
