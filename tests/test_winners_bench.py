"""bench/winners.py, the rebuilt DFDC winners' preprocessing: faces of originals, cut from each fake too."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from PIL import Image

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_winners_baseline_cuts_each_fake_at_its_originals_boxes(tiny_corpus: Path, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("bench_winners", BENCH / "winners.py")
    assert spec is not None and spec.loader is not None
    winners = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = winners
    spec.loader.exec_module(winners)

    run = winners.run(tiny_corpus, tmp_path / "crops", threads=1)
    metadata = {}
    for part in tiny_corpus.glob("dfdc_train_part_*"):
        metadata.update(json.loads((part / "metadata.json").read_text()))
    with_original = [n for n, e in metadata.items() if e["label"] == "REAL" or e.get("original") in metadata]
    assert run.clips == len(with_original) and run.crops > 0 and run.png_bytes > 0
    written = sorted((tmp_path / "crops").rglob("*.png"))
    assert len(written) == run.crops
    assert sum(p.stat().st_size for p in written) == run.png_bytes
    with Image.open(written[0]) as image:
        assert image.format == "PNG" and min(image.size) > 0
    # A fake that decodes gets the crops of its original's frames and faces, by the same names.
    names = {
        folder.name: sorted(p.name for p in folder.glob("*.png")) for folder in (tmp_path / "crops").iterdir()
    }
    pairs = [
        (Path(n).stem, Path(e["original"]).stem)
        for n, e in metadata.items()
        if e["label"] == "FAKE" and e.get("original") in metadata
    ]
    compared = [(fake, original) for fake, original in pairs if names.get(fake) and names.get(original)]
    assert compared
    for fake, original in compared:
        assert set(names[fake]) <= set(names[original])
