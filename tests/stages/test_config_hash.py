"""The config hash is stable, follows every processing field and ignores scheduling."""

from __future__ import annotations

import subprocess
import sys

from dfdc_lake.config import Config


def test_hash_is_stable_across_processes() -> None:
    code = "from dfdc_lake.config import Config; print(Config().config_hash())"
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert (
        other
        == Config().config_hash()
        == Config.model_validate(Config().model_dump(mode="json")).config_hash()
    )
    assert len(other) == 16


def test_hash_changes_with_processing_fields_only() -> None:
    base = Config().config_hash()
    for override in [
        "decode.frame_stride=5",
        "faces.detect_max_side_px=480",
        "faces.min_track_share=0.5",
        "crops.margin=0.2",
        "crops.jpeg_quality=80",
        "audio.n_mels=80",
        "labels.face_fake_above=9.5",
    ]:
        assert Config().with_overrides([override]).config_hash() != base, override
    assert Config().with_overrides(["ray.gpus_per_detector=1.0"]).config_hash() == base
