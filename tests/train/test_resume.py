"""Step checkpoints without Ray: an epoch resumed from one ends with the uninterrupted epoch's weights."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from dfdc_lake.train.driver.run_files import RunFiles
from dfdc_lake.train.model.network import ModelSpec, build_model
from dfdc_lake.train.model.resume import (
    STEP_CHECKPOINT_FILE,
    CheckpointSchedule,
    StartPoint,
    read_step_checkpoint,
    save_step_checkpoint,
)
from dfdc_lake.train.model.steps import Draws, EpochProgress, LossSettings, hidden_faces, train_epoch

SETTINGS = LossSettings(pos_weight=0.5, aux_weight=0.5, modality_dropout=0.3)


def _batches(count: int, size: int = 4) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [
        {
            "faces": rng.integers(0, 256, (size, 2, 32, 32, 3), dtype=np.uint8),
            "mel": rng.normal(size=(size, 64, 32)).astype(np.float32),
            "has_audio": np.ones(size, np.float32),
            "label": (rng.random(size) < 0.5).astype(np.float32),
            "face_label": (rng.random(size) < 0.5).astype(np.float32),
            "audio_label": np.full(size, np.nan, np.float32),
            "sample_id": np.array([f"v{b}-{i}-t0" for i in range(size)]),
        }
        for b in range(count)
    ]


def _fresh() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    model = build_model(ModelSpec(audio_channels=8, fusion_hidden=16, dropout=0.5), seed=0)
    return model, torch.optim.AdamW(model.parameters(), lr=3e-3)


def test_an_epoch_resumed_from_a_step_checkpoint_ends_bit_identical(tmp_path: Path) -> None:
    batches, cpu, draws = _batches(3), torch.device("cpu"), Draws(seed=7, epoch=2)
    model, optimizer = _fresh()
    whole = train_epoch(model, optimizer, batches, SETTINGS, cpu, draws=draws)
    run = RunFiles.open(str(tmp_path), "run")

    def checkpoint_at_2(progress: EpochProgress) -> None:
        if progress.step == 2:
            save_step_checkpoint(run, StartPoint(2, 8, 2), [progress], first, first_optimizer)

    first, first_optimizer = _fresh()
    train_epoch(first, first_optimizer, batches, SETTINGS, cpu, draws=draws, after_step=checkpoint_at_2)
    # A fresh process: weights, optimizer and progress come from the step checkpoint alone.
    assert (tmp_path / "run" / STEP_CHECKPOINT_FILE).is_file()
    found = read_step_checkpoint(run)
    assert found is not None
    point, state = found
    resumed, resumed_optimizer = _fresh()
    resumed.load_state_dict(state["model"])
    resumed_optimizer.load_state_dict(state["optimizer"])
    assert (point.epoch, point.position, point.step) == (2, 8, 2)
    rest = train_epoch(
        resumed, resumed_optimizer, batches[2:], SETTINGS, cpu, draws=draws, progress=point.progress_of(0, 1)
    )
    assert rest == whole  # loss sums and sample counts carried over exactly
    for name, value in model.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name
    # Not vacuous: another seed or epoch hides other faces (and the model has dropout 0.5).
    ids = [f"v{i}-t0" for i in range(64)]
    masks = [hidden_faces(ids, 0.5, d).tolist() for d in (draws, Draws(8, 2), Draws(7, 3), Draws(7, 2))]
    assert masks[0] != masks[1] and masks[0] != masks[2] and masks[0] == masks[3]


def test_progress_moves_to_rank_0_on_another_worker_count() -> None:
    parts = [{"step": 5, "seen": 20, "sums": {"loss": 2.0}}, {"step": 5, "seen": 19, "sums": {"loss": 3.0}}]
    point = StartPoint(1, 39, 5, world=2, progress=parts)
    assert point.progress_of(1, 2).seen == 19  # same count: each rank its own
    merged = point.progress_of(0, 3)
    assert (merged.step, merged.seen, merged.sums["loss"]) == (5, 39, 5.0)
    assert (point.progress_of(2, 3).step, point.progress_of(2, 3).seen) == (5, 0)


def test_the_schedule_counts_steps_and_minutes() -> None:
    by_steps = CheckpointSchedule(every_steps=3)
    assert [s for s in range(1, 10) if by_steps.due(s)] == [3, 6, 9]
    assert not any(CheckpointSchedule().due(s) for s in range(1, 10))
    by_time = CheckpointSchedule(every_minutes=1.0, last=time.monotonic() - 61)
    assert by_time.due(1) and not by_time.due(2)  # due once the minute passed, then the clock restarts


def test_the_fp16_loss_scale_survives_a_step_checkpoint(tmp_path: Path) -> None:
    from dfdc_lake.train.model.precision import Precision
    from dfdc_lake.train.model.resume import _load_precision

    cpu = torch.device("cpu")
    grown = Precision.of("fp16", cpu)
    assert grown.scaler is not None
    grown.scaler.load_state_dict({**grown.scaler.state_dict(), "scale": 256.0, "_growth_tracker": 7})
    model, optimizer = _fresh()
    run = RunFiles.open(str(tmp_path), "run")
    save_step_checkpoint(run, StartPoint(1, 4, 1), [], model, optimizer, grown)
    found = read_step_checkpoint(run)
    assert found is not None
    fresh = Precision.of("fp16", cpu)
    assert fresh.scaler is not None and fresh.scaler.state_dict()["scale"] != 256.0
    _load_precision(fresh, found[1])
    assert fresh.scaler.state_dict()["scale"] == 256.0
    assert fresh.scaler.state_dict()["_growth_tracker"] == 7
