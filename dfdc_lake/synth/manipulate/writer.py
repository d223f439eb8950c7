"""Write a manipulation set: real clips as DFDC REALs, fakes and controls derived from them, and the truth.

Layout: ``OUT/dfdc_train_part_0/{<original>.mp4, <original>_<kind>[_<variant>].mp4, metadata.json}``
(what ``dfdc-lake ingest OUT`` reads) and ``OUT/manipulations.json`` (see ``truth``). The clips are
written first, then the truth file, then ``metadata.json``: a part with metadata is complete.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from dfdc_lake.errors import VideoDecodeError
from dfdc_lake.synth.manipulate.faces import LandmarkTracker
from dfdc_lake.synth.manipulate.kinds import select_manipulations
from dfdc_lake.synth.manipulate.media import ClipWriter, EncodeSettings, probe, read_audio, read_frames
from dfdc_lake.synth.manipulate.plan import (
    MIN_DETECTED_SHARE,
    DerivedJob,
    OriginalClip,
    clip_stems,
    group_jobs,
    plan_jobs,
)
from dfdc_lake.synth.manipulate.render import render_group
from dfdc_lake.synth.manipulate.truth import TRUTH_FILENAME, ManipulationRecord, Skipped, write_truth

__all__ = ["PART_NAME", "ManipulationSet", "write_manipulation_set"]

log = logging.getLogger(__name__)

PART_NAME = "dfdc_train_part_0"
CUT_CRF = 16  # a cut original is re-encoded (nearly transparently) at this CRF
T = TypeVar("T")


@dataclass
class ManipulationSet:
    """What ``write_manipulation_set`` wrote."""

    out_dir: Path
    part_dir: Path
    originals: list[str]  # file names of the REALs in the part
    records: list[ManipulationRecord]
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0

    def describe(self) -> str:
        """A few human-readable lines."""
        kinds: dict[str, int] = {}
        for record in self.records:
            kinds[record.kind] = kinds.get(record.kind, 0) + 1
        lines = [
            f"wrote {len(self.originals)} originals and {len(self.records)} derived clips to {self.part_dir}"
            f" in {self.seconds:.1f} s",
            "  " + ", ".join(f"{kind} {count}" for kind, count in kinds.items()),
        ]
        lines += [f"  skipped {item.file}: {item.reason}" for item in self.skipped]
        return "\n".join(lines)


def _prepare(out_dir: Path, overwrite: bool) -> Path:
    part_dir = out_dir / PART_NAME
    if part_dir.exists() and any(part_dir.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{part_dir} exists and is not empty (pass overwrite=True / --overwrite)")
        if not (out_dir / TRUTH_FILENAME).exists():
            raise FileExistsError(
                f"{out_dir} is not a manipulation set (no {TRUTH_FILENAME}); not removing it"
            )
        shutil.rmtree(part_dir)
        (out_dir / TRUTH_FILENAME).unlink()
    part_dir.mkdir(parents=True, exist_ok=True)
    return part_dir


def _cut(source: Path, target: Path, max_seconds: float, encode: EncodeSettings) -> None:
    """The first ``max_seconds`` of ``source`` (whole frames), re-encoded at ``CUT_CRF``."""
    info = probe(source)
    frames = min(info.num_frames, max(1, round(max_seconds * float(info.fps))))
    audio = read_audio(source)
    settings = EncodeSettings(crf=CUT_CRF, preset=encode.preset, threads=encode.threads)
    with ClipWriter(
        target,
        width_px=info.width_px,
        height_px=info.height_px,
        fps=info.fps,
        time_base=info.time_base,
        settings=settings,
        audio_rate_hz=audio[1] if audio is not None else None,
        audio_channels=audio[0].shape[0] if audio is not None else 1,
        audio_bitrate=info.audio_bitrate,
    ) as writer:
        if audio is not None:
            writer.write_audio(audio[0][:, : round(frames / float(info.fps) * audio[1])])
        for frame, planes in read_frames(source, max_frames=frames):
            writer.write_frame(planes, frame.pts)


def _write_original(
    path: Path, target: Path, max_seconds: float | None, encode: EncodeSettings
) -> OriginalClip | Skipped:
    """Copy (or cut) one original into the part and follow its face; undecodable ones are skipped."""
    try:
        if max_seconds is None:
            shutil.copyfile(path, target)
        else:
            _cut(path, target, max_seconds, encode)
        info = probe(target)
        track = LandmarkTracker().track(target, info.num_frames)
    except VideoDecodeError as err:
        target.unlink(missing_ok=True)
        return Skipped(str(path), "", f"cannot decode: {err}")
    if track is not None and track.detected_share < MIN_DETECTED_SHARE:
        log.info("%s: a face in only %.0f %% of sampled frames", path.name, 100 * track.detected_share)
        track = None
    return OriginalClip(target.name, target, info, track, copied_from=str(path))


@contextmanager
def _process_pool(workers: int) -> Iterator[Executor | None]:
    """``workers`` processes, or None to work in this one (``workers`` 1)."""
    if workers <= 1:
        yield None
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the caller holds torch's threads (MTCNN), which a forked child would inherit broken.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        yield pool


def _map(
    pool: Executor | None, function: Callable[..., T], argument_lists: list[tuple[Any, ...]]
) -> Iterator[T]:
    """``function(*arguments)`` for each argument tuple, in ``pool`` if any; results in order."""
    if pool is None:
        return (function(*arguments) for arguments in argument_lists)
    return pool.map(function, *zip(*argument_lists, strict=True))


def _render_all(groups: list[list[DerivedJob]], pool: Executor | None) -> list[ManipulationRecord]:
    """Render every group of jobs (see ``plan.group_jobs``); log each as it is done."""
    records: list[ManipulationRecord] = []
    started = time.perf_counter()
    for number, done in enumerate(_map(pool, render_group, [(group,) for group in groups]), 1):
        names = ", ".join(record.file for record in done)
        log.info("%d/%d (%.0f s) %s", number, len(groups), time.perf_counter() - started, names)
        records += done
    return records


def _metadata(originals: list[OriginalClip], records: list[ManipulationRecord]) -> str:
    entries: dict[str, dict[str, str]] = {
        clip.name: {"label": "REAL", "split": "train"} for clip in originals
    }
    for record in records:
        entries[record.file] = {"label": "FAKE", "split": "train", "original": record.original}
    return json.dumps(entries)


def _checked_paths(originals: list[Path], max_seconds: float | None, workers: int) -> list[Path]:
    paths = [Path(path) for path in originals]
    if not paths:
        raise ValueError("no original clips given")
    if (max_seconds is not None and max_seconds <= 0) or workers < 1:
        raise ValueError(f"max_seconds must be positive and workers >= 1, got {max_seconds}, {workers}")
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"original clips not found: {', '.join(missing)}")
    return paths


def write_manipulation_set(
    originals: list[Path],
    out_dir: Path,
    *,
    seed: int = 0,
    kinds: tuple[str, ...] | None = None,
    catalogue: str = "main",
    max_seconds: float | None = None,
    workers: int = 1,
    preset: str = "veryfast",
    overwrite: bool = False,
) -> ManipulationSet:
    """Derive face and audio fakes and controls from real clips, as a DFDC source with a truth file.

    Args:
        originals: mp4 clips (H.264 + AAC), each treated as a REAL original.
        out_dir: the set's root: ``out_dir/dfdc_train_part_0/`` and ``out_dir/manipulations.json``.
        seed: every random choice (voice donors, partial-swap frames, warp phases) derives from it;
            face donors are chosen by how alike the faces turn (``donors.pose_mismatch``).
        kinds: the manipulation kinds to derive (``kinds.KINDS``); None for all.
        catalogue: the catalogue they come from: ``main`` (``kinds.MANIPULATIONS``), or ``blind`` /
            ``blind2`` (``kinds.BLIND_CHECK`` / ``BLIND_CHECK_2``, strengths the labels were not
            chosen on).
        max_seconds: cut each original to its first ``max_seconds`` (re-encoded at CRF 16) first.
        workers: derived clips rendered in parallel processes.
        preset: x264 preset of every encode (DFDC's encoder ran ``medium``; ``veryfast`` is ~4x faster).
        overwrite: replace an existing manipulation set in ``out_dir``.

    Returns:
        What was written, with the manipulations skipped (no face, no audio, undecodable) and why.

    Raises:
        ValueError: no originals, an unknown kind or catalogue, or a non-positive ``max_seconds``
            or ``workers``.
        FileNotFoundError: an original does not exist.
        FileExistsError: ``out_dir`` holds something else in the way.
    """
    started = time.perf_counter()
    manipulations = select_manipulations(kinds, catalogue)
    paths = _checked_paths(originals, max_seconds, workers)
    out_dir = Path(out_dir)
    part_dir = _prepare(out_dir, overwrite)
    encode = EncodeSettings(preset=preset, threads=max(1, (os.cpu_count() or 1) // workers))
    targets = [part_dir / f"{stem}.mp4" for stem in clip_stems(paths)]
    arguments = [(path, target, max_seconds, encode) for path, target in zip(paths, targets, strict=True)]
    with _process_pool(workers) as pool:
        prepared = list(_map(pool, _write_original, arguments))
        clips = [item for item in prepared if isinstance(item, OriginalClip)]
        skipped = [item for item in prepared if isinstance(item, Skipped)]
        jobs, not_derived = plan_jobs(clips, manipulations, part_dir, seed=seed, encode=encode)
        # The largest groups first, so no worker is left with a long one at the end.
        records = _render_all(sorted(group_jobs(jobs), key=len, reverse=True), pool)
    skipped += not_derived
    meta: dict[str, Any] = {"seed": seed, "part": PART_NAME, "max_seconds": max_seconds, "preset": preset}
    meta["catalogue"] = catalogue
    meta["kinds"] = sorted({manipulation.kind for manipulation in manipulations})
    meta["originals"] = {clip.name: clip.copied_from for clip in clips}
    write_truth(out_dir, records, skipped, meta)
    temp = part_dir / ".metadata.json.partial"
    temp.write_text(_metadata(clips, records))
    os.replace(temp, part_dir / "metadata.json")  # last: a part with metadata is complete
    names = [clip.name for clip in clips]
    return ManipulationSet(out_dir, part_dir, names, records, skipped, time.perf_counter() - started)
