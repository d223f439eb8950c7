"""What training knows about a lake, taken from its commit records (never from listing shards).

For each committed chunk: its shards of the wanted format (with their row counts) and the videos it
holds (family, part, label, sample count, from the record's ``outcomes``). Folds are dealt from these
videos and each side reads only the shards of chunks that hold one of its families.
:func:`shard_family_ids` reads which family each row holds (once per run, for the sample order).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from dfdc_lake.errors import LakeCommitError
from dfdc_lake.lake.commit import CommitRecord
from dfdc_lake.lake.lake import Lake
from dfdc_lake.records import Outcome
from dfdc_lake.train.driver.folds import VideoRef

__all__ = ["ChunkEntry", "LakeIndex", "read_lake_index", "shard_family_ids"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkEntry:
    """One committed chunk as training sees it."""

    chunk_id: str
    shard_urls: tuple[str, ...]  # absolute URLs of the wanted format
    families: frozenset[str]  # families with at least one sample in the chunk
    num_samples: int
    shard_rows: tuple[int, ...] = ()  # rows of each of shard_urls
    parquet_urls: tuple[str, ...] = ()  # the chunk's Parquet shards (the same rows, in the same order)


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
    rows = tuple(shard.rows for shard in record.shards_of(fmt) if shard.rows)  # as shard_urls filters
    parquet = tuple(lake.shard_urls("parquet", records=[record]))
    outcomes = [o for o in record.outcomes if o.num_samples > 0]
    families = frozenset(o.family_id for o in outcomes)
    return ChunkEntry(record.chunk_id, urls, families, record.num_samples, rows, parquet), outcomes


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


def shard_family_ids(index: LakeIndex, families: Iterable[str]) -> Iterator[tuple[str, list[str]]]:
    """Each shard of the chunks holding ``families``: its path (filesystem terms) and its rows' family ids.

    Read from the Parquet ``family_id`` column wherever the chunk has Parquet shards, even when
    training reads WebDataset: a chunk's writers take one stream of samples, so both formats hold the
    same rows in the same order, and the record's row counts cut that sequence into tars. Only a
    WebDataset-only chunk has its tars read whole.

    Raises:
        LakeCommitError: the shards hold another number of rows than the commit record says.
    """
    from dfdc_lake.lake.reader import ShardReader

    filesystem: Any = index.lake.arrow_filesystem()[0]
    column = ShardReader(filesystem, "parquet", columns=["family_id"])
    wanted = frozenset(families)
    for chunk in index.chunks:
        if not chunk.families & wanted:
            continue
        paths = [index.lake.arrow_path(u) for u in chunk.shard_urls]
        if not chunk.parquet_urls:
            tars = ShardReader(filesystem, index.fmt)
            yield from ((path, [r["family_id"] for r in tars.rows([path])]) for path in paths)
            continue
        sequence = [
            r["family_id"] for r in column.rows([index.lake.arrow_path(u) for u in chunk.parquet_urls])
        ]
        if len(sequence) != sum(chunk.shard_rows):
            raise LakeCommitError(
                f"chunk {chunk.chunk_id} of {index.lake.url}: its Parquet shards hold {len(sequence)} rows, "
                f"its record says {sum(chunk.shard_rows)}; run `dfdc-lake verify`"
            )
        ends = list(accumulate(chunk.shard_rows))
        for path, start, stop in zip(paths, [0, *ends[:-1]], ends, strict=True):
            yield path, sequence[start:stop]
