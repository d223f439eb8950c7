"""A worker node lost mid-ingest, in each phase of a family task: decoding, detecting on an actor that
lives on that node, writing shards.

One ``ray.cluster_utils.Cluster`` for the module (as Ray's own fault-tolerance tests simulate nodes on
one machine): a head and two worker nodes, each its own raylet and object store. It is not the
session's cluster (``tests/fixtures/ray_cluster.py``); the driver runs as a separate process joined to
this one's address, and this process never connects, so the two never meet.

The worker nodes' environment turns fault points on (``dfdc_lake.ingest.fault_points``): each case
arms one phase; the first family task (or detection actor) on a worker node that reaches it waits
there and says where it is; the test then kills that node outright (no graceful shutdown) and, as an
autoscaler would, starts a replacement. The run must end with every chunk committed once, every video
accounted for once, no sample twice, and ``verify`` clean.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dfdc_lake.ingest.fault_points import ENV, PHASES
from dfdc_lake.lake.lake import Lake
from dfdc_lake.plan.chunks import plan_chunks
from dfdc_lake.source.catalog import load_catalog
from tests.ingest.helpers import assert_accounted_once, ingest_command, verify_clean_after_gc, wait_until
from tests.ingest.small_source import copy_small_families

pytestmark = [pytest.mark.ray, pytest.mark.slow]

FAMILIES = 3
WORKER_CPUS = 2
# CPU detection actors of 1.5 CPUs: the head (1 CPU) cannot hold one, so each worker node holds one;
# family tasks of half a CPU fill what is left on every node.
SETTINGS = (
    "--set", "lake.videos_per_chunk=4",
    "--set", "ray.min_videos_per_task=1",
    "--set", "ray.detector_placement=cpu",
    "--set", "ray.detector_actors=2",
    "--set", "ray.cpus_per_detector=1.5",
    "--set", "ray.cpus_per_decoder=0.5",
    "--set", "ray.detector_torch_threads=1",
)  # fmt: skip


@dataclass
class NodeLossCluster:
    """The module's Ray cluster and the folder its worker nodes' fault points watch."""

    cluster: Any  # ray.cluster_utils.Cluster
    points: Path
    removed: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return self.cluster.address

    def add_worker(self) -> Any:
        return self.cluster.add_node(num_cpus=WORKER_CPUS, env_vars={ENV: str(self.points)})

    def replace(self, node_id: str) -> None:
        """Kill the worker node ``node_id`` at once (SIGKILL, as a lost machine), then add a fresh one."""
        node = next(n for n in self.cluster.worker_nodes if n.node_id == node_id)
        self.cluster.remove_node(node, allow_graceful=False)
        self.removed.append(node_id)
        self.add_worker()


@pytest.fixture(scope="module")
def node_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeLossCluster]:
    import ray
    from ray.cluster_utils import Cluster

    if ray.is_initialized():  # a driver of the session cluster from an earlier test: not this one's
        ray.shutdown()
    points = tmp_path_factory.mktemp("fault-points")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    state = NodeLossCluster(cluster, points)
    try:
        for _ in range(2):
            state.add_worker()
        cluster.wait_for_nodes()
        yield state
    finally:
        for phase in PHASES:  # free any holder left waiting, then stop every node
            (points / f"{phase}.release").touch()
        cluster.shutdown()


@pytest.fixture(scope="module")
def small_source(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three families of four small clips: three chunks of one family task each."""
    return copy_small_families(tiny_corpus, tmp_path_factory.mktemp("node-loss-source"), FAMILIES)


@pytest.mark.parametrize("phase", PHASES)
def test_a_worker_node_lost_mid_ingest(
    phase: str, node_cluster: NodeLossCluster, small_source: Path, tmp_path: Path
) -> None:
    lake = str(tmp_path / "lake")
    points = node_cluster.points
    (points / f"{phase}.armed").touch()
    started = time.monotonic()
    process = subprocess.Popen(
        ingest_command(str(small_source), lake, node_cluster.address, *SETTINGS),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        held = points / f"{phase}.held"
        wait_until(held.exists, 300, f"a {phase} on a worker node to hold", process)
        holder = json.loads(held.read_text())
        lost_at = time.monotonic()
        node_cluster.replace(holder["node_id"])
        _, stderr = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
    ended = time.monotonic()
    assert process.returncode == 0, stderr[-4000:]

    planned = [c.chunk_id for c in plan_chunks(load_catalog(str(small_source)).families(), 4)]
    committed = Counter(record.chunk_id for record in Lake.open(lake).commits())
    assert sorted(committed) == sorted(planned) and set(committed.values()) == {1}
    outcomes = assert_accounted_once(str(small_source), lake)  # no video lost or twice, no sample twice
    assert len(outcomes) == FAMILIES * 4 and all(o["status"] == "ok" for o in outcomes.values()), outcomes
    verify_clean_after_gc(lake)
    print(
        f"node lost while {phase}: run {ended - started:.1f} s, node removed after "
        f"{lost_at - started:.1f} s, recovered and finished {ended - lost_at:.1f} s later; "
        f"{len(outcomes)} videos, 0 lost, 0 duplicated"
    )
