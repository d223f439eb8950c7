"""bench/gpu.py on the CPU: a quick run on a tiny synthetic family writes a complete report in which every
measured number is positive, missing decoders say why, and the projection is labelled as projected."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dfdc_lake.stages.analysis import TIMING_KEYS

REPO = Path(__file__).resolve().parents[1]
CPU_DECODERS = ("ingest_decoder", "decord_cpu", "pyav_all_frames", "pyav_ref_frames")
DECODER_MODULES = {
    "pynvvideocodec_cuda": "PyNvVideoCodec",
    "torchcodec_cpu": "torchcodec",
    "torchcodec_cuda": "torchcodec",
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One ``--quick`` CPU run on a tiny-profile family: its JSON report and its printed tables."""
    work = tmp_path_factory.mktemp("gpu_bench")
    out = work / "report.json"
    command = [
        sys.executable, str(REPO / "bench" / "gpu.py"), "--device", "cpu", "--quick", "--profile", "tiny",
        "--work", str(work), "--out", str(out), "--max-procs", "2",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {"report": json.loads(out.read_text()), "stdout": done.stdout}


def test_mtcnn_is_measured_per_batch_size(run: dict[str, Any]) -> None:
    mtcnn = run["report"]["mtcnn"]
    assert mtcnn["device"] == "cpu" and mtcnn["distinct_frames"] > 0
    assert [b["batch_size"] for b in mtcnn["batches"]] == [8, 16]
    for batch in mtcnn["batches"]:
        assert batch["frames"] >= batch["batch_size"] and batch["seconds"] > 0 and batch["frames_per_s"] > 0
        split = batch["split_s"]
        assert all(split[f"{net}_s"] > 0 for net in ("pnet", "rnet", "onet"))
        assert split["exposure_s"] > 0 and split["other_s"] >= 0
        assert sum(split.values()) == pytest.approx(batch["seconds"], rel=0.01, abs=0.005)
        assert 0 < batch["nets_share"] <= 1
        assert batch["nets_share"] + batch["pre_post_share"] == pytest.approx(1.0, abs=1e-3)
        assert batch["gpu_util"] is None  # no GPU sampled on a CPU run


def test_cpu_decoders_are_measured_and_missing_ones_say_why(run: dict[str, Any]) -> None:
    decode = run["report"]["decode"]
    assert len(decode["clips"]) == 4 and decode["frame_stride"] == 10
    for name in CPU_DECODERS:
        result = decode["decoders"][name]
        assert result["available"], result
        for mode in ("one_stream", "parallel"):
            rates = result[mode]
            assert rates["clips"] >= 4 and rates["rgb_frames"] > 0
            assert rates["seconds"] > 0 and rates["clips_per_s"] > 0 and rates["rgb_frames_per_s"] > 0
        assert result["parallel"]["procs"] >= 1
    cuda = _cuda_available()
    for name, module in DECODER_MODULES.items():
        result = decode["decoders"][name]
        if importlib.util.find_spec(module) is None or (name.endswith("_cuda") and not cuda):
            assert result["available"] is False and result["why"], result
            assert "one_stream" not in result and "parallel" not in result
        elif not result["available"]:
            assert result["why"]


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def test_family_stages_per_clip(run: dict[str, Any]) -> None:
    family = run["report"]["family"]
    assert family["outcomes"] == ["ok"] * 4 and family["samples"] >= 4
    original, fake = family["per_original_s"], family["per_fake_s"]
    assert set(original) == set(fake) == set(TIMING_KEYS)
    assert original["decode"] > 0 and original["detect"] > 0 and fake["decode"] > 0
    assert 0 < family["original_detector_s"] <= original["detect"]
    assert fake["detect"] < 0.25 * original["detect"]  # fakes reuse their original's tracks
    assert family["family_wall_s"] > 0 and family["gpu_util"] is None


def test_projection_is_labelled_and_spelled_out(run: dict[str, Any]) -> None:
    projection = run["report"]["projection"]
    assert projection["kind"] == "projected" and projection["detection_measured_on"] == "cpu"
    inputs = projection["inputs"]
    assert (inputs["clips"], inputs["originals"], inputs["fakes"]) == (119_154, 19_154, 100_000)
    assert inputs["cpu_s_per_original"] > 0 and inputs["cpu_s_per_fake"] > 0
    assert set(projection["machines"]) == {"16 cores + 1 GPU", "96 cores + 8 GPUs"}
    for machine in projection["machines"].values():
        assert machine["kind"] == "projected" and machine["formula"].startswith("wall_s = ")
        assert machine["wall_s"] > 0 and machine["clips_per_s"] > 0
    assert projection["assumptions"] and all(isinstance(f, str) for f in projection["formulas"].values())


def test_tables_are_printed(run: dict[str, Any]) -> None:
    stdout = run["stdout"]
    for heading in ("MTCNN on cpu", "Decode, RGB every 10th frame", "One family in-process", "PROJECTED"):
        assert heading in stdout
    assert "unavailable" in stdout or all(
        run["report"]["decode"]["decoders"][name]["available"] for name in DECODER_MODULES
    )
