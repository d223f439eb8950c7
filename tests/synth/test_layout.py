"""The tiny corpus has DFDC's layout and metadata, and its ground truth is consistent with both."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from dfdc_lake.synth.profiles import ALL_CASES
from dfdc_lake.synth.truth import TRUTH_FILENAME, ClipTruth

NAME = re.compile(r"^[a-z]{10}\.mp4$")


def _parts(root: Path) -> list[Path]:
    return sorted(root.glob("dfdc_train_part_*"))


def test_root_holds_only_dfdc_part_folders(tiny_corpus):
    names = sorted(p.name for p in tiny_corpus.iterdir())
    assert names == ["dfdc_train_part_0", "dfdc_train_part_1"]


def test_part_folders_hold_metadata_truth_and_ten_letter_mp4s(tiny_corpus):
    seen: set[str] = set()
    for part in _parts(tiny_corpus):
        files = {p.name for p in part.iterdir()}
        videos = files - {"metadata.json", TRUTH_FILENAME}
        metadata = json.loads((part / "metadata.json").read_text())
        assert videos == set(metadata), part
        assert all(NAME.match(name) for name in videos), sorted(videos)
        assert not seen & videos, "video names must be unique across parts"
        seen |= videos
        assert all(p.is_file() for p in part.iterdir())


def test_metadata_entries_are_exactly_dfdcs(tiny_corpus):
    for part in _parts(tiny_corpus):
        text = (part / "metadata.json").read_text()
        assert "\n" not in text.strip(), "DFDC's metadata.json is one JSON object on one line"
        metadata = json.loads(text)
        reals = {name for name, entry in metadata.items() if entry["label"] == "REAL"}
        assert reals
        for name, entry in metadata.items():
            assert list(entry) == ["label", "split", "original"], (name, entry)
            assert entry["split"] == "train"
            if entry["label"] == "REAL":
                assert entry["original"] is None
            else:
                assert entry["label"] == "FAKE"
                assert entry["original"] in reals, (
                    f"{name}: original {entry['original']} is not a REAL of {part.name}"
                )


def test_ground_truth_agrees_with_metadata(tiny_corpus, tiny_truth):
    for part in _parts(tiny_corpus):
        metadata = json.loads((part / "metadata.json").read_text())
        for name, entry in metadata.items():
            truth = tiny_truth[name]
            assert (truth.label, truth.original) == (entry["label"], entry["original"])
            assert truth.part == int(part.name.rsplit("_", 1)[1])
            expected_family = (entry["original"] or name).removesuffix(".mp4")
            assert truth.family_id == expected_family
            assert (truth.kind == "real") == (truth.label == "REAL")
    assert len(tiny_truth) == sum(
        len(json.loads((p / "metadata.json").read_text())) for p in _parts(tiny_corpus)
    )


def test_every_kind_and_hard_case_is_present(tiny_truth):
    kinds = {truth.kind for truth in tiny_truth.values()}
    assert kinds == {"real", "face", "voice", "both"}
    tags = {tag for truth in tiny_truth.values() for tag in truth.tags}
    assert tags == set(ALL_CASES)
    broken = sorted(truth.broken for truth in tiny_truth.values() if truth.broken)
    assert broken == ["truncated", "zero_byte"]
    families = {(truth.part, truth.family_id) for truth in tiny_truth.values()}
    assert len(families) == 2 * 3 + 6
    assert {truth.part for truth in tiny_truth.values()} == {0, 1}


def _families(truth: dict[str, ClipTruth]) -> dict[str, list[ClipTruth]]:
    families: dict[str, list[ClipTruth]] = defaultdict(list)
    for clip in truth.values():
        families[clip.family_id].append(clip)
    return families


def test_fakes_are_made_frame_by_frame_from_their_real(tiny_truth):
    for family_id, clips in _families(tiny_truth).items():
        (real,) = [clip for clip in clips if clip.label == "REAL"]
        assert real.filename == f"{family_id}.mp4"
        for fake in clips:
            geometry = (fake.width_px, fake.height_px, fake.fps_num, fake.fps_den, fake.num_frames)
            assert geometry == (real.width_px, real.height_px, real.fps_num, real.fps_den, real.num_frames)
            np.testing.assert_array_equal(fake.face_boxes_xyxy, real.face_boxes_xyxy)


def test_fake_kinds_change_what_they_say(tiny_truth):
    for clips in _families(tiny_truth).values():
        (real,) = [clip for clip in clips if clip.label == "REAL"]
        for fake in (clip for clip in clips if clip.label == "FAKE"):
            face_changed = fake.face_identities != real.face_identities
            voice_changed = fake.audio_identity != real.audio_identity
            assert face_changed == (fake.kind in ("face", "both")), fake.filename
            assert voice_changed == (fake.kind in ("voice", "both")), fake.filename
            if face_changed:
                assert fake.swapped_person is not None
                changed = [
                    i
                    for i, (a, b) in enumerate(zip(fake.face_identities, real.face_identities, strict=True))
                    if a != b
                ]
                assert changed == [fake.swapped_person], "exactly the recorded person is swapped"
            else:
                assert fake.swapped_person is None


def test_hard_cases_have_their_shape(tiny_truth):
    for clip in tiny_truth.values():
        tags = set(clip.tags)
        assert clip.num_persons == (2 if "two_people" in tags else 1)
        assert (clip.height_px > clip.width_px) == ("portrait" in tags)
        assert (clip.fps_num, clip.fps_den) == ((15, 1) if "fps15" in tags else (30000, 1001))
        assert clip.num_frames == round(2.0 * clip.fps)
        assert (clip.width_px, clip.height_px) in {(480, 270), (270, 480), (320, 180)}
        assert ((clip.width_px, clip.height_px) == (320, 180)) == ("lowres" in tags)
        assert clip.has_audio == ("no_audio" not in tags)
        assert (clip.audio_identity is None) == (not clip.has_audio)
        boxes = clip.face_boxes_xyxy
        assert boxes.shape == (clip.num_persons, clip.num_frames, 4)
        assert (boxes[..., 2] > boxes[..., 0]).all() and (boxes[..., 3] > boxes[..., 1]).all()
        assert boxes[..., 0::2].max() <= clip.width_px and boxes[..., 1::2].max() <= clip.height_px
    two = [
        clip for clip in tiny_truth.values() if "two_people" in clip.tags and clip.kind in ("face", "both")
    ]
    assert two and all(clip.swapped_person in (0, 1) for clip in two)


def test_ensure_corpus_writes_once_per_set_of_options(tmp_path):
    from dfdc_lake.synth.corpus import OPTIONS_STAMP, ensure_corpus

    options = {"parts": 1, "families": 1, "fakes_per_family": 1, "profile": "tiny", "cases": ()}
    first = ensure_corpus(tmp_path, seed=0, **options)
    assert first is not None and first.videos == 2
    metadata = tmp_path / "dfdc_train_part_0" / "metadata.json"
    names = set(json.loads(metadata.read_text()))
    written = metadata.stat().st_mtime_ns
    assert ensure_corpus(tmp_path, seed=0, **options) is None  # the same options: reused
    assert metadata.stat().st_mtime_ns == written
    assert ensure_corpus(tmp_path, seed=1, **options) is not None  # other options: rewritten
    assert set(json.loads(metadata.read_text())) != names
    (tmp_path / OPTIONS_STAMP).unlink()  # as if interrupted before the stamp: rewritten
    assert ensure_corpus(tmp_path, seed=1, **options) is not None
