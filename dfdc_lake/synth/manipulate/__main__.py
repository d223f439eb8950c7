"""``python -m dfdc_lake.synth.manipulate OUT CLIP...``: a manipulation set from real clips."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from dfdc_lake.synth.manipulate.kinds import CATALOGUES, KINDS


def main(argv: list[str] | None = None) -> int:
    """Parse the options, write the set, print a summary; 2 on bad options or a folder in the way."""
    parser = argparse.ArgumentParser(prog="python -m dfdc_lake.synth.manipulate", description=__doc__)
    parser.add_argument(
        "out", metavar="OUT", help="root of the set (OUT/dfdc_train_part_0, OUT/manipulations.json)"
    )
    parser.add_argument(
        "clips", metavar="CLIP", nargs="+", type=Path, help="real mp4 clips, each an original"
    )
    parser.add_argument(
        "--kinds",
        nargs="+",
        choices=list(KINDS),
        metavar="KIND",
        help=f"kinds to derive: {', '.join(KINDS)} (default all)",
    )
    parser.add_argument(
        "--catalogue",
        choices=list(CATALOGUES),
        default="main",
        help="main: the manipulations the label thresholds were chosen on; blind, blind2: other "
        "strengths, fixed before they were scored, for checking those thresholds (default main)",
    )
    parser.add_argument("--max-seconds", type=float, help="cut each original to its first N seconds")
    parser.add_argument("--seed", type=int, default=0, help="the same seed derives the same set (default 0)")
    parser.add_argument("--workers", type=int, default=1, help="clips rendered in parallel (default 1)")
    parser.add_argument("--preset", default="veryfast", help="x264 preset (default veryfast)")
    parser.add_argument("--overwrite", action="store_true", help="replace a manipulation set in OUT")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each clip")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(message)s"
    )
    from dfdc_lake.synth.manipulate.writer import write_manipulation_set

    try:
        result = write_manipulation_set(
            args.clips,
            Path(args.out),
            seed=args.seed,
            kinds=tuple(args.kinds) if args.kinds else None,
            catalogue=args.catalogue,
            max_seconds=args.max_seconds,
            workers=args.workers,
            preset=args.preset,
            overwrite=args.overwrite,
        )
    except (ValueError, FileExistsError, FileNotFoundError) as err:
        print(f"dfdc_lake.synth.manipulate: error: {err}", file=sys.stderr)
        return 2
    print(result.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
