"""Peak memory of one decoding worker on a long clip: a 10-minute 1080p video through every stage.

    python bench/long_clip.py                       # 10 min made of a real DFDC clip, if ../shared has one
    python bench/long_clip.py --clip X.mp4 --minutes 10 --set decode.segment_mb=384

The long clip is made without re-encoding: the packets of a 10-second clip (video and audio) are
muxed again and again with shifted timestamps, so it decodes like a real 10-minute recording of
the same scene. The clip then goes through ``FamilyProcessor`` as a family's original (decode,
MTCNN on the CPU, tracking, crops, log-mel) in a fresh process, whose peak RSS (``ru_maxrss``) is
the number reported (and its private part, without the shared library pages), next to the frames
a whole-clip decode would hold at once.

With ``--ray`` the clip goes through ``dfdc-lake ingest`` instead, as the one REAL of a DFDC part
folder, on a local Ray with one CPU: the number is then the peak RSS of the Ray worker that decoded
it (Ray's own runtime included), sampled every 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CLIP = REPO.parent / "shared" / "dfdc-sample" / "dfdc_train_part_0" / "abqwwspghj.mp4"


def make_long_clip(source: Path, target: Path, minutes: float) -> Path:
    """``source`` repeated (packets copied, timestamps shifted) until it lasts ``minutes``."""
    import av

    if target.exists():
        return target
    with av.open(str(source)) as probe:
        duration_s = float(probe.duration or 0) / 1e6
    repeats = max(1, round(minutes * 60 / duration_s))
    partial = target.with_suffix(".partial.mp4")
    with av.open(str(partial), "w", format="mp4") as out:
        streams = {}
        with av.open(str(source)) as src:
            for stream in (*src.streams.video[:1], *src.streams.audio[:1]):
                streams[stream.index] = out.add_stream_from_template(stream)
        for n in range(repeats):
            with av.open(str(source)) as src:
                for packet in src.demux(*[s for s in src.streams if s.index in streams]):
                    if packet.dts is None:
                        continue
                    shift = round(n * duration_s / float(packet.time_base))
                    packet.pts = None if packet.pts is None else packet.pts + shift
                    packet.dts += shift
                    packet.stream = streams[packet.stream.index]
                    out.mux(packet)
    partial.rename(target)
    return target


class MemorySampler:
    """Peak RSS and peak private memory (USS: what this process alone holds; RSS also counts the
    shared library pages every worker on a node shares), sampled from /proc every 0.2 s."""

    def __init__(self) -> None:
        import threading

        self.peak_rss_kb = self.peak_private_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        fields = {}
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if rest.strip().endswith("kB"):
                    fields[key] = int(rest.split()[0])
        self.peak_rss_kb = max(self.peak_rss_kb, fields.get("Rss", 0))
        private = fields.get("Private_Dirty", 0) + fields.get("Private_Clean", 0)
        self.peak_private_kb = max(self.peak_private_kb, private)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self._sample()

    def stop(self) -> tuple[float, float]:
        self._stop.set()
        self._thread.join()
        self._sample()
        return self.peak_rss_kb / 1024, self.peak_private_kb / 1024


def run_one(clip: Path, overrides: list[str]) -> dict:
    """Process ``clip`` as an original in this process; returns what happened and the peak RSS."""
    from dfdc_lake.config import Config
    from dfdc_lake.records import Family, VideoEntry
    from dfdc_lake.stages.faces import FaceDetector, detect_fn
    from dfdc_lake.stages.family import FamilyProcessor

    config = Config().with_overrides(["faces.device=cpu", *overrides])
    detector = FaceDetector(config.faces)
    detector.setup()
    entry = VideoEntry(clip.stem, clip.name, 0, "REAL", None, str(clip), clip.stat().st_size)
    sampler = MemorySampler()
    started = time.perf_counter()
    result = FamilyProcessor(config, detect_fn(detector)).process(Family(clip.stem, entry, []))
    wall_s = time.perf_counter() - started
    _, peak_private_mb = sampler.stop()
    outcome = result.outcomes[0]
    return {
        "clip": str(clip),
        "clip_mb": round(clip.stat().st_size / 2**20, 1),
        "overrides": overrides,
        "status": outcome.status.value,
        "samples": len(result.samples),
        "sampled_frames": sum(len(s.frame_indices) for s in result.samples),
        "wall_s": round(wall_s, 1),
        "timings_s": {k: round(v, 1) for k, v in result.timings_s.items()},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_private_mb": round(peak_private_mb, 1),
    }


def run_on_ray(clip: Path, out: Path, overrides: list[str]) -> dict:
    """Ingest ``clip`` as the one REAL of a part folder on a one-CPU local Ray; the peak worker RSS."""
    import logging
    import shutil

    import ray

    sys.path.insert(0, str(REPO / "bench"))
    from ingest import RssSampler

    from dfdc_lake.config import Config
    from dfdc_lake.ingest.driver import ingest
    from dfdc_lake.lake.lake import Lake

    part = out / f"ray-{clip.stem}" / "dfdc_train_part_0"
    part.mkdir(parents=True, exist_ok=True)
    linked = part / clip.name
    if not linked.exists():
        os.link(clip, linked)
    (part / "metadata.json").write_text(json.dumps({clip.name: {"label": "REAL", "split": "train"}}))
    lake = out / f"ray-{clip.stem}-lake"
    shutil.rmtree(lake, ignore_errors=True)
    ray.init(address="local", num_cpus=1, logging_level=logging.ERROR)
    started = time.perf_counter()
    try:
        with RssSampler() as sampler:
            report = ingest(
                str(part.parent), Lake.open(lake), Config().with_overrides(overrides), stream=sys.stderr
            )
    finally:
        ray.shutdown()
    return {
        "clip": str(clip),
        "overrides": overrides,
        "outcomes": report.outcomes_by_status,
        "wall_s": round(time.perf_counter() - started, 1),
        "peak_ray_worker_rss_mb": round(sampler.peak_one / 2**20, 1),
        "peak_all_ray_workers_rss_mb": round(sampler.peak_all / 2**20, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP, help="the 10 s clip to repeat")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=REPO / "bench-out")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--ray", action="store_true", help="through dfdc-lake ingest on a one-CPU local Ray")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.clip, args.overrides)))
        return 0
    if not args.clip.exists():
        parser.error(f"{args.clip} does not exist: pass --clip with a 1080p clip that has a face")
    args.out.mkdir(parents=True, exist_ok=True)
    long_clip = make_long_clip(
        args.clip, args.out / f"long-{args.clip.stem}-{args.minutes:g}min.mp4", args.minutes
    )
    if args.ray:
        report = run_on_ray(long_clip, args.out, args.overrides)
        print(json.dumps(report, indent=1))
        print(
            f"peak RSS of the Ray worker {report['peak_ray_worker_rss_mb']:.0f} MB for a {args.minutes:g}-minute "
            f"clip ({report['outcomes']}); all Ray workers at once {report['peak_all_ray_workers_rss_mb']:.0f} MB"
        )
        return 0
    cmd = [sys.executable, __file__, "--child", "--clip", str(long_clip)]
    cmd += [arg for o in args.overrides for arg in ("--set", o)]
    child = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if child.returncode != 0:
        print(child.stderr[-3000:], file=sys.stderr)
        return child.returncode
    report = json.loads(child.stdout.strip().splitlines()[-1])
    from dfdc_lake.config import Config
    from dfdc_lake.stages.decode import segment_frames_for

    config = Config().with_overrides(args.overrides)
    import av

    with av.open(str(long_clip)) as probe:
        stream = probe.streams.video[0]
        width, height, frames = stream.codec_context.width, stream.codec_context.height, stream.frames
    sampled = (frames + config.decode.frame_stride - 1) // config.decode.frame_stride
    report["whole_clip_frames_mb"] = round(sampled * width * height * 3 / 2**20)
    from dfdc_lake.records import VideoInfo

    info = VideoInfo(0.0, frames, width, height)
    report["frames_per_segment"] = segment_frames_for(info, config.decode)
    print(json.dumps(report, indent=1))
    print(
        f"peak RSS {report['peak_rss_mb']:.0f} MB (private {report['peak_private_mb']:.0f} MB) for a "
        f"{args.minutes:g}-minute {width}x{height} clip "
        f"({report['status']}, {report['samples']} samples); decoding its {sampled} sampled frames at once "
        f"would hold {report['whole_clip_frames_mb']} MB of RGB frames alone"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
