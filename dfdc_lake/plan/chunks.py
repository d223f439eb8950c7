"""The chunk plan: families packed into chunks, the unit of work and of commit.

Deterministic for a catalog and ``lake.videos_per_chunk``: families are sorted by (part, family_id) and
packed greedily, never split, so chunk ids are stable across runs and a rerun finds its commits.
A chunk is then split into family groups, one task each, started largest first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dfdc_lake.plan.clip_costs import catalog_cost
from dfdc_lake.records import Family, VideoEntry

__all__ = ["Chunk", "FamilyGroup", "family_groups", "family_part", "largest_first", "plan_chunks"]


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    part: int
    families: tuple[Family, ...]

    @property
    def videos(self) -> list[VideoEntry]:
        return [video for family in self.families for video in family.videos]

    @property
    def num_videos(self) -> int:
        return sum(len(family.videos) for family in self.families)


def family_part(family: Family) -> int:
    """The part a family is filed under: its original's, else the lowest of its fakes'."""
    if family.original is not None:
        return family.original.part
    return min(video.part for video in family.fakes)


def plan_chunks(families: Iterable[Family], videos_per_chunk: int) -> list[Chunk]:
    """Pack families into chunks of about ``videos_per_chunk`` videos, per part.

    Args:
        families: every family of the catalog (any order).
        videos_per_chunk: a chunk is closed once it holds at least this many videos.

    Returns:
        Chunks ordered by part then index, ids ``p<part:02d>-c<index:04d>``.
    """
    if videos_per_chunk < 1:
        raise ValueError(f"videos_per_chunk must be >= 1, got {videos_per_chunk}")
    by_part: dict[int, list[Family]] = {}
    for family in families:
        by_part.setdefault(family_part(family), []).append(family)
    chunks: list[Chunk] = []
    for part in sorted(by_part):
        current: list[Family] = []
        count = 0
        index = 0
        for family in sorted(by_part[part], key=lambda f: f.family_id):
            current.append(family)
            count += len(family.videos)
            if count >= videos_per_chunk:
                chunks.append(Chunk(f"p{part:02d}-c{index:04d}", part, tuple(current)))
                current, count, index = [], 0, index + 1
        if current:
            chunks.append(Chunk(f"p{part:02d}-c{index:04d}", part, tuple(current)))
    return chunks


@dataclass(frozen=True)
class FamilyGroup:
    """Consecutive families of one chunk, processed by one task into their own shards."""

    chunk_id: str
    first_family: int  # index in the chunk of the group's first family: names its shard folder
    families: tuple[Family, ...]

    @property
    def num_videos(self) -> int:
        return sum(len(family.videos) for family in self.families)

    def shard_subdir(self, try_id: str) -> str:
        """The folder, inside the chunk attempt's, of the shards of one try of this group."""
        return f"f{self.first_family:03d}-{try_id}"


def family_groups(chunk: Chunk, min_videos: int) -> list[FamilyGroup]:
    """Split ``chunk`` into groups of consecutive families, each closed once it holds ``min_videos``.

    A family is never split; ``min_videos=1`` makes every family its own group. The split depends only
    on the chunk and ``min_videos``, so it is the same on every try of the chunk.
    """
    if min_videos < 1:
        raise ValueError(f"min_videos must be >= 1, got {min_videos}")
    groups: list[FamilyGroup] = []
    current: list[Family] = []
    first = 0
    for index, family in enumerate(chunk.families):
        if not current:
            first = index
        current.append(family)
        if sum(len(f.videos) for f in current) >= min_videos:
            groups.append(FamilyGroup(chunk.chunk_id, first, tuple(current)))
            current = []
    if current:
        groups.append(FamilyGroup(chunk.chunk_id, first, tuple(current)))
    return groups


def largest_first(groups: Sequence[FamilyGroup]) -> list[FamilyGroup]:
    """``groups`` in the order their tasks start: largest ``catalog_cost`` first, ties in plan order.

    A chunk commits when its last group is done; started last, its longest group would keep one slot
    busy while the others idle.
    """
    return sorted(groups, key=lambda group: -catalog_cost(group.families))
