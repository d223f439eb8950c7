"""An original's face tracks: MTCNN on some sampled frames, the rest interpolated or looked up in windows.

Every ``faces.detect_every``-th sampled frame (and the last) is detected whole. The frames between two
of them take the tracks' interpolated boxes when both show the same faces barely moved (``steady``);
when both show the same faces moved further, each face is looked for in a window around its path
(``stages.windows``); the rest are detected whole. Boxes and facial points come back in source pixels
and are linked into tracks (``stages.tracker``), which carry over from one decode segment to the next
(``add_segment``). Each segment's first and last frames are detected, so the frames between two
detected ones never straddle a segment boundary.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from dfdc_lake.config import FaceConfig
from dfdc_lake.records import FaceTrack
from dfdc_lake.stages.decode import DecodedVideo
from dfdc_lake.stages.faces import DetectFn, Detection, Detections, landmarked
from dfdc_lake.stages.tracker import (
    TrackLinker,
    detection_positions,
    face_frame_share,
    fill_between,
    joined_tracks,
    matched_faces,
    steady,
)
from dfdc_lake.stages.windows import WindowedFaces, cut_windows, interpolated_windows

__all__ = ["TrackFinder"]


@dataclass
class TrackFinder:
    """Finds an original's face tracks with one ``DetectFn``."""

    config: FaceConfig
    detect: DetectFn

    def find(self, video: DecodedVideo) -> tuple[list[FaceTrack], float]:
        """The tracks of one segment taken on its own (source pixels) and the share of its looked-at
        frames with a face."""
        linker = self.linker()
        parts, _, share = self.add_segment(linker, video)
        return joined_tracks(parts, linker.finish()), share

    def linker(self) -> TrackLinker:
        """A new video's ``TrackLinker``: feed it its segments in order (``add_segment``)."""
        return TrackLinker(self.config)

    def add_segment(
        self, linker: TrackLinker, video: DecodedVideo
    ) -> tuple[list[FaceTrack], set[int], float]:
        """Detect in one segment and link it to the video's tracks so far.

        Returns:
            The segment's parts of the tracks (provisional ids, every sampled frame of their span),
            the ids of earlier tracks now dropped (``TrackLinker.add``), and the share of the segment's
            looked-at frames with a face.
        """
        faces = self.config
        total = len(video.frame_indices)
        positions = detection_positions(total, faces.detect_every)
        found = dict(zip(positions.tolist(), self._detect_at(video, positions), strict=True))
        if len(positions) < total:
            found.update(self._between(video, found, positions.tolist()))
        looked = np.asarray(sorted(found), dtype=np.int64)
        detections = [found[p] for p in looked.tolist()]
        # The tracker counts gaps in the frames it is given; the configured gap is in sampled frames.
        gap = faces.max_gap_frames // faces.detect_every if len(looked) < total else None
        parts, dropped = linker.add(video.frame_indices[looked], detections, gap)
        if len(looked) < total:
            parts = [fill_between(part, video.frame_indices) for part in parts]
        return parts, dropped, face_frame_share(detections, faces.min_score)

    def _between(
        self, video: DecodedVideo, found: dict[int, Detection], detected: list[int]
    ) -> dict[int, Detection]:
        """Detections of the frames between detected ones that are not steady (source pixels)."""
        faces = self.config
        whole: list[int] = []
        paths: list[tuple[int, int, np.ndarray, np.ndarray]] = []  # (start, stop, boxes at each)
        for start, stop in itertools.pairwise(detected):
            if stop - start < 2 or steady(found[start], found[stop], faces):
                continue
            paired = matched_faces(found[start], found[stop], faces) if faces.between == "windows" else None
            if paired is None:
                whole.extend(range(start + 1, stop))
            else:
                paths.append((start, stop, *paired))
        wanted = sorted({*whole, *(p for start, stop, _, _ in paths for p in range(start + 1, stop))})
        if not wanted:
            return {}
        # One downscale of each frame, whether it is cut into windows, detected whole, or both.
        small, scale = video.pixels.downscaled(np.asarray(wanted), self.config.detect_max_side_px)
        frame_of = dict(zip(wanted, small, strict=True))
        out: dict[int, Detection] = {}
        if paths:
            out, unresolved = self._in_windows(video, frame_of, scale, paths)
            whole = sorted(whole + unresolved)
        if whole:
            raw = self._detected(np.stack([frame_of[p] for p in whole]))
            out.update(zip(whole, self._to_source(raw, video, scale), strict=True))
        return out

    def _in_windows(
        self,
        video: DecodedVideo,
        frame_of: dict[int, np.ndarray],
        scale: tuple[float, float],
        paths: list[tuple[int, int, np.ndarray, np.ndarray]],
    ) -> tuple[dict[int, Detection], list[int]]:
        """Each face looked for in a window around its path (``stages.windows``) in the detector's
        frames (``frame_of``, downscaled by ``scale``): the faces found, in source pixels, per
        position, and the positions still to detect whole."""
        to_small = np.array([*scale, *scale], np.float64)
        windows = [
            window
            for start, stop, boxes_a, boxes_b in paths
            for window in interpolated_windows(boxes_a * to_small, boxes_b * to_small, start, stop)
        ]
        result = WindowedFaces.from_detections(
            windows, self.detect(cut_windows(frame_of, windows)), self.config.min_score
        )
        in_source = {p: self._to_source([faces], video, scale)[0] for p, faces in result.found.items()}
        return in_source, result.unresolved

    def _detect_at(self, video: DecodedVideo, positions: np.ndarray) -> Detections:
        """Detections in the sampled frames at ``positions``, in source pixels."""
        small, scale = video.pixels.downscaled(positions, self.config.detect_max_side_px)
        return self._to_source(self._detected(small), video, scale)

    def _detected(self, small: np.ndarray) -> Detections:
        """The detector's answer for whole downscaled frames, one per frame."""
        raw = self.detect(small)
        if len(raw) != len(small):
            raise ValueError(f"detector returned {len(raw)} results for {len(small)} frames")
        return raw

    @staticmethod
    def _to_source(raw: Detections, video: DecodedVideo, scale: tuple[float, float]) -> Detections:
        """Boxes and points found on frames downscaled by ``scale`` (x, y), in the source's pixels
        (``(boxes, scores, points)``, the points NaN where the detector gave none)."""
        to_source = np.array([*scale, *scale], dtype=np.float32)
        width, height = video.info.width_px, video.info.height_px
        limits = np.array([width, height, width, height], dtype=np.float32)
        out: Detections = []
        for detection in raw:
            boxes, scores, points = landmarked(detection)
            out.append((np.clip(boxes / to_source, 0, limits), scores, points / to_source[:2]))
        return out
