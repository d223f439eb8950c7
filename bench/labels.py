"""Per-modality labels against real manipulations: a confusion table of manipulation kind x label.

    python bench/labels.py                        # originals: the real clips in ../shared/dfdc-sample
    python bench/labels.py CLIP.mp4 ... --work bench-out/labels --reuse
    python bench/labels.py --catalogue blind2    # a pre-registered blind check, configured thresholds

1. ``write_manipulation_set`` derives, from each original, face fakes (swaps, a partial swap,
   low-resolution re-renders, mouth/eye warps), audio fakes (voice swap, pitch shifts, a band-limited
   voice) and controls (re-encodes at CRF 18-35, 15 fps, quarter resolution, a copy).
2. Every family goes through the ingest stages in this process (MTCNN on the CPU), and the lake's
   scores are kept per track: ``face_diff``, ``face_contrast`` and the video's ``audio_diff_db``.
3. The originals are split in two by name: thresholds are fitted on the calibration half (just
   above every control, just below every manipulation, unknown between), and the tables report the
   held-back half under both the fitted thresholds and the configured ones.
4. For each face manipulation the bench also measures how much it changed the face at full
   resolution (mean absolute grey difference inside the boxes, on the changed frames) against the
   CRF 35 re-encode of the same original: a manipulation that changes the face more than that
   re-encode must never be labelled false.
5. The synthetic corpus (``dfdc-lake synth``) is scored with the same thresholds against its truth.

The configured thresholds were chosen after seeing every original's scores on that catalogue, so its
held-back half is not blind. ``--catalogue blind`` or ``blind2`` derives ``BLIND_CHECK`` or
``BLIND_CHECK_2`` instead (other strengths, fixed before they were scored: see
``dfdc_lake/synth/manipulate/kinds.py``), fits nothing, holds back every original and reports the
issue's bar under the configured thresholds alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "dfdc-sample"
STATES = ("true", "false", "unknown")


@dataclass
class TrackScore:
    """One derived clip's track (or, for a clip without a face track, its audio alone)."""

    file: str
    original: str
    kind: str
    variant: str
    control: bool
    face_changed: bool
    audio_changed: bool
    split: str  # "calibrate" | "holdout"
    track_id: int | None
    face_diff: float | None
    face_contrast: float | None
    audio_diff_db: float | None
    face_change: float | None = None  # grey levels inside the boxes at full resolution (changed frames)
    face_detail_kept: float | None = None
    face_detail_kept_half_res: float | None = None

    @property
    def lowest_detail_kept(self) -> float | None:
        """The lower of the two detail scores: the one ``face_label`` decides on."""
        from dfdc_lake.stages.labels import lowest_detail_kept

        return lowest_detail_kept(self.face_detail_kept, self.face_detail_kept_half_res)


def _state(label: bool | None) -> str:
    return "unknown" if label is None else ("true" if label else "false")


def _split_of(originals: list[str]) -> dict[str, str]:
    ordered = sorted(originals)
    return {name: ("calibrate" if i % 2 == 0 else "holdout") for i, name in enumerate(ordered)}


Boxes = dict[tuple[str, int], dict[int, np.ndarray]]


def score_set(root: Path, every_held_back: bool = False) -> tuple[list[TrackScore], Boxes]:
    """Run every family of the manipulation set through the stages: one row per derived track, and
    the originals' boxes by (file, track, frame): where the fakes were cut. ``every_held_back``: no
    calibration half (the blind check)."""
    from dfdc_lake.config import Config
    from dfdc_lake.source.catalog import load_catalog
    from dfdc_lake.stages.faces import FaceDetector, detect_fn
    from dfdc_lake.stages.family import FamilyProcessor
    from dfdc_lake.synth.manipulate import read_truth

    truth = read_truth(root)
    split = _split_of(sorted({record.original for record in truth.values()}))
    if every_held_back:
        split = dict.fromkeys(split, "holdout")
    config = Config()
    detector = FaceDetector(config.faces.model_copy(update={"device": "cpu"}))
    detector.setup()
    processor = FamilyProcessor(config, detect_fn(detector))
    rows: list[TrackScore] = []
    boxes: Boxes = {}
    started = time.perf_counter()
    families = load_catalog(str(root)).families()
    for done, family in enumerate(families, 1):
        result = processor.process(family)
        by_file: dict[str, list[Any]] = {}
        for sample in result.samples:
            by_file.setdefault(sample.filename, []).append(sample)
        for sample in by_file.get(family.original.filename if family.original else "", []):
            boxes[(sample.filename, sample.track_id)] = dict(
                zip(sample.frame_indices.tolist(), sample.boxes_xyxy, strict=True)
            )
        for outcome in result.outcomes:
            record = truth.get(outcome.filename)
            if record is None:
                continue  # the original
            samples = by_file.get(outcome.filename, [])
            for sample in samples or [None]:
                rows.append(
                    TrackScore(
                        file=record.file,
                        original=record.original,
                        kind=record.kind,
                        variant=record.variant,
                        control=record.control,
                        face_changed=record.face_changed,
                        audio_changed=record.audio_changed,
                        split=split[record.original],
                        track_id=None if sample is None else sample.track_id,
                        face_diff=None if sample is None else sample.face_diff,
                        face_contrast=None if sample is None else sample.face_contrast,
                        face_detail_kept=None if sample is None else sample.face_detail_kept,
                        face_detail_kept_half_res=None
                        if sample is None
                        else sample.face_detail_kept_half_res,
                        audio_diff_db=outcome.audio_diff_db,
                    )
                )
        print(
            f"  scored family {done}/{len(families)} ({time.perf_counter() - started:.0f} s)", file=sys.stderr
        )
    return rows, boxes


def _grey_frames(path: Path, frames: list[int]) -> dict[int, np.ndarray]:
    from dfdc_lake.config import DecodeConfig
    from dfdc_lake.stages.decode import VideoDecoder

    video = VideoDecoder(DecodeConfig()).decode(path.read_bytes(), np.asarray(frames, np.int32))
    grey = video.frames.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return dict(zip(video.frame_indices.tolist(), grey, strict=True))


def measure_face_change(root: Path, rows: list[TrackScore], boxes: Boxes) -> None:
    """Fill ``face_change`` of the face manipulations and of the CRF 35 re-encodes (see module doc)."""
    from dfdc_lake.synth.manipulate import read_truth

    truth = read_truth(root)
    part = next(root.glob("dfdc_train_part_*"))
    measured = [
        row
        for row in rows
        if row.track_id is not None
        and (row.face_changed or (row.kind == "reencode" and row.variant == "crf35"))
    ]
    decoded: dict[str, dict[int, np.ndarray]] = {}  # one original's frames at a time, decoded once
    for row in sorted(measured, key=lambda r: r.original):
        track = boxes.get((row.original, row.track_id))  # type: ignore[arg-type]  # track_id is set
        if track is None:
            continue
        if row.original not in decoded:
            decoded.clear()
            every = sorted({f for (name, _), frames in boxes.items() if name == row.original for f in frames})
            decoded[row.original] = _grey_frames(part / row.original, every)
        spans = truth[row.file].frames_changed
        frames = [f for f in track if not spans or any(a <= f < b for a, b in spans)]
        fake, original = _grey_frames(part / row.file, frames), decoded[row.original]
        changes = []
        for frame in frames:
            if frame in fake and frame in original:
                x1, y1, x2, y2 = (round(float(v)) for v in track[frame])
                changes.append(float(np.abs(fake[frame] - original[frame])[y1:y2, x1:x2].mean()))
        row.face_change = float(np.mean(changes)) if changes else None


CLEAN_MARGIN = 1.1  # false up to this much above the highest unchanged score
FAKE_MARGIN = 1.35  # true from this much above it


def fit_thresholds(rows: list[TrackScore], crf35: dict[str, float]) -> dict[str, float]:
    """Thresholds from the calibration rows, per modality.

    ``*_real_below`` sits ``CLEAN_MARGIN`` above the highest score of an unchanged modality (controls,
    and the other modality's fakes), but below every manipulation that must not be false (a face
    changed more than the CRF 35 re-encode changed it; any audio manipulation); ``*_fake_above`` sits
    ``FAKE_MARGIN`` above that highest unchanged score. Between them: unknown. The detail scores fall
    with a manipulation, so their thresholds sit those margins below the lowest unchanged value of the
    lower of the two.
    """
    face_clean = [r.face_diff for r in rows if r.face_diff is not None and not r.face_changed]
    face_strong = [
        r.face_diff
        for r in rows
        if r.face_diff is not None and r.face_changed and (r.face_change or 0.0) > crf35.get(r.original, 0.0)
    ]
    audio_clean = [r.audio_diff_db for r in rows if r.audio_diff_db is not None and not r.audio_changed]
    audio_fake = [r.audio_diff_db for r in rows if r.audio_diff_db is not None and r.audio_changed]

    def fitted(clean: list[float], fake: list[float]) -> tuple[float, float]:
        real_below = min(max(clean) * CLEAN_MARGIN, min(fake, default=np.inf) / CLEAN_MARGIN)
        return round(real_below, 2), round(max(max(clean) * FAKE_MARGIN, real_below), 2)

    face_below, face_above = fitted(face_clean, face_strong)
    audio_below, audio_above = fitted(audio_clean, audio_fake)
    # The detail scores fall for a manipulation: the same margins, below the lowest unchanged value.
    kept_clean = [
        r.lowest_detail_kept for r in rows if r.lowest_detail_kept is not None and not r.face_changed
    ]
    detail_above = round(min(kept_clean) / CLEAN_MARGIN, 2)
    detail_below = round(min(kept_clean) / FAKE_MARGIN, 2)
    return {
        "face_fake_above": face_above,
        "face_real_below": face_below,
        "face_detail_fake_below": detail_below,
        "face_detail_real_above": detail_above,
        "audio_fake_above_db": audio_above,
        "audio_real_below_db": audio_below,
    }


def relabel(rows: list[TrackScore], thresholds: dict[str, float]) -> list[tuple[TrackScore, str, str]]:
    """(row, face state, audio state) under ``thresholds``, as ingest would have labelled them."""
    from dfdc_lake.config import LabelConfig
    from dfdc_lake.stages.labels import audio_label, face_label

    config = LabelConfig(**thresholds)
    out = []
    for row in rows:
        face = None
        if row.face_diff is not None and row.face_contrast is not None:
            face = face_label(
                row.face_diff,
                row.face_contrast,
                config,
                row.face_detail_kept,
                row.face_detail_kept_half_res,
            )
        audio = None if row.audio_diff_db is None else audio_label(row.audio_diff_db, config)
        out.append((row, _state(face), _state(audio)))
    return out


def confusion_table(labelled: list[tuple[TrackScore, str, str]], modality: str) -> str:
    """Markdown table: manipulation kind (and variant) x label counts, with the expected label."""
    counts: dict[tuple[str, str], Counter[str]] = {}
    for row, face, audio in labelled:
        if modality == "face" and row.track_id is None:
            continue
        changed = row.face_changed if modality == "face" else row.audio_changed
        key = (f"{row.kind} {row.variant}".strip(), "true" if changed else "false/unknown")
        counts.setdefault(key, Counter())[face if modality == "face" else audio] += 1
    lines = [f"| {modality}: kind | expected | true | false | unknown |", "|---|---|---|---|---|"]
    for (kind, expected), counter in sorted(counts.items()):
        lines.append(f"| {kind} | {expected} | " + " | ".join(str(counter[s]) for s in STATES) + " |")
    return "\n".join(lines)


def check_done(labelled: list[tuple[TrackScore, str, str]], crf35: dict[str, float]) -> list[str]:
    """The issue's bar on held-back rows, one line per check with PASS / FAIL."""
    controls_face = [face for row, face, _ in labelled if row.track_id is not None and not row.face_changed]
    controls_audio = [audio for row, _, audio in labelled if not row.audio_changed]
    fakes_face = [face for row, face, _ in labelled if row.track_id is not None and row.face_changed]
    fakes_audio = [audio for row, _, audio in labelled if row.audio_changed]
    strong_false = [
        row.file for row, face, _ in labelled
        if row.face_changed and face == "false" and row.face_change is not None
        and row.face_change > crf35.get(row.original, float("inf"))
    ]  # fmt: skip
    beyond_codec = [
        face for row, face, _ in labelled
        if row.track_id is not None and row.face_changed and row.face_change is not None
        and row.face_change > crf35.get(row.original, float("inf"))
    ]  # fmt: skip
    face_share = fakes_face.count("true") / max(len(fakes_face), 1)
    audio_share = fakes_audio.count("true") / max(len(fakes_audio), 1)
    return [
        f"{'PASS' if 'true' not in controls_face else 'FAIL'} face: no unchanged face labelled true "
        f"({controls_face.count('true')} of {len(controls_face)})",
        f"{'PASS' if 'true' not in controls_audio else 'FAIL'} audio: no unchanged audio labelled true "
        f"({controls_audio.count('true')} of {len(controls_audio)})",
        f"{'PASS' if face_share >= 0.9 else 'FAIL'} face: manipulated tracks labelled true "
        f"{fakes_face.count('true')} of {len(fakes_face)} ({face_share:.0%}, bar 90%)",
        f"{'PASS' if audio_share >= 0.9 else 'FAIL'} audio: manipulated audio labelled true "
        f"{fakes_audio.count('true')} of {len(fakes_audio)} ({audio_share:.0%}, bar 90%)",
        f"{'PASS' if not strong_false else 'FAIL'} face: no false on a change above the CRF 35 re-encode's "
        f"({', '.join(strong_false) or 'none'})",
        f"(info) face: of the manipulations that change the face more than the CRF 35 re-encode, "
        f"{beyond_codec.count('true')} of {len(beyond_codec)} labelled true",
    ]


def _crf35_change(rows: list[TrackScore]) -> dict[str, float]:
    return {
        row.original: row.face_change
        for row in rows
        if row.kind == "reencode" and row.variant == "crf35" and row.face_change is not None
    }


def _person_of(sample: Any, clip: Any) -> int:
    """The ground-truth person a synthetic track follows (best mean IoU with the true boxes)."""
    from dfdc_lake.stages.tracker import box_iou

    ious = [
        float(np.diag(box_iou(sample.boxes_xyxy, clip.face_boxes_xyxy[person, sample.frame_indices])).mean())
        for person in range(clip.num_persons)
    ]
    return int(np.argmax(ious))


def score_synthetic(work: Path, thresholds: dict[str, float]) -> str:
    """The synthetic corpus (every hard case) through the stages, labels under ``thresholds`` vs truth."""
    from dfdc_lake.config import Config, LabelConfig
    from dfdc_lake.source.catalog import load_catalog
    from dfdc_lake.stages.faces import FaceDetector, detect_fn
    from dfdc_lake.stages.family import FamilyProcessor
    from dfdc_lake.synth.corpus import ensure_corpus
    from dfdc_lake.synth.profiles import ALL_CASES
    from dfdc_lake.synth.truth import load_ground_truth

    root = work / "synthetic"
    ensure_corpus(root, parts=2, families=3, fakes_per_family=3, seed=0, profile="tiny", cases=ALL_CASES)
    truth = {}
    for part in sorted(root.glob("dfdc_train_part_*")):
        truth.update(load_ground_truth(part))
    config = Config(labels=LabelConfig(**thresholds))
    detector = FaceDetector(config.faces.model_copy(update={"device": "cpu"}))
    detector.setup()
    processor = FamilyProcessor(config, detect_fn(detector))
    right = wrong = unknown = 0
    mistakes = []
    for family in load_catalog(str(root)).families():
        for sample in processor.process(family).samples:
            clip = truth[sample.filename]
            if clip.label == "REAL" or sample.face_diff is None:
                continue
            expected = clip.kind in ("face", "both") and clip.swapped_person == _person_of(sample, clip)
            if sample.face_fake is None:
                unknown += 1
            elif sample.face_fake == expected:
                right += 1
            else:
                wrong += 1
                mistakes.append(f"{sample.sample_id} ({clip.kind}, {','.join(clip.tags)})")
    return f"synthetic corpus, face tracks of fakes: {right} right, {wrong} wrong, {unknown} unknown" + (
        f" (wrong: {'; '.join(mistakes)})" if mistakes else ""
    )


def _scores(args: argparse.Namespace, originals: list[Path]) -> list[TrackScore]:
    """The set's rows: read back with ``--reuse``, else the set built (or reused) and scored."""
    root, scores_file = args.set or args.work / "set", args.work / "scores.json"
    if not (args.reuse and scores_file.exists()):
        from dfdc_lake.synth.manipulate import TRUTH_FILENAME, write_manipulation_set

        if not (args.reuse and (root / TRUTH_FILENAME).exists()):
            built = write_manipulation_set(
                originals,
                root,
                seed=args.seed,
                catalogue=args.catalogue,
                workers=args.workers,
                overwrite=True,
            )
            print(f"manipulation set: {built.describe()}", file=sys.stderr)
        rows, boxes = score_set(root, every_held_back=args.catalogue != "main")
        measure_face_change(root, rows, boxes)
        args.work.mkdir(parents=True, exist_ok=True)
        scores_file.write_text(json.dumps([asdict(row) for row in rows], indent=1))
    return [TrackScore(**item) for item in json.loads(scores_file.read_text())]


def _not_in_catalogue(rows: list[TrackScore], catalogue: str) -> list[str]:
    """The rows' manipulations that ``catalogue`` lacks: a set or scores of the other catalogue."""
    from dfdc_lake.synth.manipulate.kinds import CATALOGUES

    known = {(manipulation.kind, manipulation.variant) for manipulation in CATALOGUES[catalogue]}
    return sorted(
        {f"{row.kind} {row.variant}".strip() for row in rows if (row.kind, row.variant) not in known}
    )


def _print_scores(rows: list[TrackScore], crf35: dict[str, float]) -> None:
    print(
        f"CRF 35 re-encode's face change (grey levels): {json.dumps({k: round(v, 2) for k, v in crf35.items()})}"
    )
    print("\n## Scores (face_diff / audio_diff_db), every derived clip")
    for row in sorted(rows, key=lambda r: (r.kind, r.variant, r.file)):
        change = "" if row.face_change is None else f" change={row.face_change:.2f}"
        face = "-" if row.face_diff is None else f"{row.face_diff:.2f}"
        if row.face_detail_kept is not None:
            face += f" kept={row.face_detail_kept:.2f}"
        if row.face_detail_kept_half_res is not None:
            face += f" kept_half_res={row.face_detail_kept_half_res:.2f}"
        if row.face_contrast is not None:
            face += f" contrast={row.face_contrast:.1f}"
        audio = "-" if row.audio_diff_db is None else f"{row.audio_diff_db:.2f}"
        print(f"  {row.split:9s} {row.file:40s} t{row.track_id} face={face} audio={audio}{change}")


def _print_labelled(
    title: str, rows: list[TrackScore], thresholds: dict[str, float], crf35: dict[str, float]
) -> None:
    print(f"\n## {title}: {json.dumps(thresholds)}")
    labelled = relabel(rows, thresholds)
    print(confusion_table(labelled, "face"))
    print()
    print(confusion_table(labelled, "audio"))
    print()
    print("\n".join(check_done(labelled, crf35)))


def report_main(rows: list[TrackScore], crf35: dict[str, float]) -> dict[str, float]:
    """Thresholds fitted on the calibration half; the held-back half under them and the configured
    ones, and the calibration half under the configured ones. Returns the configured thresholds."""
    from dfdc_lake.config import LabelConfig

    calibrate = [row for row in rows if row.split == "calibrate"]
    holdout = [row for row in rows if row.split == "holdout"]
    fitted = fit_thresholds(calibrate, crf35)
    configured = LabelConfig().model_dump()
    configured = {key: configured[key] for key in fitted}
    print(f"originals: {len({r.original for r in rows})} "
          f"(calibrate: {sorted({r.original for r in calibrate})}; holdout: {sorted({r.original for r in holdout})})")  # fmt: skip
    _print_scores(rows, crf35)
    for name, thresholds in (
        ("fitted on the calibration half", fitted),
        ("configured (LabelConfig)", configured),
    ):
        _print_labelled(f"Held-back half, thresholds {name}", holdout, thresholds, crf35)
    print("\n## Calibration half, configured thresholds")
    print("\n".join(check_done(relabel(calibrate, configured), crf35)))
    return configured


def report_blind(rows: list[TrackScore], crf35: dict[str, float]) -> dict[str, float]:
    """Every original held back, the configured thresholds alone (nothing fitted). Returns them."""
    from dfdc_lake.config import LabelConfig

    configured = LabelConfig().model_dump()
    originals = sorted({row.original for row in rows})
    print(f"originals: {len(originals)}, every one held back: {originals}")
    _print_scores(rows, crf35)
    _print_labelled("Blind check, thresholds configured (LabelConfig)", rows, configured, crf35)
    return configured


def main() -> int:
    from dfdc_lake.synth.manipulate.kinds import CATALOGUES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("originals", nargs="*", type=Path, help="real clips (default: ../shared/dfdc-sample)")
    parser.add_argument(
        "--catalogue",
        choices=list(CATALOGUES),
        default="main",
        help="main: fit on half the originals, report the other half; blind, blind2: a pre-registered "
        "blind catalogue, every original held back, configured thresholds only (default main)",
    )
    parser.add_argument(
        "--work", type=Path, help="default: bench-out/labels (else bench-out/labels-CATALOGUE)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="reuse the set and scores already in --work")
    parser.add_argument("--set", type=Path, help="score this manipulation set (default: build one in --work)")
    parser.add_argument("--no-synthetic", action="store_true")
    args = parser.parse_args()
    originals = args.originals or sorted(SAMPLE.glob("*/*.mp4"))
    if not originals:
        parser.error(f"no originals given and none in {SAMPLE}")
    args.work = args.work or REPO / "bench-out" / (
        "labels" if args.catalogue == "main" else f"labels-{args.catalogue}"
    )
    args.reuse = args.reuse or args.set is not None
    started = time.perf_counter()
    rows = _scores(args, originals)
    stray = _not_in_catalogue(rows, args.catalogue)
    if stray:
        parser.error(f"the scores in {args.work} hold manipulations of another catalogue: {', '.join(stray)}")
    crf35 = _crf35_change(rows)
    report = report_main if args.catalogue == "main" else report_blind
    configured = report(rows, crf35)
    if not args.no_synthetic:
        print("\n## " + score_synthetic(args.work, configured))
    print(f"\n(bench wall {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
