"""docker/README.md stays true to the tools: every `ray ...` command in its code blocks exists in the
installed Ray CLI with the options used, ingest command lines parse with the real ingest parser, and
every `dfdc-lake` subcommand named exists."""

from __future__ import annotations

import argparse
import re
import shlex

import click
import pytest

from tests.deploy.files import CLUSTER_YAML, DOCKER_README, REPO

ENV_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=\S*$")
LAUNCHER_COMMANDS = {"up", "submit", "exec", "dashboard", "attach", "down"}


def _code_lines(text: str) -> list[str]:
    """Shell lines of the fenced code blocks, without heredoc bodies."""
    lines: list[str] = []
    in_block = False
    heredoc_end: str | None = None
    for line in text.splitlines():
        if line.startswith("```"):
            in_block = not in_block
            continue
        if not in_block:
            continue
        if heredoc_end is not None:
            heredoc_end = None if line.strip() == heredoc_end else heredoc_end
            continue
        match = re.search(r"<<-?'?([A-Z]+)'?", line)
        if match:
            heredoc_end = match[1]
        lines.append(line)
    return lines


def _ray_commands(blocks_only: bool = False) -> list[list[str]]:
    """Every `ray ...` command of the README: code block lines, and unless ``blocks_only`` inline code."""
    text = DOCKER_README.read_text()
    lines = _code_lines(text) + ([] if blocks_only else re.findall(r"`([^`\n]+)`", text))
    commands = []
    for line in lines:
        words = shlex.split(line, comments=True)
        while words and ENV_ASSIGNMENT.match(words[0]):
            words = words[1:]
        if words[:1] == ["ray"] and len(words) > 1 and words[1] != "...":
            commands.append(words)
    return commands


def _resolve(words: list[str]) -> tuple[tuple[str, ...], click.Command, list[str]]:
    """The subcommand path that ``ray ...`` names, its click command, and the words after the path."""
    from ray.scripts.scripts import cli

    command: click.Command = cli
    path: tuple[str, ...] = ()
    rest = words[1:]
    while isinstance(command, click.Group) and rest and rest[0] in command.commands:
        command = command.commands[rest[0]]
        path += (rest[0],)
        rest = rest[1:]
    assert path, f"`{' '.join(words)}` names no ray subcommand"
    return path, command, rest


def _ingest_parser() -> argparse.ArgumentParser:
    from dfdc_lake.cli.ingest import add_arguments

    parser = argparse.ArgumentParser(exit_on_error=False)
    add_arguments(parser)
    return parser


def test_readme_has_the_cluster_workflow() -> None:
    paths = {" ".join(_resolve(words)[0]) for words in _ray_commands(blocks_only=True)}
    assert {"up", "exec", "submit", "dashboard", "down", "get-auth-token", "job submit"} <= paths


@pytest.mark.parametrize("words", _ray_commands(), ids=lambda words: " ".join(words[:3]))
def test_ray_command_exists_with_its_options(words: list[str]) -> None:
    path, command, rest = _resolve(words)
    own = rest[: rest.index("--")] if "--" in rest else rest
    known = {opt for param in command.params for opt in [*param.opts, *getattr(param, "secondary_opts", [])]}
    unknown = [word for word in own if word.startswith("-") and word.split("=")[0] not in known]
    assert unknown == [], f"`ray {' '.join(path)}` has no option {unknown}"


@pytest.mark.parametrize(
    "words",
    [words for words in _ray_commands(blocks_only=True) if words[1] in LAUNCHER_COMMANDS],
    ids=lambda words: " ".join(words[:3]),
)
def test_launcher_commands_name_this_cluster_config(words: list[str]) -> None:
    _, _, rest = _resolve(words)
    positional = [word for word in rest if not word.startswith("-")]
    assert positional and (REPO / positional[0]).resolve() == CLUSTER_YAML


def _ingest_args(words: list[str]) -> list[str] | None:
    """The ingest arguments of a `ray submit ... pipelines/ingest.py -- ...` or `ray job submit` line."""
    if "pipelines/ingest.py" not in words:
        return None
    after = words[words.index("pipelines/ingest.py") + 1 :]
    return after[1:] if after[:1] == ["--"] else after


def test_ingest_command_lines_parse_and_join_the_cluster() -> None:
    parser = _ingest_parser()
    seen = 0
    for words in _ray_commands():
        args = _ingest_args(words)
        if args is None:
            continue
        seen += 1
        parsed = parser.parse_args(args)
        assert parsed.source == "$SOURCE" and parsed.lake == "$LAKE"
        if _resolve(words)[0] == ("submit",):
            # Under `ray submit` no RAY_ADDRESS is set: without --address the ingest starts a private Ray.
            assert parsed.address == "auto", " ".join(words)
    assert seen >= 2 and (REPO / "pipelines" / "ingest.py").is_file()


def test_dfdc_lake_subcommands_exist() -> None:
    from dfdc_lake.cli import COMMANDS

    text = DOCKER_README.read_text()
    code = "\n".join(_code_lines(text) + re.findall(r"`([^`\n]+)`", text))
    named = set(re.findall(r"(?<![\w/.:-])dfdc-lake (\w[\w-]*)", code))
    assert named and named <= set(COMMANDS), named - set(COMMANDS)
