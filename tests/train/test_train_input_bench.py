"""bench/train_input.py compares like with like: a sample from loose JPEG files is bit for bit the
sample the lake pipeline yields (same crops, same augmentation draws), and ``--json`` reports both rates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from dfdc_lake.train.config import load_train_config
from dfdc_lake.train.inputs.features import InputSpec
from tests.train.test_loader_bench import BENCH, _bench_module


def test_file_samples_equal_lake_samples(synth_lake: Path, tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))  # train_input imports its sibling loader.py
    try:
        bench = _bench_module("train_input.py")
    finally:
        sys.path.remove(str(BENCH))
    root = str(tmp_path / "layout")
    bench.export_files(str(synth_lake), root, "jpg")
    index = bench.file_index(str(synth_lake))
    cfg = load_train_config(recipe="dfdc").with_overrides({"image_size_px": 48})
    spec = InputSpec.from_config(cfg, 64)
    lake = list(bench.LakeSamples(str(synth_lake), spec, 1))
    files = bench.FileSamples(root, index, spec, 1)
    assert len(lake) == len(files) == len(index) > 20
    for i in (0, 7, len(files) - 1):
        assert np.array_equal(lake[i]["faces"], files[i]["faces"])
        assert np.array_equal(lake[i]["mel"], files[i]["mel"])
    assert not np.array_equal(lake[0]["faces"], lake[1]["faces"])


def test_the_bench_prints_both_rates_as_json(synth_lake: Path, tmp_path: Path) -> None:
    command = [
        sys.executable, str(BENCH / "train_input.py"), "--lake", str(synth_lake), "--work", str(tmp_path),
        "--sizes", "32", "--passes", "1", "--repeat", "1", "--workers", "0", "--json",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["lake_samples_per_s"] > 0 and report["files_samples_per_s"] > 0
    (size,) = report["sizes"]
    assert size["image_size_px"] == 32 and size["lake_samples_per_s"] == report["lake_samples_per_s"]
    assert abs(size["ratio"] - size["lake_samples_per_s"] / size["files_samples_per_s"]) < 0.01
