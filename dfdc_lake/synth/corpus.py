"""Write a synthetic DFDC corpus: ``OUT/dfdc_train_part_K/{metadata.json, *.mp4, SYNTH_GROUND_TRUTH.json}``.

The layout and metadata are DFDC's; the ground-truth file is extra. Within a part the videos are
written first and ``metadata.json`` last, so a part with metadata is complete.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from dfdc_lake.synth.encode import break_file, write_mp4
from dfdc_lake.synth.plan import ClipSpec, PartPlan, plan_corpus
from dfdc_lake.synth.profiles import ALL_CASES, Profile, get_profile, parse_cases
from dfdc_lake.synth.truth import TRUTH_FILENAME, ClipTruth, clip_truth, truth_document

__all__ = [
    "CorpusSummary",
    "ensure_corpus",
    "metadata_document",
    "part_dir_name",
    "render_clip",
    "write_corpus",
]

log = logging.getLogger(__name__)


@dataclass
class CorpusSummary:
    """What ``write_corpus`` wrote."""

    root: Path
    profile: str
    seed: int
    parts: int
    families: int
    videos: int
    kinds: dict[str, int]  # real/face/voice/both -> clips
    hard_cases: dict[str, int]  # case -> clips tagged with it
    total_bytes: int
    seconds: float
    part_dirs: list[Path] = field(default_factory=list)

    def describe(self) -> str:
        """A few human-readable lines."""
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(self.kinds.items()))
        cases = ", ".join(f"{case} {count}" for case, count in self.hard_cases.items()) or "none"
        return (
            f"wrote {self.videos} videos in {self.families} families over {self.parts} part(s) to {self.root}\n"
            f"  profile {self.profile}, seed {self.seed}; kinds: {kinds}\n"
            f"  hard cases (clips): {cases}\n"
            f"  {self.total_bytes / 1e6:.1f} MB in {self.seconds:.1f} s"
        )


def part_dir_name(part: int) -> str:
    """DFDC's folder name of part ``part``."""
    return f"dfdc_train_part_{part}"


def metadata_document(clips: tuple[ClipSpec, ...] | list[ClipSpec]) -> str:
    """A part's ``metadata.json`` text, shaped exactly like DFDC's (one JSON object, one line)."""
    entries = {
        clip.filename: {"label": clip.label, "split": "train", "original": clip.original} for clip in clips
    }
    return json.dumps(entries)


def render_clip(spec: ClipSpec, path: Path, profile: Profile) -> None:
    """Render, encode and (if the spec says so) break one clip at ``path``."""
    from dfdc_lake.synth.render import ClipRenderer
    from dfdc_lake.synth.voice import converted_voice, speaker_for, synthesize_speech

    if spec.broken == "zero_byte":
        path.write_bytes(b"")
        return
    fps = Fraction(spec.fps_num, spec.fps_den)
    audio = None
    if spec.voice is not None:
        duration_s = spec.num_frames / float(fps)
        audio = synthesize_speech(
            spec.scene.script_seed, speaker_for(spec.voice), duration_s, profile.audio_rate_hz
        )
        if spec.kind in ("voice", "both"):
            audio = converted_voice(audio, profile.audio_rate_hz)
    renderer = ClipRenderer(spec)
    frames = (renderer.frame_image(index) for index in range(spec.num_frames))
    write_mp4(
        path, frames, width_px=spec.width_px, height_px=spec.height_px, fps=fps, audio=audio, profile=profile
    )
    if spec.broken is not None:
        break_file(path, spec.broken)


def _write_text(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.partial")
    temp.write_text(text)
    os.replace(temp, path)


def _prepare(part_dir: Path, overwrite: bool) -> None:
    if part_dir.exists() and any(part_dir.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{part_dir} exists and is not empty (pass overwrite=True / --overwrite)")
        if not (part_dir / TRUTH_FILENAME).exists():
            raise FileExistsError(
                f"{part_dir} is not a synthetic part (no {TRUTH_FILENAME}); not removing it"
            )
        shutil.rmtree(part_dir)
    part_dir.mkdir(parents=True, exist_ok=True)


def _render_all(root: Path, plans: list[PartPlan], profile: Profile, workers: int) -> None:
    jobs = [(spec, root / part_dir_name(plan.part) / spec.filename) for plan in plans for spec in plan.clips]
    if workers <= 1:
        for number, (spec, path) in enumerate(jobs, 1):
            started = time.perf_counter()
            render_clip(spec, path, profile)
            log.debug("clip %d/%d %s in %.2f s", number, len(jobs), path.name, time.perf_counter() - started)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the caller may hold threads (torch, Ray) that a forked child would inherit broken.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for _ in pool.map(render_clip, *zip(*jobs, strict=True), [profile] * len(jobs)):
            pass


def write_corpus(
    out_dir: str | Path,
    *,
    parts: int = 2,
    families: int = 3,
    fakes_per_family: int = 3,
    seed: int = 0,
    profile: str | Profile = "tiny",
    cases: tuple[str, ...] | list[str] = ALL_CASES,
    overwrite: bool = False,
    workers: int = 1,
) -> CorpusSummary:
    """Write a synthetic DFDC-shaped corpus with ground truth.

    Args:
        out_dir: root folder; parts go to ``out_dir/dfdc_train_part_K``.
        parts: number of parts (K = 0 .. parts-1).
        families: plain families per part (a REAL and its FAKEs).
        fakes_per_family: FAKEs per family; kinds cycle face, voice, both, face, face.
        seed: every random choice derives from it; the same seed gives the same corpus.
        profile: ``"tiny"``, ``"dfdc"`` or a ``Profile``.
        cases: hard cases to include (see ``ALL_CASES``); each family case adds one family,
            each file case one broken FAKE.
        overwrite: replace existing synthetic parts (never a folder without ground truth).
        workers: clips rendered (and encoded) in parallel processes.

    Returns:
        A summary of what was written.

    Raises:
        ValueError: bad counts, profile or case names.
        FileExistsError: a part folder is in the way.
    """
    started = time.perf_counter()
    chosen = get_profile(profile) if isinstance(profile, str) else profile
    selected = parse_cases(list(cases))
    plans = plan_corpus(
        parts=parts,
        families=families,
        fakes_per_family=fakes_per_family,
        seed=seed,
        profile=chosen,
        cases=selected,
    )
    root = Path(out_dir)
    for plan in plans:
        _prepare(root / part_dir_name(plan.part), overwrite)
    _render_all(root, plans, chosen, workers)
    truths: list[ClipTruth] = []
    for plan in plans:
        part_dir = root / part_dir_name(plan.part)
        part_truths = [clip_truth(spec) for spec in plan.clips]
        # Ground truth, then metadata.json last: a part with metadata is complete.
        _write_text(part_dir / TRUTH_FILENAME, truth_document(plan.part, seed, chosen.name, part_truths))
        _write_text(part_dir / "metadata.json", metadata_document(plan.clips))
        truths += part_truths
    tag_counts = Counter(tag for truth in truths for tag in truth.tags)
    return CorpusSummary(
        root=root,
        profile=chosen.name,
        seed=seed,
        parts=parts,
        families=len({(truth.part, truth.family_id) for truth in truths}),
        videos=len(truths),
        kinds=dict(Counter(truth.kind for truth in truths)),
        hard_cases={case: tag_counts[case] for case in selected},
        total_bytes=sum(
            (root / part_dir_name(truth.part) / truth.filename).stat().st_size for truth in truths
        ),
        seconds=time.perf_counter() - started,
        part_dirs=[root / part_dir_name(plan.part) for plan in plans],
    )


OPTIONS_STAMP = ".synth-options.json"


def ensure_corpus(out_dir: str | Path, *, workers: int = 1, **options: Any) -> CorpusSummary | None:
    """``write_corpus(out_dir, **options)`` unless ``out_dir`` already holds the corpus of these options.

    A stamp naming the options is written after the corpus, so a rerun with the same options reuses
    it, while other options or an interrupted run rewrite it (``overwrite``: synthetic parts only).

    Returns:
        The summary of what was written, or None when the existing corpus was kept.
    """
    root = Path(out_dir)
    stamp = root / OPTIONS_STAMP
    wanted = json.dumps(options, sort_keys=True, default=str)
    if stamp.exists() and stamp.read_text() == wanted:
        return None
    stamp.unlink(missing_ok=True)
    summary = write_corpus(root, overwrite=True, workers=workers, **options)
    _write_text(stamp, wanted)
    return summary
