"""Tiny seeded synthetic ``Sample``s (a few small real JPEGs, a small log-mel) and lake helpers for the
lake tests. The real processing stages are not needed to exercise the storage layer.
"""

from __future__ import annotations

import io
import math
import string
from collections.abc import Iterator
from typing import Any

import numpy as np
from PIL import Image

from dfdc_lake.config import Config
from dfdc_lake.lake.commit import CommitRecord, new_attempt_id
from dfdc_lake.lake.lake import Lake
from dfdc_lake.lake.runs import PlannedChunk, RunPlan, RunRecord
from dfdc_lake.lake.storage import Storage
from dfdc_lake.lake.wds_format import members_to_row
from dfdc_lake.lake.writers import ChunkWriter
from dfdc_lake.records import AudioFeatures, Outcome, OutcomeStatus, Sample, VideoInfo

CONFIG_HASH = "0123456789abcdef"


def jpeg_bytes(rng: np.random.Generator, side_px: int = 24) -> bytes:
    """A small real JPEG of random pixels."""
    pixels = rng.integers(0, 256, size=(side_px, side_px, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def video_id(rng: np.random.Generator) -> str:
    return "".join(rng.choice(list(string.ascii_lowercase), size=10))


def make_sample(
    rng: np.random.Generator,
    vid: str | None = None,
    track_id: int = 0,
    frames: int = 3,
    with_audio: bool = True,
    label: str = "REAL",
    crop_px: int = 24,
    config_hash: str = CONFIG_HASH,
) -> Sample:
    """One fake sample; its second detection score is NaN (a gap-filled box)."""
    vid = vid or video_id(rng)
    indices = np.arange(frames, dtype=np.int32) * 10
    scores = rng.uniform(0.9, 1.0, size=frames).astype(np.float32)
    if frames > 1:
        scores[1] = np.nan
    original = None if label == "REAL" else "aaaaaaaaaa.mp4"
    return Sample(
        sample_id=f"{vid}-t{track_id}",
        video_id=vid,
        filename=f"{vid}.mp4",
        part=int(rng.integers(0, 50)),
        family_id=vid if original is None else "aaaaaaaaaa",
        original=original,
        label=label,  # type: ignore[arg-type]
        face_fake=label == "FAKE",
        audio_fake=False if with_audio else None,
        track_id=track_id,
        num_tracks=track_id + 1,
        frame_indices=indices,
        timestamps_s=(indices / 30.0).astype(np.float32),
        boxes_xyxy=rng.uniform(0, 1000, size=(frames, 4)).astype(np.float32),
        det_scores=scores,
        crops_jpeg=[jpeg_bytes(rng, crop_px) for _ in range(frames)],
        face_frame_share=float(rng.uniform(0.5, 1.0)),
        audio=(
            AudioFeatures(
                logmel=rng.normal(-40, 10, size=(8, 20)).astype(np.float32), sample_rate_hz=16000, hop_s=0.01
            )
            if with_audio
            else None
        ),
        info=VideoInfo(fps=30.0, num_frames=300, width_px=1920, height_px=1080),
        config_hash=config_hash,
        # A fake carries its label scores; the first crop had no original crop to compare with.
        face_diff=None if original is None else float(rng.uniform(0.5, 20.0)),
        face_diff_per_frame=None
        if original is None
        else np.r_[np.nan, rng.uniform(0.5, 20.0, size=frames - 1)].astype(np.float32),
        face_contrast=None if original is None else float(rng.uniform(5.0, 60.0)),
        audio_diff_db=None if original is None or not with_audio else float(rng.uniform(0.0, 5.0)),
        face_detail_kept=None if original is None else float(rng.uniform(0.3, 1.2)),
        face_detail_kept_half_res=None if original is None else float(rng.uniform(0.3, 1.2)),
        # Facial points as shares of each crop (no draw from ``rng``: the other fields stay as they were).
        crop_landmarks=np.tile(np.linspace(0.3, 0.7, 10, dtype=np.float32), (frames, 1)),
        crop_landmarks_interpolated=np.isnan(scores),
    )


def make_samples(n: int, seed: int = 0, **kwargs: Any) -> list[Sample]:
    """``n`` fake samples of distinct videos; every third has no audio."""
    rng = np.random.default_rng(seed)
    return [make_sample(rng, with_audio=i % 3 != 2, **kwargs) for i in range(n)]


def outcomes_for(samples: list[Sample], extra: dict[str, OutcomeStatus] | None = None) -> list[Outcome]:
    """One ``ok`` outcome per sampled video, plus sample-less outcomes for ``extra`` filenames."""
    counts: dict[str, int] = {}
    for sample in samples:
        counts[sample.video_id] = counts.get(sample.video_id, 0) + 1
    by_video = {s.video_id: s for s in samples}
    outcomes = [
        Outcome(
            vid,
            s.filename,
            s.part,
            s.family_id,
            s.label,
            OutcomeStatus.OK,
            None,
            counts[vid],
            1.0,
            True,
            False,
        )
        for vid, s in by_video.items()
    ]
    for filename, status in (extra or {}).items():
        vid = filename.removesuffix(".mp4")
        outcomes.append(Outcome(vid, filename, 0, vid, "REAL", status, f"synthetic {status.value}"))
    return outcomes


def as_lake(lake: Lake | Storage | str) -> Lake:
    """A Lake handle from what a test holds (an open handle, its storage, or a URL)."""
    if isinstance(lake, Lake):
        return lake
    return Lake(lake) if isinstance(lake, Storage) else Lake.open(lake)


def write_chunk(
    lake: Lake | Storage | str,
    chunk_id: str,
    samples: list[Sample],
    formats: tuple[str, ...] = ("parquet", "webdataset"),
    shard_target_bytes: int = 1 << 20,
    extra: dict[str, OutcomeStatus] | None = None,
    config_hash: str = CONFIG_HASH,
    commit: bool = True,
) -> CommitRecord:
    """Write one chunk attempt's shards and (unless ``commit`` is False) commit it."""
    lake = as_lake(lake)
    attempt_id = new_attempt_id()
    with ChunkWriter(
        lake.storage, chunk_id, attempt_id, formats, shard_target_bytes=shard_target_bytes
    ) as writer:
        for sample in samples:
            writer.write(sample)
    record = CommitRecord.build(
        chunk_id=chunk_id,
        attempt_id=attempt_id,
        config_hash=config_hash,
        shards=writer.shards,
        outcomes=outcomes_for(samples, extra),
        timings_s={"write": 0.01, "total": 0.02},
    )
    if commit:
        lake.commit_chunk(record)
    return record


def rows_equal(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Row equality where NaN equals NaN."""

    def same(x: Any, y: Any) -> bool:
        if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
            return True
        if isinstance(x, list) and isinstance(y, list):
            return len(x) == len(y) and all(same(p, q) for p, q in zip(x, y, strict=True))
        return bool(x == y)

    return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)


def stock_webdataset_rows(lake: Lake | Storage | str) -> Iterator[dict[str, Any]]:
    """Every committed WebDataset sample read by the stock ``webdataset`` library (not the lake's own
    tar parser), turned into rows equal to the Parquet rows: the cross-check of the lake's reader."""
    from webdataset.tariterators import group_by_keys, tar_file_expander

    lake = as_lake(lake)
    for url in lake.shard_urls("webdataset"):
        with lake.storage.open_read(lake.storage.rel(url)) as stream:
            for sample in group_by_keys(tar_file_expander([{"url": url, "stream": stream}])):
                yield members_to_row(sample)


def run_record(
    run_id: str, started_at: str, chunk_ids: list[str], config_hash: str = CONFIG_HASH
) -> RunRecord:
    """A run record planning ``chunk_ids`` with the default ingest config."""
    return RunRecord(
        run_id=run_id,
        source="synthetic",
        config=Config(),
        config_hash=config_hash,
        plan=RunPlan(videos_per_chunk=60, chunks=[PlannedChunk(chunk_id=c) for c in chunk_ids]),
        started_at=started_at,
    )
