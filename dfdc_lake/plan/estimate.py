"""How long a run would take and how big its lake would be, scaled from the measured cost of a clip.

The costs (``clip_costs``: CPU seconds per original and per fake, shard bytes per clip, measured on a
sample of the source) scale to the chunks that remain the way ingest schedules them: each chunk's
families packed into family tasks (``chunk.family_groups``, at least ``ray.min_videos_per_task``
videos), chunk after chunk, each chunk's tasks started largest first by the catalog's ranking
(``chunk.largest_first``, as ingest orders them), on ``cores / ray.cpus_per_decoder`` slots at once
(``ray.tasks_in_flight`` if set). Where detection runs follows ``ray.detector_placement`` as ingest
resolves it: in the task on a CPU-only cluster (part of each task's time), in CPU actors (each serves
one call at a time, so their total detection time also bounds the run), or on GPU actors (left out: it
cannot be measured on this machine's CPU). Then ``RAY_SLOWDOWN`` (calibrated against real runs), the
start-up (Ray's own, ``RAY_STARTUP_S``, measured; a worker's model load and first calls, measured by the
sample: :func:`worker_setup_s`), and, for a run on this machine while it is busy, the share of a core
the sample got.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from dfdc_lake.config import Config
from dfdc_lake.plan.chunks import Chunk, family_groups, largest_first
from dfdc_lake.plan.clip_costs import ClipCosts, costed_clips
from dfdc_lake.records import Family

__all__ = [
    "RAY_SLOWDOWN",
    "RAY_STARTUP_S",
    "RunEstimate",
    "detection_actors",
    "detection_placement",
    "estimate_run",
    "tasks_at_once",
    "worker_setup_s",
]

Placement = Literal["task", "cpu", "gpu"]

# Ray's own start-up and tear-down in an ingest: `import ray`, a private local cluster up, the first
# task on a fresh worker, shutdown. Measured, not calibrated, on the 2-core CPU machine:
# `python bench/ray_startup.py` took 7.8 s at load 1.4 (10-14 s at load 4-5); `dfdc-lake ingest` of
# the shared DFDC sample spent 6.0 s and 6.8 s outside its processing (14.0 s wall, 8 s processing;
# 15.8 s, 9 s; load 1.2-1.8). Their mean, rounded: 7 s. What a worker then does before its first clip
# (import torch, load MTCNN, the first detection calls) is measured by `plan` itself
# (``worker_setup_s``), so it follows the machine and the clips; starting Ray at plan time to time it
# would cost about what it measures, and plan never needs Ray.
RAY_STARTUP_S = 7.0
# A clip in a Ray worker on free cores takes longer than the sample's CPU seconds: Ray's own processes,
# the progress reports, the shard writes. On a busy machine the run also gets only a share of each
# core: ``busy_share`` (what the sample got) divides the processing on top of this.
RAY_SLOWDOWN = 1.4


@dataclass(frozen=True)
class RunEstimate:
    """The estimate for the chunks that remain, and how it was made (``formula``)."""

    costs: ClipCosts
    cores: int
    gpus: int
    placement: Placement  # where detection runs
    tasks_at_once: int
    detection_actors: int  # 0: detection in the family tasks
    chunks: int
    tasks: int  # family tasks
    originals: int  # clips costed as originals (REALs, and fakes without a usable original)
    fakes: int  # fakes that reuse their original's tracks
    work_s: float  # seconds of the family tasks, as measured (detection included unless on GPUs)
    tasks_s: float  # the tasks on ``tasks_at_once`` slots, in the order ingest starts them
    detect_s: float  # detection alone on CPU detection actors (0 otherwise)
    busy_share: float  # the share of each core the run gets (1: free cores)
    processing_s: float  # the larger of the two (the bottleneck) x RAY_SLOWDOWN / busy_share
    startup_s: float
    wall_s: float
    bytes_by_format: dict[str, int]
    formula: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _clips(families: Sequence[Family]) -> tuple[int, int]:
    """(clips costed as originals, fakes that reuse a usable original); absent and zero-byte files cost
    nothing."""
    alone = [detected_alone for _, detected_alone in costed_clips(families)]
    return sum(alone), len(alone) - sum(alone)


def worker_setup_s(costs: ClipCosts) -> float:
    """What a fresh worker spends before its first clip runs warm: the sample's set-up (torch, MTCNN, a
    warm-up video) less what that video costs warm (an original's seconds)."""
    return max(0.0, costs.setup_s - costs.s_per_original)


def _makespan(task_seconds: list[float], slots: int) -> float:
    """Wall time of tasks started in the given order on whichever of ``slots`` frees first (as ingest
    does)."""
    free = [0.0] * max(1, slots)
    for seconds in task_seconds:
        heapq.heappush(free, heapq.heappop(free) + seconds)
    return max(free)


def tasks_at_once(config: Config, cores: int) -> int:
    """How many family tasks ingest runs at once on ``cores`` CPUs (``ingest._in_flight_limit``)."""
    if config.ray.tasks_in_flight > 0:
        return config.ray.tasks_in_flight
    return max(1, int(cores // config.ray.cpus_per_decoder))


def detection_placement(config: Config, gpus: int) -> Placement:
    """Where ingest detects faces on a cluster with ``gpus`` (``actors.make_detector_pool``)."""
    settings = config.ray
    gpu_wanted = settings.gpus_per_detector > 0
    if settings.detector_placement == "gpu" or (
        settings.detector_placement == "auto" and gpus and gpu_wanted
    ):
        return "gpu"
    if settings.detector_placement == "cpu" or (
        settings.detector_placement == "auto" and settings.detector_actors > 0
    ):
        return "cpu"
    return "task"


def detection_actors(config: Config, gpus: int) -> int:
    """How many detection actors ingest starts: ``ray.detector_actors``, else one per GPU share, else 1;
    none when the family tasks detect."""
    settings, placement = config.ray, detection_placement(config, gpus)
    if placement == "task":
        return 0
    if settings.detector_actors > 0:
        return settings.detector_actors
    if placement == "gpu" and gpus:
        return max(1, int(gpus / settings.gpus_per_detector))
    return 1


def _formula(e: RunEstimate, config: Config) -> str:
    c = e.costs
    detect = c.detect_s_per_original
    s_original = c.s_per_original - (detect if e.placement == "gpu" else 0.0)
    text = (
        f"processing = {RAY_SLOWDOWN:g} (Ray vs the sample, calibrated) x the {e.tasks} family tasks "
        f"(originals x {s_original:.3g} s + fakes x {c.s_per_fake:.3g} s each), each chunk's largest "
        f"first, on {e.tasks_at_once} slots ({e.cores} cores / {config.ray.cpus_per_decoder:g} per task) "
        f"= {e.tasks_s:.0f} s"
    )
    if e.placement == "gpu":
        text += (
            f", detection left out (on {e.detection_actors} GPU actors, not measured; {detect:.3g} s per "
            "original on this CPU)"
        )
    elif e.placement == "cpu":
        text += (
            f", or if longer detection alone, {e.originals} originals x {detect:.3g} s / "
            f"{e.detection_actors} CPU actors, one call at a time = {e.detect_s:.0f} s"
        )
    if e.busy_share < 1:
        text += f", / {e.busy_share:.2g} (the share of a core the sample got on this busy machine)"
    text += f" -> {e.processing_s:.0f} s"
    return text + (
        f"; wall = processing + {e.startup_s:.0f} s start-up ({RAY_STARTUP_S:g} s Ray, measured on the "
        f"2-core machine; {worker_setup_s(c):.1f} s a worker's model load and first calls, measured here)"
    )


def estimate_run(
    costs: ClipCosts,
    chunks: Sequence[Chunk],
    config: Config,
    cores: int,
    gpus: int = 0,
    busy_share: float = 1.0,
) -> RunEstimate:
    """Scale the measured costs to ``chunks`` (those that remain) on a cluster of ``cores`` and ``gpus``.

    The tasks start in ingest's order (chunk after chunk, each chunk's largest first); the measured
    costs only price them, so the estimate sees the tail ingest will have, not a better one.

    ``busy_share`` is the share of a core the run will get on each (1: the cores are free); for a run
    on this machine, ``costs.cpu_share`` is what the sample got.
    """
    if cores < 1 or gpus < 0 or not 0 < busy_share <= 1:
        raise ValueError(
            f"need cores >= 1, gpus >= 0, 0 < busy_share <= 1; got {cores}, {gpus}, {busy_share}"
        )
    placement = detection_placement(config, gpus)
    min_videos = config.ray.min_videos_per_task
    groups = [g for chunk in chunks for g in largest_first(family_groups(chunk, min_videos))]
    clips = [_clips(group.families) for group in groups]
    s_original = costs.s_per_original - (costs.detect_s_per_original if placement == "gpu" else 0.0)
    per_task = [n_orig * s_original + n_fake * costs.s_per_fake for n_orig, n_fake in clips]
    originals, fakes = sum(n for n, _ in clips), sum(n for _, n in clips)
    actors = detection_actors(config, gpus)
    detect_s = originals * costs.detect_s_per_original / actors if placement == "cpu" else 0.0
    slots = tasks_at_once(config, cores)
    tasks_s = _makespan(per_task, slots) if groups else 0.0
    processing_s = RAY_SLOWDOWN * max(tasks_s, detect_s) / busy_share
    startup_s = RAY_STARTUP_S + worker_setup_s(costs) if groups else 0.0
    nbytes = {
        fmt: round(originals * per_clip + fakes * costs.bytes_per_fake.get(fmt, 0.0))
        for fmt, per_clip in costs.bytes_per_original.items()
    }
    estimate = RunEstimate(
        costs=costs,
        cores=cores,
        gpus=gpus,
        placement=placement,
        tasks_at_once=slots,
        detection_actors=actors,
        chunks=len(chunks),
        tasks=len(groups),
        originals=originals,
        fakes=fakes,
        work_s=sum(per_task),
        tasks_s=tasks_s,
        detect_s=detect_s,
        busy_share=busy_share,
        processing_s=processing_s,
        startup_s=startup_s,
        wall_s=processing_s + startup_s,
        bytes_by_format=nbytes,
        formula="",
    )
    return replace(estimate, formula=_formula(estimate, config))
