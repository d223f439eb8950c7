"""docker/cluster.yaml against Ray's own cluster-config schema and validation (no cloud access), plus the
invariants of this deployment: CPU head, autoscaling GPU workers, the project image, no secrets."""

from __future__ import annotations

import copy
import json
import re
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.deploy.files import (
    CLUSTER_YAML,
    DOCKER_README,
    PLACEHOLDER_VALUES,
    RAYJOB_YAML,
    SECRET_PATTERNS,
    load_yaml,
    placeholders,
    pyproject,
    pyproject_pins,
)

GPU_FAMILIES = re.compile(r"(g4dn|g5|g6|g6e|gr6|p3|p4d|p4de|p5|p5e)\.")
HEAD_TYPE_GPU = re.compile(r"^(g\d|gr\d|p\d)")


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return load_yaml(CLUSTER_YAML)


@pytest.fixture(scope="module")
def ray_schema() -> dict[str, Any]:
    spec = find_spec("ray")
    assert spec is not None and spec.submodule_search_locations, "ray is not installed"
    path = Path(next(iter(spec.submodule_search_locations))) / "autoscaler" / "ray-schema.json"
    return json.loads(path.read_text())


def _node_types(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    types = config["available_node_types"]
    head = types[config["head_node_type"]]
    workers = [spec for name, spec in types.items() if name != config["head_node_type"]]
    assert len(workers) == 1, "one worker type (GPU) is expected"
    return head, workers[0]


def test_schema_is_the_one_of_the_pinned_ray() -> None:
    assert version("ray") == pyproject_pins()["ray"]


def test_placeholders_are_the_documented_ones() -> None:
    text = CLUSTER_YAML.read_text()
    assert placeholders(text) == set(PLACEHOLDER_VALUES)
    readme = DOCKER_README.read_text()
    assert all(f"<{name}>" in readme for name in PLACEHOLDER_VALUES)


def test_config_validates_against_rays_schema(config: dict[str, Any], ray_schema: dict[str, Any]) -> None:
    jsonschema.validate(config, ray_schema)


def test_rays_schema_rejects_a_broken_config(config: dict[str, Any], ray_schema: dict[str, Any]) -> None:
    broken = copy.deepcopy(config)
    broken["docker"]["gpus"] = "all"  # not a docker option; `--gpus all` belongs in run options
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, ray_schema)


def test_config_passes_rays_own_preparation_and_validation(config: dict[str, Any]) -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    head, worker = _node_types(prepared)
    assert head["max_workers"] == 0
    assert worker["min_workers"] == 0
    assert 1 <= worker["max_workers"] <= prepared["max_workers"]
    assert prepared["head_setup_commands"] == [] and prepared["worker_setup_commands"] == []


def test_head_is_cpu_and_workers_are_gpu(config: dict[str, Any]) -> None:
    head, worker = _node_types(config)
    assert not HEAD_TYPE_GPU.match(head["node_config"]["InstanceType"])
    assert GPU_FAMILIES.match(worker["node_config"]["InstanceType"])
    docker = config["docker"]
    assert "--gpus all" in docker["worker_run_options"]
    shared = docker.get("run_options", []) + docker.get("head_run_options", [])
    assert not [o for o in shared if "--gpus" in o], "`--gpus` on the CPU head makes `docker run` fail"


def test_image_is_the_projects_ecr_image(config: dict[str, Any]) -> None:
    image = config["docker"]["image"]
    region = PLACEHOLDER_VALUES["AWS_REGION"]
    assert image == (
        f"{PLACEHOLDER_VALUES['ACCOUNT_ID']}.dkr.ecr.{region}.amazonaws.com/dfdc-lake:{pyproject()['project']['version']}"
    )
    assert config["provider"] == {"type": "aws", "region": region, "cache_stopped_nodes": False}
    login = " ".join(config["initialization_commands"])
    assert "aws ecr get-login-password" in login and image.split("/")[0] in login
    rayjob = load_yaml(RAYJOB_YAML)["spec"]["rayClusterSpec"]
    pods = [rayjob["headGroupSpec"]] + rayjob["workerGroupSpecs"]
    assert {c["image"] for pod in pods for c in pod["template"]["spec"]["containers"]} == {image}


def test_s3_access_comes_from_instance_profiles_not_the_file(config: dict[str, Any]) -> None:
    text = CLUSTER_YAML.read_text()
    assert not [p.pattern for p in SECRET_PATTERNS if p.search(text)]
    options = " ".join(
        config["docker"].get("run_options", []) + config["docker"].get("worker_run_options", [])
    )
    assert not re.search(r"AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)", options)
    profiles = {spec["node_config"].get("IamInstanceProfile", {}).get("Name") for spec in _node_types(config)}
    assert profiles == {"dfdc-lake-head", "dfdc-lake-worker"}


def test_key_pair_is_named_on_every_node_type(config: dict[str, Any]) -> None:
    # Ray's AWS bootstrap asserts this when ssh_private_key is set (it needs boto3 to import, so mirrored).
    assert config["auth"]["ssh_private_key"] == "~/.ssh/dfdc-lake.pem"
    assert {spec["node_config"].get("KeyName") for spec in _node_types(config)} == {"dfdc-lake"}


def test_ray_token_auth_is_on_with_the_token_mounted(config: dict[str, Any]) -> None:
    assert "--env RAY_AUTH_MODE=token" in config["docker"]["run_options"]
    assert config["file_mounts"] == {"~/.ray": "~/.ray"}
    head_start = " ".join(config["head_start_ray_commands"])
    assert "--autoscaling-config=~/ray_bootstrap_config.yaml" in head_start
    assert "$RAY_HEAD_IP:6379" in " ".join(config["worker_start_ray_commands"])
