"""Planning a manipulation set: which clip to derive from which original, with which donor and settings.

Every choice is made here: face donors by how alike the faces turn, and from the seed the voice
donors, where a partial swap falls and a warp's phase; so rendering a job is a pure function of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from dfdc_lake.synth.manipulate.donors import BUILTIN_DONOR, pose_mismatch
from dfdc_lake.synth.manipulate.faces import LandmarkTrack
from dfdc_lake.synth.manipulate.kinds import Manipulation
from dfdc_lake.synth.manipulate.media import ClipInfo, EncodeSettings
from dfdc_lake.synth.manipulate.truth import Skipped

__all__ = ["DerivedJob", "OriginalClip", "clip_stems", "group_jobs", "plan_jobs"]

MIN_DETECTED_SHARE = 0.5  # a face must be found in at least this share of the sampled frames


@dataclass(frozen=True)
class OriginalClip:
    """An original as written into the set: its file, shape and followed face (None: no usable face)."""

    name: str
    path: Path
    info: ClipInfo
    track: LandmarkTrack | None
    copied_from: str = ""  # the clip given by the user


@dataclass(frozen=True)
class DerivedJob:
    """Everything needed to render one derived clip."""

    manipulation: Manipulation
    source: OriginalClip
    out_path: Path
    encode: EncodeSettings
    params: dict[str, Any]  # the manipulation's parameters, resolved for this original
    frames_planned: tuple[int, int]  # [start, end) of the frames whose face is to be changed
    video_key: str  # jobs with the same key have the same frames (see ``group_jobs``)
    face_donor: OriginalClip | None = None  # None with a swap: the built-in face
    voice_donor: OriginalClip | None = None  # None with a voice swap: the built-in voice


def clip_stems(paths: list[Path]) -> list[str]:
    """Lowercase ASCII stems for the originals (``[a-z0-9_]``), made unique with ``_2``, ``_3``..."""
    stems: list[str] = []
    for path in paths:
        base = re.sub(r"[^a-z0-9_]+", "_", path.stem.lower()).strip("_") or "clip"
        stem, number = base, 1
        while stem in stems:
            number += 1
            stem = f"{base}_{number}"
        stems.append(stem)
    return stems


def _face_donor(originals: list[OriginalClip], index: int) -> tuple[OriginalClip | None, float | None]:
    """The other original whose face turns most like this one's, and how unlike it still is
    (``donors.pose_mismatch``); ``(None, None)`` when no other original has a face."""
    target = originals[index].track
    candidates = [
        (pose_mismatch(target, clip.track), number, clip)
        for number, clip in enumerate(originals)
        if number != index and clip.track is not None and target is not None
    ]
    if not candidates:
        return None, None
    mismatch, _, clip = min(candidates, key=lambda item: item[:2])
    return clip, mismatch


def _voice_donor(originals: list[OriginalClip], index: int, offset: int) -> OriginalClip | None:
    """One of the other originals with audio (which one: ``offset``); None if none has audio."""
    others = [originals[(index + step) % len(originals)] for step in range(1, len(originals))]
    usable = [clip for clip in others if clip.info.has_audio]
    return usable[offset % len(usable)] if usable else None


def _video_key(manipulation: Manipulation, source: OriginalClip, params: dict[str, Any]) -> str:
    """Jobs with the same key have the same frames: a swap and a swap with a new voice, the CRF 23
    re-encode and the audio-only fakes."""
    if manipulation.kind in ("swap", "swap_and_voice"):
        recipe = f"swap from {params['face_donor']}"
    elif manipulation.kind == "reencode" or not (manipulation.traits.face or manipulation.traits.control):
        recipe = "re-encoded"
    else:
        recipe = manipulation.file_name("")
    return f"{source.name}: {recipe} at crf {params.get('crf')}"


def _skip_reason(manipulation: Manipulation, source: OriginalClip) -> str | None:
    info = source.info
    if manipulation.traits.face and source.track is None:
        return "no face found in enough sampled frames"
    if manipulation.traits.audio and not info.has_audio:
        return "the original has no audio track"
    if info.width_px % 2 or info.height_px % 2:
        return f"odd frame size {info.width_px}x{info.height_px} (yuv420p needs even sides)"
    return None


def _job(
    manipulation: Manipulation,
    originals: list[OriginalClip],
    index: int,
    rng: np.random.Generator,
    part_dir: Path,
    encode: EncodeSettings,
) -> DerivedJob:
    source = originals[index]
    stem = source.name.removesuffix(".mp4")
    frames = source.info.num_frames
    params: dict[str, Any] = dict(manipulation.params)
    planned = (0, frames) if manipulation.traits.face else (0, 0)
    face_donor, mismatch = _face_donor(originals, index) if manipulation.swaps_face else (None, None)
    voice_donor = (
        _voice_donor(originals, index, int(rng.integers(1 << 16))) if manipulation.swaps_voice else None
    )
    if manipulation.swaps_face:
        params["face_donor"] = face_donor.name if face_donor else BUILTIN_DONOR
        if mismatch is not None:  # ~0.1: alike; over ~0.4: a frontal donor on a face seen from the side
            params["pose_mismatch"] = round(mismatch, 3)
        params["target_face"] = "largest"
    if manipulation.swaps_voice:
        params["voice_donor"] = voice_donor.name if voice_donor else "synthetic"
    if manipulation.kind == "partial_swap":
        length = max(1, round(frames * float(params["share"])))
        start = int(rng.integers(0, frames - length + 1))
        planned = (start, start + length)
    if manipulation.kind == "warp":
        params["phase"] = float(rng.uniform(0, 2 * np.pi))
    settings = replace(encode, crf=int(params["crf"])) if "crf" in params else encode
    if manipulation.kind != "copy":
        params.update(crf=settings.crf, preset=settings.preset)
    return DerivedJob(
        manipulation=manipulation,
        source=source,
        out_path=part_dir / manipulation.file_name(stem),
        encode=settings,
        params=params,
        frames_planned=planned,
        video_key=_video_key(manipulation, source, params),
        face_donor=face_donor,
        voice_donor=voice_donor,
    )


def plan_jobs(
    originals: list[OriginalClip],
    manipulations: list[Manipulation],
    part_dir: Path,
    *,
    seed: int,
    encode: EncodeSettings,
) -> tuple[list[DerivedJob], list[Skipped]]:
    """One job per (original, manipulation) that applies, and the pairs skipped with their reason."""
    jobs: list[DerivedJob] = []
    skipped: list[Skipped] = []
    for index, source in enumerate(originals):
        stem = source.name.removesuffix(".mp4")
        for number, manipulation in enumerate(manipulations):
            reason = _skip_reason(manipulation, source)
            if reason is not None:
                skipped.append(Skipped(source.name, manipulation.file_name(stem), reason))
                continue
            rng = np.random.default_rng([seed, index, number])
            jobs.append(_job(manipulation, originals, index, rng, part_dir, encode))
    return jobs, skipped


def group_jobs(jobs: list[DerivedJob]) -> list[list[DerivedJob]]:
    """Jobs grouped by ``video_key`` (in order of first appearance): a group's frames are encoded once."""
    groups: dict[str, list[DerivedJob]] = {}
    for job in jobs:
        groups.setdefault(job.video_key, []).append(job)
    return list(groups.values())
