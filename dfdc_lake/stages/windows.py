"""Faces found again in small windows around where their tracks say they are.

Between two detected frames whose faces moved too much to be interpolated blindly (``steady``), the
frames in between used to be detected whole: MTCNN's image pyramid over a 640 px frame, most of its
time spent looking for 16 px faces all over the frame. When both ends show the same faces (each face
of one matched to a face of the other, as the tracker would link them), each face of a frame between
is only looked for in a square window around its interpolated box, ``WINDOW_FACES`` face sizes wide,
scaled to ``WINDOW_PX`` pixels (never enlarged). MTCNN then runs on a 128 px image per face instead
of a 640 px frame.

A window keeps the one detection that is that face: the nearest to the interpolated box of those the
tracker would link to it (``tracker.within_reach``), with its facial points. A frame where some
window finds no such face, or two windows find the same face, is detected whole after all
(``WindowedFaces.unresolved``): a face that left its path is found the way it was before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dfdc_lake.stages.faces import Detections, landmarked
from dfdc_lake.stages.tracker import box_iou, within_reach

__all__ = ["WINDOW_FACES", "WINDOW_PX", "FaceWindow", "WindowedFaces", "cut_windows", "interpolated_windows"]

WINDOW_FACES = 3.0  # window side in face sizes: a face may stray a face size from its path
WINDOW_PX = 128  # windows are scaled down to this square (a face ~43 px, well inside MTCNN's range)
SAME_FACE_IOU = 0.5  # two windows' faces overlapping this much are one face


@dataclass(frozen=True)
class FaceWindow:
    """Where one face is looked for in one frame, in the detector frame's pixels."""

    position: int  # the sampled frame's position
    expected_xyxy: np.ndarray  # float64 [4], the interpolated box
    left: float  # the window's top-left corner
    top: float
    side: float  # the window's side before scaling (a square, possibly past the frame's edges)

    @property
    def scale(self) -> float:
        """Window pixels per frame pixel (at most 1)."""
        return min(1.0, WINDOW_PX / self.side)


def interpolated_windows(
    start_boxes: np.ndarray, stop_boxes: np.ndarray, start: int, stop: int
) -> list[FaceWindow]:
    """Windows for the positions strictly between ``start`` and ``stop``, one per matched face.

    Args:
        start_boxes: float [N, 4], the faces at ``start`` (detector-frame pixels).
        stop_boxes: float [N, 4], the same faces, in the same order, at ``stop``.
        start: the earlier detected position.
        stop: the later one.
    """
    windows = []
    for position in range(start + 1, stop):
        weight = (position - start) / (stop - start)
        for a, b in zip(start_boxes, stop_boxes, strict=True):
            box = (1 - weight) * np.asarray(a, np.float64) + weight * np.asarray(b, np.float64)
            size = max(box[2] - box[0], box[3] - box[1])
            side = max(WINDOW_FACES * size, float(WINDOW_PX))
            center_x, center_y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            windows.append(FaceWindow(position, box, center_x - side / 2, center_y - side / 2, side))
    return windows


def cut_windows(frames: dict[int, np.ndarray], windows: list[FaceWindow]) -> np.ndarray:
    """Each window cut from its frame and scaled to ``WINDOW_PX`` square (black past the frame's edges).

    Args:
        frames: position -> uint8 [H, W, 3], the detector's frames.
        windows: the windows to cut.

    Returns:
        uint8 [len(windows), WINDOW_PX, WINDOW_PX, 3].
    """
    import torch
    import torch.nn.functional as F

    out = np.zeros((len(windows), WINDOW_PX, WINDOW_PX, 3), np.uint8)
    for i, window in enumerate(windows):
        frame = frames[window.position]
        height, width = frame.shape[:2]
        x0, y0 = max(0, round(window.left)), max(0, round(window.top))
        x1 = min(width, round(window.left + window.side))
        y1 = min(height, round(window.top + window.side))
        if x1 <= x0 or y1 <= y0:
            continue
        scale = window.scale
        # Where the cut lands in the scaled window, and its size there.
        dx, dy = round((x0 - window.left) * scale), round((y0 - window.top) * scale)
        w = max(1, min(WINDOW_PX - dx, round((x1 - x0) * scale)))
        h = max(1, min(WINDOW_PX - dy, round((y1 - y0) * scale)))
        cut = frame[y0:y1, x0:x1]
        if (h, w) != cut.shape[:2]:
            tensor = torch.from_numpy(np.ascontiguousarray(cut)).permute(2, 0, 1)[None].float()
            scaled = F.interpolate(tensor, size=(h, w), mode="area")
            cut = scaled[0].round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
        out[i, dy : dy + h, dx : dx + w] = cut
    return out


@dataclass
class WindowedFaces:
    """What the windows of some frames found, per frame, in the detector frame's pixels."""

    # position -> (boxes [N, 4], scores [N], points [N, 5, 2]; NaN when the detector gave none)
    found: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]
    unresolved: list[int]  # positions to detect whole

    @classmethod
    def from_detections(
        cls, windows: list[FaceWindow], detections: Detections, min_score: float
    ) -> WindowedFaces:
        """Each window's face (see the module doc); frames with a window that found none are unresolved."""
        if len(windows) != len(detections):
            raise ValueError(f"{len(detections)} detection lists for {len(windows)} windows")
        boxes_at: dict[int, list[np.ndarray]] = {}
        scores_at: dict[int, list[float]] = {}
        points_at: dict[int, list[np.ndarray]] = {}
        failed: set[int] = set()
        for window, detection in zip(windows, detections, strict=True):
            face = _the_face(window, *landmarked(detection), min_score)
            if face is None:
                failed.add(window.position)
                continue
            boxes_at.setdefault(window.position, []).append(face[0])
            scores_at.setdefault(window.position, []).append(face[1])
            points_at.setdefault(window.position, []).append(face[2])
        found = {}
        for position, faces in boxes_at.items():
            stacked = np.stack(faces)
            overlap = box_iou(stacked, stacked)
            np.fill_diagonal(overlap, 0.0)
            if position in failed or (overlap >= SAME_FACE_IOU).any():
                failed.add(position)
                continue
            found[position] = (
                stacked.astype(np.float32),
                np.asarray(scores_at[position], np.float32),
                np.stack(points_at[position]).astype(np.float32),
            )
        return cls(found, sorted(failed))


def _the_face(
    window: FaceWindow, boxes: np.ndarray, scores: np.ndarray, points: np.ndarray, min_score: float
) -> tuple[np.ndarray, float, np.ndarray] | None:
    """The detection (box and points mapped to frame pixels) that is the window's face, if any."""
    keep = scores >= min_score
    if not keep.any():
        return None
    corner = np.array([window.left, window.top])
    boxes = boxes.astype(np.float64)[keep] / window.scale + np.tile(corner, 2)
    allowed, shift = within_reach(window.expected_xyxy[None], boxes)
    if not allowed.any():
        return None
    best = int(np.argmin(np.where(allowed[0], shift[0], np.inf)))
    return boxes[best], float(scores[keep][best]), points[keep][best] / window.scale + corner
