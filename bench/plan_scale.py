"""How fast the catalog and ``dfdc-lake plan`` are on a source of DFDC's full shape.

    python bench/plan_scale.py                 # builds bench-out/plan-scale/source once, then measures

The source has DFDC's 50 parts and its family sizes (19,154 REAL originals, 100,000 FAKEs, 0-40 fakes
per original, a median of 3 to 14 per part) as zero-byte clips, from a seeded generator: the catalog,
the families and the chunk plan see what they would on the real 470 GB, without the bytes. It is built
once and reused (``--rebuild`` to redo it). Measured: loading the catalog, and ``plan --no-estimate``
in this process and as a fresh ``dfdc-lake plan`` process (interpreter start and imports included).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DFDC_PARTS = 50
DFDC_ORIGINALS = 19_154
DFDC_FAKES = 100_000
MAX_FAKES = 40
MEDIAN_RANGE = (3, 14)


def _originals_per_part(medians: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Originals per part, fewer where a part's median is higher, so that DFDC's totals of originals and
    fakes both come out: weights ``(1 + median) ** -a``, ``a`` found by bisection."""
    low, high = 0.0, 4.0
    for _ in range(60):
        a = (low + high) / 2
        weights = (1.0 + medians) ** -a
        expected = DFDC_ORIGINALS * float((weights * means).sum() / weights.sum())
        low, high = (a, high) if expected > DFDC_FAKES else (low, a)
    originals = np.floor(DFDC_ORIGINALS * weights / weights.sum()).astype(int)
    originals[: DFDC_ORIGINALS - originals.sum()] += 1
    return originals


def part_family_sizes(rng: np.random.Generator) -> list[np.ndarray]:
    """Fakes per original, one array per part: each part has its own median in ``MEDIAN_RANGE``, parts
    with many fakes per original have fewer originals, and the totals are DFDC's exactly."""
    low, high = MEDIAN_RANGE
    medians = np.round(low + (high - low) * rng.random(DFDC_PARTS) ** 2)
    medians[np.argmin(medians)], medians[np.argmax(medians)] = low, high

    def draw(median: float, n: int) -> np.ndarray:
        return np.clip(np.round(median * rng.lognormal(0.0, 0.5, size=n)), 0, MAX_FAKES).astype(int)

    means = np.array([draw(m, 2000).mean() for m in medians])
    originals = _originals_per_part(medians, means)
    flat = np.concatenate([draw(m, n) for m, n in zip(medians, originals, strict=True)])
    while (gap := DFDC_FAKES - int(flat.sum())) != 0:  # nudge single originals up or down by one fake
        room = np.flatnonzero(flat < MAX_FAKES) if gap > 0 else np.flatnonzero(flat > 0)
        picked = rng.choice(room, size=min(abs(gap), len(room)), replace=False)
        flat[picked] += 1 if gap > 0 else -1
    return np.split(flat, np.cumsum(originals)[:-1])


def unique_names(rng: np.random.Generator, count: int) -> list[str]:
    """``count`` distinct DFDC-style names: 10 lowercase letters."""
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    names: set[str] = set()
    while len(names) < count:
        batch = rng.integers(0, 26, size=(count - len(names), 10))
        names.update("".join(row) for row in letters[batch])
    return sorted(names)


def build_source(root: Path, seed: int) -> dict[str, int]:
    """Write the 50 part folders (metadata.json + zero-byte clips) under ``root``."""
    rng = np.random.default_rng(seed)
    sizes = part_family_sizes(rng)
    names = iter(rng.permutation(unique_names(rng, DFDC_ORIGINALS + DFDC_FAKES)).tolist())
    shutil.rmtree(root, ignore_errors=True)
    for part, fakes_per_original in enumerate(sizes):
        folder = root / f"dfdc_train_part_{part}"
        folder.mkdir(parents=True)
        metadata: dict[str, dict[str, str]] = {}
        for fakes in fakes_per_original:
            original = f"{next(names)}.mp4"
            metadata[original] = {"label": "REAL", "split": "train"}
            for _ in range(int(fakes)):
                metadata[f"{next(names)}.mp4"] = {"label": "FAKE", "split": "train", "original": original}
        (folder / "metadata.json").write_text(json.dumps(metadata))
        for name in metadata:
            (folder / name).touch()
    medians = [float(np.median(s)) for s in sizes]
    stamp = {"seed": seed, "originals": DFDC_ORIGINALS, "fakes": int(sum(s.sum() for s in sizes))}
    (root / ".complete").write_text(json.dumps(stamp))
    print(f"median fakes per original by part: {min(medians):g} to {max(medians):g}", flush=True)
    return stamp


def ensure_source(root: Path, seed: int, rebuild: bool) -> None:
    marker = root / ".complete"
    if not rebuild and marker.exists() and json.loads(marker.read_text()).get("seed") == seed:
        print(f"reusing {root}", flush=True)
        return
    started = time.perf_counter()
    stamp = build_source(root, seed)
    print(f"built {root}: {stamp} in {time.perf_counter() - started:.1f} s", flush=True)


def timed(func, repeat: int) -> tuple[float, object]:
    """Median wall seconds of ``repeat`` calls, and the last result."""
    seconds, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = func()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def plan_in_process(source: str) -> dict:
    from dfdc_lake.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["plan", source, "--no-estimate", "--json"])
    if code != 0:
        raise RuntimeError(f"plan exited {code}")
    return json.loads(out.getvalue())


def plan_process(source: str) -> str:
    dfdc_lake = Path(sys.executable).with_name("dfdc-lake")
    command = [str(dfdc_lake), "plan", source, "--no-estimate"]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="bench-out", help="where the source is built (once)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (the median is shown)")
    parser.add_argument("--rebuild", action="store_true", help="build the source again")
    args = parser.parse_args()

    import logging

    logging.basicConfig(level=logging.WARNING)
    root = Path(args.out) / "plan-scale" / "source"
    ensure_source(root, args.seed, args.rebuild)
    source = str(root.resolve())

    from dfdc_lake.source.catalog import load_catalog

    catalog_s, catalog = timed(lambda: load_catalog(source), args.repeat)
    plan_s, document = timed(lambda: plan_in_process(source), args.repeat)
    process_s, text = timed(lambda: plan_process(source), args.repeat)

    summary = document["summary"]  # type: ignore[index]
    print()
    print(text)  # the plan as a user sees it
    print(f"source: {len(catalog)} clips in {len(summary['parts'])} parts, {summary['families']} families, "  # type: ignore[arg-type]
          f"{summary['chunks']} chunks; fakes per original {summary['fakes_per_original']}")  # fmt: skip
    print(f"{'':36}{'median s':>10}  (of {args.repeat})")
    print(f"{'catalog load (load_catalog)':36}{catalog_s:10.2f}")
    print(f"{'plan --no-estimate, in process':36}{plan_s:10.2f}")
    print(f"{'dfdc-lake plan --no-estimate':36}{process_s:10.2f}  (a fresh process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
