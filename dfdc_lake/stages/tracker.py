"""Link per-frame face detections into per-person tracks (DFDC clips show one to three people).

Greedy association over the sampled frames: each detection extends the track whose last box it
overlaps most (at least ``track_iou``), or failing that the nearest one whose center moved less than a
face size, if that track was last seen no more than ``max_gap_frames`` sampled frames ago; otherwise it
starts a new track. Gaps inside a track are filled by linear
interpolation (score NaN; the facial points too), boxes are smoothed with a moving average, and tracks seen in fewer than
``min_track_share`` of the sampled frames (spurious detections) are dropped.

A long video's frames come in decode segments; ``TrackLinker`` links them segment after segment,
keeping only the open tracks' last detections in between, so a face followed across a segment
boundary stays one track (``build_tracks`` is one segment).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np

from dfdc_lake.config import FaceConfig
from dfdc_lake.records import FaceTrack
from dfdc_lake.stages.faces import Detection, Detections, landmarked

__all__ = [
    "TrackLinker",
    "box_iou",
    "build_tracks",
    "detection_positions",
    "face_frame_share",
    "fill_between",
    "joined_tracks",
    "matched_faces",
    "smooth_boxes",
    "steady",
    "within_reach",
]

MIN_BOX_PX = 2.0  # boxes thinner than this are detector noise
# A detection that does not overlap a track's last box may still extend it if its center moved at most
# this many face sizes and its size changed at most this factor (fast motion between sampled frames).
MAX_CENTER_SHIFT = 1.0
MAX_SCALE_CHANGE = 1.5
MAX_SMOOTH_SHIFT = 0.15  # face sizes: smoothing corrects jitter, never a real move


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes ``a`` [N, 4] and ``b`` [M, 4] (xyxy) -> [N, M]."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def _kept(detection: Detection, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The detection's boxes, scores and points (``faces.landmarked``) scoring ``min_score`` or more."""
    boxes, scores, points = landmarked(detection)
    size_ok = ((boxes[:, 2] - boxes[:, 0]) >= MIN_BOX_PX) & ((boxes[:, 3] - boxes[:, 1]) >= MIN_BOX_PX)
    keep = (scores >= min_score) & size_ok
    return boxes[keep], scores[keep], points[keep]


def face_frame_share(detections: Detections, min_score: float) -> float:
    """Share of frames with at least one detection scoring ``min_score`` or more."""
    if not detections:
        return 0.0
    return sum(len(_kept(d, min_score)[1]) > 0 for d in detections) / len(detections)


@dataclass
class _Builder:
    """One track being linked; detections no later segment needs are forgotten (``forget_before``)."""

    track_id: int  # provisional: the order of creation
    first: int  # position of its first detection
    order: tuple[int, float]  # (first position, left edge of the first box): how tracks are ranked
    span_start: int  # first position of the segment it began in
    span_end: int = 0  # end (exclusive) of the last segment it was seen in
    detected: int = 0  # detections in all, forgotten ones included
    positions: list[int] = field(default_factory=list)  # positions in the sampled-frame sequence
    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    points: list[np.ndarray] = field(default_factory=list)

    def add(self, position: int, box: np.ndarray, score: float, points: np.ndarray) -> None:
        self.positions.append(position)
        self.boxes.append(box)
        self.scores.append(score)
        self.points.append(points)
        self.detected += 1

    def forget_before(self, position: int) -> None:
        """Drop the detections before ``position`` but the last of them, which later boxes interpolate from."""
        cut = bisect.bisect_left(self.positions, position) - 1
        if cut > 0:
            for values in (self.positions, self.boxes, self.scores, self.points):
                del values[:cut]


def _greedy(cost: np.ndarray, allowed: np.ndarray) -> list[tuple[int, int]]:
    """Greedy one-to-one assignment, cheapest allowed pair first."""
    pairs: list[tuple[int, int]] = []
    used_rows: set[int] = set()
    used_cols: set[int] = set()
    for flat in np.argsort(cost, axis=None, kind="stable"):
        row, col = divmod(int(flat), cost.shape[1])
        if allowed[row, col] and row not in used_rows and col not in used_cols:
            pairs.append((row, col))
            used_rows.add(row)
            used_cols.add(col)
    return pairs


def within_reach(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which boxes of ``b`` could be the faces of ``a`` moved between sampled frames: centers at most
    ``MAX_CENTER_SHIFT`` of ``a``'s face size apart, sizes within ``MAX_SCALE_CHANGE``. Returns
    ``(allowed bool [N, M], center distance in ``a``'s face sizes float [N, M])``."""
    size_a = np.sqrt(np.clip((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]), 1e-6, None))
    size_b = np.sqrt(np.clip((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), 1e-6, None))
    center_a = (a[:, :2] + a[:, 2:]) / 2
    center_b = (b[:, :2] + b[:, 2:]) / 2
    shift = np.linalg.norm(center_a[:, None, :] - center_b[None, :, :], axis=-1) / size_a[:, None]
    scale = size_b[None, :] / size_a[:, None]
    allowed = (shift <= MAX_CENTER_SHIFT) & (scale <= MAX_SCALE_CHANGE) & (scale >= 1 / MAX_SCALE_CHANGE)
    return allowed, shift


def _match(track_boxes: np.ndarray, boxes: np.ndarray, config: FaceConfig) -> list[tuple[int, int]]:
    """Pairs (track row, detection column): by IoU first, then by a small center shift for faces that
    moved too far between sampled frames to overlap (fast motion, low frame rates)."""
    ious = box_iou(track_boxes, boxes)
    pairs = _greedy(-ious, ious >= config.track_iou)
    allowed, shift = within_reach(track_boxes, boxes)
    for row, col in pairs:
        allowed[row, :] = False
        allowed[:, col] = False
    return pairs + _greedy(shift, allowed)


def smooth_boxes(boxes: np.ndarray, window: int) -> np.ndarray:
    """Centered moving average of each coordinate over up to ``window`` frames, to remove detector jitter.

    Near the ends the window shrinks symmetrically (the first and last boxes stay as they are), and no
    box moves by more than ``MAX_SMOOTH_SHIFT`` face sizes, so real motion between sparse samples (a
    head turning back and forth at a low frame rate) is followed rather than averaged away.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    radius = max(0, (window - 1) // 2)
    if radius == 0 or len(boxes) < 3:
        return boxes.astype(np.float32)
    averaged = np.empty_like(boxes)
    for i in range(len(boxes)):
        r = min(radius, i, len(boxes) - 1 - i)
        averaged[i] = boxes[i - r : i + r + 1].mean(axis=0)
    sizes = np.sqrt(np.clip((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 0, None))
    limit = (MAX_SMOOTH_SHIFT * sizes)[:, None]
    return (boxes + np.clip(averaged - boxes, -limit, limit)).astype(np.float32)


def _interpolated(at: np.ndarray, seen: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` [S, ...] known at the sorted ``seen``, linearly interpolated at ``at`` -> [len(at), ...]."""
    flat = np.asarray(values, np.float64).reshape(len(seen), -1)
    columns = [np.interp(at, seen, flat[:, k]) for k in range(flat.shape[1])]
    return np.stack(columns, axis=1).reshape(len(at), *np.shape(values)[1:])


class TrackLinker:
    """Links detections into tracks segment after segment: a track crosses segments as it would cross
    frames of one segment (see the module doc).

    Each ``add`` is one segment's sampled frames. It returns the segment's part of every track seen in
    it (``track_id`` provisional), boxes smoothed with the track's boxes before the segment (the last
    boxes of a segment lack the ones after it, so their window shrinks as at a track's end). A track
    that misses a segment's last frames and is seen again in the next has no part in those frames (they
    are gone); the next segment's frames up to where it is seen again are interpolated. Only the open
    tracks' last detections are kept between segments. A track is dropped when it was seen in fewer than
    ``min_track_share`` of the sampled frames of the segments it spans; ``finish`` gives the final ids.
    """

    def __init__(self, config: FaceConfig) -> None:
        self.config = config
        self._open: list[_Builder] = []
        self._closed: dict[int, tuple[int, float]] = {}  # closed, kept tracks: provisional id -> order
        self._next = 0  # position of the next sampled frame
        self._created = 0

    def add(
        self, frame_indices: np.ndarray, detections: Detections, max_gap_frames: int | None = None
    ) -> tuple[list[FaceTrack], set[int]]:
        """Link one segment's detections.

        Args:
            frame_indices: int [T], source frame index of each of the segment's sampled frames.
            detections: per sampled frame ``(boxes_xyxy [N, 4], scores [N])`` in source pixels,
                optionally with ``points [N, 5, 2]`` (``faces.landmarked``).
            max_gap_frames: frames a track may miss in this segment (default, and at most: the config's).

        Returns:
            The parts of this segment's tracks (provisional ids), and the ids of tracks of earlier
            segments dropped now (spurious: their parts are to be discarded).
        """
        if len(frame_indices) != len(detections):
            raise ValueError(f"{len(frame_indices)} frame indices but {len(detections)} detection lists")
        start = self._next
        gap = self.config.max_gap_frames if max_gap_frames is None else max_gap_frames
        for position, detection in enumerate(detections, start):
            self._link(position, detection, start, gap)
        self._next = start + len(detections)
        frame_indices = np.asarray(frame_indices, dtype=np.int32)
        parts = [self._part(builder, start, frame_indices) for builder in self._open]
        dropped = self._close()
        return [p for p in parts if p is not None and p.track_id not in dropped], dropped

    def finish(self) -> dict[int, int]:
        """Provisional id -> final id of every kept track: ranked by first appearance, then left edge."""
        self._close(final=True)
        ranked = sorted(self._closed, key=lambda track_id: (self._closed[track_id], track_id))
        return {track_id: rank for rank, track_id in enumerate(ranked)}

    def _link(self, position: int, detection: Detection, start: int, gap: int) -> None:
        boxes, scores, points = _kept(detection, self.config.min_score)
        live = [b for b in self._open if position - b.positions[-1] <= gap + 1]
        matched: set[int] = set()
        if live and len(boxes):
            for row, col in _match(np.stack([b.boxes[-1] for b in live]), boxes, self.config):
                live[row].add(position, boxes[col], float(scores[col]), points[col])
                matched.add(col)
        for col in range(len(boxes)):
            if col not in matched:
                builder = _Builder(self._created, position, (position, float(boxes[col][0])), start)
                builder.add(position, boxes[col], float(scores[col]), points[col])
                self._open.append(builder)
                self._created += 1

    def _part(self, builder: _Builder, start: int, frame_indices: np.ndarray) -> FaceTrack | None:
        """The track on this segment's frames from its first detection in them (or the segment's start,
        after a gap) to its last, gaps interpolated (score NaN), boxes smoothed."""
        last = builder.positions[-1]
        if last < start:
            return None
        builder.span_end = self._next
        begin = max(builder.first, start)
        # The boxes before the segment are smoothed with it so that its first boxes are smoothed as
        # they would be inside one segment.
        context = max(builder.first, begin - self._radius)
        at = np.arange(context, last + 1)
        seen = np.asarray(builder.positions)
        boxes = smooth_boxes(_interpolated(at, seen, np.stack(builder.boxes)), self.config.smooth_window)
        # Only boxes are smoothed: the points stay where MTCNN put them in the frames it detected.
        points = _interpolated(at, seen, np.stack(builder.points)).astype(np.float32)
        scores = np.full(len(at), np.nan, dtype=np.float32)
        inside = seen >= context
        scores[seen[inside] - context] = np.asarray(builder.scores)[inside]
        keep = slice(begin - context, None)
        return FaceTrack(
            builder.track_id, frame_indices[at[keep] - start], boxes[keep], scores[keep], points[keep]
        )

    def _close(self, final: bool = False) -> set[int]:
        """Decide the tracks no later frame can extend (all when ``final``); the ids of those dropped."""
        dropped: set[int] = set()
        still_open = []
        for builder in self._open:
            if not final and self._next - builder.positions[-1] <= self.config.max_gap_frames + 1:
                builder.forget_before(self._next - self._radius)
                still_open.append(builder)
            elif builder.detected / (builder.span_end - builder.span_start) >= self.config.min_track_share:
                self._closed[builder.track_id] = builder.order
            else:
                dropped.add(builder.track_id)
        self._open = still_open
        return dropped

    @property
    def _radius(self) -> int:
        return max(0, (self.config.smooth_window - 1) // 2)


def joined_tracks(parts: list[FaceTrack], final_ids: dict[int, int]) -> list[FaceTrack]:
    """Each kept track's parts (``TrackLinker.add``, in segment order) as one track with its final id,
    ordered by it; parts of dropped tracks are left out."""
    by_id: dict[int, list[FaceTrack]] = {}
    for part in parts:
        if part.track_id in final_ids:
            by_id.setdefault(final_ids[part.track_id], []).append(part)
    return [_joined(track_id, by_id[track_id]) for track_id in sorted(by_id)]


def _joined(track_id: int, parts: list[FaceTrack]) -> FaceTrack:
    points = [p.landmarks_xy for p in parts if p.landmarks_xy is not None]
    return FaceTrack(
        track_id=track_id,
        frame_indices=np.concatenate([p.frame_indices for p in parts]).astype(np.int32),
        boxes_xyxy=np.concatenate([p.boxes_xyxy for p in parts]).astype(np.float32),
        scores=np.concatenate([p.scores for p in parts]).astype(np.float32),
        landmarks_xy=np.concatenate(points).astype(np.float32) if len(points) == len(parts) else None,
    )


def build_tracks(frame_indices: np.ndarray, detections: Detections, config: FaceConfig) -> list[FaceTrack]:
    """Link detections over the sampled frames into face tracks (one segment: ``TrackLinker``).

    Args:
        frame_indices: int [T], source frame index of each sampled frame.
        detections: per sampled frame ``(boxes_xyxy [N, 4], scores [N])`` in source pixels, optionally
            with ``points [N, 5, 2]`` (``faces.landmarked``).
        config: tracking parameters (``min_score``, ``track_iou``, ``max_gap_frames``, ``smooth_window``,
            ``min_track_share``).

    Returns:
        Tracks ordered by first appearance, then left edge; ``track_id`` is that rank.
    """
    linker = TrackLinker(config)
    parts, _ = linker.add(frame_indices, detections)
    return joined_tracks(parts, linker.finish())


def detection_positions(num_frames: int, every: int) -> np.ndarray:
    """Positions of the sampled frames detected on when detecting on every ``every``-th: 0, every, ...
    and always the last, so a track can reach the end of the frames."""
    positions = np.arange(0, num_frames, max(1, every), dtype=np.int64)
    if num_frames and positions[-1] != num_frames - 1:
        positions = np.append(positions, num_frames - 1)
    return positions


def fill_between(track: FaceTrack, frame_indices: np.ndarray) -> FaceTrack:
    """``track`` (built on some of the sampled frames) on every sampled frame within its span: boxes
    (and points) linearly interpolated by frame number, score NaN where no detection was made."""
    frame_indices = np.asarray(frame_indices, dtype=np.int32)
    first, last = int(track.frame_indices[0]), int(track.frame_indices[-1])
    within = frame_indices[(frame_indices >= first) & (frame_indices <= last)]
    if len(within) == len(track.frame_indices):
        return track
    seen = track.frame_indices.astype(np.float64)
    boxes = _interpolated(within, seen, track.boxes_xyxy).astype(np.float32)
    scores = np.full(len(within), np.nan, dtype=np.float32)
    scores[np.searchsorted(within, track.frame_indices)] = track.scores
    points = track.landmarks_xy
    if points is not None:
        points = _interpolated(within, seen, points).astype(np.float32)
    return FaceTrack(track.track_id, within, boxes, scores, points)


def steady(a: Detection, b: Detection, config: FaceConfig) -> bool:
    """Detections ``a`` and ``b`` (a few sampled frames apart) show the same faces, each moved so little
    that its boxes still overlap by ``steady_iou``: the frames between may take interpolated boxes."""
    boxes_a, boxes_b = _kept(a, config.min_score)[0], _kept(b, config.min_score)[0]
    if len(boxes_a) != len(boxes_b):
        return False
    if not len(boxes_a):
        return True
    ious = box_iou(boxes_a, boxes_b)
    return len(_greedy(-ious, ious >= config.steady_iou)) == len(boxes_a)


def matched_faces(a: Detection, b: Detection, config: FaceConfig) -> tuple[np.ndarray, np.ndarray] | None:
    """The faces of ``a`` and ``b`` paired as the tracker would link them, ``(boxes_a, boxes_b)`` [N, 4]
    in the same order; None unless both show the same number of faces and every one is paired."""
    boxes_a, boxes_b = _kept(a, config.min_score)[0], _kept(b, config.min_score)[0]
    if len(boxes_a) != len(boxes_b):
        return None
    pairs = _match(boxes_a, boxes_b, config) if len(boxes_a) else []
    if len(pairs) != len(boxes_a):
        return None
    rows = [row for row, _ in pairs]
    cols = [col for _, col in pairs]
    return boxes_a[rows], boxes_b[cols]
