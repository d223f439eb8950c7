"""The ``dfdc-lake`` command line: one module per verb (``cli/ingest.py``, ``cli/train.py`` ...), each
with ``add_arguments(parser, name)`` and ``run(args) -> int``, and ``cli/commands.py`` that dispatches.

The modules here parse arguments and print; the work lives in the packages they call. Nothing outside
``cli/`` imports from it (``pipelines/*.py`` call ``run_command``).
"""

from dfdc_lake.cli.commands import COMMANDS, build_parser, main, run_command

__all__ = ["COMMANDS", "build_parser", "main", "run_command"]
