"""Link per-frame face detections into per-person tracks (DFDC clips show one to three people).

Greedy association over the sampled frames: each detection extends the track whose last box it
overlaps most (at least ``track_iou``), or failing that the nearest one whose center moved less than a
face size, if that track was last seen no more than ``max_gap_frames`` sampled frames ago; otherwise it
starts a new track. Gaps inside a track are filled by linear
interpolation (score NaN; the facial points too), boxes are smoothed with a moving average, and tracks seen in fewer than
``min_track_share`` of the sampled frames (spurious detections) are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dfdc_lake.config import FaceConfig
from dfdc_lake.records import FaceTrack
from dfdc_lake.stages.faces import Detection, Detections, landmarked

__all__ = [
    "box_iou",
    "build_tracks",
    "detection_positions",
    "face_frame_share",
    "fill_between",
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
    positions: list[int] = field(default_factory=list)  # positions in the sampled-frame sequence
    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    points: list[np.ndarray] = field(default_factory=list)

    def add(self, position: int, box: np.ndarray, score: float, points: np.ndarray) -> None:
        self.positions.append(position)
        self.boxes.append(box)
        self.scores.append(score)
        self.points.append(points)


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


def _associate(detections: Detections, config: FaceConfig) -> list[_Builder]:
    builders: list[_Builder] = []
    for position, detection in enumerate(detections):
        boxes, scores, points = _kept(detection, config.min_score)
        live = [i for i, b in enumerate(builders) if position - b.positions[-1] <= config.max_gap_frames + 1]
        matched: set[int] = set()
        if live and len(boxes):
            for row, col in _match(np.stack([builders[i].boxes[-1] for i in live]), boxes, config):
                builders[live[row]].add(position, boxes[col], float(scores[col]), points[col])
                matched.add(col)
        for col in range(len(boxes)):
            if col not in matched:
                builders.append(_Builder())
                builders[-1].add(position, boxes[col], float(scores[col]), points[col])
    return builders


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


def _fill(builder: _Builder) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Positions first..last with gaps linearly interpolated (score NaN), and the points likewise."""
    positions = np.arange(builder.positions[0], builder.positions[-1] + 1)
    seen = np.asarray(builder.positions)
    boxes = _interpolated(positions, seen, np.stack(builder.boxes))
    points = _interpolated(positions, seen, np.stack(builder.points)).astype(np.float32)
    scores = np.full(len(positions), np.nan, dtype=np.float32)
    scores[seen - positions[0]] = builder.scores
    return positions, boxes, scores, points


def build_tracks(frame_indices: np.ndarray, detections: Detections, config: FaceConfig) -> list[FaceTrack]:
    """Link detections over the sampled frames into face tracks.

    Args:
        frame_indices: int [T], source frame index of each sampled frame.
        detections: per sampled frame ``(boxes_xyxy [N, 4], scores [N])`` in source pixels, optionally
            with ``points [N, 5, 2]`` (``faces.landmarked``).
        config: tracking parameters (``min_score``, ``track_iou``, ``max_gap_frames``, ``smooth_window``,
            ``min_track_share``).

    Returns:
        Tracks ordered by first appearance, then left edge; ``track_id`` is that rank.
    """
    if len(frame_indices) != len(detections):
        raise ValueError(f"{len(frame_indices)} frame indices but {len(detections)} detection lists")
    frame_indices = np.asarray(frame_indices, dtype=np.int32)
    total = len(frame_indices)
    raw = []
    for builder in _associate(detections, config):
        if total == 0 or len(builder.positions) / total < config.min_track_share:
            continue
        positions, boxes, scores, points = _fill(builder)
        # Only boxes are smoothed: the points stay where MTCNN put them in the frames it detected.
        raw.append((positions, smooth_boxes(boxes, config.smooth_window), scores, points))
    raw.sort(key=lambda item: (int(item[0][0]), float(item[1][0, 0])))
    return [
        FaceTrack(
            track_id=rank,
            frame_indices=frame_indices[positions],
            boxes_xyxy=boxes,
            scores=scores,
            landmarks_xy=points,
        )
        for rank, (positions, boxes, scores, points) in enumerate(raw)
    ]


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
