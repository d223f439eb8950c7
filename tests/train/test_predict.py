"""``dfdc-lake predict`` on raw videos (real H.264/AAC files, real MTCNN): every video gets a row."""

from __future__ import annotations

import csv
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests.train.conftest import TrainedRun, run_cli

pytestmark = pytest.mark.slow


def _write_faceless_clip(path: Path) -> None:
    """A real H.264 + AAC clip of a textured wall and a hum: decodable, no face, has audio."""
    from dfdc_lake.synth.backgrounds import make_background
    from dfdc_lake.synth.encode import write_mp4
    from dfdc_lake.synth.profiles import get_profile

    profile = get_profile("tiny")
    wall = make_background(3, "texture", 180, 320)
    frames = [np.roll(wall, shift, axis=1) for shift in range(30)]
    t = np.arange(profile.audio_rate_hz) / profile.audio_rate_hz
    audio = (0.2 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)
    write_mp4(path, frames, width_px=320, height_px=180, fps=Fraction(15), audio=audio, profile=profile)


@pytest.fixture(scope="module")
def video_folder(tiny_corpus: Path, tiny_truth: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("test_videos")
    plain = [t for t in tiny_truth.values() if not t.broken and not t.tags and t.has_audio]
    broken = [t for t in tiny_truth.values() if t.broken]
    for truth in [*plain[:2], *broken]:
        shutil.copy(tiny_corpus / f"dfdc_train_part_{truth.part}" / truth.filename, folder / truth.filename)
    _write_faceless_clip(folder / "nofacewall.mp4")
    (folder / "notes.txt").write_text("not a video: predict only scores *.mp4")
    return folder


def _read(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_predict_writes_a_row_for_every_video_of_a_folder(
    trained_run: TrainedRun, video_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "submission.csv"
    code, _ = run_cli(["predict", str(trained_run.run_dir), "--folder", str(video_folder), "--out", str(out)])
    assert code == 0
    videos = sorted(p.name for p in video_folder.glob("*.mp4"))
    rows = _read(out)
    assert list(rows[0]) == ["filename", "label"]  # exactly the competition's columns
    assert [r["filename"] for r in rows] == videos
    labels = np.array([float(r["label"]) for r in rows])
    assert ((labels >= 0.01) & (labels <= 0.99)).all()
    details = {r["filename"]: r for r in _read(out.with_name(out.name + ".details.csv"))}
    assert details["nofacewall.mp4"]["status"] == "no_face"
    assert details["nofacewall.mp4"]["mode"] == "audio_only"
    broken = [d for d in details.values() if d["status"] in ("empty_file", "decode_error")]
    assert len(broken) == 2 and all(d["mode"] == "prior" and d["reason"] for d in broken)
    scored = [d for d in details.values() if d["mode"] == "faces+audio"]
    assert len(scored) == 2 and all(int(d["num_tracks"]) >= 1 for d in scored)
    err = capsys.readouterr().err
    assert "nofacewall.mp4: no_face" in err and "label from audio_only" in err


def test_predict_single_videos_at_a_given_fake_rate(
    trained_run: TrainedRun, video_folder: Path, tmp_path: Path
) -> None:
    checkpoint = trained_run.run_dir / trained_run.metrics()[-1]["checkpoint"]  # the latest is always kept
    broken = next(p for p in sorted(video_folder.glob("*.mp4")) if p.stat().st_size == 0)
    out = tmp_path / "sub.csv"
    argv = [
        "predict",
        str(checkpoint),
        str(broken),
        "--out",
        str(out),
        "--fake-rate",
        "0.5",
        "--clip",
        "0.05",
    ]
    code, _ = run_cli(argv)
    assert code == 0
    (row,) = _read(out)
    assert row == {"filename": broken.name, "label": "0.500000"}  # nothing usable: the stated prior
