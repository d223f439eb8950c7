"""What one clip costs to ingest, measured on a sample of the source itself, on this machine.

A few of the source's own families (from the middle of the size distribution) go through the real
stages in this process (``FamilyProcessor`` with a local MTCNN; nothing is written to any lake), which
gives CPU seconds per REAL original and per FAKE (fakes reuse the original's tracks, so they cost less)
and shard bytes per clip (the samples encoded as rows and written to Parquet in memory, plus their
WebDataset tar members). ``estimate`` scales them to a run. Plain Python; no Ray.

:func:`catalog_cost` prices a family group from its catalog entries alone, with nothing measured: it
only ranks a chunk's groups, so that the costly ones start first.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dfdc_lake.config import Config
from dfdc_lake.records import Family, Sample, VideoEntry
from dfdc_lake.source.storage import read_clip
from dfdc_lake.stages.clip import ClipData

__all__ = [
    "CLIP_FIXED_BYTES",
    "DETECTED_ALONE_FACTOR",
    "MAX_SAMPLE_PASSES",
    "MIN_SAMPLE_S",
    "ClipCosts",
    "catalog_cost",
    "costed_clips",
    "is_usable",
    "measure_clip_costs",
    "pick_sample_families",
    "sample_shard_bytes",
]

log = logging.getLogger(__name__)

MIN_SAMPLE_S = 10.0  # time the sample at least this long ...
MAX_SAMPLE_PASSES = 5  # ... processing it at most this many times
MIN_CPU_SHARE = 0.05

# The catalog's price of a clip, measured with one task per family on a 42-clip source (families of 4-6
# clips): decoding grows with a clip's bytes (a family of 22 MB clips took 29 s, families of 1-3 MB
# clips 5-12 s; (8 + 22) / (8 + 2) ~ 29 / 9.5), and a clip detected on its own costs ~3.5x a fake, which
# reuses its original's tracks. What the catalog cannot tell is left out: a two-person family took 26 s.
CLIP_FIXED_BYTES = 8_000_000  # what a clip costs apart from its bytes, in bytes' worth of decoding
DETECTED_ALONE_FACTOR = 3.5


@dataclass(frozen=True)
class ClipCosts:
    """What the sample measured: seconds and shard bytes per clip, originals and fakes apart."""

    families: list[str]
    originals: int  # clips of the sample (one pass)
    fakes: int
    s_per_original: float
    s_per_fake: float
    detect_s_per_original: float  # the part of s_per_original spent in MTCNN
    bytes_per_original: dict[str, float]  # by shard format
    bytes_per_fake: dict[str, float]
    setup_s: float  # loading MTCNN and one warm-up video here (not per clip)
    sample_s: float  # processing the sample
    passes: int = 1  # times the sample was processed (short clips: until MIN_SAMPLE_S)
    cpu_share: float = 1.0  # (CPU + read waits) / wall seconds of the sample: under 1, this machine is busy


def is_usable(entry: VideoEntry | None) -> bool:
    """Whether a clip is there to process: listed, present and not empty."""
    return entry is not None and entry.size_bytes is not None and entry.size_bytes > 0


def costed_clips(families: Iterable[Family]) -> Iterator[tuple[VideoEntry, bool]]:
    """The usable clips of ``families``, each with whether it is detected on its own: a REAL, or a fake
    without a usable original (other fakes reuse their original's tracks)."""
    for family in families:
        original = family.original if is_usable(family.original) else None
        if original is not None:
            yield original, True
        for fake in family.fakes:
            if is_usable(fake):
                yield fake, original is None


def catalog_cost(families: Iterable[Family]) -> float:
    """What processing ``families`` costs, in bytes' worth of decoding, from the catalog alone: good
    for ranking tasks, not for seconds. Absent and zero-byte clips cost nothing."""
    return sum(
        (CLIP_FIXED_BYTES + (clip.size_bytes or 0)) * (DETECTED_ALONE_FACTOR if alone else 1.0)
        for clip, alone in costed_clips(families)
    )


def pick_sample_families(families: Sequence[Family], k: int) -> list[Family]:
    """``k`` families from the middle of the size distribution, the same ones every time.

    Candidates have a REAL original and every clip present and non-empty (else every family); they are
    ordered by (number of clips, family id) and the ``k`` around the median are taken.
    """
    if k < 1:
        raise ValueError(f"the sample needs at least one family, got {k}")
    whole = [f for f in families if is_usable(f.original) and all(is_usable(v) for v in f.videos)]
    ranked = sorted(whole or families, key=lambda f: (len(f.videos), f.family_id))
    start = max(0, min(len(ranked) - k, len(ranked) // 2 - k // 2))
    return ranked[start : start + k]


class _VideoClock:
    """Splits a family's processing time per video: ``FamilyProcessor`` reads each video once, in order
    (original first), so the time between two reads is one video; detection calls are summed apart.

    Time is this process's CPU time (every thread), so other work on a shared machine does not count;
    reading, which waits rather than computes (S3), counts in wall time.
    """

    def __init__(self, read: Callable[[str], ClipData]) -> None:
        self._read = read
        self.marks: list[float] = []
        self.detect_s: list[float] = []
        self.read_s: list[float] = []
        self.waited_s = 0.0  # on reads, in all

    @staticmethod
    def now() -> float:
        return time.process_time()

    def read(self, url: str) -> ClipData:
        self.marks.append(self.now())
        self.detect_s.append(0.0)
        started, cpu = time.perf_counter(), self.now()
        try:
            return self._read(url)
        finally:  # the wait, beyond the CPU the read used
            self.read_s.append(max(0.0, time.perf_counter() - started - (self.now() - cpu)))
            self.waited_s += self.read_s[-1]

    def timed(self, detect: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def detect_timed(frames: Any) -> Any:
            started = self.now()
            try:
                return detect(frames)
            finally:
                if self.detect_s:
                    self.detect_s[-1] += self.now() - started

        return detect_timed

    def take(self, videos: int) -> tuple[list[float], list[float]]:
        """Per-video seconds and detection seconds of the family just processed; resets the clock."""
        marks, detect, waits = [*self.marks, self.now()], self.detect_s, self.read_s
        self.marks, self.detect_s, self.read_s = [], [], []
        if len(detect) != videos:  # not one read per video: spread the family's time evenly
            total = marks[-1] - marks[0] + sum(waits) if len(marks) > 1 else 0.0
            return [total / max(videos, 1)] * videos, [sum(detect) / max(videos, 1)] * videos
        return [b - a + w for (a, b), w in zip(itertools.pairwise(marks), waits, strict=True)], detect


def sample_shard_bytes(samples: list[Sample], formats: Sequence[str]) -> dict[str, int]:
    """Bytes ``samples`` take in shards of each format, written by the lake's own shard writers into a
    temporary folder (a Parquet shard's footer left out: a real shard spreads one over ~256 MB)."""
    import tempfile

    import pyarrow.parquet as pq

    from dfdc_lake.lake.lake import open_storage
    from dfdc_lake.lake.writers import ChunkWriter

    if not samples:
        return dict.fromkeys(formats, 0)
    with tempfile.TemporaryDirectory() as tmp:
        with ChunkWriter(open_storage(tmp), "estimate", "sample", tuple(formats)) as writer:
            for sample in samples:
                writer.write(sample)
        out = dict.fromkeys(formats, 0)
        for shard in writer.shards:
            footer = (
                pq.read_metadata(f"{tmp}/{shard.path}").serialized_size + 8
                if shard.format == "parquet"
                else 0
            )
            out[shard.format] += shard.bytes - footer
    return out


@dataclass
class _Tally:
    seconds: list[float] = field(default_factory=list)  # per video processed, every pass
    detect_s: list[float] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)  # of the first pass
    clips: int = 0  # in the first pass

    def mean(self, values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    def bytes_per_clip(self, formats: Sequence[str]) -> dict[str, float]:
        total = sample_shard_bytes(self.samples, formats)
        return {fmt: n / max(self.clips, 1) for fmt, n in total.items()}


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _as_in_ingest(detect: Callable[[Any], Any], config: Config) -> Callable[[Any], Any]:
    """``detect`` with the torch threads ingest gives MTCNN: a CPU detection actor's (Ray sets
    OMP_NUM_THREADS to its CPUs, at least 1), else the family task's (already set by the caller). Under
    CPU contention a multi-threaded MTCNN here would run several times slower than there."""
    settings = config.ray
    in_actor = settings.detector_placement == "cpu" or (
        settings.detector_placement == "auto" and settings.detector_actors > 0
    )
    if not in_actor:
        return detect
    threads = settings.detector_torch_threads or max(1, int(settings.cpus_per_detector))

    def detect_with_threads(frames: Any) -> Any:
        with _torch_threads(threads):
            return detect(frames)

    return detect_with_threads


def _warm_up(processor: Any, family: Family) -> None:
    """Process one video of ``family`` untimed: the first MTCNN calls on a frame size build its kernels
    (seconds on a CPU), which would otherwise be charged to the first original of the sample."""
    processor.setup()
    first = Family(family.family_id, family.original, [] if family.original else family.fakes[:1])
    processor.process(first)


def _process_sample(
    processor: Any, clock: _VideoClock, picked: list[Family], originals: _Tally, fakes: _Tally, first: bool
) -> None:
    """Each family through ``processor``; per-video seconds (and, on the first pass, the samples)
    tallied by originals and fakes.

    A clip is tallied as an original when it is detected on its own, by the rule that prices it
    (:func:`costed_clips`): the REAL, or every fake of a family without a usable original. Those fakes
    cost what an original costs; tallied as fakes, they left originals unmeasured (0 s) and every
    clip of a source of such fakes (the shared DFDC sample) priced at nothing.
    """
    for family in picked:
        result = processor.process(family)
        seconds, detect_s = clock.take(len(family.videos))
        has_original = is_usable(family.original)
        for video, s, d in zip(family.videos, seconds, detect_s, strict=True):
            tally = originals if video is family.original or not has_original else fakes
            tally.seconds.append(s)
            tally.detect_s.append(d)
            tally.clips += int(first)
        for sample in result.samples if first else []:
            (fakes if sample.original is not None and has_original else originals).samples.append(sample)


def _timed_passes(
    processor: Any, clock: _VideoClock, picked: list[Family]
) -> tuple[_Tally, _Tally, int, float, float]:
    """The sample processed once, and again while it has been timed less than ``MIN_SAMPLE_S``: the
    tallies, the passes, the wall seconds they took and the CPU seconds plus the waits on reads."""
    originals, fakes, passes = _Tally(), _Tally(), 0
    started, cpu, waited = time.perf_counter(), time.process_time(), clock.waited_s
    while passes < MAX_SAMPLE_PASSES and (passes == 0 or time.perf_counter() - started < MIN_SAMPLE_S):
        _process_sample(processor, clock, picked, originals, fakes, first=passes == 0)
        passes += 1
    wall_s = time.perf_counter() - started
    return originals, fakes, passes, wall_s, time.process_time() - cpu + clock.waited_s - waited


def measure_clip_costs(families: Sequence[Family], config: Config, sample_families: int = 2) -> ClipCosts:
    """Process ``sample_families`` of ``families`` here and measure seconds and bytes per clip.

    Seconds are CPU seconds of this process (plus waiting on reads), so what else runs on this machine
    does not change them: they price a clip on a free core; ``cpu_share`` says how busy the machine was.
    Short clips are processed again (up to ``MAX_SAMPLE_PASSES`` times) until the sample has been timed
    for ``MIN_SAMPLE_S``, so that one moment does not decide the estimate.

    Torch runs with the threads a family task uses (``ray.cpus_per_decoder``), MTCNN in a CPU detection
    actor's when ingest would use one. Nothing is written.

    Raises:
        ValueError: there is no family to sample.
    """
    from dfdc_lake.stages.faces import FaceDetector, detect_fn
    from dfdc_lake.stages.family import FamilyProcessor

    picked = pick_sample_families(families, sample_families) if families else []
    if not picked:
        raise ValueError("the source has no family to measure")
    started = time.perf_counter()
    with _torch_threads(max(1, int(config.ray.cpus_per_decoder))):
        detect = _as_in_ingest(detect_fn(FaceDetector(config.faces)), config)  # loads MTCNN
        clock = _VideoClock(read_clip)  # as ingest reads: a local file from disk
        processor = FamilyProcessor(config, clock.timed(detect), read=clock.read)
        _warm_up(processor, picked[0])
        clock.take(0)
        setup_s = time.perf_counter() - started
        originals, fakes, passes, sample_s, cpu_s = _timed_passes(processor, clock, picked)
    if not fakes.seconds:  # a sample of REALs (or of fakes without originals): a fake as an original
        fakes = originals
    formats = config.lake.formats
    costs = ClipCosts(
        families=[family.family_id for family in picked],
        originals=originals.clips,
        fakes=0 if fakes is originals else fakes.clips,
        s_per_original=originals.mean(originals.seconds),
        s_per_fake=fakes.mean(fakes.seconds),
        detect_s_per_original=originals.mean(originals.detect_s),
        bytes_per_original=originals.bytes_per_clip(formats),
        bytes_per_fake=fakes.bytes_per_clip(formats),
        setup_s=setup_s,
        sample_s=sample_s,
        passes=passes,
        cpu_share=round(min(1.0, max(MIN_CPU_SHARE, cpu_s / sample_s)), 3) if sample_s > 0 else 1.0,
    )
    log.info("estimate sample: %s", costs)
    return costs
