"""bench/loader.py's crop-file layout holds the lake's samples, and reading it with requests in flight
yields the same samples in the same order as reading it one file at a time."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pyarrow.fs as pafs

from dfdc_lake.lake.lake import Lake
from dfdc_lake.train.inputs.batches import training_reader
from dfdc_lake.train.inputs.features import InputSpec, pick_frames

BENCH = Path(__file__).resolve().parents[2] / "bench"
SPEC = InputSpec(image_size_px=32, frames_per_sample=3, audio_frames=64, n_mels=64)


def _bench_module(filename: str) -> ModuleType:
    """A script under bench/ imported as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{Path(filename).stem}", BENCH / filename)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_file_layout_reads_the_lakes_crops_in_index_order(synth_lake: Path, tmp_path: Path) -> None:
    bench = _bench_module("loader.py")
    lake = {
        row["sample_id"]: row
        for row in training_reader(pafs.LocalFileSystem(), "parquet").rows(
            Lake.open(str(synth_lake)).shard_urls("parquet")
        )
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


def test_latency_proxy_delays_each_direction_and_keeps_the_bytes() -> None:
    import socket
    import threading
    import time

    module = _bench_module("latency_proxy.py")

    server = socket.create_server(("127.0.0.1", 0))

    def echo() -> None:
        conn, _ = server.accept()
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    threading.Thread(target=echo, daemon=True).start()
    proxy = module.LatencyProxy(server.getsockname()[:2], delay_s=0.05)
    proxy.start()
    try:
        payload = np.random.default_rng(0).bytes(3 << 20)
        with socket.create_connection(("127.0.0.1", proxy.port)) as client:
            started = time.perf_counter()
            client.sendall(b"ping")
            assert client.recv(16) == b"ping"
            assert time.perf_counter() - started >= 0.1  # 50 ms there, 50 ms back
            sender = threading.Thread(target=client.sendall, args=(payload,))
            sender.start()
            echoed = bytearray()
            while len(echoed) < len(payload):
                echoed += client.recv(1 << 20)
            sender.join()
        assert bytes(echoed) == payload
    finally:
        proxy.stop()
        server.close()


def test_bench_runs_end_to_end_on_a_lake_with_the_chosen_png_decoder(
    synth_lake: Path, tmp_path: Path
) -> None:
    """``python bench/loader.py --lake ... --json`` as docs/benchmarks.md runs it: a fresh process (no decord)."""
    import json
    import subprocess

    rows = sum(
        1
        for _ in training_reader(pafs.LocalFileSystem(), "parquet").rows(
            Lake.open(str(synth_lake)).shard_urls("parquet")
        )
    )
    command = [
        sys.executable, str(BENCH / "loader.py"), "--lake", str(synth_lake), "--root", str(tmp_path),
        "--passes", "1", "--repeat", "2", "--file-formats", "png", "--png-decoder", "spng", "--json",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["samples"] == 2 * rows
    assert report["png_decoder"] == "spng"
    assert set(report["samples_per_s"]) == {"lake", "files-png"}
    assert all(rate > 0 for rate in report["samples_per_s"].values())
    rates = report["samples_per_s"]
    assert abs(report["lake_speedup"]["files-png"] - rates["lake"] / rates["files-png"]) < 0.02
