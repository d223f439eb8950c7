"""Video decoders compared by bench/gpu.py: the ingest's decord path, PyAV and the GPU decoders.

Every decoder produces the frames the ingest samples (every ``stride``-th frame) as RGB, so their
clips/s compare like for like. A decoder that cannot be imported, or fails on the clips, is reported
as ``{"available": False, "why": ...}``; nothing is estimated in its place.

Parallel runs use ``spawn`` worker processes (CUDA does not survive ``fork``); each worker decodes one
clip in its initializer, so library imports and CUDA context creation are not timed.

Also the small measuring tools bench/gpu.py shares with the decoders: ``GpuUtilSampler`` (nvidia-smi),
``cuda_sync``, ``usable_cores`` and ``print_rows``.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

__all__ = [
    "DECODERS",
    "GpuUtilSampler",
    "cuda_sync",
    "decoder_unavailable",
    "measure_decoder",
    "print_rows",
    "usable_cores",
]

DecodeFn = Callable[[str, int], int]  # (path, stride) -> RGB frames produced
_WARM_TIMEOUT_S = 300.0  # worker start-up (imports, CUDA context) before a parallel run


class GpuUtilSampler:
    """``nvidia-smi`` utilization of GPU 0, sampled every ``interval_ms`` inside a ``with`` block.

    Args:
        enabled: False makes it a no-op (CPU runs); so does a machine without nvidia-smi.
        field: ``utilization.gpu`` (SMs busy) or ``utilization.decoder`` (NVDEC busy).
        interval_ms: sampling period.
    """

    def __init__(self, enabled: bool, field: str = "utilization.gpu", interval_ms: int = 200) -> None:
        self.enabled = enabled and shutil.which("nvidia-smi") is not None
        self.field = field
        self.interval_ms = interval_ms
        self.samples_pct: list[int] = []
        self._proc: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> GpuUtilSampler:
        if self.enabled:
            query = [f"--query-gpu={self.field}", "--format=csv,noheader,nounits"]
            cmd = ["nvidia-smi", "--id=0", *query, f"--loop-ms={self.interval_ms}"]
            self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self._thread = threading.Thread(target=self._read, args=(self._proc.stdout,), daemon=True)
            self._thread.start()
        return self

    def _read(self, lines: Iterable[str]) -> None:
        for line in lines:
            if line.strip().isdigit():
                self.samples_pct.append(int(line.strip()))

    def __exit__(self, *_: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def summary(self) -> dict[str, float] | None:
        """Mean and max utilization in percent; None when nvidia-smi was not sampled."""
        if not self.enabled or not self.samples_pct:
            return None
        pct = self.samples_pct
        return {"samples": len(pct), "mean_pct": round(sum(pct) / len(pct), 1), "max_pct": max(pct)}


def cuda_sync(device: str) -> None:
    """Wait for queued CUDA work when ``device`` is a CUDA device, so timings include it."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def usable_cores() -> int:
    """The cores this process may use (its affinity), not the host's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def print_rows(title: str, header: list[str], rows: list[list[Any]], decimals: int = 2) -> None:
    """Print ``rows`` under ``header``, first column left-aligned, floats with ``decimals`` decimals."""
    cells = [header] + [[f"{c:.{decimals}f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for row in cells:
        aligned = [c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        print("  ".join(aligned))


def decode_ingest(path: str, stride: int) -> int:
    """The ingest's own ``stages.decode.VideoDecoder`` with the default ``DecodeConfig`` (its ``backend``)."""
    from dfdc_lake.config import DecodeConfig
    from dfdc_lake.stages.decode import VideoDecoder

    with open(path, "rb") as handle:
        data = handle.read()
    return len(VideoDecoder(DecodeConfig(frame_stride=stride)).decode(data).frames)


def decode_decord(path: str, stride: int) -> int:
    """decord on the bytes, ``get_batch`` of the sampled frames (the ingest's ``decode.backend="decord"``)."""
    import decord

    with open(path, "rb") as handle:
        data = handle.read()
    reader = decord.VideoReader(io.BytesIO(data), ctx=decord.cpu(0))
    indices = list(range(0, len(reader), stride))
    return int(reader.get_batch(indices).asnumpy().shape[0])


def _pyav_decode(path: str, stride: int, skip_nonref: bool) -> int:
    """Decode with PyAV; the first frame at or after each multiple of ``stride`` becomes RGB."""
    import av

    converted, next_index = 0, 0
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if skip_nonref:
            stream.codec_context.skip_frame = "NONREF"
        fps = float(stream.average_rate or 30)
        for frame in container.decode(stream):
            index = round((frame.time or 0.0) * fps)
            if index >= next_index:
                frame.to_ndarray(format="rgb24")
                converted += 1
                next_index = (index // stride + 1) * stride
    return converted


def decode_pyav_all(path: str, stride: int) -> int:
    """PyAV decoding every frame (the floor any full decode pays)."""
    return _pyav_decode(path, stride, skip_nonref=False)


def decode_pyav_nonref(path: str, stride: int) -> int:
    """PyAV decoding reference frames only (``skip_frame = "NONREF"``): B-frames nothing refers to are skipped."""
    return _pyav_decode(path, stride, skip_nonref=True)


def decode_pynvvideocodec(path: str, stride: int) -> int:
    """NVDEC through PyNvVideoCodec's ``SimpleDecoder``, RGB on the GPU, sampled frames as torch tensors."""
    import PyNvVideoCodec as nvc
    import torch

    decoder = nvc.SimpleDecoder(
        path, gpu_id=0, use_device_memory=True, output_color_type=nvc.OutputColorType.RGB
    )
    frames = decoder.get_batch_frames_by_index(list(range(0, len(decoder), stride)))
    tensors = [torch.from_dlpack(frame) for frame in frames]
    torch.cuda.synchronize()
    return len(tensors)


def _torchcodec(path: str, stride: int, device: str) -> int:
    from torchcodec.decoders import VideoDecoder

    options: dict[str, Any] = {"num_ffmpeg_threads": 0} if device == "cpu" else {}
    decoder = VideoDecoder(path, device=device, dimension_order="NHWC", **options)
    num_frames = decoder.metadata.num_frames or len(decoder)
    batch = decoder.get_frames_at(list(range(0, num_frames, stride)))
    if device != "cpu":
        import torch

        torch.cuda.synchronize()
    return int(batch.data.shape[0])


def decode_torchcodec_cpu(path: str, stride: int) -> int:
    """torchcodec's FFmpeg decoder on the CPU (FFmpeg picks the thread count)."""
    return _torchcodec(path, stride, "cpu")


def decode_torchcodec_cuda(path: str, stride: int) -> int:
    """torchcodec with NVDEC (``device="cuda"``), frames left on the GPU."""
    return _torchcodec(path, stride, "cuda")


DECODERS: dict[str, DecodeFn] = {
    "ingest_decoder": decode_ingest,
    "decord_cpu": decode_decord,
    "pyav_all_frames": decode_pyav_all,
    "pyav_ref_frames": decode_pyav_nonref,
    "pynvvideocodec_cuda": decode_pynvvideocodec,
    "torchcodec_cpu": decode_torchcodec_cpu,
    "torchcodec_cuda": decode_torchcodec_cuda,
}

_MODULES = {
    "ingest_decoder": "dfdc_lake.stages.decode",
    "decord_cpu": "decord",
    "pyav_all_frames": "av",
    "pyav_ref_frames": "av",
    "pynvvideocodec_cuda": "PyNvVideoCodec",
    "torchcodec_cpu": "torchcodec.decoders",
    "torchcodec_cuda": "torchcodec.decoders",
}


def decoder_unavailable(name: str) -> str | None:
    """Why decoder ``name`` cannot run here (None when it can)."""
    import importlib

    try:
        importlib.import_module(_MODULES[name])
    except Exception as err:  # ImportError, or a library that fails to load its native code
        return f"import {_MODULES[name]} failed: {type(err).__name__}: {err}"
    if name.endswith("_cuda"):
        import torch

        if not torch.cuda.is_available():
            return "no CUDA device visible to torch"
    return None


def _timed_serial(fn: DecodeFn, clips: list[str], stride: int, repeat: int) -> tuple[float, int, int]:
    fn(clips[0], stride)  # warm-up: library init, CUDA context, decoder session
    started = time.perf_counter()
    frames = sum(fn(path, stride) for _ in range(repeat) for path in clips)
    return time.perf_counter() - started, len(clips) * repeat, frames


def _warm_worker(name: str, path: str, stride: int, barrier: Any) -> None:
    DECODERS[name](path, stride)
    barrier.wait(timeout=_WARM_TIMEOUT_S)


def _decode_task(job: tuple[str, str, int]) -> int:
    name, path, stride = job
    return DECODERS[name](path, stride)


def _timed_parallel(
    name: str, clips: list[str], stride: int, procs: int, repeat: int
) -> tuple[float, int, int]:
    count = max(len(clips) * repeat, 2 * procs)
    jobs = [(name, clips[i % len(clips)], stride) for i in range(count)]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(procs + 1)  # the workers, warmed, and this process
    with ProcessPoolExecutor(
        procs, mp_context=context, initializer=_warm_worker, initargs=(name, clips[0], stride, barrier)
    ) as pool:
        first = [pool.submit(_decode_task, job) for job in jobs[:procs]]  # spawns every worker
        barrier.wait(timeout=_WARM_TIMEOUT_S)  # all workers started and warmed: the clock starts now
        started = time.perf_counter()
        frames = sum(f.result() for f in first) + sum(pool.map(_decode_task, jobs[procs:]))
        seconds = time.perf_counter() - started
    return seconds, count, frames


def _rates(seconds: float, clips: int, frames: int) -> dict[str, float | int]:
    return {
        "clips": clips,
        "rgb_frames": frames,
        "seconds": round(seconds, 4),
        "clips_per_s": round(clips / seconds, 4),
        "rgb_frames_per_s": round(frames / seconds, 2),
    }


def measure_decoder(name: str, clips: list[str], stride: int, procs: int, repeat: int) -> dict[str, Any]:
    """clips/s of decoder ``name`` as one stream and as ``procs`` parallel processes.

    Args:
        name: a key of ``DECODERS``.
        clips: video files, decoded in order (``repeat`` times over for one stream).
        stride: every ``stride``-th frame is produced as RGB (the ingest's ``decode.frame_stride``).
        procs: worker processes of the parallel run (0 skips it).
        repeat: passes over ``clips`` in the one-stream run.

    Returns:
        ``{"available": True, "one_stream": {...}, "parallel": {...}}`` with measured rates, or
        ``{"available": False, "why": ...}``.
    """
    why = decoder_unavailable(name)
    if why is not None:
        return {"available": False, "why": why}
    report: dict[str, Any] = {"available": True, "doc": (DECODERS[name].__doc__ or "").strip()}
    try:
        with GpuUtilSampler(name.endswith("_cuda"), "utilization.decoder") as nvdec:
            report["one_stream"] = _rates(*_timed_serial(DECODERS[name], clips, stride, repeat))
        report["one_stream"]["nvdec_util"] = nvdec.summary()
        if procs > 0:
            report["parallel"] = {
                "procs": procs,
                **_rates(*_timed_parallel(name, clips, stride, procs, repeat)),
            }
    except Exception as err:  # third-party decoders raise their own types; the run goes on
        return {"available": False, "why": f"failed on the clips: {type(err).__name__}: {err}"}
    return report
