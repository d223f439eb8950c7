"""A synthetic DFDC corpus with ground truth, for testing every other part of dfdc-lake.

``write_corpus`` writes the real DFDC layout (``dfdc_train_part_K/metadata.json`` + ``*.mp4``, H.264
and AAC 48 kHz) with real faces MTCNN finds, face/voice/both fakes and the hard cases of
``ALL_CASES``; ``load_ground_truth`` reads the per-part ``SYNTH_GROUND_TRUTH.json``.

The names below are loaded on first use, so importing this package (as the CLI does) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dfdc_lake.synth.corpus import CorpusSummary, write_corpus
    from dfdc_lake.synth.plan import plan_corpus
    from dfdc_lake.synth.profiles import ALL_CASES, FAMILY_CASES, FILE_CASES, PROFILES, Profile
    from dfdc_lake.synth.truth import TRUTH_FILENAME, ClipTruth, load_ground_truth

__all__ = [
    "ALL_CASES",
    "FAMILY_CASES",
    "FILE_CASES",
    "PROFILES",
    "TRUTH_FILENAME",
    "ClipTruth",
    "CorpusSummary",
    "Profile",
    "load_ground_truth",
    "plan_corpus",
    "write_corpus",
]

_HOMES = {
    "CorpusSummary": "corpus",
    "write_corpus": "corpus",
    "plan_corpus": "plan",
    "ALL_CASES": "profiles",
    "FAMILY_CASES": "profiles",
    "FILE_CASES": "profiles",
    "PROFILES": "profiles",
    "Profile": "profiles",
    "TRUTH_FILENAME": "truth",
    "ClipTruth": "truth",
    "load_ground_truth": "truth",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"dfdc_lake.synth.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'dfdc_lake.synth' has no attribute {name!r}")
