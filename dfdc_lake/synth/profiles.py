"""Output profiles (frame size, rate, length, encoder settings) and the hard cases a corpus can hold.

``dfdc`` matches the real DFDC clips (1920x1080, 29.97 fps, 10 s, H.264 yuv420p + AAC 48 kHz);
``tiny`` keeps the same shape at a size the test suite can afford.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ALL_CASES",
    "FAMILY_CASES",
    "FILE_CASES",
    "PROFILES",
    "Profile",
    "get_profile",
    "parse_cases",
]

# Cases that shape a whole family (the REAL and its FAKEs share them, as in DFDC).
FAMILY_CASES: tuple[str, ...] = ("portrait", "fps15", "lowres", "two_people", "low_light", "no_audio")
# Cases that break one listed file.
FILE_CASES: tuple[str, ...] = ("zero_byte", "truncated")
ALL_CASES: tuple[str, ...] = FAMILY_CASES + FILE_CASES


@dataclass(frozen=True)
class Profile:
    """Frame geometry, timing and encoder settings of one corpus profile."""

    name: str
    width_px: int
    height_px: int
    duration_s: float
    lowres_px: tuple[int, int]  # (width, height) of the ``lowres`` case
    fps_num: int = 30000
    fps_den: int = 1001
    low_fps_num: int = 15  # the ``fps15`` case
    low_fps_den: int = 1
    crf: int = 23
    preset: str = "veryfast"
    # One encoder thread keeps the bytes reproducible without relying on x264's threading;
    # parallelism comes from rendering several clips at once (``workers``).
    encoder_threads: int = 1
    audio_rate_hz: int = 48000
    audio_bitrate: int = 64000

    def num_frames(self, fps_num: int, fps_den: int) -> int:
        """Frames in one clip at the given rate (DFDC: 10 s at 29.97 fps -> 300)."""
        return max(1, round(self.duration_s * fps_num / fps_den))


PROFILES: dict[str, Profile] = {
    "tiny": Profile(name="tiny", width_px=480, height_px=270, duration_s=2.0, lowres_px=(320, 180)),
    "dfdc": Profile(name="dfdc", width_px=1920, height_px=1080, duration_s=10.0, lowres_px=(480, 270)),
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``.

    Raises:
        ValueError: ``name`` is not a known profile.
    """
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown synth profile {name!r}; known: {sorted(PROFILES)}") from None


def parse_cases(items: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Normalize a case selection: names (comma-separated allowed), ``all`` or ``none``.

    Returns the selected cases in ``ALL_CASES`` order.

    Raises:
        ValueError: a name is not a known case.
    """
    if items is None:
        return ALL_CASES
    names = [name.strip() for item in items for name in item.split(",") if name.strip()]
    if "all" in names:
        return ALL_CASES
    if names == ["none"]:
        return ()
    unknown = sorted(set(names) - set(ALL_CASES))
    if unknown:
        raise ValueError(f"unknown hard case(s) {unknown}; known: {', '.join(ALL_CASES)}, all, none")
    return tuple(case for case in ALL_CASES if case in names)
