"""Ground truth of a synthetic part: ``SYNTH_GROUND_TRUTH.json`` next to (never inside) metadata.json.

The file is not part of the DFDC format and its name says so; a DFDC reader ignores it. For each
listed clip it records what was made (kind of fake, who was swapped, which voice speaks), how it was
encoded or broken, and the true face box of every person in every frame.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dfdc_lake.records import Label
from dfdc_lake.synth.identities import face_aspect
from dfdc_lake.synth.motion import face_boxes_xyxy
from dfdc_lake.synth.plan import Broken, ClipSpec, FakeKind

__all__ = ["TRUTH_FILENAME", "TRUTH_FORMAT", "ClipTruth", "clip_truth", "load_ground_truth", "truth_document"]

TRUTH_FILENAME = "SYNTH_GROUND_TRUTH.json"
TRUTH_FORMAT = "dfdc-lake-synth-ground-truth"
TRUTH_VERSION = 1


@dataclass(frozen=True, eq=False)
class ClipTruth:
    """What one synthetic clip really is.

    ``has_audio`` is whether the clip was encoded with an audio stream; a ``broken`` file has no
    readable stream at all. ``face_boxes_xyxy`` is float32 ``[num_persons, num_frames, 4]`` in source
    pixels, in MTCNN's box convention, for every frame (also for broken files: the intended clip).
    """

    filename: str
    part: int
    label: Label
    original: str | None
    family_id: str
    kind: FakeKind
    swapped_person: int | None
    face_identities: tuple[str, ...]  # identity each person's face shows (after any swap)
    audio_identity: str | None  # whose voice speaks; None when the clip has no audio stream
    has_audio: bool
    broken: Broken | None
    tags: tuple[str, ...]
    fps_num: int
    fps_den: int
    width_px: int
    height_px: int
    num_frames: int
    face_boxes_xyxy: np.ndarray

    @property
    def fps(self) -> float:
        return self.fps_num / self.fps_den

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps

    @property
    def num_persons(self) -> int:
        return int(self.face_boxes_xyxy.shape[0])

    @property
    def decodable(self) -> bool:
        return self.broken is None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (boxes as nested lists, rounded to 0.01 px)."""
        return {
            "label": self.label,
            "original": self.original,
            "family_id": self.family_id,
            "kind": self.kind,
            "swapped_person": self.swapped_person,
            "face_identities": list(self.face_identities),
            "audio_identity": self.audio_identity,
            "has_audio": self.has_audio,
            "broken": self.broken,
            "tags": list(self.tags),
            "fps": round(self.fps, 6),
            "fps_num": self.fps_num,
            "fps_den": self.fps_den,
            "width": self.width_px,
            "height": self.height_px,
            "num_frames": self.num_frames,
            "face_boxes_xyxy": [
                [[round(float(v), 2) for v in box] for box in person] for person in self.face_boxes_xyxy
            ],
        }

    @classmethod
    def from_json(cls, filename: str, part: int, data: dict[str, Any]) -> ClipTruth:
        boxes = np.asarray(data["face_boxes_xyxy"], dtype=np.float32).reshape(-1, data["num_frames"], 4)
        return cls(
            filename=filename,
            part=part,
            label=data["label"],
            original=data["original"],
            family_id=data["family_id"],
            kind=data["kind"],
            swapped_person=data["swapped_person"],
            face_identities=tuple(data["face_identities"]),
            audio_identity=data["audio_identity"],
            has_audio=bool(data["has_audio"]),
            broken=data["broken"],
            tags=tuple(data["tags"]),
            fps_num=int(data["fps_num"]),
            fps_den=int(data["fps_den"]),
            width_px=int(data["width"]),
            height_px=int(data["height"]),
            num_frames=int(data["num_frames"]),
            face_boxes_xyxy=boxes,
        )


def clip_truth(spec: ClipSpec) -> ClipTruth:
    """The ground truth of a planned clip (pure geometry; nothing is rendered)."""
    shown = spec.shown_identities
    boxes = [
        # The face box keeps the original person's shape: a swap blends the donor into it.
        face_boxes_xyxy(motion, face_aspect(identity), spec.num_frames, spec.width_px, spec.height_px)
        for motion, identity in zip(spec.scene.motions, spec.scene.identities, strict=True)
    ]
    return ClipTruth(
        filename=spec.filename,
        part=spec.part,
        label=spec.label,
        original=spec.original,
        family_id=spec.family_id,
        kind=spec.kind,
        swapped_person=spec.swapped_person,
        face_identities=shown,
        audio_identity=spec.voice,
        has_audio=spec.has_audio,
        broken=spec.broken,
        tags=spec.tags,
        fps_num=spec.fps_num,
        fps_den=spec.fps_den,
        width_px=spec.width_px,
        height_px=spec.height_px,
        num_frames=spec.num_frames,
        face_boxes_xyxy=np.stack(boxes).astype(np.float32),
    )


def truth_document(part: int, seed: int, profile: str, truths: list[ClipTruth]) -> str:
    """The text of a part's ground-truth file (deterministic: same truths, same bytes)."""
    doc = {
        "format": TRUTH_FORMAT,
        "version": TRUTH_VERSION,
        "note": "Synthetic corpus ground truth; not part of the DFDC format.",
        "part": part,
        "seed": seed,
        "profile": profile,
        "clips": {truth.filename: truth.to_json() for truth in sorted(truths, key=lambda t: t.filename)},
    }
    return json.dumps(doc, separators=(",", ":")) + "\n"


def load_ground_truth(part_dir: str | Path) -> dict[str, ClipTruth]:
    """The ground truth of one synthetic part folder, keyed by file name (``abcdefghij.mp4``).

    Raises:
        FileNotFoundError: the folder has no ground-truth file (not a synthetic part).
        ValueError: the file is not a ground-truth document this version reads.
    """
    path = Path(part_dir) / TRUTH_FILENAME
    doc = json.loads(path.read_text())
    if doc.get("format") != TRUTH_FORMAT or doc.get("version") != TRUTH_VERSION:
        raise ValueError(f"{path} is not a version-{TRUTH_VERSION} {TRUTH_FORMAT} document")
    part = int(doc["part"])
    return {name: ClipTruth.from_json(name, part, data) for name, data in doc["clips"].items()}
