"""The train command's options and its early, Ray-free failures."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from dfdc_lake.cli import train as command
from dfdc_lake.errors import ConfigError
from dfdc_lake.train.config import TrainConfig, load_train_config
from tests.train.conftest import run_cli

REPO = Path(__file__).resolve().parents[2]


def _config(argv: list[str]) -> TrainConfig:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    args = parser.parse_args(argv)
    return load_train_config(args.config, args.overrides).with_overrides(command._overrides(args))


def test_flags_config_file_and_overrides_build_one_validated_config(tmp_path: Path) -> None:
    settings = tmp_path / "train.yaml"
    settings.write_text("backbone: resnet10t\nepochs: 9\n")
    flags = ["--split-by", "part", "--val-parts", "4,5", "--format", "webdataset", "--use-gpu"]
    cfg = _config(
        [
            "lake",
            "--storage-path",
            "runs",
            "--config",
            str(settings),
            "--epochs",
            "3",
            "--set",
            "dropout=0.3",
            *flags,
        ]
    )
    assert (cfg.backbone, cfg.epochs, cfg.dropout) == ("resnet10t", 3, 0.3)  # flags win over the file
    assert cfg.split_by == "part" and cfg.val_parts == (4, 5) and cfg.format == "webdataset" and cfg.use_gpu
    assert (
        cfg.train_hash() == cfg.model_copy(update={"num_workers": 8}).train_hash()
    )  # scheduling is not hashed
    assert cfg.train_hash() != _config(["lake", "--storage-path", "runs"]).train_hash()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--set", "no_such_setting=1"], "no setting"),
        (["--val-parts", "1"], "val_parts only applies"),
        (["--num-folds", "3", "--val-fold", "3"], "val_fold 3"),
        (["--format", "csv"], "invalid training configuration"),
    ],
)
def test_bad_settings_are_configuration_errors(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _config(["lake", "--storage-path", "runs", *argv])


def test_train_on_a_lake_without_commits_fails_cleanly_before_ray(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run_cli(["train", str(tmp_path / "empty-lake"), "--storage-path", str(tmp_path / "runs")])
    assert code == 2
    assert "no committed chunks" in capsys.readouterr().err


def test_the_pipeline_script_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "pipelines" / "train.py"), "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and "RAY_ADDRESS" in result.stdout
