"""The dfdc recipe end to end: ``dfdc-lake train --recipe dfdc`` trains on CPU, and ``--preview N``
writes a page of augmented crops that headless Chromium shows whole."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.report.helpers import check_images
from tests.report.test_browser import _CONSOLE, _HARNESS, _chromium, chromium  # noqa: F401  (fixture)
from tests.train.conftest import run_cli
from tests.train.test_model_settings import write_hf_cache


@pytest.mark.slow
def test_the_dfdc_recipe_trains_on_cpu_with_pretrained_weights_from_the_cache(
    synth_lake: Path, ray_driver: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The recipe asks for pretrained weights: they come from a Hugging Face cache this test writes
    # (offline), resolved on the driver and loaded by the Ray worker from that file.
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import timm

    state = {k: v.contiguous() for k, v in timm.create_model("efficientnet_b0").state_dict().items()}
    weights = write_hf_cache(tmp_path / "hf", "efficientnet_b0", state)
    storage = tmp_path / "runs"
    argv = [
        "train", str(synth_lake), "--storage-path", str(storage), "--name", "r", "--recipe", "dfdc",
        "--set", "backbone=efficientnet_b0", "--set", "image_size_px=64", "--set", "epochs=1",
        "--set", "batch_size=8", "--address", ray_driver,
    ]  # fmt: skip
    code, stdout = run_cli(argv)
    assert code == 0, stdout
    records = [json.loads(line) for line in (storage / "r" / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 1 and records[0]["val_log_loss"] is not None and records[0]["val_log_loss"] > 0
    assert records[0]["val_aggregation"] == "confident"
    run = json.loads((storage / "r" / "run.json").read_text())
    assert run["train_config"]["recipe"] == "dfdc" and run["train_config"]["augmentation"] == "dfdc"
    assert run["video_aggregation"] == "confident"
    assert weights.is_file()


def test_preview_writes_augmented_crops_that_chromium_shows(
    chromium: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from tests.report.helpers import write_small_lake

    lake = write_small_lake(str(tmp_path / "lake"))
    argv = ["train", lake.url, "--storage-path", str(tmp_path / "runs"), "--name", "p", "--recipe", "dfdc",
            "--set", "image_size_px=96", "--preview", "5"]  # fmt: skip
    code, stdout = run_cli(argv)
    assert code == 0, stdout
    page = tmp_path / "runs" / "p" / "augmentations.html"
    assert json.loads(stdout)["preview"] == str(page)
    assert check_images(page) == 5 * (1 + 4)  # the stored crop and the 4 training crops of each sample
    harness = page.parent / "_harness.html"
    harness.write_text(_HARNESS.format(frames=f'<iframe src="{page.name}"></iframe>'))
    result = _chromium(chromium, harness.as_uri(), tmp_path, "--allow-file-access-from-files",
                       "--virtual-time-budget=10000", "--dump-dom")  # fmt: skip
    found = re.search(r'<pre id="result">(.*?)</pre>', result.stdout, re.S)
    assert found and found.group(1), f"the harness did not run; stderr:\n{result.stderr[-2000:]}"
    (entry,) = json.loads(found.group(1).replace("&quot;", '"'))
    assert entry["images"] == 25 and entry["broken"] == []
    assert entry["title"].startswith("dfdc recipe: training crops")
    assert _CONSOLE.findall(result.stderr) == []
