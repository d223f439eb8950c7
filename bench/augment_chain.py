"""The dfdc augmentation chain alone: tracks/s of ``augment_track`` on the same crops, one thread.

Times the chain as it is (albumentations, FancyPCA included), without FancyPCA, and, with
``--baseline-rev REV``, the ``augment_track`` of an older commit (e97528a: the torchvision
``transforms.v2`` chain) read with ``git show``. Smooth synthetic crops (a gradient plus noise, so the
JPEG step has real work); K crops a track, no landmarks (the random-erase fallback); best of --passes.

    python bench/augment_chain.py --sizes 224,380 --baseline-rev e97528a
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dfdc_lake.train.inputs.augment import ChainSettings, augment_track


def _baseline(rev: str) -> Callable[..., Any]:
    """``augment_track`` as commit ``rev`` had it."""
    source = subprocess.run(
        ["git", "show", f"{rev}:dfdc_lake/train/inputs/augment.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "baseline_augment.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("baseline_augment", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.augment_track  # type: ignore[no-any-return]


def _tracks(size: int, crops: int, count: int) -> list[torch.Tensor]:
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, size, dtype=np.float32)[None, :, None] * 0.6
    return [
        torch.from_numpy(np.clip(ramp + rng.normal(100, 20, (crops, size, size, 3)), 0, 255).astype(np.uint8))
        .permute(0, 3, 1, 2)
        .contiguous()
        for _ in range(count)
    ]


def _rate(chain: Callable[..., Any], tracks: list[torch.Tensor], passes: int) -> float:
    """Best tracks/s over ``passes`` (after one warm pass); track i always draws from seed i."""
    best = float("inf")
    for n in range(passes + 1):
        started = time.perf_counter()
        for i, faces in enumerate(tracks):
            chain(faces, None, np.random.default_rng(i))
        if n:
            best = min(best, time.perf_counter() - started)
    return len(tracks) / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="224,380")
    parser.add_argument("--crops", type=int, default=4, help="crops per track (the dfdc recipe's 4)")
    parser.add_argument("--tracks", type=int, default=60)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--baseline-rev", help="also time this commit's augment_track")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    import cv2

    cv2.setNumThreads(1)
    no_pca = ChainSettings(fancy_pca=False)
    chains: dict[str, Callable[..., Any]] = {
        "albumentations": augment_track,
        "albumentations_without_fancypca": lambda faces, points, rng: augment_track(
            faces, points, rng, no_pca
        ),
    }
    if args.baseline_rev:
        chains[f"baseline_{args.baseline_rev}"] = _baseline(args.baseline_rev)
    for size in [int(s) for s in args.sizes.split(",") if s]:
        tracks = _tracks(size, args.crops, args.tracks)
        rates = {name: round(_rate(chain, tracks, args.passes), 1) for name, chain in chains.items()}
        print(json.dumps({"size_px": size, "crops_per_track": args.crops, "tracks_per_s": rates}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
