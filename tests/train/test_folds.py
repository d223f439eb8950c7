"""Fold assignment: families (or parts) never straddle the train/validation line; deterministic per seed."""

from __future__ import annotations

import pytest

from dfdc_lake.errors import ConfigError
from dfdc_lake.train.driver.folds import FoldAssignment, VideoRef, assign_folds


def _corpus(families: int = 30, parts: int = 5) -> list[VideoRef]:
    videos = []
    for f in range(families):
        fid = f"real{f:03d}"
        part = f % parts
        videos.append(VideoRef(fid, fid, part, False))
        videos += [VideoRef(f"fake{f:03d}x{k}", fid, part, True) for k in range(1 + f % 6)]
    return videos


def _sides(assignment: FoldAssignment, videos: list[VideoRef]) -> dict[str, set[str]]:
    sides: dict[str, set[str]] = {"train": set(), "val": set()}
    for v in videos:
        sides[assignment.side(v.family_id) or "?"].add(v.family_id)
    return sides


@pytest.mark.parametrize("val_fold", [0, 2, 4])
def test_family_split_keeps_each_family_on_one_side(val_fold: int) -> None:
    videos = _corpus()
    folds = assign_folds(videos, num_folds=5, val_fold=val_fold, seed=3)
    sides = _sides(folds, videos)
    assert sides["train"] and sides["val"] and not (sides["train"] & sides["val"])
    counts = folds.counts
    assert counts["train"]["videos"] + counts["val"]["videos"] == len(videos)
    # Balanced dealing: the validation fold holds roughly a fifth of the videos.
    assert 0.12 < counts["val"]["videos"] / len(videos) < 0.28


def test_assignment_is_deterministic_for_a_seed_and_survives_json() -> None:
    videos = _corpus()
    first = assign_folds(videos, seed=1)
    assert assign_folds(list(reversed(videos)), seed=1).family_fold == first.family_fold
    assert assign_folds(videos, seed=2).family_fold != first.family_fold
    again = FoldAssignment.from_json(first.to_json())
    assert again.family_fold == first.family_fold and again.families("val") == first.families("val")
    assert again.side("a family added later") is None


def test_part_split_holds_out_whole_parts_and_families() -> None:
    videos = _corpus(parts=5)
    folds = assign_folds(videos, split_by="part", val_parts=[1, 3])
    for v in videos:
        assert (folds.side(v.family_id) == "val") == (v.part in (1, 3))
    dealt = assign_folds(videos, split_by="part", num_folds=5, val_fold=0, seed=0)
    val_parts = {v.part for v in videos if dealt.side(v.family_id) == "val"}
    train_parts = {v.part for v in videos if dealt.side(v.family_id) == "train"}
    assert len(val_parts) == 1 and not (val_parts & train_parts)


def test_part_split_follows_the_original_when_a_family_spans_parts() -> None:
    videos = [
        VideoRef("orig", "orig", 4, False),
        VideoRef("fakeA", "orig", 4, True),
        VideoRef("fakeB", "orig", 7, True),  # filed in another part: must not leak into part 7's side
        VideoRef("other", "other", 7, False),
        VideoRef("otherfake", "other", 7, True),
    ]
    folds = assign_folds(videos, split_by="part", val_parts=[7])
    assert folds.side("orig") == "train" and folds.side("other") == "val"
    assert _sides(folds, videos)["val"] == {"other"}


def test_an_empty_side_is_a_configuration_error() -> None:
    videos = _corpus(families=4, parts=2)
    with pytest.raises(ConfigError, match="empty"):
        assign_folds(videos, split_by="part", num_folds=5, val_fold=4)
    with pytest.raises(ConfigError, match="hold no committed videos"):
        assign_folds(videos, split_by="part", val_parts=[9])
