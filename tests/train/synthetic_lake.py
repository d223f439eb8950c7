"""A small, seeded lake of synthetic samples with a learnable fake signal, for the training tests.

Each family has an identity (skin tone, background, eye spacing) and a "voice" (a smooth spectral
envelope). Fakes come in three kinds, as in DFDC: face swaps (the inner face gets another tone with a
hard seam), audio swaps (a band of the spectrogram is boosted) and both. ``face_fake``/``audio_fake``
follow the kind; a few fakes have them null (original unknown), as the lake allows.

The samples are real ``Sample`` records, written by the lake's ``ChunkWriter`` (Parquet + WebDataset)
and published with ``commit_chunk``, exactly as ingest does.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from dfdc_lake.records import AudioFeatures, Outcome, OutcomeStatus, Sample, VideoInfo

N_MELS = 64
CROP_PX = 48


@dataclass(frozen=True)
class LakeSpec:
    families: int = 48
    fakes_per_family: tuple[int, int] = (2, 4)
    parts: int = 4
    crops_per_track: int = 6
    logmel_frames: int = 300
    two_track_share: float = 0.1
    no_audio_share: float = 0.1
    chunks_per_part: int = 2
    seed: int = 7


def _face(rng: np.random.Generator, identity: dict, swapped: bool) -> bytes:
    h = w = CROP_PX
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = rng.integers(-2, 3, size=2)
    img = np.empty((h, w, 3), np.float32)
    img[:] = identity["background"]
    face = ((xx - w / 2 - dx) / (w * 0.32)) ** 2 + ((yy - h / 2 - dy) / (h * 0.42)) ** 2 <= 1.0
    img[face] = identity["skin"]
    if swapped:
        inner = (np.abs(xx - w / 2 - dx) < w * 0.2) & (np.abs(yy - h / 2 - dy - 2) < h * 0.22)
        img[inner] = identity["skin"] + identity["swap_shift"]
        seam = inner & ~np.roll(inner, 2, axis=0) | inner & ~np.roll(inner, -2, axis=1)
        img[seam] = identity["skin"] * 0.4
    for side in (-1, 1):
        eye = ((xx - w / 2 - dx - side * identity["eye_gap"]) ** 2 + (yy - h * 0.42 - dy) ** 2) <= 4.0
        img[eye] = (30, 30, 40)
    img += rng.normal(0, 6, img.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _voice(
    rng: np.random.Generator, envelope: np.ndarray, swapped_band: int | None, frames: int
) -> np.ndarray:
    mel = envelope[:, None] + rng.normal(0, 4, (N_MELS, frames))
    if swapped_band is not None:
        mel[swapped_band : swapped_band + 8] += 30.0
    return mel.astype(np.float32)


def _identity(rng: np.random.Generator) -> dict:
    return {
        "background": rng.uniform(40, 200, 3),
        "skin": rng.uniform(110, 220, 3),
        "swap_shift": rng.choice([-1, 1], 3) * rng.uniform(30, 45, 3),
        "eye_gap": float(rng.uniform(5, 8)),
        "envelope": np.convolve(rng.normal(-40, 10, N_MELS + 8), np.ones(9) / 9, mode="valid")[:N_MELS],
    }


def make_samples(spec: LakeSpec) -> list[Sample]:
    """Every sample of the synthetic lake, families in order."""
    rng = np.random.default_rng(spec.seed)
    samples: list[Sample] = []
    for f in range(spec.families):
        identity = _identity(rng)
        family_id = f"fam{f:03d}real"
        part = f % spec.parts
        no_audio = rng.random() < spec.no_audio_share
        tracks = 2 if rng.random() < spec.two_track_share else 1
        n_fakes = int(rng.integers(spec.fakes_per_family[0], spec.fakes_per_family[1] + 1))
        videos = [(family_id, None, "none")] + [
            (f"fam{f:03d}fk{k:02d}", f"{family_id}.mp4", str(rng.choice(["face", "face", "audio", "both"])))
            for k in range(n_fakes)
        ]
        for video_id, original, kind in videos:
            band = None if kind in ("none", "face") else int(rng.integers(4, N_MELS - 10))
            logmel = None if no_audio else _voice(rng, identity["envelope"], band, spec.logmel_frames)
            unknown = original is not None and rng.random() < 0.1
            for t in range(tracks):
                swapped = kind in ("face", "both") and t == 0
                crops = [_face(rng, identity, swapped) for _ in range(spec.crops_per_track)]
                samples.append(
                    _sample(
                        spec, video_id, part, family_id, original, t, tracks, crops, logmel, kind, unknown
                    )
                )
    return samples


def _sample(spec, video_id, part, family_id, original, track, tracks, crops, logmel, kind, unknown) -> Sample:
    n = len(crops)
    frames = np.arange(n, dtype=np.int32) * 10
    return Sample(
        sample_id=f"{video_id}-t{track}",
        video_id=video_id,
        filename=f"{video_id}.mp4",
        part=part,
        family_id=family_id,
        original=original,
        label="REAL" if original is None else "FAKE",
        face_fake=None if unknown else (kind in ("face", "both") and track == 0),
        audio_fake=None if (unknown or logmel is None) else kind in ("audio", "both"),
        track_id=track,
        num_tracks=tracks,
        frame_indices=frames,
        timestamps_s=frames.astype(np.float32) / 30.0,
        boxes_xyxy=np.tile(np.array([10, 10, 40, 40], np.float32), (n, 1)),
        det_scores=np.full(n, 0.99, np.float32),
        crops_jpeg=crops,
        face_frame_share=1.0,
        audio=None if logmel is None else AudioFeatures(logmel, 16000, 0.01),
        info=VideoInfo(fps=30.0, num_frames=300, width_px=480, height_px=270),
        config_hash="synthtrain000000",
    )


def _ok_outcome(tracks: list[Sample]) -> Outcome:
    s = tracks[0]
    return Outcome(
        s.video_id, s.filename, s.part, s.family_id, s.label, OutcomeStatus.OK, num_samples=len(tracks),
        face_frame_share=1.0, has_audio=s.audio is not None, audio_fake=s.audio_fake,
    )  # fmt: skip


def _outcomes(samples: list[Sample], chunk_id: str) -> list[Outcome]:
    """One ``ok`` outcome per video, plus a committed video without samples (no face)."""
    per_video: dict[str, list[Sample]] = {}
    for s in samples:
        per_video.setdefault(s.video_id, []).append(s)
    outcomes = [_ok_outcome(v) for v in per_video.values()]
    first = samples[0]
    noface = f"{chunk_id.replace('-', '')}noface"
    outcomes.append(
        Outcome(noface, f"{noface}.mp4", first.part, noface, "REAL", OutcomeStatus.NO_FACE, "no face")
    )
    return outcomes


def write_lake(
    lake_url: str,
    spec: LakeSpec = LakeSpec(),
    formats: tuple[str, ...] = ("parquet", "webdataset"),
    shard_target_bytes: int | None = None,
) -> list[Sample]:
    """Write the synthetic lake at ``lake_url`` with the lake's own writers and commit protocol.

    ``shard_target_bytes`` (default: the lake's) small enough splits a chunk into several shards.
    """
    from dfdc_lake.config import Config
    from dfdc_lake.lake.commit import CommitRecord, new_attempt_id
    from dfdc_lake.lake.lake import Lake
    from dfdc_lake.lake.runs import RunPlan, RunRecord

    config = Config()
    samples = make_samples(spec)
    for s in samples:
        s.config_hash = config.config_hash()
    lake = Lake.open(lake_url)
    lake.ensure_manifest()
    lake_config = config.lake.model_copy(update={"formats": tuple(formats)})
    if shard_target_bytes is not None:
        lake_config = lake_config.model_copy(update={"shard_target_bytes": shard_target_bytes})
    by_chunk: dict[str, list[Sample]] = {}
    for s in samples:
        chunk = (int(s.family_id[3:6]) // spec.parts) % spec.chunks_per_part
        by_chunk.setdefault(f"p{s.part:02d}-c{chunk:04d}", []).append(s)
    for chunk_id, chunk_samples in sorted(by_chunk.items()):
        attempt_id = new_attempt_id()
        with lake.chunk_writer(chunk_id, attempt_id, lake_config) as writer:
            for sample in chunk_samples:
                writer.write(sample)
        record = CommitRecord.build(
            outcomes=_outcomes(chunk_samples, chunk_id), chunk_id=chunk_id, attempt_id=attempt_id,
            config_hash=config.config_hash(), shards=writer.shards,
        )  # fmt: skip
        lake.commit_chunk(record)
    lake.write_run(
        RunRecord(
            run_id="20260101T000000-synthtrain", source="synthetic", config=config,
            config_hash=config.config_hash(), plan=RunPlan(videos_per_chunk=config.lake.videos_per_chunk),
            started_at="2026-01-01T00:00:00Z",
        )
    )  # fmt: skip
    return samples


def lake_dir(root: Path, spec: LakeSpec = LakeSpec()) -> Path:
    """Write the synthetic lake under ``root/lake`` and return its path."""
    path = root / "lake"
    write_lake(str(path), spec)
    return path
