"""The Ray pieces of ingest: detection actors (MTCNN loaded once, on a GPU share when the cluster has
GPUs), a progress actor, and the chunk task that decodes on CPU workers and routes detection to an actor.

This is the only module of the ingest path that builds Ray tasks and actors.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

import ray

from dfdc_lake.config import Config, FaceConfig
from dfdc_lake.distributed.plan import Chunk

__all__ = ["DetectorPool", "ProgressActor", "make_detector_pool", "run_chunk_task"]


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
        return self.detector.detect_downscaled(frames)


@ray.remote(num_cpus=0)
class ProgressActor:
    """Chunk tasks report each finished family's outcome statuses here; the driver polls it."""

    def __init__(self) -> None:
        self.by_status: Counter[str] = Counter()

    def record(self, statuses: list[str]) -> None:
        self.by_status.update(statuses)

    def snapshot(self) -> dict[str, int]:
        return dict(self.by_status)


@dataclass
class DetectorPool:
    actors: list[Any]
    num_gpus_each: float

    def pick(self) -> Any:
        return random.choice(self.actors)


def make_detector_pool(config: Config) -> DetectorPool:
    """Start the detection actors.

    GPU actors (``gpus_per_detector`` each) when the cluster has GPUs, or always with
    ``detector_placement='gpu'`` (on an autoscaling cluster the pending actors bring GPU nodes up).
    Their number is ``detector_actors``, else one per GPU share present now (at least one).
    """
    settings = config.ray
    total_gpus = float(ray.cluster_resources().get("GPU", 0.0))
    if settings.detector_placement == "auto":
        use_gpu = total_gpus > 0 and settings.gpus_per_detector > 0
    else:
        use_gpu = settings.detector_placement == "gpu" and settings.gpus_per_detector > 0
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


def _process_chunk_remote(
    chunk: Chunk, lake: str, config_json: dict[str, Any], detectors: list[Any], progress: Any
) -> dict[str, Any]:
    import torch

    from dfdc_lake.distributed.chunk import process_chunk
    from dfdc_lake.lake.commit import new_attempt_id
    from dfdc_lake.stages.family import FamilyProcessor

    torch.set_num_threads(1)  # decoding workers run one per CPU; torch ops here are small
    config = Config.model_validate(config_json)
    pool = DetectorPool(actors=detectors, num_gpus_each=0.0)

    def detect(frames: Any) -> list[Any]:
        return ray.get(pool.pick().detect.remote(frames))

    processor = FamilyProcessor(config=config, detect=detect)
    # A fresh attempt id per try: a retried task never overwrites (or mixes with) a dead try's shards.
    record = process_chunk(
        chunk,
        lake,
        config,
        new_attempt_id(),
        processor,
        on_family=lambda statuses: progress.record.remote(statuses),
    )
    return {
        "chunk_id": record.chunk_id,
        "attempt_id": record.attempt_id,
        "num_samples": record.num_samples,
        "timings_s": record.timings_s,
    }


def run_chunk_task(chunk: Chunk, lake: str, config: Config, pool: DetectorPool, progress: Any) -> Any:
    """Submit one chunk as a CPU task; Ray retries it if its worker dies (a fresh attempt id each try)."""
    task = ray.remote(_process_chunk_remote).options(
        num_cpus=config.ray.cpus_per_decoder, max_retries=config.ray.task_retries, retry_exceptions=False
    )
    return task.remote(chunk, lake, config.model_dump(mode="json"), pool.actors, progress)
