"""``dfdc-lake synth OUT``: write a synthetic DFDC-shaped corpus with ground truth.

Imports stay light here; the generator (numpy, PIL, PyAV) is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["EPILOG", "add_arguments", "run"]

EPILOG = """\
examples:
  dfdc-lake synth ./dfdc                                  # 2 parts x 4 families, every hard case
  dfdc-lake synth ./dfdc --parts 1 --families 1 --fakes 11 --cases none   # one family of 12 clips
  dfdc-lake synth ./dfdc-full --profile dfdc --workers 2  # DFDC-sized clips (1080p, 10 s)

Each part folder gets a metadata.json like DFDC's and a ground_truth.json (what each fake changed)."""

_CASE_NAMES = "portrait, fps15, lowres, two_people, low_light, no_audio, zero_byte, truncated"


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Add the ``synth`` options to ``parser`` (``name`` is the subcommand's name)."""
    parser.add_argument("out", metavar="OUT", help="root folder; parts go to OUT/dfdc_train_part_K")
    parser.add_argument(
        "--parts", type=int, default=2, help="number of dfdc_train_part_K folders (default 2)"
    )
    parser.add_argument(
        "--families", type=int, default=4, help="plain families (REAL + FAKEs) per part (default 4)"
    )
    parser.add_argument(
        "--fakes",
        type=int,
        default=5,
        help="FAKEs per family, kinds cycling face, voice, both, face, face (default 5)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="the same seed writes the same corpus (default 0)"
    )
    parser.add_argument(
        "--profile",
        choices=("tiny", "dfdc"),
        default="tiny",
        help="tiny: 480x270, 2 s (fast); dfdc: 1920x1080, 29.97 fps, 10 s like DFDC (default tiny)",
    )
    parser.add_argument(
        "--cases",
        nargs="+",
        default=["all"],
        metavar="CASE",
        help=f"hard cases to include: all (default), none, or names ({_CASE_NAMES}); commas allowed",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="clips rendered in parallel processes (default 1)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing synthetic parts in OUT")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON document")


def run(args: argparse.Namespace) -> int:
    """Write the corpus and print a short summary; 2 on bad options or a folder in the way."""
    from dfdc_lake.synth.corpus import write_corpus
    from dfdc_lake.synth.profiles import parse_cases

    try:
        summary = write_corpus(
            args.out,
            parts=args.parts,
            families=args.families,
            fakes_per_family=args.fakes,
            seed=args.seed,
            profile=args.profile,
            cases=parse_cases(args.cases),
            overwrite=args.overwrite,
            workers=args.workers,
        )
    except (ValueError, FileExistsError) as err:
        print(f"dfdc-lake synth: error: {err}", file=sys.stderr)
        return 2
    if args.json:
        import json
        from dataclasses import asdict

        print(json.dumps(asdict(summary), indent=1, default=str))
    else:
        print(summary.describe())
    return 0
