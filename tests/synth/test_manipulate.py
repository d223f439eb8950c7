"""The manipulation set: derived clips decode to what their truth record says was done to the original.

The originals are two tiny synthetic clips (480x270, 1.5 s; the astronaut and an LFW face, both found
by MTCNN), rendered here, so the true face box of every frame is known without a detector. Every
comparison decodes the written files. The set is generated once for the module (~20 s).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from dfdc_lake.source.catalog import load_catalog
from dfdc_lake.synth.corpus import render_clip
from dfdc_lake.synth.encode import write_mp4
from dfdc_lake.synth.manipulate import (
    KINDS,
    PART_NAME,
    ManipulationRecord,
    ManipulationSet,
    read_skipped,
    read_truth,
    write_manipulation_set,
)
from dfdc_lake.synth.plan import plan_corpus
from dfdc_lake.synth.profiles import get_profile
from dfdc_lake.synth.truth import clip_truth

PROFILE = dataclasses.replace(get_profile("tiny"), duration_s=1.5)
FACE_KINDS = ("swap", "smooth_x8", "smooth_x4", "smooth_x2", "warp_strong", "warp_mild", "swap_and_voice")
AUDIO_KINDS = ("voice_swap", "pitch_shift_up4", "pitch_shift_down2", "band_limited")
SAME_GEOMETRY_CONTROLS = ("reencode_crf18", "reencode_crf28", "reencode_crf35")


@dataclasses.dataclass
class Built:
    """The module's set and what is known about its originals."""

    root: Path
    result: ManipulationSet
    boxes: dict[str, np.ndarray]  # original file name -> true face boxes, float [frames, 4]

    @property
    def part(self) -> Path:
        return self.root / PART_NAME


def _render_originals(folder: Path) -> tuple[list[Path], dict[str, np.ndarray]]:
    """Two 1.5 s synthetic REALs: the astronaut (she speaks with her voice) and an LFW face."""
    plan = plan_corpus(parts=1, families=2, fakes_per_family=0, seed=3, profile=PROFILE, cases=())
    first, second = plan[0].clips
    scene = dataclasses.replace(first.scene, identities=("astronaut",))
    first = dataclasses.replace(first, scene=scene, voice="astronaut")
    paths, boxes = [], {}
    folder.mkdir()
    for name, spec in (("astronaut.mp4", first), ("lfw.mp4", second)):
        render_clip(spec, folder / name, PROFILE)
        paths.append(folder / name)
        boxes[name] = clip_truth(spec).face_boxes_xyxy[0]
    return paths, boxes


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("manipulated")
    paths, boxes = _render_originals(root / "sources")
    result = write_manipulation_set(paths, root / "set", seed=0)
    return Built(root / "set", result, boxes)


def _frames(path: Path) -> np.ndarray:
    """Every frame as float32 RGB ``[T, H, W, 3]``."""
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]).astype(
            np.float32
        )


def _pts(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        return [int(frame.pts) for frame in container.decode(video=0)]


def _inside_outside(diff: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the mean of ``diff`` (``[T, H, W]``) inside the face box and outside it."""
    inside, outside = [], []
    for frame, (x1, y1, x2, y2) in zip(diff, boxes, strict=True):
        mask = np.zeros(frame.shape, bool)
        mask[max(0, int(y1)) : int(np.ceil(y2)), max(0, int(x1)) : int(np.ceil(x2))] = True
        inside.append(frame[mask].mean())
        outside.append(frame[~mask].mean())
    return np.array(inside), np.array(outside)


def _derived(built: Built, original: str, suffix: str) -> Path:
    return built.part / f"{original.removesuffix('.mp4')}_{suffix}.mp4"


def _long_term_spectrum_db(path: Path) -> np.ndarray:
    """Mean log power (dB) in 64 bands up to 8 kHz, quiet cells floored 50 dB under the peak."""
    with av.open(str(path)) as container:
        rate = container.streams.audio[0].rate
        audio = np.concatenate([frame.to_ndarray().mean(axis=0) for frame in container.decode(audio=0)])
    frames = np.lib.stride_tricks.sliding_window_view(audio, 2048)[::512] * np.hanning(2048)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(2048, 1.0 / rate)
    edges = np.linspace(50, 8000, 65)
    bands = np.stack(
        [power[:, (freqs >= lo) & (freqs < hi)].sum(axis=1) for lo, hi in itertools.pairwise(edges)]
    )
    db = 10 * np.log10(bands + 1e-12)
    return np.maximum(db, db.max() - 50).mean(axis=1)


def test_the_set_is_a_dfdc_source_whose_fakes_name_their_originals(built):
    catalog = load_catalog(str(built.root))
    assert not catalog.unlisted and not catalog.fakes_of_fakes
    reals = {entry.filename for entry in catalog.entries if entry.label == "REAL"}
    fakes = [entry for entry in catalog.entries if entry.label == "FAKE"]
    assert reals == {"astronaut.mp4", "lfw.mp4"}
    assert len(fakes) == 2 * 19 and all(entry.original in reals for entry in fakes)
    assert all(entry.size_bytes for entry in catalog.entries), "every listed file exists"
    families = catalog.families()
    assert [len(family.fakes) for family in families] == [19, 19]
    assert all(name.isascii() and name == name.lower() for name in (e.filename for e in catalog.entries))


def test_the_truth_file_round_trips_and_lists_every_fake(built):
    truth = read_truth(built.root)
    assert truth == {record.file: record for record in built.result.records}
    assert read_skipped(built.root) == []
    metadata = json.loads((built.part / "metadata.json").read_text())
    assert set(truth) == {name for name, entry in metadata.items() if entry["label"] == "FAKE"}
    for record in truth.values():
        assert ManipulationRecord.from_json(json.loads(json.dumps(record.to_json()))) == record
        traits = KINDS[record.kind]
        assert record.control == traits.control
        assert record.audio_changed == traits.audio
        assert record.face_changed == traits.face == bool(record.frames_changed)
        assert metadata[record.file]["original"] == record.original
    swap = truth["astronaut_swap.mp4"]
    assert swap.frames_changed == ((0, 45),) and swap.params["face_donor"] == "lfw.mp4"
    assert truth["lfw_reencode_crf35.mp4"].params["crf"] == 35


def test_face_kinds_change_the_face_and_leave_the_background(built):
    for original, boxes in built.boxes.items():
        reference = _frames(_derived(built, original, "reencode_crf23"))  # same encoder, no edit
        source = _frames(built.part / original)
        codec_inside, _ = _inside_outside(np.abs(reference - source).mean(axis=-1), boxes)
        for kind in FACE_KINDS:
            fake = _frames(_derived(built, original, kind))
            vs_reference = _inside_outside(np.abs(fake - reference).mean(axis=-1), boxes)
            vs_source, _ = _inside_outside(np.abs(fake - source).mean(axis=-1), boxes)
            label = f"{original} {kind}"
            # The edit is where the face is: against the same encode of the unedited frames, the face
            # differs several times more than the rest (which differs by the encoder's choices alone).
            assert vs_reference[0].mean() > 4 * vs_reference[1].mean(), label
            # And beyond the codec's noise (least for smooth_x2 on the LFW face, which is blurry already).
            assert vs_source.mean() > codec_inside.mean() + 0.3, label


def test_a_partial_swap_changes_only_its_frames(built):
    truth = read_truth(built.root)
    for original, boxes in built.boxes.items():
        record = truth[_derived(built, original, "partial_swap").name]
        ((start, end),) = record.frames_changed
        assert end - start == 15, "a third of the 45 frames"
        reference = _frames(_derived(built, original, "reencode_crf23"))
        fake = _frames(_derived(built, original, "partial_swap"))
        inside, _ = _inside_outside(np.abs(fake - reference).mean(axis=-1), boxes)
        changed = np.zeros(len(inside), bool)
        changed[start:end] = True
        assert inside[changed].min() > 3 * max(inside[~changed].max(), 1.0), (original, inside.round(1))


def test_controls_and_audio_kinds_leave_the_face_alone(built):
    for original, boxes in built.boxes.items():
        source = _frames(built.part / original)
        reference = _frames(_derived(built, original, "reencode_crf23"))
        for kind in AUDIO_KINDS:
            # The audio fakes share the CRF 23 re-encode's video stream.
            np.testing.assert_array_equal(_frames(_derived(built, original, kind)), reference, kind)
        inside, outside = _inside_outside(np.abs(reference - source).mean(-1), boxes)
        codec_ratio = inside.mean() / outside.mean()
        for kind in SAME_GEOMETRY_CONTROLS:
            control = _frames(_derived(built, original, kind))
            inside, outside = _inside_outside(np.abs(control - source).mean(-1), boxes)
            assert inside.mean() / outside.mean() < 1.25 * codec_ratio + 0.1, (original, kind)
            inside, outside = _inside_outside(np.abs(control - reference).mean(-1), boxes)
            assert inside.mean() < 3 * outside.mean(), (original, kind)


def test_audio_kinds_change_the_audio_and_the_others_keep_it(built):
    for original in built.boxes:
        source = _long_term_spectrum_db(built.part / original)
        differences = {
            kind: float(np.abs(_long_term_spectrum_db(_derived(built, original, kind)) - source).mean())
            for kind in (*AUDIO_KINDS, "swap_and_voice", "swap", "warp_strong", "reencode_crf35", "fps15")
        }
        changed = [differences[kind] for kind in (*AUDIO_KINDS, "swap_and_voice")]
        kept = [differences[kind] for kind in ("swap", "warp_strong", "reencode_crf35", "fps15")]
        assert min(changed) > 2 * max(kept) and max(kept) < 1.0, (original, differences)


def test_controls_change_rate_size_or_nothing(built):
    for original in built.boxes:
        source_path = built.part / original
        source_pts = _pts(source_path)
        for kind in (*FACE_KINDS, *AUDIO_KINDS, *SAME_GEOMETRY_CONTROLS):
            assert _pts(_derived(built, original, kind)) == source_pts, kind
        assert _pts(_derived(built, original, "fps15")) == source_pts[::2]
        quarter = _frames(_derived(built, original, "quarter_res"))
        assert quarter.shape == (45, 134, 240, 3)
        copy = _derived(built, original, "copy")
        assert copy.read_bytes() == source_path.read_bytes()
        np.testing.assert_array_equal(_frames(copy), _frames(source_path))


def test_built_in_donors_cut_originals_and_skipped_clips(tmp_path, built):
    noise = tmp_path / "Noise Clip.mp4"
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (96, 128, 3), dtype=np.uint8) for _ in range(8)]
    write_mp4(
        noise,
        frames,
        width_px=128,
        height_px=96,
        fps=Fraction(PROFILE.fps_num, PROFILE.fps_den),
        audio=None,
        profile=PROFILE,
    )
    result = write_manipulation_set(
        [built.part / "lfw.mp4", noise],
        tmp_path / "set",
        kinds=("swap", "voice_swap", "reencode"),
        max_seconds=0.5,
        workers=2,  # the process-pool path
    )
    assert result.originals == ["lfw.mp4", "noise_clip.mp4"]
    cut = _frames(result.part_dir / "lfw.mp4")
    assert len(cut) == 15, "cut to 0.5 s"
    truth = read_truth(tmp_path / "set")
    swap, voice = truth["lfw_swap.mp4"], truth["lfw_voice_swap.mp4"]
    assert swap.params["face_donor"] == "skimage:astronaut" and swap.frames_changed == ((0, 15),)
    swapped = _frames(result.part_dir / "lfw_swap.mp4")
    inside, outside = _inside_outside(np.abs(swapped - cut).mean(axis=-1), built.boxes["lfw.mp4"][:15])
    assert inside.mean() > 4 * outside.mean() + 3
    assert voice.params["voice_donor"] == "synthetic"
    assert "noise_clip_reencode_crf23.mp4" in truth and "noise_clip_swap.mp4" not in truth
    reasons = {item.file: item.reason for item in read_skipped(tmp_path / "set")}
    assert reasons == {
        "noise_clip_swap.mp4": "no face found in enough sampled frames",
        "noise_clip_voice_swap.mp4": "the original has no audio track",
    }


def test_bad_options_are_refused(tmp_path, built):
    original = built.part / "lfw.mp4"
    with pytest.raises(ValueError, match="unknown manipulation kind"):
        write_manipulation_set([original], tmp_path / "a", kinds=("morph",))
    with pytest.raises(ValueError, match="no original"):
        write_manipulation_set([], tmp_path / "b")
    with pytest.raises(FileNotFoundError):
        write_manipulation_set([tmp_path / "missing.mp4"], tmp_path / "c")
    with pytest.raises(FileExistsError):
        write_manipulation_set([original], built.root, kinds=("copy",))
