"""The GPU path, measured in-process (no Ray): MTCNN per batch size, video decoders, one family end to
end, and a projection to all of DFDC. Prints tables and writes a JSON report.

    python bench/gpu.py --device cuda --out bench-out/gpu.json           # synthetic 1080p family
    python bench/gpu.py --device cpu --clips a.mp4 b.mp4 --out r.json    # real clips for decode + MTCNN

JSON sections: ``mtcnn`` (``stages.faces.FaceDetector`` frames/s at the ingest's detection size; time in
exposure normalization, in the pnet/rnet/onet forward passes, timed by hooks and synchronized on CUDA,
and in the rest: pyramid, NMS, box logic, copies), ``decode`` (bench/gpu_decoders.py, one stream and N
processes), ``family`` (``stages.family.FamilyProcessor``, seconds per clip by stage) and ``projection``
(the only numbers not measured: marked ``"kind": "projected"``, with their formulas).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

# bench/ is on sys.path when this script runs (and in its spawned decode workers)
from gpu_decoders import DECODERS, GpuUtilSampler, cuda_sync, measure_decoder, print_rows, usable_cores

DFDC_CLIPS = 119_154
DFDC_ORIGINALS = 19_154
MACHINES = ((16, 1), (96, 8))  # (CPU cores, GPUs)
BATCH_SIZES = (8, 16, 32, 64, 128)
QUICK_CPU_BATCH_SIZES = (8, 16)
NETS = ("pnet", "rnet", "onet")


def synthetic_family(work: Path, profile: str) -> Any:
    """One synthetic family (1 REAL + 3 FAKEs) under ``work/gpu-corpus``, generated once and reused."""
    from dfdc_lake.source.catalog import load_catalog
    from dfdc_lake.synth.corpus import ensure_corpus

    root = work / "gpu-corpus"
    workers = min(4, usable_cores())
    started = time.perf_counter()
    options: dict[str, Any] = {"parts": 1, "families": 1, "fakes_per_family": 3, "seed": 0}
    if ensure_corpus(root, workers=workers, profile=profile, cases=(), **options) is not None:
        print(f"generated a {profile}-profile family in {time.perf_counter() - started:.0f} s", flush=True)
    families = [f for f in load_catalog(str(root)).families() if f.original is not None and f.fakes]
    if not families:
        raise RuntimeError(f"the synthetic corpus at {root} holds no family with an original and fakes")
    return families[0]


def detection_frames(clips: list[str], config: Any) -> tuple[np.ndarray, list[str]]:
    """The ingest's sampled frames of ``clips``, downscaled to the detection size (same-shape clips only)."""
    from dfdc_lake.stages.decode import VideoDecoder
    from dfdc_lake.stages.faces import downscale_frames

    decoder = VideoDecoder(config.decode)
    chunks: list[np.ndarray] = []
    used: list[str] = []
    for path in clips:
        small, _ = downscale_frames(
            decoder.decode(Path(path).read_bytes()).frames, config.faces.detect_max_side_px
        )
        if not chunks or small.shape[1:] == chunks[0].shape[1:]:  # MTCNN batches need one image size
            chunks.append(small)
            used.append(path)
    return np.concatenate(chunks), used


@contextmanager
def timed_nets(mtcnn: Any, device: str) -> Iterator[dict[str, float]]:
    """Seconds inside each of MTCNN's pnet/rnet/onet forward calls (forward hooks; synchronized on CUDA)."""
    totals = dict.fromkeys(NETS, 0.0)
    handles = []
    for name in NETS:
        starts: list[float] = []

        def before(_module: Any, _inputs: Any, starts: list[float] = starts) -> None:
            cuda_sync(device)
            starts.append(time.perf_counter())

        def after(_m: Any, _i: Any, _o: Any, name: str = name, starts: list[float] = starts) -> None:
            cuda_sync(device)
            totals[name] += time.perf_counter() - starts.pop()

        module = getattr(mtcnn, name)
        handles += [module.register_forward_pre_hook(before), module.register_forward_hook(after)]
    try:
        yield totals
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def timed_exposure() -> Iterator[list[float]]:
    """Seconds in ``normalize_exposure`` as ``FaceDetector.detect`` calls it (module attribute swapped)."""
    import dfdc_lake.stages.faces as faces

    original = faces.normalize_exposure
    spent = [0.0]

    def timed(frames: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        try:
            return original(frames)
        finally:
            spent[0] += time.perf_counter() - started

    setattr(faces, "normalize_exposure", timed)  # noqa: B010 - swapped back below
    try:
        yield spent
    finally:
        setattr(faces, "normalize_exposure", original)  # noqa: B010


def measure_batch(detector: Any, frames: np.ndarray, batch: int, device: str, min_s: float) -> dict[str, Any]:
    """frames/s of ``detector.detect`` on ``batch`` frames a call, repeated until ``min_s`` has passed."""
    detector.config = detector.config.model_copy(update={"batch_size": batch})
    done, faces_found = 0, 0
    with (
        GpuUtilSampler(device.startswith("cuda")) as sampler,
        timed_exposure() as exposure,
        timed_nets(detector._mtcnn, device) as nets,
    ):
        cuda_sync(device)
        started = time.perf_counter()
        while done == 0 or (time.perf_counter() - started < min_s and done < 50 * batch):
            chunk = np.take(frames, np.arange(done, done + batch) % len(frames), axis=0)
            faces_found += sum(len(boxes) for boxes, _ in detector.detect(chunk))
            done += batch
        cuda_sync(device)
        seconds = time.perf_counter() - started
    split = {f"{name}_s": nets[name] for name in NETS}
    split["exposure_s"] = exposure[0]
    split["other_s"] = max(0.0, seconds - sum(split.values()))
    nets_s = sum(nets.values())
    return {"batch_size": batch, "frames": done, "seconds": round(seconds, 4),
            "frames_per_s": round(done / seconds, 2), "faces_per_frame": round(faces_found / done, 3),
            "split_s": {key: round(value, 4) for key, value in split.items()},
            "nets_share": round(nets_s / seconds, 4), "pre_post_share": round(1.0 - nets_s / seconds, 4),
            "gpu_util": sampler.summary()}  # fmt: skip


def mtcnn_block(detector: Any, clips: list[str], config: Any, args: argparse.Namespace) -> dict[str, Any]:
    """MTCNN throughput per batch size on the sampled, downscaled frames of ``clips``."""
    frames, used = detection_frames(clips, config)
    on_cuda = args.device.startswith("cuda")
    sizes = QUICK_CPU_BATCH_SIZES if args.quick and not on_cuda else BATCH_SIZES
    min_s = (0.5 if args.quick else 3.0) if on_cuda else (0.0 if args.quick else 2.0)
    detector.detect(frames[: min(8, len(frames))])  # warm-up: weights to the device, cuDNN autotuning
    runs = []
    for batch in sizes:
        runs.append(measure_batch(detector, frames, batch, args.device, min_s))
        print(f"  mtcnn batch {batch}: {runs[-1]['frames_per_s']} frames/s", flush=True)
    detector.config = config.faces
    height, width = frames.shape[1:3]
    return {"device": args.device, "frame_px": [int(width), int(height)], "clips": used,
            "distinct_frames": len(frames), "batches": runs}  # fmt: skip


def decode_block(clips: list[str], config: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Every decoder of ``gpu_decoders.DECODERS`` on ``clips``."""
    repeat = 1 if args.quick else 2
    results = {}
    for name in DECODERS:
        results[name] = measure_decoder(name, clips, config.decode.frame_stride, args.procs, repeat)
        state = results[name].get("one_stream", {}).get("clips_per_s", results[name].get("why"))
        print(f"  decode {name}: {state}", flush=True)
    return {"clips": clips, "frame_stride": config.decode.frame_stride, "decoders": results}


def family_block(detector: Any, family: Any, config: Any, device: str) -> dict[str, Any]:
    """``FamilyProcessor`` on the original alone, then on the whole family; seconds per clip by stage.

    ``detector_s`` is the time inside the ``DetectFn`` (what a detection actor does: exposure and MTCNN);
    the rest of ``detect`` (downscaling, tracking) runs in the CPU worker.
    """
    from dfdc_lake.records import Family
    from dfdc_lake.stages.faces import detect_fn
    from dfdc_lake.stages.family import FamilyProcessor

    inner, detector_s = detect_fn(detector), [0.0]

    def timed_detect(frames: np.ndarray) -> Any:
        started = time.perf_counter()
        try:
            return inner(frames)
        finally:
            detector_s[0] += time.perf_counter() - started

    processor = FamilyProcessor(config, timed_detect)
    original_only = Family(family.family_id, family.original, [])
    processor.process(original_only)  # warm-up: first-call costs would otherwise land on the original
    detector_s[0] = 0.0
    alone = processor.process(original_only)
    original_detector_s = detector_s[0]
    with GpuUtilSampler(device.startswith("cuda")) as sampler:
        started = time.perf_counter()
        full = processor.process(family)
        wall_s = time.perf_counter() - started
    fakes, info = len(family.fakes), full.samples[0].info if full.samples else None
    per_fake = {k: max(0.0, full.timings_s[k] - alone.timings_s[k]) / fakes for k in full.timings_s}
    return {
        "videos": [v.url for v in family.videos],
        "outcomes": [o.status.value for o in full.outcomes],
        "samples": len(full.samples),
        "clip": None if info is None else {**asdict(info), "duration_s": round(info.duration_s, 3)},
        "family_wall_s": round(wall_s, 4),
        "per_original_s": {k: round(v, 4) for k, v in alone.timings_s.items()},
        "original_detector_s": round(original_detector_s, 4),
        "per_fake_s": {k: round(v, 4) for k, v in per_fake.items()},
        "per_fake_method": "(whole family - original alone) / fakes, per stage",
        "gpu_util": sampler.summary(),
    }


FORMULAS = {
    "cpu_work_s": "originals * cpu_s_per_original + fakes * cpu_s_per_fake",
    "detect_work_s": "originals * detect_s_per_original  (fakes reuse their original's tracks)",
    "wall_s_cuda": "max(cpu_work_s / (cores - gpus), detect_work_s / gpus)",
    "wall_s_cpu": "(cpu_work_s + detect_work_s) / cores  (detection measured on CPU: GPUs left idle)",
}
ASSUMPTIONS = (
    "cpu_s_* are the family's stage seconds less detect_s_per_original, the time inside the DetectFn "
    "(exposure + MTCNN, what a detection actor does); downscaling and tracking stay on the CPU worker",
    "one clip per core at the measured in-process speed (torch threads in 'environment'), linear over cores",
    "with GPUs: one serial detector process per GPU, which also holds one CPU core",
    "storage reads as fast as here; per-clip seconds scale to DFDC's clips (1920x1080, 29.97 fps, 10 s) "
    "only when the measured family has that shape too (see family.clip)",
)


def _machine(cores: int, gpus: int, cpu_work_s: float, detect_work_s: float, cuda: bool) -> dict[str, Any]:
    """One machine's projected wall time (``FORMULAS['wall_s_cuda']`` or ``['wall_s_cpu']``)."""
    if cuda:
        wall_s = max(cpu_work_s / (cores - gpus), detect_work_s / gpus)
        bound = "cpu" if cpu_work_s / (cores - gpus) >= detect_work_s / gpus else "gpu"
    else:
        wall_s, bound = (cpu_work_s + detect_work_s) / cores, "cpu"
    formula = FORMULAS["wall_s_cuda" if cuda else "wall_s_cpu"]
    return {"kind": "projected", "cores": cores, "gpus": gpus, "formula": f"wall_s = {formula}",
            "wall_s": round(wall_s), "wall_h": round(wall_s / 3600, 2),
            "clips_per_s": round(DFDC_CLIPS / wall_s, 2), "bound": bound}  # fmt: skip


def projection_block(family: dict[str, Any], device: str) -> dict[str, Any]:
    """All of DFDC from the measured per-clip seconds; every number here is projected, not measured."""
    fakes = DFDC_CLIPS - DFDC_ORIGINALS
    inputs = {"clips": DFDC_CLIPS, "originals": DFDC_ORIGINALS, "fakes": fakes,
              "detect_s_per_original": family["original_detector_s"],
              "cpu_s_per_original": round(sum(family["per_original_s"].values()) - family["original_detector_s"], 4),
              "cpu_s_per_fake": round(sum(family["per_fake_s"].values()), 4)}  # fmt: skip
    cpu_work_s = DFDC_ORIGINALS * inputs["cpu_s_per_original"] + fakes * inputs["cpu_s_per_fake"]
    detect_work_s = DFDC_ORIGINALS * inputs["detect_s_per_original"]
    machines = {
        f"{cores} cores + {gpus} GPU{'s' if gpus > 1 else ''}": _machine(
            cores, gpus, cpu_work_s, detect_work_s, device.startswith("cuda")
        )
        for cores, gpus in MACHINES
    }
    return {"kind": "projected", "detection_measured_on": device, "inputs": inputs, "formulas": FORMULAS,
            "values": {"cpu_work_s": round(cpu_work_s), "detect_work_s": round(detect_work_s)},
            "assumptions": list(ASSUMPTIONS), "machines": machines}  # fmt: skip


def environment(args: argparse.Namespace) -> dict[str, Any]:
    """What ran: versions, device name, cores, torch threads, the ingest's decode config, the command line."""
    from importlib.metadata import PackageNotFoundError, version

    import torch

    from dfdc_lake.config import Config

    versions: dict[str, str | None] = {}
    for dist in ("decord", "av", "facenet-pytorch", "PyNvVideoCodec", "torchcodec"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = None
    gpu = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else None
    return {"python": platform.python_version(), "torch": torch.__version__, "gpu": gpu,
            "cpu_cores": usable_cores(), "torch_threads": torch.get_num_threads(), "procs": args.procs,
            "versions": versions, "argv": sys.argv[1:], "decode_config": Config().decode.model_dump(),
            "load_avg_1m_start": round(os.getloadavg()[0], 2)}  # fmt: skip


def _util(summary: dict[str, float] | None) -> Any:
    return summary["mean_pct"] if summary else "n/a"


def _print_mtcnn(mtcnn: dict[str, Any], env: dict[str, Any]) -> None:
    rows: list[list[Any]] = []
    for run in mtcnn["batches"]:
        shares = [100 * run["split_s"][f"{key}_s"] / run["seconds"] for key in (*NETS, "exposure", "other")]
        rows.append(
            [run["batch_size"], run["frames_per_s"], 100 * run["nets_share"], *shares, _util(run["gpu_util"])]
        )
    width, height = mtcnn["frame_px"]
    title = f"MTCNN on {mtcnn['device']} ({env['gpu'] or 'no GPU'}), {width}x{height} px, torch threads"
    header = ["batch", "frames/s", "nets%", "pnet%", "rnet%", "onet%", "exposure%", "other%", "GPU-util%"]
    print_rows(f"{title} {env['torch_threads']}; shares of wall time", header, rows, decimals=1)


def _print_decode(decode: dict[str, Any]) -> None:
    rows: list[list[Any]] = []
    for name, result in decode["decoders"].items():
        if result["available"]:
            one, many = result["one_stream"], result.get("parallel", {})
            rows.append([name, one["clips_per_s"], many.get("clips_per_s", "n/a"), many.get("procs", 0),
                         _util(one["nvdec_util"])])  # fmt: skip
        else:
            rows.append([name, "unavailable", "-", "-", "-"])
    header = ["decoder", "clips/s(1-stream)", "clips/s(N-procs)", "N", "NVDEC-util%"]
    print_rows(
        f"Decode, RGB every {decode['frame_stride']}th frame of {len(decode['clips'])} clip(s)", header, rows
    )
    for name, result in decode["decoders"].items():
        if not result["available"]:
            print(f"  {name}: {result['why']}")


def _print_family(family: dict[str, Any]) -> None:
    stages = list(family["per_original_s"])
    rows = [[key.split("_")[1], *family[key].values(), sum(family[key].values())]
            for key in ("per_original_s", "per_fake_s")]  # fmt: skip
    clip = family["clip"] or {}
    shape = f"{clip.get('width_px')}x{clip.get('height_px')}, {clip.get('duration_s')} s clips"
    title = f"One family in-process ({shape}), seconds per clip by stage (outcomes {family['outcomes']})"
    print_rows(title, ["clip", *stages, "total"], rows, decimals=3)
    print(f"original's time inside the DetectFn {family['original_detector_s']:.3f} s; family wall "
          f"{family['family_wall_s']:.2f} s; GPU util % {_util(family['gpu_util'])}")  # fmt: skip


def _print_projection(projection: dict[str, Any]) -> None:
    rows = [[label, m["wall_h"], m["clips_per_s"], m["bound"]] for label, m in projection["machines"].items()]
    title = f"PROJECTED, not measured: all of DFDC ({DFDC_CLIPS} clips, {DFDC_ORIGINALS} originals)"
    print_rows(title, ["machine", "hours", "clips/s", "bound"], rows)
    wall = "wall_s_cuda" if projection["detection_measured_on"].startswith("cuda") else "wall_s_cpu"
    for key in ("cpu_work_s", "detect_work_s", wall):
        print(f"  {key} = {projection['formulas'][key]}")


def print_report(report: dict[str, Any]) -> None:
    """The report as plain-text tables (the projection's numbers are labelled as projected)."""
    env = report["environment"]
    print(f"\nhost load average (1 min): {env['load_avg_1m_start']} at start, {env['load_avg_1m_end']} at end, "
          f"on {env['cpu_cores']} usable cores")  # fmt: skip
    _print_mtcnn(report["mtcnn"], report["environment"])
    _print_decode(report["decode"])
    _print_family(report["family"])
    _print_projection(report["projection"])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="bench-out/gpu.json", help="where the JSON report goes")
    parser.add_argument("--clips", nargs="+", help="video files for the decode and MTCNN parts")
    parser.add_argument("--device", default="auto", help="cuda, cpu or auto (cuda when visible)")
    parser.add_argument("--quick", action="store_true", help="fewer batch sizes on CPU, fewer repeats")
    parser.add_argument("--profile", default="dfdc", help="synthetic family profile (dfdc = 1080p, tiny)")
    parser.add_argument("--work", default="bench-out", help="the synthetic family goes to WORK/gpu-corpus")
    parser.add_argument("--max-procs", type=int, default=0, help="cap on parallel decode processes (0: none)")
    parser.add_argument("--torch-threads", type=int, default=1, help="1: one core per clip, as in the ingest")
    args = parser.parse_args(argv)
    args.procs = min(usable_cores(), args.max_procs) if args.max_procs > 0 else usable_cores()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from dfdc_lake.config import Config
    from dfdc_lake.stages.faces import FaceDetector, resolve_device

    args.device = resolve_device(args.device)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("--device cuda, but torch sees no CUDA device", file=sys.stderr)
        return 2
    torch.set_num_threads(args.torch_threads)
    config = Config().with_overrides([f"faces.device={args.device}"])
    family = synthetic_family(Path(args.work), args.profile)
    clips = args.clips or [v.url for v in family.videos]
    detector = FaceDetector(config.faces)
    detector.setup()
    report: dict[str, Any] = {"environment": environment(args)}
    print("measuring MTCNN ...", flush=True)
    report["mtcnn"] = mtcnn_block(detector, clips, config, args)
    print("measuring decoders ...", flush=True)
    report["decode"] = decode_block(clips, config, args)
    print("measuring one family ...", flush=True)
    report["family"] = family_block(detector, family, config, args.device)
    report["projection"] = projection_block(report["family"], args.device)
    # Other work on the host skews every number; the load average says whether there was any.
    report["environment"]["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print_report(report)
    print(f"\nreport: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
