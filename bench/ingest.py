"""Ingest throughput on DFDC-shaped clips, side by side with a plain full decode of the same clips.

    python bench/ingest.py --videos 12          # 2 families of 1 REAL + 5 FAKEs, 1080p, 10 s each
    python bench/ingest.py --families 4 --seed 3  # the 62-clip corpus of `synth --families 4 --seed 3`

Besides the walls, it prints each stage's seconds per clip (summed over the chunks' commit records),
the peak RSS of Ray's worker processes (sampled every 0.5 s) and a projection for all of DFDC from
the task seconds per clip (marked projected: synthetic clips, CPU only).

The baseline is what any pipeline must at least do: decode every frame of every clip to RGB with decord,
using the same number of worker processes as Ray has CPUs. The ratio ingest / baseline says what
detection, tracking, crops, audio, labels and shard writing add on top of decoding. ``--winners``
adds the DFDC winners' preprocessing, rebuilt (``bench/winners.py``), as the other baseline.
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
from typing import Any


def full_decode(path: str) -> int:
    """Decode every frame of one clip to RGB; returns the frame count."""
    import decord

    try:  # a hard-case corpus holds broken files: they decode nothing, in the baseline as in ingest
        reader = decord.VideoReader(path)
        frames = 0
        for start in range(0, len(reader), 32):
            batch = reader.get_batch(list(range(start, min(start + 32, len(reader))))).asnumpy()
            frames += batch.shape[0]
    except (RuntimeError, decord.DECORDError):
        return 0
    return frames


def decode_only(path: str) -> int:
    """Decode every frame of one clip with PyAV, no colour conversion: the floor for touching every frame."""
    import av

    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            return sum(1 for _ in container.decode(stream))
    except (av.FFmpegError, IndexError):  # broken files, or no video stream
        return 0


def timed_pool(func, clips: list[str], workers: int) -> tuple[float, int]:
    started = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        frames = sum(pool.map(func, clips))
    return time.perf_counter() - started, frames


DFDC_CLIPS = 119_154  # 19,154 originals (16.1%) and 100,000 fakes


def make_corpus(root: Path, videos: int, seed: int, families: int | None) -> list[str]:
    """``families`` of the synth default mix (fakes per family as DFDC's), else ``videos // 6`` of 1 + 5."""
    from dfdc_lake.synth.corpus import ensure_corpus

    started = time.perf_counter()
    shape: dict[str, Any] = (
        {"families": families}
        if families
        else {"families": max(1, videos // 6), "fakes_per_family": 5, "cases": ()}
    )
    summary = ensure_corpus(root, parts=1, seed=seed, profile="dfdc", **shape)
    if summary is not None:
        print(
            f"generated {summary.videos} dfdc-profile clips in {time.perf_counter() - started:.0f}s",
            flush=True,
        )
    return sorted(str(p) for p in root.glob("dfdc_train_part_*/*.mp4"))


class RssSampler:
    """Peak RSS of Ray's worker processes (``ray::...``), one at a time and all together."""

    def __init__(self, every_s: float = 0.5) -> None:
        import threading

        self.every_s, self.peak_one, self.peak_all = every_s, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            sizes = []
            for proc in psutil.process_iter(["cmdline", "memory_info"]):
                cmdline = proc.info.get("cmdline") or []
                memory = proc.info.get("memory_info")
                if cmdline and cmdline[0].startswith("ray::") and memory is not None:
                    sizes.append(memory.rss)
            self.peak_one = max([self.peak_one, *sizes])
            self.peak_all = max(self.peak_all, sum(sizes))
            self._stop.wait(self.every_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def stage_seconds(lake_path: Path) -> dict[str, float]:
    """Seconds per stage summed over the lake's commit records (``total``: the tasks' own seconds)."""
    from dfdc_lake.lake.lake import Lake

    totals: dict[str, float] = {}
    for record in Lake.open(lake_path).commits():
        for key, seconds in record.timings_s.items():
            totals[key] = totals.get(key, 0.0) + seconds
    return totals


def shard_bytes(lake_path: Path) -> dict[str, int]:
    """Bytes of the committed shards per format, from the commit records (orphans of failed tries left out)."""
    from dfdc_lake.lake.lake import Lake

    totals: dict[str, int] = {}
    for record in Lake.open(lake_path).commits():
        for shard in record.shards:
            totals[shard.format] = totals.get(shard.format, 0) + shard.bytes
    return totals


def print_details(
    clips: int, stages: dict[str, float], sampler: RssSampler, workers: int, processing_s: float
) -> None:
    print("\nseconds per clip by stage (task time, one core per task):")
    for key in ("read", "decode", "detect", "crops", "audio", "labels", "write", "total"):
        if key in stages:
            print(f"  {key:8}{stages[key] / clips:8.2f}")
    busy_s = stages.get("total", 0.0) / workers
    print(f"where the processing wall went: the tasks' own seconds / {workers} CPUs = {busy_s:.1f} s; the other "
          f"{processing_s - busy_s:.1f} s of {processing_s:.1f} s had a CPU without a task (workers importing "
          f"torch and MTCNN before their first task, slots idle at a chunk's end), "
          f"{busy_s / processing_s:.0%} busy")  # fmt: skip
    gib = 1024**3
    print(f"peak RSS of a Ray worker {sampler.peak_one / gib:.2f} GiB; of all of them at once "
          f"{sampler.peak_all / gib:.2f} GiB ({workers} CPUs)")  # fmt: skip
    per_clip = stages.get("total", 0.0) / clips
    core_h = per_clip * DFDC_CLIPS / 3600
    print(f"projected for DFDC ({DFDC_CLIPS:,} clips; synthetic clips, CPU only, not measured there): "
          f"{per_clip:.2f} core-s per clip, {core_h:,.0f} core-hours; "
          f"{core_h / 16:,.0f} h on 16 cores, {core_h / 96:,.1f} h on 96 cores")  # fmt: skip
    cpu_per_clip = (stages.get("total", 0.0) - stages.get("detect", 0.0)) / clips
    cpu_h = cpu_per_clip * DFDC_CLIPS / 3600
    print(f"projected with detection on GPUs (GPU detection not measured: assumes the GPUs keep up): "
          f"{cpu_per_clip:.2f} core-s per clip, {cpu_h:,.0f} core-hours; {cpu_h / 16:,.1f} h on 16 cores + 1 GPU, "
          f"{cpu_h / 96:,.1f} h on 96 cores + 8 GPUs")  # fmt: skip


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
    parser.add_argument("--families", type=int, help="families of the synth default mix (overrides --videos)")
    parser.add_argument(
        "--videos-per-chunk",
        type=int,
        default=6,
        help="chunk size (one family); DFDC-sized runs have many chunks (0: the config default)",
    )
    parser.add_argument(
        "--winners",
        action="store_true",
        help="also time the DFDC winners' preprocessing, rebuilt (bench/winners.py)",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="config override (repeatable)"
    )
    args = parser.parse_args()

    out = Path(args.out)
    corpus = out / (f"corpus-dfdc-f{args.families}-s{args.seed}" if args.families else "corpus-dfdc")
    clips = make_corpus(corpus, args.videos, args.seed, args.families)

    baseline_s, frames = timed_pool(full_decode, clips, args.workers)
    floor_s, _ = timed_pool(decode_only, clips, args.workers)
    winners = None
    if args.winners:
        import winners as winners_bench

        winners = winners_bench.run(corpus, out / "winners-crops", threads=args.workers)

    import ray

    from dfdc_lake.config import Config
    from dfdc_lake.ingest.driver import ingest
    from dfdc_lake.lake.lake import Lake

    lake = out / "lake-dfdc"
    shutil.rmtree(lake, ignore_errors=True)
    ray.init(address="local", num_cpus=args.workers, logging_level=logging.ERROR)
    started = time.perf_counter()
    chunking = [f"lake.videos_per_chunk={args.videos_per_chunk}"] if args.videos_per_chunk else []
    config = Config().with_overrides([*chunking, *args.set])
    with RssSampler() as sampler:
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
    if winners is not None:
        print(f"{'the winners preprocessing, rebuilt':34}{winners.wall_s:10.1f}{n / winners.wall_s * 60:12.1f}"
              f"{winners.wall_s / baseline_s:10.2f}")  # fmt: skip
    print(f"{'ingest, processing only':34}{report.processing_s:10.1f}{n / report.processing_s * 60:12.1f}"
          f"{report.processing_s / baseline_s:10.2f}")  # fmt: skip
    print(
        f"{'ingest, end to end (catalog, Ray)':34}{ingest_s:10.1f}{n / ingest_s * 60:12.1f}{ingest_s / baseline_s:10.2f}"
    )
    print(f"outcomes: {report.outcomes_by_status}; failed chunks: {len(report.failed_chunks)}")
    if winners is not None:
        print(f"the winners' preprocessing: one process, {args.workers} torch threads; {winners.crops} PNG crops, "
              f"{winners.png_bytes / 1024 / n:.0f} KiB per clip")  # fmt: skip
    for fmt, size in shard_bytes(lake).items():
        print(f"{fmt} shards: {size / 1e6:.1f} MB, {size / 1024 / n:.0f} KiB per clip"
              f"{f' ({args.set})' if args.set else ''}")  # fmt: skip
    print_details(n, stage_seconds(lake), sampler, args.workers, report.processing_s)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
