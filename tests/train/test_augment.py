"""The dfdc augmentation chain: seeded by (seed, epoch, sample) alone, landmark cutout where the points
say, random erasing without them, isotropic resize keeping the face's aspect."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
import torch
from PIL import Image

from dfdc_lake.train.inputs.augment import ChainSettings, augment_track, landmark_cutout
from dfdc_lake.train.inputs.features import InputSpec, _landmarks_px, decode_rows, isotropic_resize
from dfdc_lake.train.seeding import numpy_rng

# MTCNN's order: left eye, right eye, nose, mouth left, mouth right; x/y as shares of the crop.
POINTS = np.array([0.3, 0.4, 0.7, 0.4, 0.5, 0.6, 0.35, 0.78, 0.65, 0.78], np.float32)
DFDC = InputSpec(64, 3, 32, 8, 5, augmentation="dfdc", resize="isotropic")


def _jpeg(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def _row(sample_id: str, crops: int = 6, landmarks: bool = True) -> dict:
    rng = np.random.default_rng(len(sample_id))
    return {
        "sample_id": sample_id, "video_id": "v", "family_id": "f", "is_fake": True, "face_fake": True,
        "audio_fake": None, "has_audio": False, "logmel_f16": None, "logmel_shape": None,
        "crops_jpeg": [_jpeg(rng.integers(0, 256, (60, 44, 3), dtype=np.uint8)) for _ in range(crops)],
        "crop_landmarks": np.tile(POINTS, crops).tolist() if landmarks else None,
    }  # fmt: skip


def test_a_sample_augments_the_same_way_whatever_the_global_generators_hold() -> None:
    rows = [_row("a"), _row("bb"), _row("ccc", landmarks=False)]
    torch.manual_seed(1)
    np.random.seed(1)
    first = decode_rows(rows, DFDC, True, seed=5, epoch=2)["faces"]
    torch.manual_seed(2)
    np.random.seed(2)
    again = decode_rows(rows[::-1], DFDC, True, seed=5, epoch=2)["faces"][::-1]  # other batch order too
    assert first.shape == (3, 3, 64, 64, 3) and first.dtype == np.uint8
    assert np.array_equal(first, again)
    other_epoch = decode_rows(rows, DFDC, True, seed=5, epoch=3)["faces"]
    assert not np.array_equal(first, other_epoch)


def test_evaluation_is_not_augmented_and_pads_the_face_to_a_square() -> None:
    row = _row("a")
    one = decode_rows([row], DFDC, False, seed=0, epoch=0)["faces"]
    two = decode_rows([row], DFDC, False, seed=9, epoch=7)["faces"]
    assert np.array_equal(one, two) and one.shape == (1, 5, 64, 64, 3)
    # 60x44 scaled to 64x47: 8 zero columns left of the face, 9 right of it.
    assert one[0, :, :, :8].max() == 0 and one[0, :, :, -9:].max() == 0 and one[0, :, :, 8:55].max() > 0


def test_isotropic_resize_places_the_landmarks_where_the_face_went() -> None:
    image = torch.full((3, 80, 40), 200, dtype=torch.uint8)
    square, place = isotropic_resize(image, 64)
    assert place == (16, 0, 32, 64)  # left, top, width, height
    assert square[:, :, :16].max() == 0 and square[:, :, 16:48].min() > 0
    points = _landmarks_px(np.tile(POINTS, 3).tolist(), np.array([0, 2]), [place, place])
    assert points is not None and points.shape == (2, 5, 2)
    assert points[0, 0].tolist() == pytest.approx([16 + 0.3 * 32, 0.4 * 64])
    assert _landmarks_px(POINTS.tolist(), np.array([1]), [place]) is None  # points for 1 crop, crop 1 asked


def _first_choice_seed(part: str) -> int:
    """A seed whose generator picks ``part`` in landmark_cutout (eyes > 0.5, else mouth, else nose)."""
    for seed in range(100):
        draws = np.random.default_rng(seed).random(3)
        picked = next((p for p, d in zip(("eyes", "mouth", "nose"), draws, strict=True) if d > 0.5), None)
        if picked == part:
            return seed
    raise AssertionError(part)


@pytest.mark.parametrize(
    ("part", "inside", "outside"),
    [
        ("eyes", (0.5, 0.4), (0.5, 0.78)),
        ("mouth", (0.5, 0.78), (0.5, 0.4)),
        ("nose", (0.5, 0.5), (0.5, 0.78)),
    ],
)
def test_landmark_cutout_erases_the_part_the_points_mark(part: str, inside: tuple, outside: tuple) -> None:
    faces = torch.full((2, 3, 64, 64), 255, dtype=torch.uint8)
    points = POINTS.reshape(5, 2) * 64
    landmarks = np.stack([points, np.full((5, 2), np.nan, np.float32)])  # crop 1: MTCNN gave no points
    out = landmark_cutout(faces, landmarks, np.random.default_rng(_first_choice_seed(part)))
    assert out[0, :, int(inside[1] * 64), int(inside[0] * 64)].max() == 0
    assert out[0, :, int(outside[1] * 64), int(outside[0] * 64)].min() == 255
    assert 0 < (out[0] == 0).float().mean() < 0.25  # a band, not the face
    assert torch.equal(out[1], faces[1])


def test_without_landmarks_the_cutout_falls_back_to_random_erasing() -> None:
    faces = torch.full((2, 3, 64, 64), 255, dtype=torch.uint8)
    only_cutout = ChainSettings(jpeg_p=0, noise_p=0, blur_p=0, flip_p=0, colour_p=0, grey_p=0, affine_p=0)
    erased = 0
    for seed in range(40):
        out = augment_track(faces, None, numpy_rng(0, 0, str(seed)), only_cutout)
        zeros = (out == 0).all(dim=1)
        if not zeros.any():
            continue
        erased += 1
        assert torch.equal(zeros[0], zeros[1])  # one rectangle for the whole track
        rows, cols = zeros[0].any(dim=1), zeros[0].any(dim=0)
        assert int(zeros[0].sum()) == int(rows.sum()) * int(cols.sum())  # and a rectangle
    assert 10 <= erased <= 30  # RandomErasing's p 0.5


def _track(k: int = 3, size: int = 48) -> torch.Tensor:
    """K copies of one left-to-right asymmetric colour crop (a flip and a grey conversion both show)."""
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 256, (3, size, size), dtype=np.uint8)
    crop[0, :, : size // 2] = 250  # red on the left half only
    return torch.from_numpy(crop).expand(k, -1, -1, -1).contiguous()


def test_the_chain_repeats_from_the_sample_generator_alone_and_gives_the_track_one_draw() -> None:
    faces = _track()
    changed = 0
    for seed in range(30):
        random.seed(seed)  # albumentations' own transforms use Python's random: it must not leak in
        np.random.seed(seed)
        torch.manual_seed(seed)
        out = augment_track(faces, None, numpy_rng(3, 1, str(seed)))
        random.seed(seed + 1)
        np.random.seed(seed + 1)
        torch.manual_seed(seed + 1)
        assert torch.equal(out, augment_track(faces, None, numpy_rng(3, 1, str(seed))))
        assert out.shape == faces.shape and out.dtype == torch.uint8
        assert all(torch.equal(out[0], out[k]) for k in range(1, len(out)))  # one draw for the track
        changed += not torch.equal(out, faces)
    assert changed >= 25  # P(no step at all) is ~1.3%


def test_each_step_draws_on_its_own() -> None:
    """Every transform gets its own seed: with one seed for all, the first draws (the p tests) would be
    equal and grey (p 0.2) would never come without the flip (p 0.5)."""
    only = ChainSettings(cutout_p=0, erase_p=0, jpeg_p=0, noise_p=0, blur_p=0, colour_p=0, affine_p=0)
    faces = _track(k=1)
    seen = set()
    for seed in range(120):
        out = augment_track(faces, None, numpy_rng(0, 0, str(seed)), only)[0]
        grey = bool(torch.equal(out[0], out[1]) and torch.equal(out[1], out[2]))
        flipped = bool(out[0, :, -1].float().mean() > out[0, :, 0].float().mean())
        seen.add((flipped, grey))
    assert seen == {(False, False), (True, False), (False, True), (True, True)}


def test_the_dfdc_augmentation_leaves_fancy_pca_out_and_dfdc_fancy_pca_keeps_it() -> None:
    """``augmentation='dfdc'`` (the recipe's) is the chain without FancyPCA; 'dfdc_fancy_pca' has it."""
    from dfdc_lake.train.config import TrainConfig
    from dfdc_lake.train.inputs.augment import CHAINS

    assert not CHAINS["dfdc"].fancy_pca and CHAINS["dfdc_fancy_pca"].fancy_pca
    assert TrainConfig(augmentation="dfdc_fancy_pca").augmentation == "dfdc_fancy_pca"
    only_colour = {"cutout_p": 0, "erase_p": 0, "jpeg_p": 0, "noise_p": 0, "blur_p": 0, "flip_p": 0,
                   "grey_p": 0, "affine_p": 0, "colour_p": 1}  # fmt: skip
    faces = _track(k=1)
    outputs = {}
    for fancy in (False, True):
        chain = ChainSettings(**only_colour, fancy_pca=fancy)
        outputs[fancy] = [augment_track(faces, None, numpy_rng(0, 0, str(s)), chain) for s in range(30)]
    # The same seeds pick among 2 colour ops without FancyPCA and 3 with it: some tracks differ.
    assert any(not torch.equal(a, b) for a, b in zip(outputs[False], outputs[True], strict=True))
    spec = InputSpec(64, 3, 32, 8, 5, augmentation="dfdc_fancy_pca", resize="isotropic")
    batch = decode_rows([_row("a")], spec, True, seed=1, epoch=0)
    assert batch["faces"].shape == (1, 3, 64, 64, 3)
