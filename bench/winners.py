"""The DFDC winners' preprocessing, rebuilt as a baseline for ``bench/ingest.py --winners``.

What the top solutions did before training, as the throughput issue describes it: MTCNN on the
originals only, on every 10th frame, each face cut out of the original and of every fake at the
original's boxes and written as one PNG file per crop; one process with 2 torch threads. The
detector settings are the 1st-place solution's public ones: facenet-pytorch MTCNN with thresholds
0.85 / 0.95 / 0.95 on frames at half size, 32 frames a call; crops grown by a third of the box on
each side; PNG at zlib level 1 (OpenCV's ``imwrite`` default, which they used). Frames are decoded
with PyAV (FFmpeg, as their OpenCV capture was), every frame decoded and every 10th converted.

It does less than ingest: no tracks, no audio, no labels, no resumable commits, boxes per frame only.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

STRIDE = 10
BATCH = 32


@dataclass
class WinnersRun:
    wall_s: float
    clips: int
    crops: int
    png_bytes: int


def every_10th_frame(path: Path) -> list[np.ndarray]:
    """RGB frames 0, 10, 20, ... of ``path`` (every frame decoded); empty for a broken file."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            return [
                frame.to_ndarray(format="rgb24")
                for i, frame in enumerate(container.decode(stream))
                if i % STRIDE == 0
            ]
    except (av.FFmpegError, IndexError):
        return []


def run(corpus: Path, out: Path, threads: int = 2) -> WinnersRun:
    """Preprocess every family of ``corpus`` (DFDC part folders) into PNG crops under ``out``."""
    import torch
    from facenet_pytorch import MTCNN
    from PIL import Image

    from dfdc_lake.source.catalog import load_catalog

    shutil.rmtree(out, ignore_errors=True)
    torch.set_num_threads(threads)
    detector = MTCNN(margin=0, thresholds=[0.85, 0.95, 0.95], device="cpu")
    started = time.perf_counter()
    clips = crops = png_bytes = 0
    for family in load_catalog(str(corpus)).families():
        if family.original is None:
            continue
        frames = every_10th_frame(Path(family.original.url))
        clips += len(family.videos)
        if not frames:
            continue
        halves = [Image.fromarray(f).resize((f.shape[1] // 2, f.shape[0] // 2)) for f in frames]
        boxes: list = []
        for start in range(0, len(halves), BATCH):
            found, _ = detector.detect(halves[start : start + BATCH], landmarks=False)
            boxes.extend(found)
        for video in family.videos:
            video_frames = frames if video is family.original else every_10th_frame(Path(video.url))
            folder = out / video.video_id
            folder.mkdir(parents=True, exist_ok=True)
            for index, (frame, frame_boxes) in enumerate(zip(video_frames, boxes, strict=False)):
                if frame_boxes is None:
                    continue
                for face, box in enumerate(np.asarray(frame_boxes) * 2):
                    x1, y1, x2, y2 = (int(v) for v in box)
                    grow_w, grow_h = (x2 - x1) // 3, (y2 - y1) // 3
                    crop = frame[max(y1 - grow_h, 0) : y2 + grow_h, max(x1 - grow_w, 0) : x2 + grow_w]
                    target = folder / f"{index * STRIDE}_{face}.png"
                    Image.fromarray(crop).save(target, compress_level=1)
                    crops += 1
                    png_bytes += target.stat().st_size
    return WinnersRun(time.perf_counter() - started, clips, crops, png_bytes)
