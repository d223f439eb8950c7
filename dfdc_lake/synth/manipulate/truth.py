"""The truth file of a manipulation set: ``OUT/manipulations.json``, next to (not inside) the DFDC part.

For every derived clip it says what was done to which original: the kind, whether it is a control,
whether the face and the audio were changed, the frames where the face was changed (``[start, end)``
ranges of frame numbers) and the kind's parameters. Originals left out of a kind, and why, are
listed under ``skipped``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["TRUTH_FILENAME", "ManipulationRecord", "Skipped", "read_skipped", "read_truth", "write_truth"]

TRUTH_FILENAME = "manipulations.json"
TRUTH_FORMAT = "dfdc-lake-manipulation-set"
TRUTH_VERSION = 1


@dataclass(frozen=True)
class ManipulationRecord:
    """What one derived clip is.

    Attributes:
        file: the clip's file name in the part (``<original-stem>_<kind>[_<variant>].mp4``).
        original: the file name of the REAL it was derived from, in the same part.
        kind: one of ``kinds.KINDS`` (``swap``, ``smooth``, ``reencode``, ...).
        variant: the strength or setting within the kind (``x4``, ``crf28``), or "".
        control: nothing was manipulated (a re-encode, lower rate or resolution, a copy).
        face_changed: the face was manipulated in at least one frame.
        audio_changed: the audio was manipulated.
        frames_changed: ``[start, end)`` ranges of the frame numbers whose face was changed.
        num_frames: frames in the clip (fewer than the original's for ``fps15``).
        params: the kind's parameters (strength, donor, crf, ...), JSON values.
    """

    file: str
    original: str
    kind: str
    variant: str
    control: bool
    face_changed: bool
    audio_changed: bool
    frames_changed: tuple[tuple[int, int], ...]
    num_frames: int
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["frames_changed"] = [list(span) for span in self.frames_changed]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ManipulationRecord:
        spans = tuple((int(start), int(end)) for start, end in data["frames_changed"])
        return cls(**{**data, "frames_changed": spans})


@dataclass(frozen=True)
class Skipped:
    """A manipulation not derived from an original, and why (no face found, no audio track, ...)."""

    original: str
    file: str
    reason: str


def write_truth(
    out_dir: Path, records: list[ManipulationRecord], skipped: list[Skipped], meta: dict[str, Any]
) -> Path:
    """Write ``out_dir/manipulations.json`` atomically; ``meta`` holds the set's options (seed, ...)."""
    document = {
        "format": TRUTH_FORMAT,
        "version": TRUTH_VERSION,
        **meta,
        "clips": {record.file: record.to_json() for record in sorted(records, key=lambda r: r.file)},
        "skipped": [asdict(item) for item in skipped],
    }
    path = out_dir / TRUTH_FILENAME
    temp = path.with_name(f".{path.name}.partial")
    temp.write_text(json.dumps(document, indent=1) + "\n")
    os.replace(temp, path)
    return path


def _document(out_dir: str | Path) -> dict[str, Any]:
    path = Path(out_dir) / TRUTH_FILENAME
    document = json.loads(path.read_text())
    if document.get("format") != TRUTH_FORMAT or document.get("version") != TRUTH_VERSION:
        raise ValueError(f"{path} is not a version {TRUTH_VERSION} {TRUTH_FORMAT} file")
    return document


def read_truth(out_dir: str | Path) -> dict[str, ManipulationRecord]:
    """The records of a manipulation set, keyed by derived file name.

    Raises:
        FileNotFoundError: ``out_dir`` has no truth file.
        ValueError: the file is not a manipulation-set truth file of this version.
    """
    clips = _document(out_dir)["clips"]
    return {name: ManipulationRecord.from_json(data) for name, data in clips.items()}


def read_skipped(out_dir: str | Path) -> list[Skipped]:
    """The manipulations a set left out, and why."""
    return [Skipped(**item) for item in _document(out_dir)["skipped"]]
