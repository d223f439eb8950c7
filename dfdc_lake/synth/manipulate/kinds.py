"""The manipulations a set derives from each original: face and audio fakes, and controls.

A control changes nothing a detector should call fake (a re-encode, a lower frame rate or
resolution, a copy); it tells how much a per-modality measure moves when nothing was manipulated.
Where a kind comes in strengths, the easy variant comes first.

Three catalogues: ``MANIPULATIONS`` (``main``), the set the label thresholds and measures were chosen
on, and two blind checks of other strengths of the same kinds, each fixed before any of them was
scored, so that the configured labels can be checked on manipulations they were not chosen on:
``BLIND_CHECK`` (``blind``, scored once on 2026-12-01 and seen since), then ``BLIND_CHECK_2``
(``blind2``), fixed after it, when the face measures changed. A blind catalogue repeats the swap, the
voice swap and the controls whose strength has nothing to vary (15 fps, quarter resolution, a copy),
and the CRF 35 re-encode, the yardstick of how much a face manipulation changed the face.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BLIND_CHECK",
    "BLIND_CHECK_2",
    "CATALOGUES",
    "KINDS",
    "MANIPULATIONS",
    "YARDSTICK_CONTROLS",
    "KindTraits",
    "Manipulation",
    "select_manipulations",
]


@dataclass(frozen=True)
class KindTraits:
    """What a kind of manipulation changes."""

    face: bool
    audio: bool
    control: bool = False


KINDS: dict[str, KindTraits] = {
    "swap": KindTraits(face=True, audio=False),
    "partial_swap": KindTraits(face=True, audio=False),
    "smooth": KindTraits(face=True, audio=False),
    "warp": KindTraits(face=True, audio=False),
    "voice_swap": KindTraits(face=False, audio=True),
    "pitch_shift": KindTraits(face=False, audio=True),
    "band_limited": KindTraits(face=False, audio=True),
    "swap_and_voice": KindTraits(face=True, audio=True),
    "reencode": KindTraits(face=False, audio=False, control=True),
    "fps15": KindTraits(face=False, audio=False, control=True),
    "quarter_res": KindTraits(face=False, audio=False, control=True),
    "copy": KindTraits(face=False, audio=False, control=True),
}


@dataclass(frozen=True)
class Manipulation:
    """One manipulation of the catalogue: a kind, a variant name (or "") and the kind's parameters."""

    kind: str
    variant: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown manipulation kind {self.kind!r}; known: {', '.join(KINDS)}")

    @property
    def traits(self) -> KindTraits:
        return KINDS[self.kind]

    @property
    def swaps_face(self) -> bool:
        return self.kind in ("swap", "partial_swap", "swap_and_voice")

    @property
    def swaps_voice(self) -> bool:
        return self.kind in ("voice_swap", "swap_and_voice")

    def file_name(self, stem: str) -> str:
        """``<stem>_<kind>[_<variant>].mp4``."""
        suffix = f"_{self.variant}" if self.variant else ""
        return f"{stem}_{self.kind}{suffix}.mp4"


# The controls every catalogue ends with: the CRF 35 re-encode (the yardstick of how much a face
# manipulation changed the face) and those whose strength has nothing to vary.
YARDSTICK_CONTROLS: tuple[Manipulation, ...] = (
    Manipulation("reencode", "crf35", {"crf": 35}),
    Manipulation("fps15", params={"keep_every": 2}),
    Manipulation("quarter_res", params={"scale": 0.5}),
    Manipulation("copy"),
)

MANIPULATIONS: tuple[Manipulation, ...] = (
    Manipulation("swap"),
    Manipulation("partial_swap", params={"share": 1 / 3}),
    Manipulation("smooth", "x8", {"factor": 8.0, "blur_px": 2.0}),
    Manipulation("smooth", "x4", {"factor": 4.0, "blur_px": 1.5}),
    Manipulation("smooth", "x2", {"factor": 2.0, "blur_px": 0.5}),
    Manipulation("warp", "strong", {"strength": 0.1}),
    Manipulation("warp", "mild", {"strength": 0.04}),
    Manipulation("voice_swap"),
    Manipulation("pitch_shift", "up4", {"semitones": 4.0}),
    Manipulation("pitch_shift", "down2", {"semitones": -2.0}),
    Manipulation("band_limited", params={"low_hz": 300.0, "high_hz": 3400.0, "ratio": 3.0}),
    Manipulation("swap_and_voice"),
    Manipulation("reencode", "crf18", {"crf": 18}),
    Manipulation("reencode", "crf23", {"crf": 23}),
    Manipulation("reencode", "crf28", {"crf": 28}),
    *YARDSTICK_CONTROLS,
)


# Pre-registered: fixed before any of these was scored; not to be tuned after seeing their labels.
BLIND_CHECK: tuple[Manipulation, ...] = (
    Manipulation("swap"),
    Manipulation("partial_swap", "half", {"share": 1 / 2}),
    Manipulation("smooth", "x6", {"factor": 6.0, "blur_px": 1.5}),
    Manipulation("smooth", "x3", {"factor": 3.0, "blur_px": 1.0}),
    Manipulation("smooth", "x2b", {"factor": 2.0, "blur_px": 1.0}),
    Manipulation("warp", "medium", {"strength": 0.07}),
    Manipulation("voice_swap"),
    Manipulation("pitch_shift", "down4", {"semitones": -4.0}),
    Manipulation("pitch_shift", "up2", {"semitones": 2.0}),
    Manipulation("band_limited", "narrow", {"low_hz": 400.0, "high_hz": 3000.0, "ratio": 2.0}),
    Manipulation("reencode", "crf20", {"crf": 20}),
    Manipulation("reencode", "crf26", {"crf": 26}),
    Manipulation("reencode", "crf32", {"crf": 32}),
    *YARDSTICK_CONTROLS,
)

# Pre-registered on 2026-12-01, after ``BLIND_CHECK`` was seen and before any of these was scored:
# strengths between those of the catalogues above, none of them scored before; not to be tuned.
BLIND_CHECK_2: tuple[Manipulation, ...] = (
    Manipulation("swap"),
    Manipulation("partial_swap", "two_fifths", {"share": 2 / 5}),
    Manipulation("smooth", "x5", {"factor": 5.0, "blur_px": 1.75}),
    Manipulation("smooth", "x3_5", {"factor": 3.5, "blur_px": 1.25}),
    Manipulation("smooth", "x2_5", {"factor": 2.5, "blur_px": 0.75}),
    Manipulation("warp", "light", {"strength": 0.055}),
    Manipulation("swap_and_voice"),
    Manipulation("voice_swap"),
    Manipulation("pitch_shift", "down3", {"semitones": -3.0}),
    Manipulation("pitch_shift", "up3", {"semitones": 3.0}),
    Manipulation("band_limited", "mid", {"low_hz": 350.0, "high_hz": 3200.0, "ratio": 2.5}),
    Manipulation("reencode", "crf21", {"crf": 21}),
    Manipulation("reencode", "crf30", {"crf": 30}),
    Manipulation("reencode", "crf33", {"crf": 33}),
    *YARDSTICK_CONTROLS,
)

CATALOGUES: dict[str, tuple[Manipulation, ...]] = {
    "main": MANIPULATIONS,
    "blind": BLIND_CHECK,
    "blind2": BLIND_CHECK_2,
}


def select_manipulations(
    kinds: tuple[str, ...] | list[str] | None, catalogue: str = "main"
) -> list[Manipulation]:
    """The catalogue's manipulations of the given kinds (all of them for None), in catalogue order.

    Args:
        kinds: the kinds to keep (``KINDS``), or None for all.
        catalogue: ``main`` (``MANIPULATIONS``), ``blind`` (``BLIND_CHECK``) or ``blind2``
            (``BLIND_CHECK_2``).

    Raises:
        ValueError: an unknown catalogue or kind, or none of the catalogue's manipulations selected.
    """
    if catalogue not in CATALOGUES:
        raise ValueError(f"unknown catalogue {catalogue!r}; known: {', '.join(CATALOGUES)}")
    if kinds is None:
        return list(CATALOGUES[catalogue])
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown manipulation kind(s) {unknown}; known: {', '.join(KINDS)}")
    chosen = [manipulation for manipulation in CATALOGUES[catalogue] if manipulation.kind in kinds]
    if not chosen:
        raise ValueError(f"no manipulation of the {catalogue} catalogue selected")
    return chosen
