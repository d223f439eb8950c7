"""Ingest throughput on DFDC-shaped clips, side by side with a plain full decode of the same clips.

    python bench/ingest.py --videos 12          # 2 families of 1 REAL + 5 FAKEs, 1080p, 10 s each

The baseline is what any pipeline must at least do: decode every frame of every clip to RGB with decord,
using the same number of worker processes as Ray has CPUs. The ratio ingest / baseline says what
detection, tracking, crops, audio, labels and shard writing add on top of decoding.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def full_decode(path: str) -> int:
    """Decode every frame of one clip to RGB; returns the frame count."""
    import decord

    reader = decord.VideoReader(path)
    frames = 0
    for start in range(0, len(reader), 32):
        batch = reader.get_batch(list(range(start, min(start + 32, len(reader))))).asnumpy()
        frames += batch.shape[0]
    return frames


def decode_only(path: str) -> int:
    """Decode every frame of one clip with PyAV, no colour conversion: the floor for touching every frame."""
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


def timed_pool(func, clips: list[str], workers: int) -> tuple[float, int]:
    started = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        frames = sum(pool.map(func, clips))
    return time.perf_counter() - started, frames


def make_corpus(root: Path, videos: int, seed: int) -> list[str]:
    from dfdc_lake.synth.corpus import ensure_corpus

    started = time.perf_counter()
    summary = ensure_corpus(
        root, parts=1, families=max(1, videos // 6), fakes_per_family=5, seed=seed, profile="dfdc", cases=()
    )
    if summary is not None:
        print(
            f"generated {summary.videos} dfdc-profile clips in {time.perf_counter() - started:.0f}s",
            flush=True,
        )
    return sorted(str(p) for p in root.glob("dfdc_train_part_*/*.mp4"))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--videos", type=int, default=12, help="clips (families of 1 REAL + 5 FAKEs)")
    parser.add_argument("--out", default="bench-out", help="where the corpus and the lake go")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="decode processes / Ray CPUs"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--videos-per-chunk",
        type=int,
        default=6,
        help="chunk size (one family); DFDC-sized runs have many chunks",
    )
    args = parser.parse_args()

    out = Path(args.out)
    corpus = out / "corpus-dfdc"
    clips = make_corpus(corpus, args.videos, args.seed)

    baseline_s, frames = timed_pool(full_decode, clips, args.workers)
    floor_s, _ = timed_pool(decode_only, clips, args.workers)

    import ray

    from dfdc_lake.config import Config
    from dfdc_lake.distributed.ingest import ingest
    from dfdc_lake.lake.lake import Lake

    lake = out / "lake-dfdc"
    shutil.rmtree(lake, ignore_errors=True)
    ray.init(address="local", num_cpus=args.workers, logging_level=logging.ERROR)
    started = time.perf_counter()
    config = Config().with_overrides([f"lake.videos_per_chunk={args.videos_per_chunk}"])
    report = ingest(str(corpus), Lake.open(lake), config, stream=sys.stderr)
    ingest_s = time.perf_counter() - started
    ray.shutdown()

    n = len(clips)
    print()
    print(f"{n} clips (1920x1080, 29.97 fps, 10 s; {frames} frames), {args.workers} CPU workers")
    print(f"{'':34}{'wall s':>10}{'videos/min':>12}{'x decode':>10}")
    print(
        f"{'baseline: full RGB decode (decord)':34}{baseline_s:10.1f}{n / baseline_s * 60:12.1f}{1.0:10.2f}"
    )
    print(f"{'floor: decode only, no RGB (PyAV)':34}{floor_s:10.1f}{n / floor_s * 60:12.1f}"
          f"{floor_s / baseline_s:10.2f}")  # fmt: skip
    print(f"{'ingest, processing only':34}{report.processing_s:10.1f}{n / report.processing_s * 60:12.1f}"
          f"{report.processing_s / baseline_s:10.2f}")  # fmt: skip
    print(
        f"{'ingest, end to end (catalog, Ray)':34}{ingest_s:10.1f}{n / ingest_s * 60:12.1f}{ingest_s / baseline_s:10.2f}"
    )
    print(f"outcomes: {report.outcomes_by_status}; failed chunks: {len(report.failed_chunks)}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
