"""bench/loader.py's crop-file layout holds the lake's samples, and reading it with requests in flight
yields the same samples in the same order as reading it one file at a time."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pyarrow.fs as pafs

from dfdc_lake.lake.reader import committed_shards
from dfdc_lake.train.features import InputSpec, pick_frames
from dfdc_lake.train.sources import iter_parquet_rows

BENCH = Path(__file__).resolve().parents[2] / "bench" / "loader.py"
SPEC = InputSpec(image_size_px=32, frames_per_sample=3, audio_frames=64, n_mels=64)


def _bench_loader() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_loader", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_file_layout_reads_the_lakes_crops_in_index_order(synth_lake: Path, tmp_path: Path) -> None:
    bench = _bench_loader()
    lake = {
        row["sample_id"]: row
        for row in iter_parquet_rows(pafs.LocalFileSystem(), committed_shards(str(synth_lake), "parquet"))
    }
    assert bench.export_files(str(synth_lake), str(tmp_path), "jpg") == len(lake)

    serial = list(bench.file_rows(str(tmp_path), "jpg", SPEC, np.random.default_rng(5)))
    threaded = list(bench.file_rows(str(tmp_path), "jpg", SPEC, np.random.default_rng(5), in_flight=3))
    assert [r["sample_id"] for r in serial] == [r["sample_id"] for r in threaded]
    assert sorted(r["sample_id"] for r in serial) == sorted(lake)

    rng = np.random.default_rng(5)  # file_rows draws every sample's picks up front, in index order
    for a, b in zip(serial, threaded, strict=True):
        source = lake[a["sample_id"]]
        picks = pick_frames(len(source["crops_jpeg"]), SPEC.frames_per_sample, True, rng)
        expected = [bytes(source["crops_jpeg"][i]) for i in picks]
        assert a["crops_jpeg"] == b["crops_jpeg"] == expected
        assert a["has_audio"] == b["has_audio"] == bool(source["has_audio"])
        if a["has_audio"]:
            shape = tuple(source["logmel_shape"])
            mel = np.frombuffer(source["logmel_f16"], dtype="<f2").reshape(shape)
            np.testing.assert_array_equal(a["logmel"], mel)
            np.testing.assert_array_equal(b["logmel"], mel)
        assert (a["is_fake"], a["face_fake"], a["audio_fake"]) == (
            bool(source["is_fake"]),
            source["face_fake"],
            source["audio_fake"],
        )
