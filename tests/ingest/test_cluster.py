"""A real local multi-node Ray cluster: `ray start --head` plus a worker node that advertises a (fake) GPU.

Checks that `ray job submit` of pipelines/ingest.py commits a lake, and that detection actors are
scheduled on the GPU node with the configured GPU share while chunk (decode) tasks need no GPU.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest

from tests.fixtures.ray_cluster import enable_token_auth, start_head, start_worker, stop_cluster
from tests.ingest.helpers import REPO, assert_accounted_once

pytestmark = [pytest.mark.ray, pytest.mark.slow]

PLACEMENT_SCRIPT = """
import json, sys, time, ray
from dfdc_lake.config import Config
from dfdc_lake.ingest.actors import make_detector_pool
ray.init(address=sys.argv[1], logging_level="ERROR")
config = Config().with_overrides(["ray.gpus_per_detector=0.5"])
pool = make_detector_pool(config)
gpu_nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("GPU")]
print(json.dumps({"gpu_nodes": gpu_nodes, "num_gpus_each": pool.num_gpus_each,
                  "placements": ray.get([a.placement.remote() for a in pool.actors])}))
"""


def _wait_for_nodes(address: str, count: int, timeout_s: float = 120) -> None:
    probe = "import ray,sys; ray.init(address=sys.argv[1], logging_level='ERROR'); print(sum(n['Alive'] for n in ray.nodes()))"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        out = subprocess.run(
            [sys.executable, "-c", probe, address], capture_output=True, text=True, timeout=60
        )
        if out.returncode == 0 and int(out.stdout.strip().splitlines()[-1]) >= count:
            return
        time.sleep(2)
    raise AssertionError(f"the cluster at {address} did not reach {count} nodes")


@pytest.fixture(scope="module")
def multinode(tmp_path_factory):
    logs = tmp_path_factory.mktemp("multinode")
    enable_token_auth()
    head = start_head(logs / "head.log", num_cpus=1, num_gpus=0)
    worker = start_worker(head.address, logs / "worker.log", num_cpus=2, num_gpus=1)
    try:
        _wait_for_nodes(head.address, 2)
        yield head
    finally:
        stop_cluster(worker)
        stop_cluster(head.process)


def test_detection_actors_go_to_the_gpu_node_with_the_configured_share(multinode):
    out = subprocess.run(
        [sys.executable, "-c", PLACEMENT_SCRIPT, multinode.address],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["num_gpus_each"] == 0.5
    assert len(result["placements"]) == 2  # 1 GPU / 0.5 per actor
    for placement in result["placements"]:
        assert placement["node_id"] in result["gpu_nodes"]
        assert placement["gpu_ids"], placement  # Ray assigned it a GPU id
        assert placement["device"] == "cpu"  # the GPU is advertised only: MTCNN falls back to the CPU


def test_ray_job_submit_of_the_ingest_script_commits_a_lake(multinode, tiny_corpus, tmp_path):
    part = str(tiny_corpus / "dfdc_train_part_1")
    lake = tmp_path / "lake"
    workdir = tmp_path / "job"
    workdir.mkdir()
    shutil.copy(REPO / "pipelines" / "ingest.py", workdir / "ingest.py")
    result = multinode.submit_job(
        workdir, ["python", "ingest.py", part, str(lake), "--set", "ray.gpus_per_detector=0.5"]
    )
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    assert "2 detection actors" in result.stdout + result.stderr
    assert_accounted_once(part, str(lake))
