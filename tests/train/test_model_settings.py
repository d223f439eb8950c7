"""Recipes, mixed precision, pretrained weights and the confident strategy (no Ray)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dfdc_lake.errors import ConfigError
from dfdc_lake.train.config import TrainConfig, load_train_config
from dfdc_lake.train.model.aggregation import confident_strategy, video_scores
from dfdc_lake.train.model.network import ModelSpec, build_model
from dfdc_lake.train.model.precision import Precision
from dfdc_lake.train.model.steps import LossSettings, evaluate, train_epoch
from dfdc_lake.train.model.validation import epoch_metrics
from dfdc_lake.train.recipes import RECIPES

BACKBONE = "mobilenetv3_small_050"


def test_the_demo_recipe_is_the_default_and_dfdc_sets_the_winners_values(tmp_path: Path) -> None:
    assert load_train_config(recipe="demo") == TrainConfig(recipe="demo") == TrainConfig()
    dfdc = load_train_config(recipe="dfdc")
    assert dfdc.recipe == "dfdc" and dfdc.image_size_px == 380 and dfdc.eval_frames == 32
    assert (dfdc.augmentation, dfdc.resize, dfdc.aggregation) == ("dfdc", "isotropic", "confident")
    assert dfdc.backbone.startswith("tf_efficientnet_b7") and dfdc.pretrained
    settings = tmp_path / "train.yaml"
    settings.write_text("recipe: dfdc\nimage_size_px: 224\n")
    from_file = load_train_config(settings, ["backbone=efficientnet_b0", "eval_frames=16"])
    assert (from_file.augmentation, from_file.image_size_px) == ("dfdc", 224)  # the file on the recipe
    assert (from_file.backbone, from_file.eval_frames) == ("efficientnet_b0", 16)  # --set on both
    assert load_train_config(settings, recipe="demo").augmentation == "flip"  # --recipe beats the file's
    assert load_train_config(None, ["recipe=dfdc"]).eval_frames == 32
    assert set(RECIPES["dfdc"]) <= set(TrainConfig.model_fields)
    with pytest.raises(ConfigError, match="unknown training recipe 'kaggle'"):
        load_train_config(recipe="kaggle")


def _batch(rng: np.random.Generator, n: int = 4, size: int = 32) -> dict[str, np.ndarray]:
    labels = np.arange(n) % 2
    faces = rng.integers(0, 256, (n, 2, size, size, 3), dtype=np.uint8)
    faces[labels == 1, :, 8:24, 8:24] = 255  # a learnable "fake" sign
    return {
        "faces": faces, "mel": rng.normal(-40, 5, (n, 16, 32)).astype(np.float32),
        "has_audio": np.ones(n, np.float32), "label": labels.astype(np.float32),
        "face_label": labels.astype(np.float32), "audio_label": np.full(n, np.nan, np.float32),
        "video_id": np.array([f"v{i}" for i in range(n)], dtype=object),
        "sample_id": np.array([f"s{i}" for i in range(n)], dtype=object),
    }  # fmt: skip


@pytest.mark.parametrize("name", ["fp32", "bf16"])
def test_fp32_and_bf16_both_train_on_cpu(name: str) -> None:
    device = torch.device("cpu")
    model = build_model(ModelSpec(BACKBONE, audio_channels=4, fusion_hidden=8), seed=0)
    dtypes: list[torch.dtype] = []
    model.face.conv_stem.register_forward_hook(lambda _m, _i, out: dtypes.append(out.dtype))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    batches = [_batch(np.random.default_rng(i)) for i in range(2)]
    before = [p.detach().clone() for p in model.parameters()]
    precision = Precision.of(name, device)
    settings = LossSettings(None, 0.5, 0.0)
    losses = [train_epoch(model, optimizer, batches, settings, device, precision=precision) for _ in range(3)]
    assert set(dtypes) == {torch.bfloat16 if name == "bf16" else torch.float32}
    assert all(np.isfinite(s["train_loss"]) for s in losses)
    assert losses[-1]["train_loss"] < losses[0]["train_loss"]
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    preds = evaluate(model, batches, device, precision)
    assert preds["fake_crops"].shape == (8, 2) and np.isfinite(preds["fake"]).all()


def test_auto_precision_is_fp32_on_cpu_and_fp16_scales_its_loss() -> None:
    assert Precision.of("auto", torch.device("cpu")).name == "fp32"
    fp16 = Precision.of("fp16", torch.device("cpu"))
    assert fp16.scaler is not None and fp16.state_dict()["scaler"]["scale"] > 1


def _timm_state(seed: int) -> dict[str, torch.Tensor]:
    import timm

    torch.manual_seed(seed)
    model = timm.create_model(BACKBONE, pretrained=False)  # with its 1000-class head, like a release
    return {k: v.contiguous() for k, v in model.state_dict().items()}


def _assert_loaded(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    own = model.face.state_dict()
    shared = [k for k in own if k in state and not k.endswith("num_batches_tracked")]
    assert len(shared) > 100
    assert all(torch.equal(own[k], state[k]) for k in shared)
    assert not torch.equal(
        build_model(ModelSpec(BACKBONE), seed=0).face.conv_stem.weight, state["conv_stem.weight"]
    )


def test_a_local_weights_file_is_what_the_backbone_starts_from(tmp_path: Path) -> None:
    state = _timm_state(11)
    path = tmp_path / "weights.pth"
    torch.save(state, path)
    _assert_loaded(build_model(ModelSpec(BACKBONE, pretrained_path=str(path)), seed=0), state)
    with pytest.raises(ConfigError, match="does not exist"):
        build_model(ModelSpec(BACKBONE, pretrained_path=str(tmp_path / "missing.pth")))


def write_hf_cache(home: Path, backbone: str, state: dict[str, torch.Tensor]) -> Path:
    """Put ``state`` where timm's Hugging Face entry for ``backbone`` is cached under ``HF_HOME=home``."""
    from safetensors.torch import save_file
    from timm.models import get_pretrained_cfg

    repo = home / "hub" / ("models--" + get_pretrained_cfg(backbone).hf_hub_id.replace("/", "--"))
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    save_file(state, str(snapshot / "model.safetensors"))
    return snapshot / "model.safetensors"


def test_pretrained_weights_come_from_the_hugging_face_cache_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match=r"HF_HUB_OFFLINE=1 forbids.*HF_HOME.*pretrained_path"):
        build_model(ModelSpec(BACKBONE, pretrained=True))
    state = _timm_state(12)
    write_hf_cache(tmp_path / "hf", BACKBONE, state)
    _assert_loaded(build_model(ModelSpec(BACKBONE, pretrained=True, channels_last=True), seed=0), state)


def test_the_confident_strategy_follows_the_winners_rules() -> None:
    confident_fakes = np.r_[np.full(14, 0.9), np.full(18, 0.1)]  # 14 > 32 // 2.5 and > 11
    assert confident_strategy(confident_fakes) == pytest.approx(0.9)
    assert confident_strategy(np.r_[np.full(30, 0.1), [0.5, 0.6]]) == pytest.approx(0.1)  # >90% real
    assert confident_strategy(np.r_[np.full(5, 0.9), np.full(27, 0.5)]) == pytest.approx((4.5 + 13.5) / 32)
    ids, scores, labels = video_scores(
        ["a", "a", "b"], np.zeros(3), np.array([1.0, 1.0, 0.0]), "confident",
        np.array([np.full(16, 0.95), np.full(16, 0.3), np.full(16, 0.05)]),
    )  # fmt: skip
    assert ids == ["a", "b"] and scores == pytest.approx([0.95, 0.05]) and labels.tolist() == [1.0, 0.0]


def test_validation_scores_videos_with_the_chosen_aggregation() -> None:
    logit = float(np.log(0.95 / 0.05))
    preds = {
        "video_id": np.array(["a", "a", "b"], dtype=object),
        "fake": np.array([0.0, 0.0, -logit]),  # per-track heads undecided on video a
        "fake_crops": np.array([np.full(16, logit), np.full(16, logit), np.full(16, -logit)]),
        "face": np.zeros(3), "audio": np.zeros(3), "label": np.array([1.0, 1.0, 0.0]),
        "face_label": np.full(3, np.nan), "audio_label": np.full(3, np.nan),
    }  # fmt: skip
    by_max = epoch_metrics(preds, 0.5, 0.5, "max")
    by_confident = epoch_metrics(preds, 0.5, 0.5, "confident")
    assert by_confident["val_aggregation"] == "confident"
    assert by_confident["val_log_loss"] == pytest.approx(-np.log(0.95))
    assert by_max["val_log_loss"] > by_confident["val_log_loss"]


def test_predict_scores_a_video_with_the_runs_aggregation_unless_told_otherwise() -> None:
    from dfdc_lake.config import Config
    from dfdc_lake.train.inference.checkpoint import LoadedCheckpoint
    from dfdc_lake.train.inference.scorer import VideoScorer
    from dfdc_lake.train.inputs.features import InputSpec

    checkpoint = LoadedCheckpoint(None, InputSpec(), 0.5, 0.5, {"video_aggregation": "confident"}, "run")
    logit = float(np.log(0.95 / 0.05))
    tracks = np.array([0.0])  # the track head is undecided; its 16 crops are confidently fake
    crops = np.full((1, 16), logit)
    assert VideoScorer(checkpoint, Config()).strategy == "confident"
    assert VideoScorer(checkpoint, Config())._probability(tracks, crops) == pytest.approx(0.95)
    assert VideoScorer(checkpoint, Config(), aggregation="max")._probability(tracks, crops) == pytest.approx(
        0.5
    )
    older = LoadedCheckpoint(
        None, InputSpec(), 0.5, 0.5, {"video_aggregation": "max over face tracks"}, "run"
    )
    assert VideoScorer(older, Config()).strategy == "max"
