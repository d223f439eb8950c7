"""Training input throughput: lake shards vs. one image file per crop (the DFDC winners' layout).

Both loaders produce the same tensors from the same samples (K random crops decoded and resized, a
log-mel window, labels) through the same decode code; only where the bytes come from differs:

- lake: stream the committed Parquet shards (found through commit records), record batch by record batch;
- files: ``ROOT/files-<fmt>/<video_id>/<sample_id>_<NNN>.<fmt>`` per crop, ``<sample_id>.logmel.npy`` per
  track, with an index CSV, read file by file (what a PyTorch ``Dataset`` over a crop folder does).
  ``png`` is the winners' layout (loose PNG crops); ``jpg`` holds the lake's own JPEG bytes, so it
  isolates the cost of the layout from the cost of the image format.

    python bench/loader.py                       # dfdc-profile corpus (1080p, 48 clips) -> lake -> both
                                                 # layouts; the corpus and lake stay in --work for reruns
    python bench/loader.py --profile tiny        # the test suite's 480x270 clips (~90 px crops)
    python bench/loader.py --copies-of ../shared/dfdc-sample/dfdc_train_part_0/abqwwspghj.mp4
                                                 # 60 copies of one real DFDC clip: real faces' crops
    python bench/loader.py --lake ./lake         # an existing lake (the crop tree is exported from it)
    python bench/loader.py --lake s3://b/lake --root s3://b/bench   # both layouts on S3

Prints samples/s of each and the ratio; ``--json`` for a machine-readable line.
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import itertools
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from dfdc_lake.lake.lake import Lake
from dfdc_lake.train.config import TrainConfig
from dfdc_lake.train.inputs.features import InputSpec, decode_rows, png_decoder

INDEX_COLUMNS = ["sample_id", "video_id", "num_crops", "has_audio", "is_fake", "face_fake", "audio_fake"]


def build_lake(work: Path, profile: str, families: int, address: str | None) -> str:
    """A lake made the real way: a synthetic DFDC corpus (kept for reruns), ingested with Ray."""
    from dfdc_lake.ingest.driver import ingest
    from dfdc_lake.synth.corpus import ensure_corpus

    corpus, lake = work / "corpus", work / "lake"
    ensure_corpus(
        corpus, parts=2, families=families, fakes_per_family=5, profile=profile, cases=(),
        workers=os.cpu_count() or 1,
    )  # fmt: skip
    ingest(str(corpus), Lake.open(lake), address=address)  # a rerun finds every chunk committed
    return str(lake)


def build_copies_lake(work: Path, video: Path, copies: int, address: str | None) -> str:
    """A lake of ``copies`` copies of one real clip (real faces' crops), ingested with Ray.

    The copies keep the clip's metadata entry (label, original) when its folder has a
    ``metadata.json``; a missing original only leaves ``face_fake`` unknown.
    """
    import shutil

    from dfdc_lake.ingest.driver import ingest

    entry = {"label": "REAL", "split": "train", "original": None}
    metadata = video.parent / "metadata.json"
    if metadata.exists():
        entry = json.loads(metadata.read_text()).get(video.name, entry)
    part = work / "corpus" / "dfdc_train_part_0"
    part.mkdir(parents=True, exist_ok=True)
    names = {f"copy{i:03d}_{video.name}": entry for i in range(copies)}
    for name in names:
        if not (part / name).exists():
            shutil.copyfile(video, part / name)
    (part / "metadata.json").write_text(json.dumps(names))
    lake = work / "lake"
    ingest(str(work / "corpus"), Lake.open(lake), address=address)  # a rerun finds every chunk committed
    return str(lake)


def _fs(url: str) -> tuple[Any, str]:
    from dfdc_lake.io.urls import arrow_filesystem

    return arrow_filesystem(url)


def _as_format(crop_jpeg: bytes, fmt: str) -> bytes:
    if fmt == "jpg":
        return crop_jpeg
    from PIL import Image

    buffer = io.BytesIO()
    with Image.open(io.BytesIO(crop_jpeg)) as image:
        image.save(buffer, format="PNG")
    return buffer.getvalue()


def export_files(lake: str, root: str, fmt: str) -> int:
    """Write every committed sample of ``lake`` as one image per crop (+ one .npy per track) under ``root``."""
    from dfdc_lake.train.inputs.batches import training_reader

    opened = Lake.open(lake)
    fs, base = _fs(root)
    rows_out = []
    paths = opened.shard_paths("parquet")
    for row in training_reader(opened.arrow_filesystem()[0], "parquet").rows(paths):
        folder = f"{base}/files-{fmt}/{row['video_id']}"
        fs.create_dir(folder, recursive=True)
        for i, crop in enumerate(row["crops_jpeg"]):
            with fs.open_output_stream(f"{folder}/{row['sample_id']}_{i:03d}.{fmt}") as f:
                f.write(_as_format(crop, fmt))
        if row["logmel_f16"] is not None:
            mel = np.frombuffer(row["logmel_f16"], dtype="<f2").reshape(row["logmel_shape"])
            buffer = io.BytesIO()
            np.save(buffer, mel)
            with fs.open_output_stream(f"{folder}/{row['sample_id']}.logmel.npy") as f:
                f.write(buffer.getvalue())
        rows_out.append(
            {**{k: row[k] for k in INDEX_COLUMNS if k != "num_crops"}, "num_crops": len(row["crops_jpeg"])}
        )
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=INDEX_COLUMNS)
    writer.writeheader()
    writer.writerows(rows_out)
    with fs.open_output_stream(f"{base}/files-{fmt}/index.csv") as f:
        f.write(text.getvalue().encode())
    return len(rows_out)


def _bool(text: str) -> bool | None:
    return None if text == "" else text == "True"


def file_rows(
    root: str, fmt: str, spec: InputSpec, rng: np.random.Generator, in_flight: int = 1, repeat: int = 1
) -> Iterator[dict[str, Any]]:
    """Rows read crop file by crop file: only the K crops a step uses are opened (decoded like lake crops).

    ``in_flight > 1`` reads that many samples' files at once from a thread pool (as a DataLoader's
    workers would keep requests in flight), yielding them in index order. ``repeat`` reads the index
    that many times over.
    """
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    from dfdc_lake.train.inputs.features import pick_frames

    fs, base = _fs(root)
    with fs.open_input_stream(f"{base}/files-{fmt}/index.csv") as f:
        index = list(csv.DictReader(io.StringIO(f.read().decode()))) * repeat

    def read(entry: dict[str, str], picks: np.ndarray) -> dict[str, Any]:
        folder, key = f"{base}/files-{fmt}/{entry['video_id']}", entry["sample_id"]
        crops: list[bytes] = []
        for i in picks:
            with fs.open_input_stream(f"{folder}/{key}_{i:03d}.{fmt}") as f:
                crops.append(f.read())  # decode_rows then decodes exactly these K
        logmel = None
        if entry["has_audio"] == "True":
            with fs.open_input_stream(f"{folder}/{key}.logmel.npy") as f:
                logmel = np.load(io.BytesIO(f.read()))
        return {"sample_id": entry["sample_id"], "video_id": entry["video_id"], "crops_jpeg": crops,
                "logmel": logmel, "has_audio": logmel is not None, "is_fake": entry["is_fake"] == "True",
                "face_fake": _bool(entry["face_fake"]), "audio_fake": _bool(entry["audio_fake"])}  # fmt: skip

    picks = [pick_frames(int(e["num_crops"]), spec.frames_per_sample, True, rng) for e in index]
    if in_flight <= 1:
        for entry, chosen in zip(index, picks, strict=True):
            yield read(entry, chosen)
        return
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        pending: deque[Future[dict[str, Any]]] = deque()
        for entry, chosen in zip(index, picks, strict=True):
            pending.append(pool.submit(read, entry, chosen))
            if len(pending) > in_flight:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def lake_rows(
    lake: str, read_ahead_batches: int = 2, repeat: int = 1, fmt: str = "parquet"
) -> Iterator[dict[str, Any]]:
    """Rows streamed from the lake's committed shards (as training's own readers do), the shard list
    ``repeat`` times over: Parquet (training's default) or WebDataset tars."""
    from dfdc_lake.train.inputs.batches import training_reader

    opened = Lake.open(lake)
    paths = opened.shard_paths(fmt) * repeat
    reader = training_reader(opened.arrow_filesystem()[0], fmt, read_ahead_batches=read_ahead_batches)
    yield from reader.rows(paths)


def measure(
    rows: Iterator[dict[str, Any]], spec: InputSpec, batch: int, rng: np.random.Generator
) -> tuple[int, float]:
    """Decode ``rows`` into torch tensors batch by batch; returns (samples, seconds)."""
    import torch

    started = time.perf_counter()
    count, pending = 0, []
    for row in itertools.chain(rows, [None]):  # None flushes the last partial batch
        if row is not None:
            pending.append(row)
        if pending and (len(pending) == batch or row is None):
            out = decode_rows(pending, spec, True, seed=int(rng.integers(2**31)))
            tensors = (torch.from_numpy(out["faces"]), torch.from_numpy(out["mel"]))
            count, pending = count + len(tensors[0]), []
    return count, time.perf_counter() - started


def drop_page_cache() -> None:
    """Empty Linux's page cache (root only), so a pass reads from the disk as a corpus larger than RAM does."""
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def same_store_lake(lake: str, root: str) -> str:
    """The lake to read: copied under ``root`` when ``root`` is on another store (compare like with like)."""
    if lake.startswith("s3://") == root.startswith("s3://"):
        return lake
    from dfdc_lake.io.urls import fsspec_filesystem

    target = f"{root.rstrip('/')}/lake"
    fsspec_filesystem(target)[0].put(lake.rstrip("/") + "/", target + "/", recursive=True)
    return target


def _latency_proxy(latency_ms: float, root: str) -> Any:
    """Route S3 requests (from here on) through a proxy that adds ``latency_ms`` each way."""
    from urllib.parse import urlsplit

    from latency_proxy import LatencyProxy  # bench/ is on sys.path when this script runs

    from dfdc_lake.io.s3_settings import S3Settings

    endpoint = S3Settings.from_env().endpoint_url
    if not root.startswith("s3://") or not endpoint:
        raise SystemExit(
            "--s3-latency-ms needs an s3:// --root and AWS_ENDPOINT_URL (see bench/loader_s3.py)"
        )
    target = urlsplit(endpoint)
    proxy = LatencyProxy((target.hostname or "127.0.0.1", target.port or 80), latency_ms / 1000)
    proxy.start()
    os.environ.pop("AWS_ENDPOINT_URL_S3", None)
    os.environ["AWS_ENDPOINT_URL"] = f"{target.scheme}://127.0.0.1:{proxy.port}"
    return proxy


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lake", help="an existing lake (default: build one from a synthetic corpus)")
    parser.add_argument(
        "--copies-of", type=Path, metavar="VIDEO",
        help="build the lake from --copies copies of this real clip instead of a synthetic corpus",
    )  # fmt: skip
    parser.add_argument(
        "--copies", type=int, default=60,
        help="copies of the --copies-of clip (60: one full chunk at the default videos_per_chunk)",
    )  # fmt: skip
    parser.add_argument("--root", help="where the crop-file tree goes (default: WORK/layout; s3:// works)")
    parser.add_argument(
        "--work",
        help="work folder for the corpus and lake (default: bench-out/loader-PROFILE or loader-copiesN)",
    )
    parser.add_argument(
        "--profile", choices=["dfdc", "tiny"], default="dfdc",
        help="synthetic corpus: dfdc (1920x1080 like DFDC: ~224 px crops) or tiny (480x270: ~90 px crops)",
    )  # fmt: skip
    parser.add_argument(
        "--families", type=int, default=4, help="families (1 REAL + 5 FAKEs) per part of the synthetic corpus"
    )
    parser.add_argument("--address", help="Ray cluster for building the lake (default: a private local Ray)")
    defaults = TrainConfig()
    parser.add_argument(
        "--image-size", type=int, default=defaults.image_size_px, help="model input size (training's default)"
    )
    parser.add_argument(
        "--frames", type=int, default=defaults.frames_per_sample, help="crops decoded per sample"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--passes", type=int, default=3, help="timed passes over the data per loader")
    parser.add_argument(
        "--repeat", type=int, default=1,
        help="samples read this many times per pass (longer passes: the lake streams its shards N times)",
    )  # fmt: skip
    parser.add_argument(
        "--file-formats", default="png,jpg", help="crop-file layouts to compare: png (the winners'), jpg"
    )
    parser.add_argument(
        "--png-decoder", choices=["libpng", "spng"], default="libpng",
        help="PNG files' decoder: libpng (OpenCV's speed, the winners' reader) or libspng (pyspng, faster)",
    )  # fmt: skip
    parser.add_argument(
        "--files-in-flight", type=int, default=1,
        help="samples whose crop files are read at once (a thread pool; >1 mimics a DataLoader's workers)",
    )  # fmt: skip
    parser.add_argument(
        "--lake-format", choices=["parquet", "webdataset"], default="parquet",
        help="which of the lake's shards to read (training's --format; parquet is its default)",
    )  # fmt: skip
    parser.add_argument(
        "--lake-read-ahead", type=int, default=2,
        help="Parquet record batches the lake reader fetches ahead in a thread (training's default; 0: none)",
    )  # fmt: skip
    parser.add_argument(
        "--s3-latency-ms", type=float, default=0.0,
        help="with an s3:// --root: time the passes through a proxy that delays each direction this much",
    )  # fmt: skip
    parser.add_argument(
        "--cold", action="store_true", help="drop the page cache before every timed pass (Linux, root)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of text")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ["DFDC_LAKE_PNG_DECODER"] = args.png_decoder  # read by features.png_decoder()
    if args.png_decoder == "spng":
        try:
            import pyspng  # noqa: F401
        except ImportError:
            raise SystemExit("--png-decoder spng needs pyspng: pip install pyspng") from None
    default_work = f"copies{args.copies}" if args.copies_of else args.profile
    work = Path(args.work or f"bench-out/loader-{default_work}")
    root = args.root or str(work / "layout")
    address = args.address or "local"
    if args.lake:
        lake = args.lake
    elif args.copies_of:
        lake = build_copies_lake(work, args.copies_of, args.copies, address)
    else:
        lake = build_lake(work, args.profile, args.families, address)
    lake = same_store_lake(lake, root)
    formats = [fmt for fmt in args.file_formats.split(",") if fmt]
    exported = {fmt: export_files(lake, root, fmt) for fmt in formats}
    proxy = _latency_proxy(args.s3_latency_ms, root) if args.s3_latency_ms > 0 else None
    spec = InputSpec(args.image_size, args.frames, 256, 64)
    rng = np.random.default_rng(0)
    loaders: dict[str, Callable[[], Iterator[dict[str, Any]]]] = {
        "lake": functools.partial(lake_rows, lake, args.lake_read_ahead, args.repeat, args.lake_format)
    }
    for fmt in formats:
        loaders[f"files-{fmt}"] = functools.partial(
            file_rows, root, fmt, spec, rng, args.files_in_flight, args.repeat
        )
    for rows in loaders.values():
        measure(rows(), spec, args.batch_size, rng)  # warm imports and connections (and the page cache)
    timed: dict[str, list[tuple[int, float]]] = {name: [] for name in loaders}
    for _ in range(args.passes):  # passes interleave the loaders, so a busy moment hits them all alike
        for name, rows in loaders.items():
            if args.cold:
                drop_page_cache()
            timed[name].append(measure(rows(), spec, args.batch_size, rng))
    if proxy is not None:
        proxy.stop()
    rates = {name: sum(n for n, _ in t) / sum(s for _, s in t) for name, t in timed.items()}
    spread = {name: (min(n / s for n, s in t), max(n / s for n, s in t)) for name, t in timed.items()}
    samples = next(iter(exported.values())) * args.repeat
    report = {
        "samples": samples, "lake": lake, "files_root": root,
        "samples_per_s": {name: round(rate, 1) for name, rate in rates.items()},
        "pass_range": {name: [round(low, 1), round(high, 1)] for name, (low, high) in spread.items()},
        "lake_speedup": {name: round(rates["lake"] / rate, 2) for name, rate in rates.items() if name != "lake"},
        "frames_per_sample": args.frames, "image_size_px": args.image_size, "cold_cache": args.cold,
        "png_decoder": png_decoder(), "files_in_flight": args.files_in_flight,
        "s3_latency_ms": args.s3_latency_ms, "lake_read_ahead": args.lake_read_ahead,
        "lake_format": args.lake_format,
    }  # fmt: skip
    if args.json:
        print(json.dumps(report))
        return 0
    cache = "cold page cache (dropped before each pass)" if args.cold else "warm page cache"
    if root.startswith("s3://"):
        cache = "both layouts on S3"
        if args.s3_latency_ms > 0:
            cache += f", {args.s3_latency_ms:g} ms added each way"
    in_flight = (
        f", crop files of {args.files_in_flight} samples read at once" if args.files_in_flight > 1 else ""
    )
    print(
        f"{samples} samples, {args.frames} crops each at {args.image_size}px, {args.passes} passes, {cache}"
        f"{in_flight}"
    )
    labels = {"lake": f"lake {args.lake_format} shards ({lake})"}
    labels.update({f"files-{fmt}": f"one .{fmt} file per crop ({root}/files-{fmt})" for fmt in formats})
    if "png" in formats:
        labels["files-png"] += f", {report['png_decoder']}"
    for name, label in labels.items():
        low, high = spread[name]
        line = f"  {label:60}{rates[name]:9.1f} samples/s (passes {low:.0f}-{high:.0f})"
        print(line if name == "lake" else f"{line}   lake is {report['lake_speedup'][name]}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
