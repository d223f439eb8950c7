"""Hostile inputs: each gets a clear outcome (a per-video reason in the commit record) or a clear CLI error."""

from __future__ import annotations

import pytest

from dfdc_lake.cli import main
from dfdc_lake.config import Config
from dfdc_lake.ingest.driver import ingest
from dfdc_lake.lake.lake import Lake
from dfdc_lake.lake.reader import read_samples_table
from tests.fixtures.hostile import BAD_METADATA, write_bad_metadata
from tests.ingest.helpers import assert_accounted_once, verify_clean_after_gc

EXPECTED_STATUS = {
    "okrealaaaa.mp4": {"ok"},
    "audioonlya.mp4": {"no_video_stream"},
    "oneframeaa.mp4": {"ok"},
    "hugeresaaa.mp4": {"ok"},
    "vfrclipaaa.mp4": {"ok"},
    "notvideoaa.mp4": {"decode_error"},
    "missingaaa.mp4": {"missing"},
}


@pytest.mark.ray
@pytest.mark.slow
def test_hostile_videos_become_outcomes_and_the_rest_commits(hostile_source, ray_cluster, tmp_path):
    root, kinds = hostile_source
    lake = str(tmp_path / "lake")
    config = Config().with_overrides(["decode.frame_stride=2"])  # the VFR pattern repeats every 3 frames
    report = ingest(str(root), Lake.open(lake), config, address=ray_cluster.address)
    assert report.ok, report.failed_chunks
    outcomes = assert_accounted_once(str(root), lake)
    assert set(outcomes) == set(kinds)  # the name listed in both parts is catalogued once
    for name, expected in EXPECTED_STATUS.items():
        assert outcomes[name]["status"] in expected, (name, outcomes[name])
        if outcomes[name]["status"] != "ok":
            assert outcomes[name]["reason"], outcomes[name]
    assert outcomes["okrealaaaa.mp4"]["part"] == 0
    rows = {row["filename"]: row for row in read_samples_table(Lake.open(lake)).to_pylist()}
    assert rows["hugeresaaa.mp4"]["source_width_px"] == 7680
    # The variable-frame-rate clip keeps its real presentation times, not index / average fps.
    vfr = rows["vfrclipaaa.mp4"]
    gaps = {round(b - a, 3) for a, b in zip(vfr["timestamps_s"], vfr["timestamps_s"][1:], strict=False)}
    assert len(gaps) > 1, vfr["timestamps_s"]
    verify_clean_after_gc(lake)


@pytest.mark.parametrize("kind", sorted(BAD_METADATA))
def test_unusable_metadata_is_a_clear_cli_error_naming_the_file(kind, tmp_path, capsys):
    source = write_bad_metadata(tmp_path, kind)
    code = main(["ingest", str(source), str(tmp_path / "lake"), "--address", "local"])
    err = capsys.readouterr().err
    assert code == 2
    assert "metadata.json" in err and "Traceback" not in err
    assert not (tmp_path / "lake" / "commits").exists()
