"""Face recall and detection CPU per original, for detection settings side by side (#14 item 3).

    python bench/detect.py                                   # the bench/ingest.py corpus (4 families, seed 3)
    python bench/detect.py --corpus DIR --real ../shared/dfdc-sample/*/*.mp4
    python bench/detect.py --variant "every frame=faces.detect_every=1" --variant "every 4th=faces.detect_every=4"

Every decodable original (REAL) of a synthetic corpus is decoded once, as ingest decodes it; then each
variant detects and tracks in this process (MTCNN on CPU, one torch thread) and its tracks are scored
against the ground truth: recall is the share of true (person, sampled frame) faces that a track box
covers with IoU >= 0.5, per hard-case tag; "mean IoU" is those hits' best IoU (how tight the boxes
are); "extra" counts track boxes that cover no true face. CPU seconds are the process's CPU time in
``detect_tracks`` (downscale, MTCNN, tracking); frames and windows per clip count what MTCNN was given
(whole detector frames, and 128 px face windows between detected frames).

Real clips (``--real``) have no ground truth: each variant is scored against the first variant's tracks
(the agreement a cheaper setting keeps with today's), with their CPU seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
MIN_IOU = 0.5
DEFAULT_VARIANTS = [
    "every frame=faces.detect_every=1",
    "default (every 4th, steady 0.9, windows between)=",
    "every 3rd, steady 0.9, whole frames between (before)=faces.detect_every=3;faces.between=frames",
    "every 2nd, unchecked=faces.detect_every=2;faces.steady_iou=0.01",
]


@dataclass
class Score:
    """Recall and extra boxes of one variant over some clips."""

    hits: int = 0
    hit_iou: float = 0.0  # summed IoU of each hit's best box: how tight the boxes are
    faces: int = 0
    extra: int = 0
    cpu_s: float = 0.0
    clips: int = 0
    frames: int = 0  # whole frames given to MTCNN
    windows: int = 0  # face windows given to MTCNN (``stages.windows``)

    def add(self, other: Score) -> None:
        self.hits += other.hits
        self.hit_iou += other.hit_iou
        self.faces += other.faces
        self.extra += other.extra
        self.cpu_s += other.cpu_s
        self.clips += other.clips
        self.frames += other.frames
        self.windows += other.windows

    @property
    def recall(self) -> float:
        return self.hits / self.faces if self.faces else float("nan")

    @property
    def mean_iou(self) -> float:
        return self.hit_iou / self.hits if self.hits else float("nan")


@dataclass
class Variant:
    name: str
    overrides: list[str]
    totals: dict[str, Score] = field(default_factory=lambda: defaultdict(Score))


def parse_variant(text: str) -> Variant:
    name, _, overrides = text.partition("=")
    return Variant(name.strip(), [o.strip() for o in overrides.split(";") if o.strip()])


def track_boxes_at(tracks: list[Any]) -> dict[int, list[np.ndarray]]:
    """Frame number -> the track boxes at that frame."""
    at: dict[int, list[np.ndarray]] = defaultdict(list)
    for track in tracks:
        for frame, box in zip(track.frame_indices.tolist(), track.boxes_xyxy, strict=True):
            at[frame].append(box)
    return at


def score_tracks(truth_boxes: dict[int, list[np.ndarray]], tracks: list[Any]) -> Score:
    """Hits: true faces some track box covers with IoU >= MIN_IOU; extra: track boxes covering none."""
    from dfdc_lake.stages.tracker import box_iou

    found = track_boxes_at(tracks)
    score = Score()
    for frame, truths in truth_boxes.items():
        boxes = found.get(frame, [])
        ious = box_iou(np.stack(truths), np.stack(boxes)) if boxes else np.zeros((len(truths), 0))
        score.faces += len(truths)
        best = ious.max(axis=1) if boxes else np.zeros(len(truths))
        score.hits += int((best >= MIN_IOU).sum())
        score.hit_iou += float(best[best >= MIN_IOU].sum())
        score.extra += int((ious < MIN_IOU).all(axis=0).sum()) if boxes else 0
    return score


def visible(box: np.ndarray, width: int, height: int) -> bool:
    """At least half of a true box lies inside the frame (a face leaving the frame is not counted)."""
    x1, y1, x2, y2 = box
    inside = max(0.0, min(x2, width) - max(x1, 0)) * max(0.0, min(y2, height) - max(y1, 0))
    return inside >= 0.5 * (x2 - x1) * (y2 - y1)


def run_variants(frames_of: list[Any], variants: list[Variant], reference: dict[int, list[np.ndarray]] | None,
                 truth_of_segment: Any, tag: str) -> dict[str, list[Any]]:  # fmt: skip
    """Detect and track every segment with each variant; add its score under ``tag`` and 'all'."""
    from dfdc_lake.config import Config
    from dfdc_lake.stages.analysis import VideoAnalyzer
    from dfdc_lake.stages.faces import FaceDetector
    from dfdc_lake.stages.windows import WINDOW_PX

    tracks_by_variant: dict[str, list[Any]] = {}
    for variant in variants:
        config = Config().with_overrides(["faces.device=cpu", *variant.overrides])
        detector = FaceDetector(config.faces)
        detector.setup()
        score = Score(clips=1)

        def counted(frames: np.ndarray, score: Score = score, detector: Any = detector) -> Any:
            if frames.shape[1:3] == (WINDOW_PX, WINDOW_PX):
                score.windows += len(frames)
            else:
                score.frames += len(frames)
            return detector.detect_downscaled(frames)

        analyzer = VideoAnalyzer(config, counted)
        tracks: list[Any] = []
        for video in frames_of:
            started = time.process_time()
            segment_tracks, _ = analyzer.detect_tracks(video)
            score.cpu_s += time.process_time() - started
            tracks += segment_tracks
            truths = truth_of_segment(video) if reference is None else _frames_in(reference, video)
            score.add(score_tracks(truths, segment_tracks))
        tracks_by_variant[variant.name] = tracks
        variant.totals[tag].add(score)
        if tag != "all":
            variant.totals["all"].add(score)
    return tracks_by_variant


def _frames_in(boxes_at: dict[int, list[np.ndarray]], video: Any) -> dict[int, list[np.ndarray]]:
    return {f: boxes_at[f] for f in video.frame_indices.tolist() if boxes_at.get(f)}


def synthetic_originals(corpus: Path) -> list[tuple[Path, Any]]:
    from dfdc_lake.synth.truth import load_ground_truth

    found = []
    for part in sorted(corpus.glob("dfdc_train_part_*")):
        for name, truth in sorted(load_ground_truth(part).items()):
            if truth.label == "REAL" and truth.decodable:
                found.append((part / name, truth))
    return found


def decode_all(path: Path) -> list[Any]:
    from dfdc_lake.config import Config
    from dfdc_lake.stages.decode import VideoDecoder

    return list(VideoDecoder(Config().decode).segments(path.read_bytes()))


def print_table(title: str, variants: list[Variant], tags: list[str]) -> None:
    print(f"\n{title}")
    width = max(len(v.name) for v in variants) + 2
    head = (
        f"{'variant':{width}}"
        + "".join(f"{t:>13}" for t in tags)
        + f"{'mean IoU':>10}{'extra boxes':>13}{'frames/clip':>13}{'windows/clip':>14}{'CPU s/clip':>12}"
    )
    print(head)
    for variant in variants:
        cells = []
        for tag in tags:
            score = variant.totals.get(tag)
            cells.append(f"{score.recall:13.1%}" if score and score.faces else f"{'-':>13}")
        total = variant.totals["all"]
        per_clip = total.cpu_s / total.clips if total.clips else float("nan")
        print(
            f"{variant.name:{width}}"
            + "".join(cells)
            + f"{total.mean_iou:10.3f}{total.extra:13d}"
            + f"{total.frames / total.clips:13.1f}{total.windows / total.clips:14.1f}{per_clip:12.2f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--corpus", type=Path, help="a synthetic corpus (default: bench/ingest.py's, made if absent)"
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench-out")
    parser.add_argument("--families", type=int, default=4)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--real", type=Path, nargs="*", default=[], help="real clips, scored against variant 1"
    )
    parser.add_argument(
        "--variant",
        action="append",
        help="NAME=section.key=value;... (default: every frame, the default, two cheaper ones)",
    )
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)  # as a family task detects: one core
    variants = [parse_variant(v) for v in (args.variant or DEFAULT_VARIANTS)]
    corpus = args.corpus
    if corpus is None:
        from ingest import make_corpus

        corpus = args.out / f"corpus-dfdc-f{args.families}-s{args.seed}"
        make_corpus(corpus, 0, args.seed, args.families)
    originals = synthetic_originals(corpus)
    tags: list[str] = ["all"]
    for path, truth in originals:
        tag = truth.tags[0] if truth.tags else "plain"
        if tag not in tags:
            tags.append(tag)
        frames_of = decode_all(path)

        def truth_of_segment(video: Any, truth: Any = truth) -> dict[int, list[np.ndarray]]:
            boxes = truth.face_boxes_xyxy
            return {
                f: kept
                for f in video.frame_indices.tolist()
                if (kept := [b for b in boxes[:, f] if visible(b, truth.width_px, truth.height_px)])
            }

        run_variants(frames_of, variants, None, truth_of_segment, tag)
        print(f"{path.name} ({tag}): " + ", ".join(
            f"{v.name} {v.totals[tag].recall:.0%}" for v in variants), flush=True)  # fmt: skip
    print(f"\n{len(originals)} synthetic originals from {corpus}; MTCNN on CPU, 1 torch thread")
    print_table("Face recall against the ground truth (IoU >= 0.5), by hard case", variants, tags)

    if args.real:
        real_variants = [Variant(v.name, v.overrides) for v in variants]
        for path in args.real:
            frames_of = decode_all(path)
            # Variant 1 first: its tracks are the others' reference.
            first = run_variants(frames_of, real_variants[:1], None, lambda video: {}, "all")
            reference = track_boxes_at(first[real_variants[0].name])
            real_variants[0].totals["all"].hits = real_variants[0].totals["all"].faces = 0
            run_variants(frames_of, real_variants[1:], reference, None, "all")
            print(f"{path.name}: decoded and detected", flush=True)
        print_table(
            f"{len(args.real)} real clips: track boxes agreeing with '{real_variants[0].name}' (IoU >= 0.5)",
            real_variants,
            ["all"],
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
