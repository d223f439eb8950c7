"""docker/rayjob.yaml: the structure KubeRay's RayJob (ray.io/v1) requires, the real ingest command line,
GPU workers, and credentials only through Kubernetes Secrets."""

from __future__ import annotations

import argparse
import re
import shlex
from typing import Any

import pytest

from tests.deploy.files import (
    DOCKERFILE,
    PLACEHOLDER_VALUES,
    RAYJOB_YAML,
    REPO,
    SECRET_PATTERNS,
    load_yaml,
    parse_dockerfile,
    placeholders,
    pyproject_pins,
)

APP_DIR = "/opt/dfdc-lake"
QUANTITY = re.compile(r"^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
SECRET_NAME = re.compile(r"(?i)(secret|token|password|access_key)")


@pytest.fixture(scope="module")
def job() -> dict[str, Any]:
    return load_yaml(RAYJOB_YAML)


def _pods(job: dict[str, Any]) -> list[dict[str, Any]]:
    spec = job["spec"]["rayClusterSpec"]
    return [spec["headGroupSpec"]["template"]] + [group["template"] for group in spec["workerGroupSpecs"]]


def _containers(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [container for pod in _pods(job) for container in pod["spec"]["containers"]]


def test_is_a_rayjob_with_the_pinned_ray(job: dict[str, Any]) -> None:
    assert job["apiVersion"] == "ray.io/v1" and job["kind"] == "RayJob"
    assert job["metadata"]["name"]
    assert job["spec"]["shutdownAfterJobFinishes"] is True
    assert job["spec"]["rayClusterSpec"]["rayVersion"] == pyproject_pins()["ray"]
    assert placeholders(RAYJOB_YAML.read_text()) == set(PLACEHOLDER_VALUES)


def test_entrypoint_is_the_real_ingest_command_line(job: dict[str, Any]) -> None:
    from dfdc_lake.cli.ingest import add_arguments

    words = shlex.split(job["spec"]["entrypoint"])
    assert words[:2] == ["python", f"{APP_DIR}/pipelines/ingest.py"]
    assert (REPO / "pipelines" / "ingest.py").is_file()
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_arguments(parser)
    args = parser.parse_args(words[2:])
    assert args.source.startswith("s3://") and args.lake.startswith("s3://")
    # The image holds the repository at APP_DIR: WORKDIR there, then `COPY . .`.
    keywords = [(i.keyword, i.args) for i in parse_dockerfile(DOCKERFILE.read_text())]
    assert keywords.index(("WORKDIR", APP_DIR)) < keywords.index(("COPY", ". ."))


def test_head_and_worker_groups_have_what_kuberay_needs(job: dict[str, Any]) -> None:
    spec = job["spec"]["rayClusterSpec"]
    head = spec["headGroupSpec"]
    assert all(isinstance(v, str) for v in head["rayStartParams"].values()), (
        "rayStartParams values are strings"
    )
    head_ports = {p["containerPort"] for p in head["template"]["spec"]["containers"][0]["ports"]}
    assert {6379, 8265} <= head_ports
    assert spec["workerGroupSpecs"], "no worker group"
    for group in spec["workerGroupSpecs"]:
        assert group["groupName"]
        assert all(isinstance(v, str) for v in group["rayStartParams"].values())
        assert 0 <= group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
    for container in _containers(job):
        assert container["name"] and container["image"]
        for section in ("requests", "limits"):
            assert all(QUANTITY.match(str(v)) for v in container["resources"][section].values()), container


def test_workers_get_gpus(job: dict[str, Any]) -> None:
    for group in job["spec"]["rayClusterSpec"]["workerGroupSpecs"]:
        for container in group["template"]["spec"]["containers"]:
            resources = container["resources"]
            assert int(resources["limits"]["nvidia.com/gpu"]) >= 1
            # Kubernetes demands request == limit for extended resources when both are given.
            assert (
                resources["requests"].get("nvidia.com/gpu", resources["limits"]["nvidia.com/gpu"])
                == (resources["limits"]["nvidia.com/gpu"])
            )


def test_credentials_come_from_a_secret_only(job: dict[str, Any]) -> None:
    text = RAYJOB_YAML.read_text()
    assert not [p.pattern for p in SECRET_PATTERNS if p.search(text)]
    for container in _containers(job):
        env = {item["name"]: item for item in container["env"]}
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            ref = env[name]["valueFrom"]["secretKeyRef"]
            assert ref["name"] and ref["key"] == name
        literal = [name for name, item in env.items() if "value" in item and SECRET_NAME.search(name)]
        assert literal == [], f"{container['name']} sets {literal} inline"


def test_pods_run_as_non_root_like_the_image(job: dict[str, Any]) -> None:
    for pod in _pods(job):
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    users = [i.args for i in parse_dockerfile(DOCKERFILE.read_text()) if i.keyword == "USER"]
    assert users[-1].split(":")[0].isdigit(), "runAsNonRoot can only verify a numeric USER"
