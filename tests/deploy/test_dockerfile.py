"""docker/Dockerfile and .dockerignore, read without Docker: CUDA base, Python 3.11, the project installed
with pyproject's pins, a non-root user, and the build-time image check actually run here."""

from __future__ import annotations

import fnmatch
import re
import shlex
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, requires
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from tests.deploy.files import (
    DOCKERFILE,
    DOCKERIGNORE,
    REPO,
    SECRET_PATTERNS,
    Instruction,
    expand_args,
    final_stage,
    global_args,
    parse_dockerfile,
    pyproject,
    pyproject_pins,
)

CUDA_BASE = re.compile(r"nvidia/cuda:(\d+)\.(\d+)(?:\.\d+)?-(base|runtime|cudnn-runtime)-ubuntu\d+\.\d+")
IMAGE_CHECK = "/usr/local/bin/dfdc-image-check"
# The check script is written for the image's Python 3.11 (it uses tomllib).
needs_py311 = pytest.mark.skipif(sys.version_info < (3, 11), reason="dfdc-image-check needs Python >= 3.11")


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse_dockerfile(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def stage(instructions: list[Instruction]) -> list[Instruction]:
    return final_stage(instructions)


def _stage_args(instructions: list[Instruction], stage: list[Instruction]) -> dict[str, str]:
    args = global_args(instructions)
    for instruction in stage:
        if instruction.keyword == "ARG":
            name, _, default = instruction.args.partition("=")
            args[name.strip()] = default.strip()
    return args


def _torch_cuda_major_minor() -> tuple[int, int] | None:
    """CUDA major.minor of the installed torch wheel, from its CUDA wheel requirements (None: CPU build)."""
    try:
        requirements = requires("torch") or []
    except PackageNotFoundError:
        return None
    for requirement in requirements:
        match = re.match(r"(?:cuda-toolkit\S*|nvidia-cuda-runtime\S*)\s*==\s*(\d+)\.(\d+)", requirement)
        if match:
            return int(match[1]), int(match[2])
    return None


def test_image_is_built_on_a_cuda_base_matching_torch(instructions: list[Instruction]) -> None:
    image = expand_args(final_stage(instructions)[0].args.split()[0], global_args(instructions))
    match = CUDA_BASE.fullmatch(image)
    assert match, f"final stage starts FROM {image!r}, not an nvidia/cuda base/runtime image"
    torch_cuda = _torch_cuda_major_minor()
    if torch_cuda is None:
        pytest.skip("the installed torch is not a CUDA wheel, so there is no CUDA version to compare")
    assert (int(match[1]), int(match[2])) == torch_cuda, (
        f"base image CUDA {match[1]}.{match[2]} differs from the CUDA {torch_cuda} that torch's wheel is built for"
    )


def _created_users(stage: list[Instruction]) -> dict[str, str]:
    """``{uid: user name}`` for every ``useradd --uid N ... NAME`` in the stage's RUN instructions."""
    users = {}
    for instruction in stage:
        if instruction.keyword != "RUN":
            continue
        for command in re.split(r"&&|;", instruction.args):
            words = shlex.split(command)
            if words[:1] == ["useradd"] and "--uid" in words and "--create-home" in words:
                users[words[words.index("--uid") + 1]] = words[-1]
    return users


def test_image_runs_as_the_non_root_user_it_creates(stage: list[Instruction]) -> None:
    users = [i for i in stage if i.keyword == "USER"]
    assert users, "the image never leaves root"
    uid, _, gid = users[-1].args.partition(":")
    assert uid.isdigit() and int(uid) != 0, f"final USER {users[-1].args!r} is not a numeric non-root uid"
    assert not gid or (gid.isdigit() and int(gid) != 0), f"group {gid!r} should be numeric and not root"
    name = _created_users(stage).get(uid)
    assert name, f"no RUN creates a user with uid {uid} and a home"
    homes = [i.args for i in stage if i.keyword == "ENV" and i.args.startswith("HOME=")]
    assert homes == [f"HOME=/home/{name}"], "the Ray cluster launcher needs HOME of the image user in its Env"


def test_python_is_3_11_and_allowed_by_pyproject(
    instructions: list[Instruction], stage: list[Instruction]
) -> None:
    args = _stage_args(instructions, stage)
    assert args.get("PYTHON_VERSION") == "3.11"
    runs = [i.args for i in stage if i.keyword == "RUN"]
    assert any("uv venv" in run and "--python ${PYTHON_VERSION}" in run for run in runs)
    assert any(
        f"{IMAGE_CHECK.rsplit('/', 1)[1]} " in run and "--python ${PYTHON_VERSION}" in run for run in runs
    )
    assert "3.11.0" in SpecifierSet(pyproject()["project"]["requires-python"])


def test_project_is_installed_with_exactly_the_pyproject_pins(stage: list[Instruction]) -> None:
    keywords = [(i.keyword, i.args) for i in stage]
    copy_pyproject = keywords.index(("COPY", "pyproject.toml ./"))
    copy_tree = keywords.index(("COPY", ". ."))
    runs = [(n, args) for n, (keyword, args) in enumerate(keywords) if keyword == "RUN"]
    deps = [n for n, args in runs if re.search(r"uv pip install .*-r pyproject\.toml", args)]
    project = [n for n, args in runs if re.search(r"uv pip install .*--no-deps \.(\s|$)", args)]
    assert deps and copy_pyproject < deps[0] < copy_tree, (
        "dependencies must come from pyproject.toml, before the tree"
    )
    assert project and project[0] > copy_tree, "the project itself must be installed from the copied tree"
    text = DOCKERFILE.read_text()
    assert not re.search(r"--(extra-)?index-url", text), (
        "torch must come from PyPI (its CUDA build), no other index"
    )
    pins = pyproject_pins()
    for name, pinned in re.findall(r"\b([A-Za-z][A-Za-z0-9_.-]*)(?:\[[^\]]*\])?==(\d[^\s\"';]*)", text):
        if name.lower() in pins:
            assert pinned == pins[name.lower()], (
                f"Dockerfile pins {name}=={pinned}, pyproject.toml {pins[name.lower()]}"
            )
    assert {"torch", "torchvision", "torchaudio", "facenet-pytorch", "decord", "ray"} <= set(pins)


def test_launcher_needs_are_installed_and_no_secret_is_baked(stage: list[Instruction]) -> None:
    apt = " ".join(i.args for i in stage if i.keyword == "RUN" and "apt-get install" in i.args)
    for package in ("rsync", "tmux", "ca-certificates"):
        assert re.search(rf"\b{package}\b", apt), f"{package} is not installed"
    for instruction in stage:
        if instruction.keyword in {"ENV", "ARG"}:
            assert not re.search(r"(?i)(secret|token|password|access_key)", instruction.args), instruction
    text = DOCKERFILE.read_text()
    assert not [p.pattern for p in SECRET_PATTERNS if p.search(text)]


def _image_check_script(stage: list[Instruction]) -> str:
    copies = [i for i in stage if i.keyword == "COPY" and i.heredoc and i.args.endswith(IMAGE_CHECK)]
    assert len(copies) == 1, f"expected one heredoc COPY to {IMAGE_CHECK}"
    assert copies[0].heredoc is not None
    runs = [i.args for i in stage if i.keyword == "RUN" and i.line > copies[0].line]
    assert any(shlex.split(run)[0] == Path(IMAGE_CHECK).name for run in runs), (
        "the build never runs the check"
    )
    return copies[0].heredoc


@needs_py311
def test_build_time_image_check_passes_on_this_environment(stage: list[Instruction], tmp_path: Path) -> None:
    if _torch_cuda_major_minor() is None:
        pytest.skip("the installed torch is a CPU build; the image check demands a CUDA build")
    script = tmp_path / "dfdc-image-check"
    script.write_text(_image_check_script(stage))
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    result = subprocess.run(
        [sys.executable, str(script), str(REPO / "pyproject.toml"), "--python", running],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "MTCNN on cpu" in result.stdout


@needs_py311
def test_build_time_image_check_rejects_a_pin_mismatch(stage: list[Instruction], tmp_path: Path) -> None:
    script = tmp_path / "dfdc-image-check"
    script.write_text(_image_check_script(stage))
    text = (REPO / "pyproject.toml").read_text()
    pinned = pyproject_pins()["torch"]
    (tmp_path / "pyproject.toml").write_text(text.replace(f'"torch=={pinned}"', '"torch==0.0.1"'))
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "pyproject.toml"), "--python", running],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "torch" in result.stderr and "0.0.1" in result.stderr


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore ``patterns`` exclude ``path`` (or a folder above it); no ``!`` exceptions."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    for pattern in patterns:
        pattern = pattern.strip("/")
        if pattern.startswith("**/"):
            tails = ["/".join(parts[n:end]) for end in range(1, len(parts) + 1) for n in range(end)]
            if any(fnmatch.fnmatchcase(tail, pattern[3:]) for tail in tails):
                return True
        elif any(fnmatch.fnmatchcase(candidate, pattern) for candidate in candidates):
            return True
    return False


def test_dockerignore_keeps_the_build_inputs_and_drops_the_rest() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not [p for p in patterns if p.startswith("!")], "exceptions are not expected (nor checked here)"
    needed = [
        "pyproject.toml",
        "README.md",
        "dfdc_lake/config.py",
        "schemas/sample_v4.json",
        "pipelines/ingest.py",
    ]
    assert [p for p in needed if _ignored(p, patterns)] == []
    unwanted = [
        ".venv/bin/python",
        ".git/HEAD",
        "dfdc_lake/__pycache__/cli.cpython-311.pyc",
        "tests/conftest.py",
    ]
    assert [p for p in unwanted if not _ignored(p, patterns)] == []
    assert pyproject()["project"]["readme"] == "README.md"
