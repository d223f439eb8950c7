"""``plan`` on a source whose FAKEs have no original in it (like the shared DFDC sample): ingest detects
faces on each such fake, as on an original, so the sample must measure and price them that way."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dfdc_lake.config import Config
from dfdc_lake.plan import clip_costs
from dfdc_lake.plan.chunks import plan_chunks
from dfdc_lake.plan.estimate import RAY_SLOWDOWN, estimate_run
from dfdc_lake.source.catalog import load_catalog


@pytest.fixture
def orphan_fakes(tiny_corpus: Path, tmp_path: Path) -> Path:
    """A one-part source holding two FAKEs of one family of the tiny corpus, without their REAL."""
    part = tiny_corpus / "dfdc_train_part_0"
    metadata = json.loads((part / "metadata.json").read_text())
    fakes = sorted(
        (name for name, entry in metadata.items() if entry["label"] == "FAKE" and entry.get("original")),
        key=lambda name: (metadata[name]["original"], name),
    )
    family = [name for name in fakes if metadata[name]["original"] == metadata[fakes[0]]["original"]][:2]
    assert len(family) == 2
    out = tmp_path / "orphans" / "dfdc_train_part_0"
    out.mkdir(parents=True)
    for name in family:
        shutil.copyfile(part / name, out / name)
    (out / "metadata.json").write_text(json.dumps({name: metadata[name] for name in family}))
    return out.parent


def test_fakes_without_originals_are_measured_and_priced_as_originals(
    orphan_fakes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clip_costs, "MIN_SAMPLE_S", 0.0)  # one timed pass is enough here
    families = load_catalog(str(orphan_fakes)).families()
    assert len(families) == 1 and families[0].original is None and len(families[0].fakes) == 2
    config = Config()

    costs = clip_costs.measure_clip_costs(families, config, sample_families=1)

    # Both fakes were detected on their own: they are the sample's originals, timed with detection.
    assert (costs.originals, costs.fakes, costs.passes) == (2, 0, 1)
    assert costs.s_per_original > costs.detect_s_per_original > 0
    assert all(costs.bytes_per_original[fmt] > 0 for fmt in config.lake.formats)
    estimate = estimate_run(costs, plan_chunks(families, config.lake.videos_per_chunk), config, cores=1)
    assert (estimate.originals, estimate.fakes) == (2, 0)
    assert estimate.processing_s == pytest.approx(RAY_SLOWDOWN * 2 * costs.s_per_original)
    assert estimate.processing_s > 0
