"""The Ray pieces of ingest: detection actors (MTCNN loaded once, on a GPU share when the cluster has
GPUs), a progress actor, and the family-group task that decodes on a CPU worker and detects either
through an actor or, on a CPU-only cluster, with its own MTCNN on the CPU it already holds.

This is the only module of the ingest path that builds Ray tasks and actors.
"""

from __future__ import annotations

import functools
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from dfdc_lake.config import Config, FaceConfig
from dfdc_lake.ingest.chunk import GroupResult
from dfdc_lake.ingest.detector_calls import detect_on_actors
from dfdc_lake.ingest.fault_points import hold_if_armed, read_then_hold
from dfdc_lake.lake.lake import Lake
from dfdc_lake.plan.chunks import FamilyGroup

__all__ = ["DetectorPool", "FamilyTasks", "ProgressActor", "make_detector_pool"]


@ray.remote
class DetectorActor:
    """Holds one MTCNN. Receives small (already downscaled) frames, so little data crosses the network."""

    def __init__(self, face_config: dict[str, Any], torch_threads: int) -> None:
        import torch

        from dfdc_lake.stages.faces import FaceDetector

        if torch_threads > 0:
            torch.set_num_threads(torch_threads)
        self.detector = FaceDetector(FaceConfig.model_validate(face_config))
        self.detector.setup()

    def placement(self) -> dict[str, Any]:
        """Where the actor runs: node, GPU ids Ray assigned, and the torch device MTCNN uses."""
        context = ray.get_runtime_context()
        return {
            "node_id": context.get_node_id(),
            "gpu_ids": [str(gpu) for gpu in ray.get_gpu_ids()],
            "device": str(self.detector.device),
        }

    def detect(self, frames: Any) -> list[Any]:
        hold_if_armed("detect")  # off unless the node-loss test turned fault points on for this node
        return self.detector.detect_downscaled(frames)


@ray.remote(num_cpus=0)
class ProgressActor:
    """Family tasks report each video as it finishes and then its family's statuses; the driver polls.

    A family's final report replaces its video reports, and a family reported again (a retried task, a
    chunk redone after a failure) replaces its earlier reports, so each video counts once.
    """

    def __init__(self) -> None:
        self.finished: dict[str, Counter[str]] = {}  # family id -> its final statuses
        # family id -> (the reporting try, statuses of its videos done so far)
        self.running: dict[str, tuple[str, Counter[str]]] = {}
        self.total: Counter[str] = Counter()  # over finished families

    def video_done(self, family_id: str, status: str, try_id: str) -> None:
        if family_id in self.finished:  # the family runs again: its new reports take over
            self.total.subtract(self.finished.pop(family_id))
        if family_id not in self.running or self.running[family_id][0] != try_id:  # a retry starts over
            self.running[family_id] = (try_id, Counter())
        self.running[family_id][1][status] += 1

    def family_done(self, family_id: str, statuses: list[str]) -> None:
        self.running.pop(family_id, None)
        self.total.subtract(self.finished.pop(family_id, Counter()))
        self.finished[family_id] = Counter(statuses)
        self.total.update(statuses)

    def snapshot(self) -> dict[str, int]:
        counts = Counter(self.total)
        for _, videos in self.running.values():
            counts.update(videos)
        return {status: n for status, n in counts.items() if n > 0}


class _ProgressReports:
    """A family task's ``ProgressSink``: fire-and-forget calls to the progress actor (never waited on;
    calls from one task reach the actor in order)."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor
        self.try_id = uuid.uuid4().hex  # tells a retried task's reports from its dead try's

    def video_done(self, family_id: str, status: str) -> None:
        self.actor.video_done.remote(family_id, status, self.try_id)

    def family_done(self, family_id: str, statuses: list[str]) -> None:
        self.actor.family_done.remote(family_id, statuses)


@dataclass
class DetectorPool:
    actors: list[Any]  # empty: every family task detects with its own MTCNN
    num_gpus_each: float


def _uses_actors(config: Config, total_gpus: float) -> tuple[bool, bool]:
    """(detection actors at all, on GPUs) for ``ray.detector_placement`` and the GPUs present now."""
    settings = config.ray
    gpu_wanted = settings.gpus_per_detector > 0
    if settings.detector_placement == "auto":
        use_gpu = total_gpus > 0 and gpu_wanted
        return use_gpu, use_gpu
    if settings.detector_placement == "gpu":
        return True, gpu_wanted
    return settings.detector_placement == "cpu", False


def make_detector_pool(config: Config) -> DetectorPool:
    """Start the detection actors, if detection runs in actors.

    GPU actors (``gpus_per_detector`` each) when the cluster has GPUs, or always with
    ``detector_placement='gpu'`` (on an autoscaling cluster the pending actors bring GPU nodes up).
    Their number is ``detector_actors``, else one per GPU share present now. CPU actors with
    ``'cpu'`` (``detector_actors``, at least one). None on a CPU-only cluster with ``'auto'``, or with
    ``'task'``: each family task then detects on the CPU it holds (measured on 2 cores: as fast as a
    shared CPU actor, and Ray's CPU accounting stays true, since the actor reserves no CPU).
    """
    settings = config.ray
    total_gpus = float(ray.cluster_resources().get("GPU", 0.0))
    with_actors, use_gpu = _uses_actors(config, total_gpus)
    if not with_actors:
        return DetectorPool(actors=[], num_gpus_each=0.0)
    if settings.detector_actors > 0:
        count = settings.detector_actors
    elif use_gpu:
        count = max(1, int(total_gpus / settings.gpus_per_detector))
    else:
        count = 1
    num_gpus = settings.gpus_per_detector if use_gpu else 0.0
    face_config = config.faces.model_dump(mode="json")
    actors = [
        DetectorActor.options(  # type: ignore[attr-defined]
            num_gpus=num_gpus, num_cpus=settings.cpus_per_detector, max_restarts=3, max_task_retries=3
        ).remote(face_config, settings.detector_torch_threads)
        for _ in range(count)
    ]
    return DetectorPool(actors=actors, num_gpus_each=num_gpus)


_TASK_DETECTORS: dict[str, Any] = {}  # per worker process: faces config JSON -> loaded FaceDetector


def _detect_fn(config: Config, detectors: list[Any]) -> Any:
    """Detection through a random actor of the pool, or with this worker's own MTCNN (loaded once)."""
    if detectors:  # a random actor each call, another one while it is lost (detector_calls)
        return functools.partial(detect_on_actors, detectors)
    from dfdc_lake.stages.faces import FaceDetector

    key = config.faces.model_dump_json()
    if key not in _TASK_DETECTORS:
        detector = FaceDetector(config.faces)
        detector.setup()
        _TASK_DETECTORS[key] = detector
    return _TASK_DETECTORS[key].detect_downscaled


def _family_group_task(
    group: FamilyGroup,
    attempt_id: str,
    lake: Lake,
    config_json: dict[str, Any],
    detectors: list[Any],
    progress: Any,
) -> GroupResult:
    import torch

    from dfdc_lake.ingest.chunk import process_family_group
    from dfdc_lake.source.storage import read_clip
    from dfdc_lake.stages.family import FamilyProcessor

    config = Config.model_validate(config_json)
    # One torch thread per CPU the task holds: tasks run one per CPU, and MTCNN here (no actor) must not
    # take the other tasks' cores.
    torch.set_num_threads(max(1, int(config.ray.cpus_per_decoder)))
    processor = FamilyProcessor(
        config=config, detect=_detect_fn(config, detectors), read=read_then_hold(read_clip)
    )
    return process_family_group(
        group,
        lake,
        config,
        attempt_id,
        processor,
        progress=_ProgressReports(progress),
    )


class FamilyTasks:
    """Submits family-group tasks of one ingest run and owns the actors they use.

    Every group of a chunk attempt shares its ``attempt_id``. Ray retries a task whose worker died
    (``ray.task_retries``); each try writes to a folder of its own, so the commit names only the shards
    of the try that finished. An exception raised by the task is not retried: the chunk fails.
    """

    def __init__(self, lake: Lake, config: Config) -> None:
        self.lake = lake
        self.config = config
        self.pool = make_detector_pool(config)
        # On the driver's node: a worker node lost mid-run must not take the run's progress with it.
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        self.progress = ProgressActor.options(scheduling_strategy=here).remote()  # type: ignore[attr-defined]
        self._config_json = config.model_dump(mode="json")
        self._task = ray.remote(_family_group_task).options(
            num_cpus=config.ray.cpus_per_decoder,
            max_retries=config.ray.task_retries,
            retry_exceptions=False,
        )

    def submit(self, group: FamilyGroup, attempt_id: str) -> Any:
        """Start one group's task; returns its ObjectRef (a ``GroupResult``)."""
        return self._task.remote(
            group, attempt_id, self.lake, self._config_json, self.pool.actors, self.progress
        )

    def progress_counts(self) -> dict[str, int]:
        """Outcome statuses of every family finished so far, counted."""
        return ray.get(self.progress.snapshot.remote())

    def close(self) -> None:
        for actor in [*self.pool.actors, self.progress]:
            ray.kill(actor)
