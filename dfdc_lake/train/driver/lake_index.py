"""What training knows about a lake, taken from its commit records only (never from listing shards).

For each committed chunk: its shards of the wanted format and the videos it holds (family, part,
label, sample count, from the record's ``outcomes``). Folds are dealt from these videos and each
side reads only the shards of chunks that hold one of its families.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from dfdc_lake.errors import LakeCommitError
from dfdc_lake.lake.commit import CommitRecord
from dfdc_lake.lake.lake import Lake
from dfdc_lake.records import Outcome
from dfdc_lake.train.driver.folds import VideoRef

__all__ = ["ChunkEntry", "LakeIndex", "read_lake_index"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkEntry:
    """One committed chunk as training sees it."""

    chunk_id: str
    shard_urls: tuple[str, ...]  # absolute URLs of the wanted format
    families: frozenset[str]  # families with at least one sample in the chunk
    num_samples: int


@dataclass
class LakeIndex:
    """Committed chunks and videos of a lake, for one shard format."""

    lake: Lake
    fmt: str
    chunks: list[ChunkEntry]
    videos: list[VideoRef]  # videos with at least one sample
    samples_per_video: dict[str, int]
    config_hashes: set[str] = field(default_factory=set)
    skipped_videos: int = 0  # committed videos without samples (no face, broken)

    def shard_urls(self, families: Iterable[str]) -> list[str]:
        """Shards of every chunk holding at least one of ``families``."""
        wanted = frozenset(families)
        return [url for c in self.chunks if c.families & wanted for url in c.shard_urls]


def _chunk_entry(lake: Lake, record: CommitRecord, fmt: str) -> tuple[ChunkEntry, list[Outcome]]:
    urls = tuple(lake.shard_urls(fmt, records=[record]))
    outcomes = [o for o in record.outcomes if o.num_samples > 0]
    families = frozenset(o.family_id for o in outcomes)
    return ChunkEntry(record.chunk_id, urls, families, record.num_samples), outcomes


def read_lake_index(lake: Lake, fmt: str = "parquet") -> LakeIndex:
    """Index a lake's committed chunks for training.

    Raises:
        LakeCommitError: the lake has no commit records, or none with shards of format ``fmt``.
    """
    records = lake.commits()
    if not records:
        raise LakeCommitError(
            f"{lake.url} has no committed chunks (no commits/*.json); run `dfdc-lake ingest` first"
        )
    chunks: list[ChunkEntry] = []
    videos: list[VideoRef] = []
    samples: dict[str, int] = {}
    hashes: set[str] = set()
    skipped = 0
    for record in records:
        entry, outcomes = _chunk_entry(lake, record, fmt)
        skipped += len(record.outcomes) - len(outcomes)
        if entry.num_samples and not entry.shard_urls:
            raise LakeCommitError(
                f"chunk {entry.chunk_id} of {lake.url} has no {fmt} shards; it was ingested with other "
                f"lake.formats (use --format to pick one it has)"
            )
        chunks.append(entry)
        hashes.add(record.config_hash)
        for o in outcomes:
            videos.append(VideoRef(o.video_id, o.family_id, o.part, o.label == "FAKE"))
            samples[o.video_id] = o.num_samples
    if not videos:
        raise LakeCommitError(
            f"{lake.url} has committed chunks but no samples (every video failed or had no face)"
        )
    if len(hashes) > 1:
        log.warning("lake %s mixes chunks of %d ingest configs: %s", lake.url, len(hashes), sorted(hashes))
    return LakeIndex(lake, fmt, chunks, videos, samples, hashes, skipped)
