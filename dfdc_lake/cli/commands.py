"""The ``dfdc-lake`` command: the top-level parser, dispatch, logging and exit codes.

Each subcommand lives in its own module (``add_arguments(parser, name)``, ``run(args) -> int`` and an
``EPILOG`` of examples); its heavy imports happen only when it runs, so ``dfdc-lake --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import textwrap
import traceback

from dfdc_lake.errors import EXIT_CODES, EXIT_INTERNAL, EXIT_USAGE, DfdcLakeError

__all__ = ["COMMANDS", "DESCRIPTION", "build_parser", "main", "run_command", "version"]

DESCRIPTION = """\
dfdc-lake turns the Kaggle DeepFake Detection Challenge (DFDC) training set (its dfdc_train_part_*
folders or zips, local or on S3) into a resumable lake of Parquet and WebDataset shards: face crops
as JPEG, log-mel spectrograms and per-track labels, processed with Ray on one machine or a cluster.
It then trains an audio-visual deepfake detector from the lake with Ray Train and scores raw videos
with it."""

# name -> (module, one-line help). Each module defines add_arguments(parser, name), run(args) and EPILOG.
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("dfdc_lake.cli.synth", "write a synthetic DFDC-shaped corpus with ground truth"),
    "plan": ("dfdc_lake.cli.plan", "what an ingest would do, how long, how big (no work)"),
    "ingest": ("dfdc_lake.cli.ingest", "turn DFDC parts into a lake of Parquet/WebDataset shards"),
    "status": ("dfdc_lake.cli.status", "summarize a lake's committed chunks"),
    "verify": ("dfdc_lake.cli.verify", "check every committed shard against its commit record"),
    "gc": ("dfdc_lake.cli.gc", "remove orphaned shards of failed attempts (dry run by default)"),
    "sql": ("dfdc_lake.cli.sql", "query a lake with SQL (DuckDB): samples, outcomes, runs, shards"),
    "report": ("dfdc_lake.cli.report", "an HTML report of a lake: overview, families, failures"),
    "config": ("dfdc_lake.cli.config", "print the effective ingest (or training) settings and their hash"),
    "train": ("dfdc_lake.cli.train", "train the audio-visual detector from a lake with Ray Train"),
    "predict": ("dfdc_lake.cli.predict", "score raw videos with a trained checkpoint"),
}


def exit_codes_text() -> str:
    """The exit codes as help text lines (defined in ``dfdc_lake.errors``)."""
    lines = [
        textwrap.fill(meaning, 100, initial_indent=f"  {code}  ", subsequent_indent="     ")
        for code, meaning in EXIT_CODES.items()
    ]
    return "exit codes:\n" + "\n".join(lines)


EPILOG = f"""\
a first run, on the synthetic corpus:
  dfdc-lake synth ./dfdc --parts 2 --families 4
  dfdc-lake plan ./dfdc
  dfdc-lake ingest ./dfdc ./lake
  dfdc-lake status ./lake
  dfdc-lake report ./lake --out ./report
  dfdc-lake train ./lake --storage-path ./runs --name av1
  dfdc-lake predict ./runs/av1 --folder test_videos --out submission.csv

`dfdc-lake COMMAND --help` shows each command's options and examples.

{exit_codes_text()}"""


def version() -> str:
    """The installed package's version (``unknown`` when run from a tree that is not installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("dfdc-lake")
    except PackageNotFoundError:
        return "unknown"


def add_verbose_option(parser: argparse.ArgumentParser, suppress_default: bool = False) -> None:
    """``-v/--verbose``. On a subcommand its default is suppressed, so it never clears the top-level one."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS if suppress_default else False,
        help="debug logging",
    )


def _add_command(sub: argparse._SubParsersAction, name: str) -> None:
    module_name, help_text = COMMANDS[name]
    module = importlib.import_module(module_name)
    sub_parser = sub.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=getattr(module, "EPILOG", None),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(sub_parser, name)
    add_verbose_option(sub_parser, suppress_default=True)
    sub_parser.set_defaults(_module=module_name)


def build_parser() -> argparse.ArgumentParser:
    """The ``dfdc-lake`` parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="dfdc-lake",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    add_verbose_option(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        _add_command(sub, name)
    return parser


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _run(module_name: str, args: argparse.Namespace) -> int:
    """Run a parsed command. The errors dfdc-lake raises on purpose become one line and EXIT_USAGE; any
    other exception is a bug: its traceback is printed and the exit status is EXIT_INTERNAL."""
    from dfdc_lake.ray_cluster import use_token_auth_if_present

    use_token_auth_if_present()
    module = importlib.import_module(module_name)
    try:
        return int(module.run(args) or 0)
    except DfdcLakeError as err:
        print(f"dfdc-lake {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except Exception:  # a bug: keep the traceback, and an exit status scripts can tell from 1 and 2
        traceback.print_exc()
        print(f"dfdc-lake {args.command}: internal error (exit {EXIT_INTERNAL})", file=sys.stderr)
        return EXIT_INTERNAL


def main(argv: list[str] | None = None) -> int:
    """``dfdc-lake``: parse ``argv`` (default ``sys.argv[1:]``), run the command, return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    return _run(args._module, args)


def run_command(name: str, argv: list[str] | None = None, prog: str | None = None) -> int:
    """One subcommand as a stand-alone script (``pipelines/*.py``), with the same options and errors."""
    module_name, help_text = COMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(
        prog=prog,
        description=module.__doc__ or help_text,
        epilog=getattr(module, "EPILOG", None),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(parser, name)
    add_verbose_option(parser)
    args = parser.parse_args(argv)
    args.command = name
    _setup_logging(args.verbose)
    return _run(module_name, args)


if __name__ == "__main__":
    sys.exit(main())
