"""Faces and voices put into an original: another original's, or built-in ones when there is no other.

For each target frame a clip donor gives the frame where the donor's face looks most like the
target's (the same turn of the head), as a face-swap model renders the donor in the target's pose.
The built-in face is scikit-image's astronaut photo (a still), the built-in voice dfdc-lake's
synthetic speech.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from dfdc_lake.synth.manipulate.faces import LandmarkTrack, LandmarkTracker, pose_features
from dfdc_lake.synth.manipulate.media import read_frames
from dfdc_lake.synth.manipulate.regions import region_around, region_rgb

__all__ = [
    "BUILTIN_DONOR",
    "ClipFaceDonor",
    "DonorFace",
    "builtin_face",
    "builtin_voice",
    "match_donor_frames",
    "pose_mismatch",
]

BUILTIN_DONOR = "skimage:astronaut"
_CROP_SHARE = 1.8  # the donor crop's side, in face-box widths (room for the alignment's rotation)


@dataclass(frozen=True)
class DonorFace:
    """One donor face: an RGB crop (float32 ``[h, w, 3]``) and its 5 landmarks in crop pixels."""

    rgb: np.ndarray
    landmarks_xy: np.ndarray


@cache
def builtin_face() -> DonorFace:
    """The astronaut's face from scikit-image's photo (landmarks found with MTCNN on first use).

    Raises:
        RuntimeError: MTCNN does not find her face (a facenet-pytorch change).
    """
    from skimage.data import astronaut

    photo = np.ascontiguousarray(astronaut()[:300, 100:360])
    found = LandmarkTracker().largest_face(photo)
    if found is None:
        raise RuntimeError("MTCNN found no face in skimage's astronaut photo")
    return DonorFace(photo.astype(np.float32), found[1])


def builtin_voice(num_samples: int, rate_hz: int, seed: int) -> np.ndarray:
    """Synthetic speech (``dfdc_lake.synth.voice``), float32 ``[1, num_samples]``."""
    from dfdc_lake.synth.voice import speaker_for, synthesize_speech

    speech = synthesize_speech(seed, speaker_for("astronaut"), num_samples / rate_hz, rate_hz)
    return speech[None, :num_samples]


def _pose_distances(target: LandmarkTrack, donor: LandmarkTrack, stride: int) -> np.ndarray:
    """``[target frames, donor frames / stride]``: how far apart the two faces look, frame by frame."""
    target_pose = pose_features(target.landmarks_xy)
    donor_pose = pose_features(donor.landmarks_xy[::stride])
    return np.linalg.norm(target_pose[:, None, :] - donor_pose[None, :, :], axis=-1)


def pose_mismatch(target: LandmarkTrack, donor: LandmarkTrack, stride: int = 3) -> float:
    """The mean, over the target's frames, of the distance to the donor frame that looks most alike."""
    return float(_pose_distances(target, donor, stride).min(axis=1).mean())


def match_donor_frames(
    target: LandmarkTrack, donor: LandmarkTrack, stride: int = 3, stickiness: float = 0.05
) -> np.ndarray:
    """For each target frame, the donor frame (a multiple of ``stride``) whose face looks most alike.

    A chosen donor frame is kept while it stays within ``stickiness`` of the best one, so the swapped
    face does not flicker between near-equal donor frames.
    """
    distances = _pose_distances(target, donor, stride)
    chosen = np.empty(len(target), np.int64)
    current = int(np.argmin(distances[0]))
    for index, row in enumerate(distances):
        best = int(np.argmin(row))
        if row[current] > row[best] + stickiness:
            current = best
        chosen[index] = current * stride
    return chosen


@dataclass
class ClipFaceDonor:
    """The face of another original: ``face(i)`` is the donor frame ``frame_map[i]``, cropped.

    The crops of the donor frames needed for target frames ``[start, end)`` are decoded once, on
    first use, as uint8 (at most ``len(track) / stride`` of them).
    """

    path: Path
    track: LandmarkTrack
    frame_map: np.ndarray  # int [target frames]: donor frame for each
    span: tuple[int, int]
    _crops: dict[int, tuple[np.ndarray, np.ndarray]] | None = field(default=None, init=False, repr=False)

    def _load(self) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        wanted = set(self.frame_map[self.span[0] : self.span[1]].tolist())
        crops: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for index, (_, planes) in enumerate(read_frames(self.path, max_frames=len(self.track))):
            if index in wanted:
                crop = self._crop(planes, index)
                if crop is not None:
                    crops[index] = crop
        return crops

    def _crop(self, planes: np.ndarray, index: int) -> tuple[np.ndarray, np.ndarray] | None:
        height, width = planes.shape[0] * 2 // 3, planes.shape[1]
        x1, y1, x2, y2 = (float(v) for v in self.track.boxes_xyxy[index])
        side = _CROP_SHARE * max(x2 - x1, y2 - y1)
        region = region_around(((x1 + x2) / 2, (y1 + y2) / 2), (side, side), (width, height))
        if region is None:
            return None
        rgb = np.clip(region_rgb(planes, region) + 0.5, 0, 255).astype(np.uint8)
        return rgb, self.track.landmarks_xy[index] - np.array([region.x0, region.y0], np.float32)

    def face(self, index: int) -> DonorFace | None:
        """The donor face for target frame ``index``; None if it lies off the donor's frame."""
        if self._crops is None:
            self._crops = self._load()
        found = self._crops.get(int(self.frame_map[index]))
        return None if found is None else DonorFace(found[0].astype(np.float32), found[1])
