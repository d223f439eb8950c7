"""The ``dfdc-lake`` command. Each subcommand lives in its own module and is imported only when used,
so ``dfdc-lake --help`` stays fast (no torch or ray import)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from dfdc_lake.errors import DfdcLakeError

__all__ = ["main"]

# name -> (module, one-line help). Each module defines add_arguments(parser) and run(args) -> int.
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("dfdc_lake.cli.synth", "write a synthetic DFDC-shaped corpus with ground truth"),
    "plan": ("dfdc_lake.cli.plan", "what an ingest would do, how long, how big (no work)"),
    "ingest": ("dfdc_lake.cli.ingest", "turn DFDC parts into a lake of Parquet/WebDataset shards"),
    "status": ("dfdc_lake.cli.status", "summarize a lake's committed chunks"),
    "verify": ("dfdc_lake.cli.verify", "check every committed shard against its commit record"),
    "gc": ("dfdc_lake.cli.gc", "remove orphaned shards of failed attempts (dry run by default)"),
    "sql": ("dfdc_lake.cli.sql", "query a lake with SQL (DuckDB): samples, outcomes, runs, shards"),
    "report": ("dfdc_lake.cli.report", "an HTML report of a lake: overview, families, failures"),
    "train": ("dfdc_lake.cli.train", "train the audio-visual detector from a lake with Ray Train"),
    "predict": ("dfdc_lake.cli.predict", "score raw videos with a trained checkpoint"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dfdc-lake", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(module_name)
        module.add_arguments(sub_parser, name)
        sub_parser.set_defaults(_module=module_name)
    return parser


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _run(module_name: str, args: argparse.Namespace) -> int:
    """Run a parsed command; the errors dfdc-lake raises on purpose become one line and exit status 2."""
    from dfdc_lake.ray_cluster import use_token_auth_if_present

    use_token_auth_if_present()
    module = importlib.import_module(module_name)
    try:
        return int(module.run(args) or 0)
    except DfdcLakeError as err:
        print(f"dfdc-lake {args.command}: error: {err}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
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
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(parser, name)
    args = parser.parse_args(argv)
    args.command = name
    _setup_logging(False)
    return _run(module_name, args)


if __name__ == "__main__":
    sys.exit(main())
