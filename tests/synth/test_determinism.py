"""The same seed gives the same corpus: metadata, ground truth and (on one machine) video bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dfdc_lake.synth.corpus import metadata_document, write_corpus
from dfdc_lake.synth.plan import plan_corpus
from dfdc_lake.synth.profiles import get_profile
from dfdc_lake.synth.truth import TRUTH_FILENAME, clip_truth, truth_document
from tests.fixtures.corpus import TINY_CORPUS_ARGS

SMALL: dict[str, Any] = {
    "parts": 1,
    "families": 1,
    "fakes_per_family": 2,
    "profile": "tiny",
    "cases": ("two_people", "truncated"),
}


def _plan(seed: int):
    args = {**TINY_CORPUS_ARGS, "seed": seed, "profile": get_profile(TINY_CORPUS_ARGS["profile"])}
    return plan_corpus(**args)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_replanning_the_seed_reproduces_the_session_corpus_metadata_and_truth(tiny_corpus):
    for plan in _plan(TINY_CORPUS_ARGS["seed"]):
        part_dir = tiny_corpus / f"dfdc_train_part_{plan.part}"
        assert (part_dir / "metadata.json").read_text() == metadata_document(plan.clips)
        truths = [clip_truth(spec) for spec in plan.clips]
        expected = truth_document(plan.part, TINY_CORPUS_ARGS["seed"], "tiny", truths)
        assert (part_dir / TRUTH_FILENAME).read_text() == expected


def test_a_different_seed_gives_a_different_corpus():
    first, second = _plan(0), _plan(1)
    assert [metadata_document(p.clips) for p in first] != [metadata_document(p.clips) for p in second]
    names_first = {spec.filename for plan in first for spec in plan.clips}
    names_second = {spec.filename for plan in second for spec in plan.clips}
    assert not names_first & names_second
    scenes_first = [spec.scene for plan in first for spec in plan.clips]
    scenes_second = [spec.scene for plan in second for spec in plan.clips]
    assert scenes_first != scenes_second


def test_the_same_seed_writes_byte_identical_files_serial_or_parallel(tmp_path):
    one = write_corpus(tmp_path / "one", seed=3, **SMALL)
    two = write_corpus(tmp_path / "two", seed=3, workers=2, **SMALL)
    other = write_corpus(tmp_path / "other", seed=4, **SMALL)
    files_one, files_two = _files(one.root), _files(two.root)
    assert files_one == files_two, "metadata, ground truth and every mp4 byte-identical"
    assert any(name.endswith(".mp4") and len(data) > 1000 for name, data in files_one.items())
    assert _files(other.root) != files_one
