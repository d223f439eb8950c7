"""MTCNN (facenet-pytorch, CPU, default thresholds) finds the true faces where the ground truth says."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dfdc_lake.synth.corpus import write_corpus
from dfdc_lake.synth.identities import IDENTITIES, identity_sprite
from dfdc_lake.synth.truth import ClipTruth, load_ground_truth
from tests.synth.detection import Sample, Tally, best_ious, case_of, decode_frames, iou_xyxy, sample_ious

MIN_RATE = 0.9


def _path(root: Path, clip: ClipTruth) -> Path:
    return root / f"dfdc_train_part_{clip.part}" / clip.filename


def _report(title: str, tallies: dict[str, Tally]) -> None:
    print(f"\n{title}")
    for key, tally in sorted(tallies.items()):
        print(f"  {key:24s} {tally.hits:4d}/{tally.total:<4d} = {tally.rate:.2f}")


def test_sprite_face_boxes_match_mtcnn(mtcnn):
    """The calibrated face box of every identity is where MTCNN puts it (sprite alone, grey ground)."""
    frames, truths = [], []
    for identity in IDENTITIES:
        sprite = identity_sprite(identity)
        scaled = sprite.scaled(100.0 / sprite.face_size_px[1])
        patch = Image.fromarray(scaled.rgba, "RGBA")
        ground = Image.new("RGB", (360, 300), (110, 120, 130))
        cx, cy = scaled.face_center_xy
        offset = (round(180 - cx), round(120 - cy))
        ground.paste(patch, offset, patch)
        frames.append(np.asarray(ground))
        truths.append(np.asarray(scaled.face_box_xyxy) + np.array(offset * 2))
    ious = best_ious(mtcnn, np.stack(frames), np.stack(truths)[None])
    for identity, iou in zip(IDENTITIES, ious[:, 0], strict=True):
        assert iou >= 0.7, (identity, iou)


def test_mtcnn_finds_every_true_face_of_the_tiny_corpus(mtcnn, tiny_corpus, tiny_truth):
    """Three frames of every REAL, face and both fake, counted per hard case and per kind.

    Voice fakes are left out: they show exactly their REAL's frames (see test_decode)."""
    clips = [
        clip
        for clip in tiny_truth.values()
        if clip.decodable and clip.kind != "voice" and "low_light" not in clip.tags
    ]
    samples = [
        Sample(
            _path(tiny_corpus, clip),
            clip,
            [clip.num_frames // 6, clip.num_frames // 2, 5 * clip.num_frames // 6],
        )
        for clip in clips
    ]
    tallies: dict[str, Tally] = defaultdict(Tally)
    for clip, ious in zip(clips, sample_ious(mtcnn, samples), strict=True):
        tallies[case_of(clip)].add(ious)
        tallies[f"kind={clip.kind}"].add(ious)
    _report("MTCNN on the tiny corpus (IoU >= 0.5):", tallies)
    assert {"plain", "portrait", "fps15", "lowres", "two_people", "no_audio"} <= set(tallies)
    for key, tally in tallies.items():
        assert tally.rate >= MIN_RATE, (key, tally)


def test_low_light_clips_are_dark_flat_and_hard_for_mtcnn(mtcnn, tiny_corpus, tiny_truth):
    """Counted apart: at default thresholds MTCNN struggles; a contrast stretch brings the faces back."""
    dark = [clip for clip in tiny_truth.values() if "low_light" in clip.tags and clip.decodable]
    assert dark
    samples = []
    for clip in dark:
        picks = list(range(0, clip.num_frames, clip.num_frames // 5))[:5]
        frames = decode_frames(_path(tiny_corpus, clip), picks)
        assert frames.mean() < 40.0
        low, high = np.percentile(frames, [1, 99])
        assert high - low < 60.0
        if clip.kind != "voice":
            samples += [Sample(_path(tiny_corpus, clip), clip, picks, stretch) for stretch in (False, True)]
    raw, stretched = Tally(), Tally()
    for sample, ious in zip(samples, sample_ious(mtcnn, samples), strict=True):
        (stretched if sample.stretch else raw).add(ious)
    _report("MTCNN on the low-light clips:", {"raw": raw, "stretched": stretched})
    assert raw.rate < MIN_RATE, "low light should be hard at default thresholds"
    assert stretched.rate >= 0.75 and stretched.rate > raw.rate


@pytest.fixture(scope="module")
def dfdc_clips(tmp_path_factory) -> Path:
    """Full dfdc-profile clips (29.97 fps, 10 s): a two-people family (1920x1080) and a portrait family
    (1080x1920), each a REAL and a face swap."""
    root = tmp_path_factory.mktemp("dfdc_profile")
    summary = write_corpus(
        root,
        parts=1,
        families=0,
        fakes_per_family=1,
        seed=7,
        profile="dfdc",
        cases=("portrait", "two_people"),
    )
    print(f"\n{summary.describe()}\n  {summary.seconds / summary.videos:.1f} s per clip")
    return root


@pytest.mark.slow
def test_mtcnn_finds_every_true_face_of_dfdc_profile_clips(mtcnn, dfdc_clips):
    import decord

    part = dfdc_clips / "dfdc_train_part_0"
    truth = load_ground_truth(part)
    assert len(truth) == 4
    samples = []
    for clip in truth.values():
        reader = decord.VideoReader(str(part / clip.filename))
        assert len(reader) == clip.num_frames == 300
        assert reader[0].shape == (clip.height_px, clip.width_px, 3)
        assert (clip.width_px, clip.height_px) in {(1920, 1080), (1080, 1920)}
        samples.append(Sample(part / clip.filename, clip, [0, 60, 120, 180, 240, 299]))
    tallies: dict[str, Tally] = defaultdict(Tally)
    for sample, ious in zip(samples, sample_ious(mtcnn, samples), strict=True):
        tallies[f"{case_of(sample.truth)}/{sample.truth.kind}"].add(ious)
    _report("MTCNN on dfdc-profile clips (frames downscaled to 640 px):", tallies)
    for key, tally in tallies.items():
        assert tally.rate >= MIN_RATE, (key, tally)


def test_iou_helper():
    assert iou_xyxy(np.array([0, 0, 10, 10]), np.array([0, 0, 10, 10])) == 1.0
    assert iou_xyxy(np.array([0, 0, 10, 10]), np.array([5, 0, 15, 10])) == pytest.approx(1 / 3)
    assert iou_xyxy(np.array([0, 0, 1, 1]), np.array([2, 2, 3, 3])) == 0.0
