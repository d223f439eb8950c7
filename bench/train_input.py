"""Training input pipeline throughput with the dfdc recipe's augmentations: lake shards vs. loose JPEG files.

Both pipelines run through a ``torch.utils.data.DataLoader`` (the same worker count, batch size and
collate) and hand the model the same thing: per sample the same K crops (picked by
``seeding.numpy_rng(seed, epoch, sample_id)``), decoded, resized and put through the same draws of the
dfdc chain (``train.inputs.augment``), a log-mel window and labels. Only where the bytes come from differs:

- lake: an ``IterableDataset`` streaming the committed Parquet shards (each DataLoader worker its share
  of the shards), the way training's readers do; a row holds every crop of its track;
- files: a map-style ``Dataset`` over ``ROOT/files-jpg/<video_id>/<sample_id>_<NNN>.jpg`` (the lake's
  own JPEG bytes, one file per crop; bench/loader.py's export), opening only the K crop files a sample
  uses, plus its ``.logmel.npy``: what a PyTorch user writes over a crop folder.

Each size (224 and 380 px by default) is timed in alternating passes. The numbers are samples/s of the
whole DataLoader and, divided by its worker processes, per core; ``--gpu-images-per-s`` (a stated
model throughput, not measured here) turns the per-core rate into the cores one GPU needs.

    python bench/train_input.py               # builds a small lake from a synthetic 1080p corpus (kept in --work)
    python bench/train_input.py --lake ./lake --sizes 224,380 --workers 2 --json
    python bench/train_input.py --copies-of ../shared/dfdc-sample/dfdc_train_part_0/abqwwspghj.mp4 --copies 8
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch.utils.data
from loader import _fs, build_copies_lake, build_lake, export_files  # bench/ is on sys.path

from dfdc_lake.lake.lake import Lake
from dfdc_lake.train.config import load_train_config
from dfdc_lake.train.inputs.features import InputSpec, decode_rows, pick_frames
from dfdc_lake.train.seeding import numpy_rng

SEED, EPOCH = 0, 0


def _sample(row: dict[str, Any], spec: InputSpec) -> dict[str, Any]:
    """One decoded, augmented training sample (what both datasets yield; the DataLoader collates them)."""
    out = decode_rows([row], spec, True, seed=SEED, epoch=EPOCH)
    return {key: out[key][0] for key in ("faces", "mel", "has_audio", "label")}


def _shares(paths: list[str]) -> list[str]:
    """This DataLoader worker's shards (every n-th; all of them outside a worker)."""
    info = torch.utils.data.get_worker_info()
    return paths if info is None else paths[info.id :: info.num_workers]


class LakeSamples(torch.utils.data.IterableDataset):  # type: ignore[type-arg]
    """The lake's committed Parquet shards, decoded sample by sample."""

    def __init__(self, lake: str, spec: InputSpec, repeat: int) -> None:
        self.lake, self.spec, self.repeat = lake, spec, repeat
        self.paths = Lake.open(lake).shard_paths("parquet")

    def __iter__(self) -> Iterator[dict[str, Any]]:
        from dfdc_lake.train.inputs.batches import training_reader

        opened = Lake.open(self.lake)
        reader = training_reader(opened.arrow_filesystem()[0], "parquet")
        for row in reader.rows(_shares(self.paths) * self.repeat):
            yield _sample(row, self.spec)


class FileSamples(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """One JPEG file per crop; a sample opens only the crops it uses."""

    def __init__(self, root: str, index: list[dict[str, Any]], spec: InputSpec, repeat: int) -> None:
        self.root, self.index, self.spec = root, index * repeat, spec

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, Any]:
        entry = self.index[i]
        fs, base = _fs(self.root)
        folder, key = f"{base}/files-jpg/{entry['video_id']}", entry["sample_id"]
        # The crops decode_rows will pick for this sample (same generator, same draw): the rest stay unread.
        picks = pick_frames(
            entry["num_crops"], self.spec.frames_per_sample, True, numpy_rng(SEED, EPOCH, key)
        )
        crops: list[bytes | None] = [None] * entry["num_crops"]
        for p in set(picks.tolist()):
            with fs.open_input_stream(f"{folder}/{key}_{p:03d}.jpg") as f:
                crops[p] = f.read()
        logmel = None
        if entry["has_audio"]:
            with fs.open_input_stream(f"{folder}/{key}.logmel.npy") as f:
                logmel = np.load(io.BytesIO(f.read()))
        row = {**entry, "crops_jpeg": crops, "logmel": logmel}
        return _sample(row, self.spec)


def file_index(lake: str) -> list[dict[str, Any]]:
    """What a crop-folder dataset keeps in memory per sample: ids, crop count, labels, landmarks."""
    from dfdc_lake.train.inputs.batches import training_reader

    opened = Lake.open(lake)
    keep = ("sample_id", "video_id", "is_fake", "face_fake", "audio_fake", "has_audio", "crop_landmarks")
    return [
        {**{k: row.get(k) for k in keep}, "num_crops": len(row["crops_jpeg"])}
        for row in training_reader(opened.arrow_filesystem()[0], "parquet").rows(
            opened.shard_paths("parquet")
        )
    ]


def make_loader(dataset: Any, batch: int, workers: int) -> Any:
    """A DataLoader over ``dataset`` whose workers outlive a pass (start-up is not what is measured)."""
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch, num_workers=workers, shuffle=False, persistent_workers=workers > 0
    )


def measure(loader: Any) -> tuple[int, float]:
    """One pass of ``loader``: samples and seconds."""
    started = time.perf_counter()
    count = sum(len(b["label"]) for b in loader)
    return count, time.perf_counter() - started


def _lake(args: argparse.Namespace, work: Path) -> str:
    if args.lake:
        return str(args.lake)
    address = args.address or "local"
    if args.copies_of:
        return build_copies_lake(work, args.copies_of, args.copies, address)
    return build_lake(work, args.profile, args.families, address)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lake", help="an existing lake (default: build one in --work)")
    parser.add_argument("--work", default="bench-out/train-input", help="corpus, lake and crop files")
    parser.add_argument("--profile", choices=["dfdc", "tiny"], default="dfdc",
                        help="synthetic corpus: dfdc (1080p, ~224 px crops) or tiny (480x270)")  # fmt: skip
    parser.add_argument("--families", type=int, default=1, help="families (1 REAL + 5 FAKEs) per part")
    parser.add_argument(
        "--copies-of", type=Path, metavar="VIDEO", help="build the lake from copies of a real clip"
    )
    parser.add_argument("--copies", type=int, default=8, help="copies of the --copies-of clip")
    parser.add_argument("--address", help="Ray cluster for building the lake (default: a private local Ray)")
    parser.add_argument("--recipe", default="dfdc", help="training recipe whose input settings are used")
    parser.add_argument("--sizes", default="224,380", help="model input sizes to time (comma-separated)")
    parser.add_argument("--frames", type=int, default=None, help="crops per sample (default: the recipe's)")
    parser.add_argument("--workers", type=int, default=1, help="DataLoader worker processes (per pipeline)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--passes", type=int, default=3, help="timed passes per pipeline and size")
    parser.add_argument(
        "--repeat", type=int, default=10, help="the lake's samples read this many times per pass (default 10)"
    )
    parser.add_argument("--gpu-images-per-s", type=float, default=400.0,
                        help="a stated model training throughput in face crops/s (not measured here) "
                             "to size the CPU side for")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return parser


def run_size(
    args: argparse.Namespace, lake: str, root: str, index: list[dict[str, Any]], spec: InputSpec
) -> dict[str, Any]:
    """Alternating timed passes of both pipelines at one size; samples/s, per core, pass spread."""
    datasets = {
        "lake": LakeSamples(lake, spec, args.repeat),
        "files": FileSamples(root, index, spec, args.repeat),
    }
    loaders = {name: make_loader(d, args.batch_size, args.workers) for name, d in datasets.items()}
    for loader in loaders.values():
        measure(loader)  # warm: worker processes, imports, the page cache
    timed: dict[str, list[tuple[int, float]]] = {name: [] for name in loaders}
    for _ in range(args.passes):  # alternate, so a busy moment hits both
        for name, loader in loaders.items():
            timed[name].append(measure(loader))
    rates = {name: sum(n for n, _ in t) / sum(s for _, s in t) for name, t in timed.items()}
    cores = max(args.workers, 1)
    per_core = rates["lake"] / cores
    return {
        "image_size_px": spec.image_size_px,
        "samples": timed["lake"][0][0],
        "lake_samples_per_s": round(rates["lake"], 2),
        "files_samples_per_s": round(rates["files"], 2),
        "ratio": round(rates["lake"] / rates["files"], 3),
        "lake_samples_per_s_per_core": round(per_core, 2),
        "files_samples_per_s_per_core": round(rates["files"] / cores, 2),
        "pass_samples_per_s": {name: [round(n / s, 1) for n, s in t] for name, t in timed.items()},
        "cores_per_gpu": math.ceil(args.gpu_images_per_s / spec.frames_per_sample / per_core),
    }


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    work = Path(args.work)
    lake = _lake(args, work)
    root = str(work / "layout")
    if not Path(root, "files-jpg", "index.csv").exists():
        export_files(lake, root, "jpg")
    index = file_index(lake)
    cfg = load_train_config(recipe=args.recipe)
    rows: list[dict[str, Any]] = []
    for size in [int(s) for s in args.sizes.split(",") if s]:
        overrides = {"image_size_px": size, "frames_per_sample": args.frames}
        spec = InputSpec.from_config(cfg.with_overrides(overrides), 64)
        rows.append(run_size(args, lake, root, index, spec))
    first = rows[0]
    report = {
        "lake_samples_per_s": first["lake_samples_per_s"],
        "files_samples_per_s": first["files_samples_per_s"],
        "ratio": first["ratio"],
        "sizes": rows,
        "recipe": args.recipe, "augmentation": cfg.augmentation, "resize": cfg.resize,
        "frames_per_sample": args.frames or cfg.frames_per_sample, "workers": args.workers,
        "batch_size": args.batch_size, "passes": args.passes, "gpu_images_per_s_stated": args.gpu_images_per_s,
        "lake": lake, "cpus": os.cpu_count(),
    }  # fmt: skip
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{first['samples']} samples a pass, {report['frames_per_sample']} crops each, recipe {args.recipe} "
          f"({cfg.augmentation} augmentation, {cfg.resize} resize), {args.workers} DataLoader worker(s)")  # fmt: skip
    for row in rows:
        print(
            f"  {row['image_size_px']:4d} px: lake {row['lake_samples_per_s']:7.1f} samples/s, loose JPEG files "
            f"{row['files_samples_per_s']:7.1f} samples/s, ratio {row['ratio']:.2f}; "
            f"{row['cores_per_gpu']} cores feed a GPU at {args.gpu_images_per_s:g} crops/s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
