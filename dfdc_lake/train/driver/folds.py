"""Train/validation folds that never split a family.

Every video of a family (a REAL original and the FAKEs made from it) lands in the same fold, so the
validation side never sees a face the model trained on. ``split_by="part"`` deals whole DFDC parts
instead (how the winners held out data); a family then goes with the part of its original, so it is
never split either. Assignment is deterministic for a seed and written with the run (``folds.json``);
a resumed run reads it back instead of dealing again, so a lake that grew meanwhile cannot move a
family across the line.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dfdc_lake.errors import ConfigError

__all__ = ["FoldAssignment", "VideoRef", "assign_folds"]


@dataclass(frozen=True)
class VideoRef:
    """What fold assignment needs to know about one committed video."""

    video_id: str
    family_id: str
    part: int
    is_fake: bool


@dataclass
class FoldAssignment:
    """Which fold each family is in, and which fold validates."""

    split_by: str
    seed: int
    num_folds: int
    val_fold: int
    family_fold: dict[str, int]
    family_part: dict[str, int]
    val_parts: list[int] | None = None
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def side(self, family_id: str) -> str | None:
        """'train', 'val', or None for a family the assignment does not know (added to the lake later)."""
        fold = self.family_fold.get(family_id)
        if fold is None:
            return None
        return "val" if fold == self.val_fold else "train"

    def families(self, side: str) -> frozenset[str]:
        """The family ids on one side ('train' or 'val')."""
        return frozenset(f for f in self.family_fold if self.side(f) == side)

    def to_json(self) -> str:
        """The document written as ``folds.json``."""
        payload = {
            "split_by": self.split_by,
            "seed": self.seed,
            "num_folds": self.num_folds,
            "val_fold": self.val_fold,
            "val_parts": self.val_parts,
            "counts": self.counts,
            "family_fold": dict(sorted(self.family_fold.items())),
            "family_part": dict(sorted(self.family_part.items())),
        }
        return json.dumps(payload, indent=1)

    @classmethod
    def from_json(cls, text: str) -> FoldAssignment:
        """Parse a ``folds.json`` document."""
        data = json.loads(text)
        return cls(
            split_by=data["split_by"],
            seed=int(data["seed"]),
            num_folds=int(data["num_folds"]),
            val_fold=int(data["val_fold"]),
            family_fold={str(k): int(v) for k, v in data["family_fold"].items()},
            family_part={str(k): int(v) for k, v in data["family_part"].items()},
            val_parts=data.get("val_parts"),
            counts=data.get("counts", {}),
        )


def _seeded_key(seed: int, name: str) -> str:
    return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()


def _deal(sizes: dict[Any, int], num_folds: int, seed: int) -> dict[Any, int]:
    """Greedy balanced dealing: largest groups first (seeded order among equals) into the lightest fold."""
    order = sorted(sizes, key=lambda g: (-sizes[g], _seeded_key(seed, str(g))))
    load = [0] * num_folds
    fold_of: dict[Any, int] = {}
    for group in order:
        fold = min(range(num_folds), key=lambda k: (load[k], k))
        fold_of[group] = fold
        load[fold] += sizes[group]
    return fold_of


def _family_parts(videos: list[VideoRef]) -> dict[str, int]:
    """A family's part is its original's part (the lowest part of its fakes if the original is absent)."""
    original_part = {v.family_id: v.part for v in videos if v.video_id == v.family_id}
    lowest: dict[str, int] = {}
    for v in videos:
        lowest[v.family_id] = min(lowest.get(v.family_id, v.part), v.part)
    return {fid: original_part.get(fid, part) for fid, part in lowest.items()}


def assign_folds(
    videos: Iterable[VideoRef],
    *,
    split_by: str = "family",
    num_folds: int = 5,
    val_fold: int = 0,
    seed: int = 0,
    val_parts: Iterable[int] | None = None,
) -> FoldAssignment:
    """Deal the families of ``videos`` into folds; deterministic for (videos, settings, seed).

    Raises:
        ConfigError: when a side would be empty (e.g. fewer parts than folds), or a part is unknown.
    """
    videos = list(videos)
    family_part = _family_parts(videos)
    family_size: dict[str, int] = defaultdict(int)
    for v in videos:
        family_size[v.family_id] += 1
    parts_wanted = sorted(set(val_parts)) if val_parts is not None else None
    if split_by == "family":
        family_fold = _deal(dict(family_size), num_folds, seed)
    elif split_by == "part":
        part_size: dict[int, int] = defaultdict(int)
        for fid, size in family_size.items():
            part_size[family_part[fid]] += size
        if parts_wanted is not None:
            unknown = sorted(set(parts_wanted) - set(part_size))
            if unknown:
                raise ConfigError(
                    f"val_parts {unknown} hold no committed videos; parts present: {sorted(part_size)}"
                )
            part_fold = {
                p: (val_fold if p in parts_wanted else (val_fold + 1) % num_folds) for p in part_size
            }
        else:
            part_fold = _deal(dict(part_size), num_folds, seed)
        family_fold = {fid: part_fold[family_part[fid]] for fid in family_size}
    else:
        raise ConfigError(f"split_by must be 'family' or 'part', not {split_by!r}")
    result = FoldAssignment(split_by, seed, num_folds, val_fold, family_fold, family_part, parts_wanted)
    result.counts = _count(result, videos)
    for side in ("train", "val"):
        if result.counts[side]["videos"] == 0:
            raise ConfigError(
                f"the {side} side of fold {val_fold}/{num_folds} (split by {split_by}) is empty: "
                f"{len(family_size)} families in {len(set(family_part.values()))} parts; use fewer folds"
                + (" or --val-parts" if split_by == "part" else "")
            )
    return result


def _count(assignment: FoldAssignment, videos: list[VideoRef]) -> dict[str, dict[str, int]]:
    counts = {s: {"families": 0, "videos": 0, "fakes": 0, "reals": 0} for s in ("train", "val")}
    for fid in assignment.family_fold:
        counts[assignment.side(fid) or "train"]["families"] += 1
    for v in videos:
        side = assignment.side(v.family_id) or "train"
        counts[side]["videos"] += 1
        counts[side]["fakes" if v.is_fake else "reals"] += 1
    return counts
