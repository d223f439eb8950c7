"""A manipulation test set made from real footage: fakes and controls derived from real clips.

``write_manipulation_set`` treats each given clip as a REAL original and derives from it the kinds of
manipulation DFDC used (face swaps, low-resolution re-renders, warps; voice swaps, pitch shifts,
band-limited voices) and controls that manipulate nothing (re-encodes, 15 fps, quarter resolution, a
copy). It writes them as a DFDC source (``OUT/dfdc_train_part_0`` with ``metadata.json``) that
``dfdc-lake ingest`` reads, and ``OUT/manipulations.json`` saying what each derived clip is
(``read_truth``). From the shell: ``python -m dfdc_lake.synth.manipulate OUT CLIP...``; with
``--catalogue blind`` or ``blind2``, strengths the label thresholds were not chosen on
(``kinds.BLIND_CHECK``, ``kinds.BLIND_CHECK_2``).

The names below are loaded on first use, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dfdc_lake.synth.manipulate.kinds import BLIND_CHECK, KINDS, MANIPULATIONS, Manipulation
    from dfdc_lake.synth.manipulate.truth import (
        TRUTH_FILENAME,
        ManipulationRecord,
        Skipped,
        read_skipped,
        read_truth,
    )
    from dfdc_lake.synth.manipulate.writer import PART_NAME, ManipulationSet, write_manipulation_set

__all__ = [
    "BLIND_CHECK",
    "KINDS",
    "MANIPULATIONS",
    "PART_NAME",
    "TRUTH_FILENAME",
    "Manipulation",
    "ManipulationRecord",
    "ManipulationSet",
    "Skipped",
    "read_skipped",
    "read_truth",
    "write_manipulation_set",
]

_HOMES = {
    "BLIND_CHECK": "kinds",
    "KINDS": "kinds",
    "MANIPULATIONS": "kinds",
    "Manipulation": "kinds",
    "TRUTH_FILENAME": "truth",
    "ManipulationRecord": "truth",
    "Skipped": "truth",
    "read_skipped": "truth",
    "read_truth": "truth",
    "PART_NAME": "writer",
    "ManipulationSet": "writer",
    "write_manipulation_set": "writer",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"dfdc_lake.synth.manipulate.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'dfdc_lake.synth.manipulate' has no attribute {name!r}")
