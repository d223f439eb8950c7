"""The input side without Ray: commit records -> shard lists, both shard formats -> identical model inputs,
and the model's losses on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.fs as pafs
import pytest
import torch

from dfdc_lake.errors import LakeCommitError
from dfdc_lake.lake.lake import Lake
from dfdc_lake.lake.reader import arrow_rows
from dfdc_lake.train.driver.lake_index import read_lake_index
from dfdc_lake.train.inputs.batches import training_reader
from dfdc_lake.train.inputs.features import (
    LAKE_COLUMNS,
    SILENCE_DB,
    InputSpec,
    decode_rows,
    decode_sample,
    pick_frames,
    png_decoder,
    spectrogram_window,
)
from dfdc_lake.train.model.network import ModelSpec, SpectrogramCNN, build_model
from dfdc_lake.train.model.steps import (
    LossSettings,
    loss_terms,
    recalibrate_batchnorm,
    to_tensors,
    train_epoch,
)

SPEC = InputSpec(image_size_px=32, frames_per_sample=2, audio_frames=64, n_mels=64)


def test_lake_index_names_only_committed_shards(synth_lake: Path) -> None:
    index = read_lake_index(Lake.open(str(synth_lake)), "parquet")
    assert sorted(u for c in index.chunks for u in c.shard_urls) == sorted(
        Lake.open(str(synth_lake)).shard_urls()
    )
    assert index.skipped_videos == len(index.chunks)  # one no-face video per chunk, no samples
    assert len(index.videos) == len(index.samples_per_video)
    # An orphan shard of a crashed attempt is never read: nothing lists chunks/.
    orphan = (
        synth_lake / "chunks" / index.chunks[0].chunk_id / "20990101T000000-deadbeef" / "part-00000.parquet"
    )
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"not parquet")
    try:
        assert str(orphan) not in read_lake_index(Lake.open(str(synth_lake))).shard_urls(
            index.chunks[0].families
        )
    finally:
        orphan.unlink()
        orphan.parent.rmdir()


def test_an_uncommitted_lake_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LakeCommitError, match="no committed chunks"):
        read_lake_index(Lake.open(str(tmp_path)))


def test_parquet_and_webdataset_rows_decode_to_the_same_inputs(synth_lake: Path) -> None:
    fs = pafs.LocalFileSystem()
    parquet = list(training_reader(fs, "parquet").rows(Lake.open(str(synth_lake)).shard_urls("parquet")))
    tars = list(training_reader(fs, "webdataset").rows(Lake.open(str(synth_lake)).shard_urls("webdataset")))
    assert [r["sample_id"] for r in parquet] == [r["sample_id"] for r in tars]
    a = decode_rows(parquet[:12], SPEC, False)
    b = decode_rows(tars[:12], SPEC, False)
    for key in ("faces", "mel", "has_audio", "label"):
        np.testing.assert_array_equal(a[key], b[key])
    np.testing.assert_array_equal(np.isnan(a["face_label"]), np.isnan(b["face_label"]))
    assert a["faces"].shape == (12, 2, 32, 32, 3) and a["faces"].dtype == np.uint8
    assert a["mel"].shape == (12, 64, 64)


def test_arrow_rows_are_the_pylist_rows_without_the_copies(synth_lake: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = Lake.open(str(synth_lake)).shard_urls("parquet")
    table = pa.concat_tables(pq.read_table(p, columns=LAKE_COLUMNS) for p in paths)  # chunked columns
    lazy, plain = arrow_rows(table), table.to_pylist()
    assert table.column("crops_jpeg").num_chunks == len(paths) > 1
    assert any(row["logmel_f16"] is None for row in plain)  # rows without audio are in the lake
    for a, b in zip(lazy, plain, strict=True):
        assert [bytes(crop) for crop in a["crops_jpeg"]] == b["crops_jpeg"]
        assert [bytes(crop) for crop in a["crops_jpeg"][1:3]] == b["crops_jpeg"][1:3]
        assert (a["logmel_f16"] is None) == (b["logmel_f16"] is None)
        assert a["logmel_f16"] is None or bytes(a["logmel_f16"]) == b["logmel_f16"]
        assert {k: a[k] for k in a if k not in ("crops_jpeg", "logmel_f16")} == {
            k: b[k] for k in b if k not in ("crops_jpeg", "logmel_f16")
        }
    spec = InputSpec(image_size_px=32, frames_per_sample=2, audio_frames=64, n_mels=64)
    a_in = decode_rows(lazy[:16], spec, False)
    b_in = decode_rows(plain[:16], spec, False)
    for key in ("faces", "mel", "has_audio", "label"):
        np.testing.assert_array_equal(a_in[key], b_in[key])


@pytest.mark.parametrize("size_px", [24, 150])  # the lake's crops are 48 px: shrunk and enlarged
def test_crops_are_resized_like_pil_bilinear_from_jpeg_or_png(synth_lake: Path, size_px: int) -> None:
    import io

    import decord  # noqa: F401  # loaded, as in predict: its global zlib once broke PNG decoding
    from PIL import Image

    rows = list(
        training_reader(pafs.LocalFileSystem(), "parquet").rows(
            Lake.open(str(synth_lake)).shard_urls("parquet")
        )
    )[:1]
    jpeg = bytes(rows[0]["crops_jpeg"][0])
    with Image.open(io.BytesIO(jpeg)) as image:
        rgb = image.convert("RGB")
    png = io.BytesIO()
    rgb.save(png, format="PNG")
    expected = np.asarray(rgb.resize((size_px, size_px), Image.Resampling.BILINEAR), dtype=np.int16)
    spec = InputSpec(image_size_px=size_px, frames_per_sample=1, audio_frames=64, n_mels=64)
    assert png_decoder() == "pil"  # libpng would bind to decord's zlib
    for data in (jpeg, png.getvalue()):
        faces, _ = decode_sample([data], None, spec, False, np.random.default_rng(0))
        assert faces.shape == (1, size_px, size_px, 3) and faces.dtype == np.uint8
        # Antialiased: a plain bilinear sample of a 48 px crop at 24 px would be off by tens of levels.
        assert np.abs(faces[0].astype(np.int16) - expected).max() <= 2


def test_lake_crops_decode_to_the_pixels_of_torchvisions_decoder(synth_lake: Path) -> None:
    """simplejpeg reads the crops straight from Arrow buffers and gives torchvision's exact pixels."""
    import decord  # noqa: F401  # loaded, as in predict: its global libraries must not change a pixel
    from torch.nn.functional import interpolate
    from torchvision.io import ImageReadMode, decode_jpeg

    rows = list(
        training_reader(pafs.LocalFileSystem(), "parquet").rows(
            Lake.open(str(synth_lake)).shard_urls("parquet")
        )
    )[:2]
    for row in rows:
        crops = row["crops_jpeg"]
        assert not isinstance(crops[0], bytes | bytearray)  # zero-copy Arrow buffers, signed bytes
        spec = InputSpec(image_size_px=40, frames_per_sample=len(crops), audio_frames=64, n_mels=64)
        faces, _ = decode_sample(crops, None, spec, False, np.random.default_rng(0))  # every crop, in order
        for crop, face in zip(crops, faces, strict=True):
            image = decode_jpeg(torch.frombuffer(bytearray(crop), dtype=torch.uint8), mode=ImageReadMode.RGB)
            expected = interpolate(image[None], size=(40, 40), mode="bilinear", antialias=True)[0]
            np.testing.assert_array_equal(face, expected.permute(1, 2, 0).numpy())


@pytest.mark.parametrize(
    ("decoder", "patched"), [("libpng", "torchvision.io.decode_png"), ("spng", "pyspng.load")]
)
def test_png_goes_through_the_chosen_decoder_where_decord_is_not_loaded(
    tmp_path: Path, decoder: str, patched: str
) -> None:
    """The loader benchmark's PNG baseline decodes with libpng (OpenCV's speed) or libspng when safe."""
    import os
    import subprocess
    import sys
    import textwrap

    from PIL import Image

    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 256, (60, 50, 3), dtype=np.uint8))
    rgb.save(tmp_path / "crop.png")
    np.save(tmp_path / "expected.npy", np.asarray(rgb.resize((24, 24), Image.Resampling.BILINEAR)))
    module, name = patched.rsplit(".", 1)
    script = textwrap.dedent(
        f"""
        import importlib, sys
        import numpy as np
        from dfdc_lake.train.inputs.features import InputSpec, decode_sample, png_decoder
        module = importlib.import_module({module!r})
        calls = []
        real = getattr(module, {name!r})
        setattr(module, {name!r}, lambda *a, **k: calls.append(1) or real(*a, **k))
        data = open({str(tmp_path / "crop.png")!r}, "rb").read()
        spec = InputSpec(image_size_px=24, frames_per_sample=1, audio_frames=64, n_mels=64)
        faces, _ = decode_sample([data], None, spec, False, np.random.default_rng(0))
        expected = np.load({str(tmp_path / "expected.npy")!r}).astype(np.int16)
        print(png_decoder(), len(calls), int(np.abs(faces[0].astype(np.int16) - expected).max()), "decord" in sys.modules)
        """
    )
    env = {**os.environ, "DFDC_LAKE_PNG_DECODER": decoder}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True, env=env
    )
    chosen, calls, max_diff, decord_loaded = result.stdout.split()
    assert (chosen, calls, decord_loaded) == (decoder, "1", "False")
    assert int(max_diff) <= 2


def test_an_unknown_png_decoder_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from dfdc_lake.train.inputs.features import png_decoder

    monkeypatch.setenv("DFDC_LAKE_PNG_DECODER", "cv2")
    monkeypatch.delitem(sys.modules, "decord", raising=False)
    with pytest.raises(ValueError, match="libpng, spng, pil"):
        png_decoder()


def test_frame_and_window_choice() -> None:
    rng = np.random.default_rng(0)
    assert pick_frames(10, 3, False, rng).tolist() == [0, 4, 9]
    assert len(pick_frames(2, 5, True, rng)) == 5  # fewer crops than wanted: sampled with replacement
    mel = np.arange(64 * 100, dtype=np.float32).reshape(64, 100)
    centre = spectrogram_window(mel, SPEC, False, rng)
    np.testing.assert_array_equal(centre, mel[:, 18:82])
    silent = spectrogram_window(None, SPEC, True, rng)
    assert silent.shape == (64, 64) and (silent == silent[0, 0]).all()


def test_losses_mask_unknown_labels_and_training_lowers_them(synth_lake: Path) -> None:
    torch.manual_seed(0)
    rows = list(
        training_reader(pafs.LocalFileSystem(), "parquet").rows(
            Lake.open(str(synth_lake)).shard_urls("parquet")
        )
    )[:32]
    batch = decode_rows(rows, SPEC, True)
    assert np.isnan(batch["face_label"]).any()  # the lake has unknown modality labels
    model = build_model(ModelSpec(audio_channels=8, fusion_hidden=16), seed=0)
    settings = LossSettings(pos_weight=0.3, aux_weight=0.5, modality_dropout=0.2)
    t = to_tensors(batch, torch.device("cpu"))
    first = loss_terms(model(t["faces"], t["mel"], t["has_face"], t["has_audio"]), t, settings)
    assert all(torch.isfinite(v) for v in first.values())
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    recent: list = []
    for _ in range(6):
        stats = train_epoch(
            model, optimizer, [batch], settings, torch.device("cpu"), keep_recent=recent, keep_samples=32
        )
    assert stats["train_loss"] < float(first["loss"].detach())
    assert recalibrate_batchnorm(model, recent, torch.device("cpu")) == 32


def test_training_mirrors_whole_tracks_and_evaluation_never_does(synth_lake: Path) -> None:
    rows = list(
        training_reader(pafs.LocalFileSystem(), "parquet").rows(
            Lake.open(str(synth_lake)).shard_urls("parquet")
        )
    )[:1]
    crops = rows[0]["crops_jpeg"][:1]  # one crop: every pick is the same image
    spec = InputSpec(image_size_px=32, frames_per_sample=3, audio_frames=64, n_mels=64)
    plain, _ = decode_sample(crops, None, spec, False, np.random.default_rng(0))
    seen = set()
    for seed in range(12):
        faces, _ = decode_sample(crops, None, spec, True, np.random.default_rng(seed))
        mirrored = np.array_equal(faces, plain[:, :, ::-1])
        assert mirrored or np.array_equal(faces, plain)  # geometry only, never colour
        seen.add(mirrored)
    assert seen == {True, False}
    assert not np.array_equal(plain[0], plain[0][:, ::-1])  # the crop is not symmetric itself


def test_spectrogram_cnn_standardises_over_real_columns_only() -> None:
    torch.manual_seed(0)
    cnn = SpectrogramCNN(8).eval()
    rng = np.random.default_rng(0)
    speech = rng.normal(-40.0, 6.0, size=(64, 100)).astype(np.float32)
    padded = np.full((64, 128), SILENCE_DB, dtype=np.float32)
    padded[:, :100] = speech
    quiet = padded.copy()
    quiet[:, :100] -= 30.0  # the same content 30 dB quieter: standardised away
    with torch.no_grad():
        out = cnn(torch.from_numpy(np.stack([padded, quiet])))
        silent = cnn(torch.full((1, 64, 128), SILENCE_DB))
    torch.testing.assert_close(out[0], out[1], rtol=1e-4, atol=1e-4)
    assert torch.isfinite(silent).all()


def test_evaluation_decodes_eval_frames_crops(synth_lake: Path) -> None:
    rows = list(
        training_reader(pafs.LocalFileSystem(), "parquet").rows(
            Lake.open(str(synth_lake)).shard_urls("parquet")
        )
    )[:3]
    spec = InputSpec(image_size_px=32, frames_per_sample=2, audio_frames=64, n_mels=64, eval_frames=5)
    assert decode_rows(rows, spec, True)["faces"].shape[1] == 2
    assert decode_rows(rows, spec, False)["faces"].shape[1] == 5
    assert decode_rows([], spec, False)["faces"].shape[1] == 5


def test_label_smoothing_keeps_confident_answers_from_a_zero_loss() -> None:
    t = {
        "label": torch.tensor([1.0, 0.0]),
        "face_label": torch.tensor([1.0, float("nan")]),
        "audio_label": torch.tensor([0.0, 0.0]),
        "has_audio": torch.tensor([1.0, 1.0]),
    }
    out = {
        "fake": torch.tensor([20.0, -20.0]),
        "face": torch.tensor([20.0, 0.0]),
        "audio": torch.tensor([-20.0, -20.0]),
    }
    plain = loss_terms(out, t, LossSettings(pos_weight=None, aux_weight=1.0, modality_dropout=0.0))
    smooth = loss_terms(
        out, t, LossSettings(pos_weight=None, aux_weight=1.0, modality_dropout=0.0, label_smoothing=0.1)
    )
    assert float(plain["loss"]) < 1e-6
    # eps/2 = 0.05 of the target sits on the wrong side: 0.05 * 20 nats per confident head.
    assert float(smooth["main"]) == pytest.approx(1.0, abs=0.01)
    assert float(smooth["face"]) == pytest.approx(1.0, abs=0.01)  # the unknown label stays masked


def test_read_only_batches_become_tensors_without_a_warning() -> None:
    import warnings

    batch = {key: np.zeros(3, np.float32) for key in ("has_audio", "label", "face_label", "audio_label")}
    batch |= {"faces": np.zeros((3, 2, 8, 8, 3), np.uint8), "mel": np.zeros((3, 4, 5), np.float32)}
    for array in batch.values():
        array.setflags(write=False)  # how Ray Data hands batches to a Train worker
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tensors = to_tensors(batch, torch.device("cpu"))
    assert tensors["faces"].dtype == torch.uint8 and tensors["has_face"].tolist() == [1.0, 1.0, 1.0]
