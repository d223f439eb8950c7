"""The chunk plan: families packed into chunks, the unit of work and of commit.

Deterministic for a catalog and ``lake.videos_per_chunk``: families are sorted by (part, family_id) and
packed greedily, never split, so chunk ids are stable across runs and a rerun finds its commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dfdc_lake.records import Family, VideoEntry

__all__ = ["Chunk", "family_part", "plan_chunks"]


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
