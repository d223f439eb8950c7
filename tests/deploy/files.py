"""Reading the deployment files: paths, pyproject pins, placeholder filling and a small Dockerfile parser.

The parser understands what docker/Dockerfile uses (comments and parser directives, backslash
continuations, heredocs, ``ARG`` defaults before ``FROM``); it is not a general BuildKit frontend.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "CLUSTER_YAML",
    "DOCKERFILE",
    "DOCKERIGNORE",
    "DOCKER_README",
    "PLACEHOLDER_VALUES",
    "RAYJOB_YAML",
    "REPO",
    "SECRET_PATTERNS",
    "Instruction",
    "expand_args",
    "fill_placeholders",
    "final_stage",
    "global_args",
    "load_yaml",
    "parse_dockerfile",
    "placeholders",
    "pyproject",
    "pyproject_pins",
]

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "docker" / "Dockerfile"
CLUSTER_YAML = REPO / "docker" / "cluster.yaml"
RAYJOB_YAML = REPO / "docker" / "rayjob.yaml"
DOCKER_README = REPO / "docker" / "README.md"
DOCKERIGNORE = REPO / ".dockerignore"

# What a user substitutes for each <PLACEHOLDER> (docker/README.md has the sed line).
PLACEHOLDER_VALUES = {"ACCOUNT_ID": "123456789012", "AWS_REGION": "us-west-2"}

# Literal credentials that must never appear in a deployment file.
SECRET_PATTERNS = [
    re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"(?i)aws_secret_access_key\s*[:=]\s*\S"),
    re.compile(r"(?i)aws_session_token\s*[:=]\s*\S"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
]

_PIN = re.compile(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^;\s]+)")
_PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*)>")
_HEREDOC = re.compile(r"<<-?(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
_ARG_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def pyproject() -> dict[str, Any]:
    """The parsed pyproject.toml of the repository."""
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def pyproject_pins() -> dict[str, str]:
    """``{distribution name: version}`` for every ``==`` pin in ``project.dependencies``."""
    pins = {}
    for requirement in pyproject()["project"]["dependencies"]:
        match = _PIN.fullmatch(requirement.strip())
        if match:
            pins[match[1].lower()] = match[3]
    return pins


def placeholders(text: str) -> set[str]:
    """The ``<NAME>`` placeholders left in ``text``."""
    return set(_PLACEHOLDER.findall(text))


def fill_placeholders(text: str) -> str:
    """``text`` with every known placeholder replaced as a user would (unknown ones stay)."""
    for name, value in PLACEHOLDER_VALUES.items():
        text = text.replace(f"<{name}>", value)
    return text


def load_yaml(path: Path, filled: bool = True) -> Any:
    """One YAML document, with the placeholders filled in unless ``filled`` is False."""
    text = path.read_text()
    return yaml.safe_load(fill_placeholders(text) if filled else text)


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: ``keyword`` upper-cased, continuation lines joined into ``args``."""

    keyword: str
    args: str
    line: int
    heredoc: str | None = None


def parse_dockerfile(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile, in order."""
    lines = text.splitlines()
    instructions: list[Instruction] = []
    index = 0
    while index < len(lines):
        start = index
        stripped = lines[index].strip()
        index += 1
        if not stripped or stripped.startswith("#"):
            continue
        parts = [stripped]
        while parts[-1].endswith("\\") and index < len(lines):
            parts[-1] = parts[-1][:-1].rstrip()
            following = lines[index].strip()
            index += 1
            if following and not following.startswith("#"):
                parts.append(following)
        joined = " ".join(parts)
        heredoc = None
        match = _HEREDOC.search(joined)
        if match:
            body: list[str] = []
            while index < len(lines) and lines[index].strip() != match[2]:
                body.append(lines[index])
                index += 1
            if index == len(lines):
                raise ValueError(f"heredoc {match[2]!r} opened on line {start + 1} is never closed")
            index += 1
            heredoc = "\n".join(body) + "\n"
        keyword, _, args = joined.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start + 1, heredoc))
    return instructions


def global_args(instructions: list[Instruction]) -> dict[str, str]:
    """Defaults of the ``ARG`` instructions before the first ``FROM``."""
    defaults = {}
    for instruction in instructions:
        if instruction.keyword == "FROM":
            break
        if instruction.keyword == "ARG":
            name, _, default = instruction.args.partition("=")
            defaults[name.strip()] = default.strip().strip("\"'")
    return defaults


def expand_args(value: str, args: dict[str, str]) -> str:
    """``value`` with ``${NAME}`` / ``$NAME`` replaced from ``args`` (unknown names stay)."""
    return _ARG_REF.sub(lambda m: args.get(m[1] or m[2], m[0]), value)


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    """The instructions from the last ``FROM`` on: the stage that becomes the image."""
    starts = [i for i, instruction in enumerate(instructions) if instruction.keyword == "FROM"]
    if not starts:
        raise ValueError("the Dockerfile has no FROM")
    return instructions[starts[-1] :]
