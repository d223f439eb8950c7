"""CPU seconds per clip to get a clip's sampled frames, decoder against decoder, on one core each.

    python bench/decode.py                                  # the real clips in ../shared/dfdc-sample
    python bench/decode.py CLIP.mp4 ... --repeat 3 --stride 10

Decoders, each timed in this process with one decoding thread, passes interleaved so that the
machine's load falls on all of them alike:
- ``pyav-every-frame``: the plain baseline, every frame decoded (no colour conversion);
- ``decord``: ``decode.backend=decord`` (every frame decoded, the sampled ones converted);
- ``pyav-exact``: ``decode.backend=pyav`` at exact frame numbers (how a fake is decoded);
- ``pyav-reference``: the default, reference frames only, nearest frame per stride target (originals);
- ``torchcodec``: its CPU decoder, when it is installed (it needs FFmpeg's shared libraries).
CPU time is the process's user + system time, so a decoder's own threads are counted.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "dfdc-sample"


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def every_frame(data: bytes, stride: int) -> int:
    import av

    count = 0
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        stream.thread_type = "NONE"
        for _ in container.decode(stream):
            count += 1
    return count


def with_config(**settings: object) -> Callable[[bytes, int], int]:
    from dfdc_lake.config import DecodeConfig
    from dfdc_lake.stages.decode import VideoDecoder

    def run(data: bytes, stride: int) -> int:
        decoder = VideoDecoder(DecodeConfig(frame_stride=stride, **settings))  # type: ignore[arg-type]
        return len(decoder.decode(data).frame_indices)

    return run


def pyav_exact(data: bytes, stride: int) -> int:
    from dfdc_lake.config import DecodeConfig
    from dfdc_lake.stages.decode import VideoDecoder

    wanted = np.arange(0, 300, stride, dtype=np.int32)
    decoder = VideoDecoder(DecodeConfig(frame_stride=stride, reference_frames_only=False))
    return len(decoder.decode(data, wanted=wanted).frame_indices)


def torchcodec_decoder() -> tuple[Callable[[bytes, int], int] | None, str]:
    try:
        from torchcodec.decoders import VideoDecoder as TorchCodecDecoder
    except Exception as err:  # not installed, or FFmpeg's libraries missing
        return None, f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"

    def run(data: bytes, stride: int) -> int:
        decoder = TorchCodecDecoder(data, num_ffmpeg_threads=1)
        indices = list(range(0, len(decoder), stride))
        return int(decoder.get_frames_at(indices).data.shape[0])

    return run, ""


def measure(clips: list[Path], repeat: int, stride: int) -> dict[str, object]:
    decoders: dict[str, Callable[[bytes, int], int]] = {
        "pyav-every-frame": every_frame,
        "decord": with_config(backend="decord"),
        "pyav-exact": pyav_exact,
        "pyav-reference": with_config(backend="pyav", reference_frames_only=True),
    }
    torchcodec, why = torchcodec_decoder()
    if torchcodec is not None:
        decoders["torchcodec"] = torchcodec
    cpu: dict[str, list[float]] = {name: [] for name in decoders}
    wall: dict[str, list[float]] = {name: [] for name in decoders}
    frames: dict[str, int] = {}
    for _ in range(repeat):
        for clip in clips:
            data = clip.read_bytes()
            for name, decode in decoders.items():
                c0, t0 = _cpu_s(), time.perf_counter()
                frames[f"{name}:{clip.name}"] = decode(data, stride)
                cpu[name].append(_cpu_s() - c0)
                wall[name].append(time.perf_counter() - t0)
    per_clip = {name: round(statistics.median(values), 3) for name, values in cpu.items()}
    return {
        "clips": [str(c) for c in clips],
        "repeat": repeat,
        "stride": stride,
        "cpu_s_per_clip_median": per_clip,
        "wall_s_per_clip_median": {n: round(statistics.median(v), 3) for n, v in wall.items()},
        "frames": frames,
        "torchcodec": "measured" if torchcodec is not None else f"not available: {why}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("clips", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stride", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()
    clips = args.clips or sorted(SAMPLE.glob("dfdc_train_part_*/*.mp4"))
    if not clips:
        parser.error("no clips: pass some, or put DFDC clips in ../shared/dfdc-sample")
    report = measure(clips, args.repeat, args.stride)
    base = report["cpu_s_per_clip_median"]["pyav-every-frame"]  # type: ignore[index]
    print(f"{len(clips)} clips x {args.repeat}, stride {args.stride}; CPU s per clip (median), one thread:")
    for name, seconds in report["cpu_s_per_clip_median"].items():  # type: ignore[attr-defined]
        print(f"  {name:<18} {seconds:6.3f}   {seconds / base:5.2f}x the every-frame baseline")
    print(f"  torchcodec: {report['torchcodec']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
