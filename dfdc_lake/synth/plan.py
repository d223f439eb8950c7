"""The corpus plan: every clip's name, label, family, kind of fake, hard cases, scene and motion.

Planning draws every random choice from the seed and does no image, audio or file work, so the
metadata and ground truth of a corpus are known before (and without) rendering it.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from dfdc_lake.records import Label
from dfdc_lake.synth.backgrounds import BACKGROUND_STYLES
from dfdc_lake.synth.identities import IDENTITIES
from dfdc_lake.synth.motion import CameraPan, PersonMotion, random_motion, random_pan
from dfdc_lake.synth.profiles import FAMILY_CASES, Profile

__all__ = ["FAKE_KIND_CYCLE", "ClipSpec", "FakeKind", "PartPlan", "SceneSpec", "plan_corpus"]

FakeKind = Literal["real", "face", "voice", "both"]
Broken = Literal["zero_byte", "truncated"]
# Fake kinds in the order a family's fakes take them (DFDC fakes are mostly face swaps).
FAKE_KIND_CYCLE: tuple[FakeKind, ...] = ("face", "voice", "both", "face", "face")


@dataclass(frozen=True)
class SceneSpec:
    """What a family's clips share: people, their motion, the camera, the background, the words."""

    identities: tuple[str, ...]  # who is in the REAL, one per person, left to right
    motions: tuple[PersonMotion, ...]
    pan: CameraPan
    background_style: str
    background_seed: int
    script_seed: int


@dataclass(frozen=True)
class ClipSpec:
    """Everything needed to render one clip and state its ground truth."""

    filename: str
    part: int
    family_id: str  # video id of the family's REAL
    label: Label
    original: str | None
    kind: FakeKind
    swapped_person: int | None  # index into scene.identities whose face is replaced
    face_donor: str | None  # identity whose face is blended in
    voice: str | None  # identity whose voice speaks; None = no audio stream
    tags: tuple[str, ...]
    broken: Broken | None
    width_px: int
    height_px: int
    fps_num: int
    fps_den: int
    num_frames: int
    low_light: bool
    scene: SceneSpec

    @property
    def has_audio(self) -> bool:
        return self.voice is not None

    @property
    def shown_identities(self) -> tuple[str, ...]:
        """The identity whose face each person shows in this clip."""
        people = list(self.scene.identities)
        if self.swapped_person is not None and self.face_donor is not None:
            people[self.swapped_person] = self.face_donor
        return tuple(people)


@dataclass(frozen=True)
class PartPlan:
    part: int
    clips: tuple[ClipSpec, ...]  # in metadata.json order


class _Names:
    """Unique DFDC-style names: 10 random lowercase letters."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng([seed, 0])
        self._used: set[str] = set()

    def next(self) -> str:
        letters = np.array(list(string.ascii_lowercase))
        while True:
            name = "".join(self._rng.choice(letters, size=10)) + ".mp4"
            if name not in self._used:
                self._used.add(name)
                return name


def _scene(rng: np.random.Generator, num_people: int, portrait: bool) -> SceneSpec:
    identities = tuple(str(v) for v in rng.choice(IDENTITIES, size=num_people, replace=False))
    return SceneSpec(
        identities=identities,
        motions=tuple(random_motion(rng, slot, num_people, portrait) for slot in range(num_people)),
        pan=random_pan(rng),
        background_style=str(rng.choice(BACKGROUND_STYLES)),
        background_seed=int(rng.integers(2**31)),
        script_seed=int(rng.integers(2**31)),
    )


def _geometry(profile: Profile, cases: tuple[str, ...]) -> dict[str, int]:
    width, height = profile.width_px, profile.height_px
    if "lowres" in cases:
        width, height = profile.lowres_px
    if "portrait" in cases:
        width, height = height, width
    fps_num, fps_den = (
        (profile.low_fps_num, profile.low_fps_den) if "fps15" in cases else (profile.fps_num, profile.fps_den)
    )
    num_frames = profile.num_frames(fps_num, fps_den)
    return {
        "width_px": width,
        "height_px": height,
        "fps_num": fps_num,
        "fps_den": fps_den,
        "num_frames": num_frames,
    }


def _family(
    rng: np.random.Generator, names: _Names, part: int, cases: tuple[str, ...], fakes: int, profile: Profile
) -> list[ClipSpec]:
    scene = _scene(rng, 2 if "two_people" in cases else 1, "portrait" in cases)
    silent = "no_audio" in cases
    real_name = names.next()
    real = ClipSpec(
        filename=real_name,
        part=part,
        family_id=real_name.removesuffix(".mp4"),
        label="REAL",
        original=None,
        kind="real",
        swapped_person=None,
        face_donor=None,
        voice=None if silent else scene.identities[0],
        tags=cases,
        broken=None,
        low_light="low_light" in cases,
        scene=scene,
        **_geometry(profile, cases),
    )
    clips = [real]
    strangers = [identity for identity in IDENTITIES if identity not in scene.identities]
    for index in range(fakes):
        kind: FakeKind = "face" if silent else FAKE_KIND_CYCLE[index % len(FAKE_KIND_CYCLE)]
        donor = str(rng.choice(strangers))
        swapped = int(rng.integers(len(scene.identities))) if kind in ("face", "both") else None
        voice = real.voice if kind == "face" else donor
        clips.append(
            replace(
                real,
                filename=names.next(),
                label="FAKE",
                original=real_name,
                kind=kind,
                swapped_person=swapped,
                face_donor=donor if swapped is not None else None,
                voice=voice,
            )
        )
    return clips


def plan_corpus(
    *, parts: int, families: int, fakes_per_family: int, seed: int, profile: Profile, cases: tuple[str, ...]
) -> list[PartPlan]:
    """Plan a corpus: ``families`` plain families per part, one more family per selected family case
    (spread over the parts), and one broken extra FAKE per selected file case.

    Raises:
        ValueError: a count is negative, there are no parts, or the corpus would be empty.
    """
    if parts < 1 or families < 0 or fakes_per_family < 0:
        raise ValueError(
            f"need parts >= 1, families >= 0, fakes >= 0; got {parts}, {families}, {fakes_per_family}"
        )
    family_cases = [case for case in FAMILY_CASES if case in cases]
    if families == 0 and not family_cases:
        raise ValueError("the corpus would be empty: families=0 and no family hard case selected")
    names = _Names(seed)
    wanted: list[tuple[int, tuple[str, ...]]] = [(part, ()) for part in range(parts) for _ in range(families)]
    wanted += [(index % parts, (case,)) for index, case in enumerate(family_cases)]
    by_part: dict[int, list[list[ClipSpec]]] = {part: [] for part in range(parts)}
    for number, (part, family_cases_here) in enumerate(wanted):
        rng = np.random.default_rng([seed, 1, number])
        by_part[part].append(_family(rng, names, part, family_cases_here, fakes_per_family, profile))
    file_cases: list[Broken] = [case for case in ("zero_byte", "truncated") if case in cases]
    for index, case in enumerate(file_cases):
        host = _host(by_part, index % parts)
        real = host[0]
        broken = replace(real, filename=names.next(), label="FAKE", original=real.filename, kind="face")
        host.append(
            replace(
                broken, swapped_person=0, face_donor=_stranger(real), tags=(*real.tags, case), broken=case
            )
        )
    plans = []
    for part in range(parts):
        clips = [clip for family in by_part[part] for clip in family]
        order = np.random.default_rng([seed, 2, part]).permutation(len(clips))
        plans.append(PartPlan(part, tuple(clips[i] for i in order)))
    return plans


def _host(by_part: dict[int, list[list[ClipSpec]]], part: int) -> list[ClipSpec]:
    """The family a broken file joins: a plain family of ``part`` if any, else any family there or elsewhere."""
    ordered = by_part[part] + [
        family for other in sorted(by_part) if other != part for family in by_part[other]
    ]
    return next((family for family in ordered if not family[0].tags), ordered[0])


def _stranger(real: ClipSpec) -> str:
    return next(identity for identity in IDENTITIES if identity not in real.scene.identities)
