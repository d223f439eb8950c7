"""The families the report draws: a deterministic sample, and only their rows read from the lake.

A big lake stays fast to report on because only the shards of chunks holding a chosen family are
opened (:meth:`Lake.shard_urls` with ``families=``, from the commit records) and only the rows of those
families are kept (a Parquet filter on ``family_id``; row groups whose statistics exclude them are
skipped). The sample is the families whose sha256 of the id sorts first: stable from run to run and
spread over parts, with no random state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from dfdc_lake.errors import DfdcLakeError, StorageError
from dfdc_lake.lake.commit import CommitRecord
from dfdc_lake.lake.reader import ShardReader
from dfdc_lake.records import Outcome

if TYPE_CHECKING:
    from dfdc_lake.lake.lake import Lake

__all__ = ["ROW_COLUMNS", "FamilyView", "ReportError", "VideoView", "choose_families", "read_families"]

ROW_COLUMNS = [
    "video_id", "family_id", "track_id", "num_tracks", "frame_indices", "timestamps_s", "det_scores",
    "crops_jpeg", "face_fake", "audio_fake", "has_audio", "logmel_f16", "logmel_shape", "logmel_hop_s",
    "face_diff", "audio_diff_db",
]  # fmt: skip


class ReportError(DfdcLakeError, ValueError):
    """The report was asked for something the lake does not hold (an unknown family id)."""


@dataclass
class VideoView:
    """One video of a family: its outcome and its rows (one per face track, by track id)."""

    outcome: Outcome
    tracks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_original(self) -> bool:
        return self.outcome.label == "REAL"

    def logmel_db(self) -> np.ndarray | None:
        """The video's log-mel spectrogram ``[n_mels, n_frames]`` (every track carries the same one)."""
        for row in self.tracks:
            if row.get("logmel_f16") is not None and row.get("logmel_shape"):
                n_mels, n_frames = row["logmel_shape"]
                return (
                    np.frombuffer(row["logmel_f16"], dtype="<f2").reshape(n_mels, n_frames).astype(np.float32)
                )
        return None


@dataclass
class FamilyView:
    """A family as its page shows it: the original first, then each fake."""

    family_id: str
    videos: list[VideoView]
    unreadable: list[str] = field(default_factory=list)  # shards of its chunks that could not be read

    @property
    def original(self) -> VideoView | None:
        return next((v for v in self.videos if v.is_original), None)

    @property
    def fakes(self) -> list[VideoView]:
        return [v for v in self.videos if not v.is_original]

    @property
    def part(self) -> int:
        return self.videos[0].outcome.part if self.videos else -1


def _sample_key(family_id: str) -> str:
    return hashlib.sha256(family_id.encode()).hexdigest()


def choose_families(records: list[CommitRecord], count: int, explicit: Iterable[str] = ()) -> list[str]:
    """``explicit`` families, then up to ``count`` more with samples, picked by the hash of their id.

    Raises:
        ReportError: an explicit family id that no commit record holds.
    """
    known = {o.family_id for r in records for o in r.outcomes}
    with_samples = {o.family_id for r in records for o in r.outcomes if o.num_samples > 0}
    wanted = list(dict.fromkeys(explicit))
    unknown = [family_id for family_id in wanted if family_id not in known]
    if unknown:
        raise ReportError(
            f"family {unknown[0]!r} is not in the lake's commit records ({len(known)} families)"
        )
    sampled = sorted(with_samples - set(wanted), key=_sample_key)[: max(0, count)]
    return wanted + sampled


def _read_rows(
    lake: Lake, records: list[CommitRecord], family_ids: list[str], skip: set[str]
) -> tuple[list[dict[str, Any]], list[str]]:
    import pyarrow as pa
    import pyarrow.compute as pc

    reader = ShardReader.of(lake, "parquet", columns=ROW_COLUMNS, read_ahead_batches=0, batch_rows=1024)
    wanted = pa.array(family_ids)
    rows: list[dict[str, Any]] = []
    unreadable: list[str] = []
    for url in lake.shard_urls("parquet", families=family_ids, records=records):
        rel = lake.storage.rel(url)
        if rel in skip:
            unreadable.append(f"{rel}: missing or of the wrong size")
            continue
        try:  # shard by shard, so one damaged shard costs only its own rows
            batches = list(reader.parquet_batches([lake.arrow_path(url)]))
        except StorageError:
            raise
        except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
            unreadable.append(f"{rel}: {type(err).__name__}: {str(err)[:200]}")
            continue
        for batch in batches:
            rows.extend(batch.filter(pc.is_in(batch.column("family_id"), value_set=wanted)).to_pylist())
    return rows, unreadable


def read_families(
    lake: Lake, records: list[CommitRecord], family_ids: list[str], skip: Collection[str] = frozenset()
) -> list[FamilyView]:
    """The chosen families with their outcomes (from the records) and rows (from their shards only).

    Args:
        lake: the lake.
        records: its commit records.
        family_ids: the families to read, in page order.
        skip: lake-relative shard paths known to be missing or damaged (not opened).
    """
    rows, unreadable = _read_rows(lake, records, family_ids, set(skip)) if family_ids else ([], [])
    by_video: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_video.setdefault(row["video_id"], []).append(row)
    views: dict[str, list[VideoView]] = {family_id: [] for family_id in family_ids}
    chunks: dict[str, set[str]] = {family_id: set() for family_id in family_ids}
    for record in records:
        for outcome in record.outcomes:
            if outcome.family_id in views:
                tracks = sorted(by_video.get(outcome.video_id, []), key=lambda r: r["track_id"])
                views[outcome.family_id].append(VideoView(outcome, tracks))
                chunks[outcome.family_id].add(f"chunks/{record.chunk_id}/")
    families = []
    for family_id in family_ids:
        videos = sorted(views[family_id], key=lambda v: (not v.is_original, v.outcome.video_id))
        own = [text for text in unreadable if text.startswith(tuple(chunks[family_id]))]
        families.append(FamilyView(family_id, videos, own))
    return families
