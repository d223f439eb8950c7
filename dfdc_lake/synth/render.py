"""Frame rendering: a panned background, each person's sprite posed for the frame, optional low light."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from dfdc_lake.synth.backgrounds import make_background
from dfdc_lake.synth.identities import Sprite, identity_sprite, swap_face
from dfdc_lake.synth.motion import CameraPan, PersonMotion, Pose
from dfdc_lake.synth.plan import ClipSpec

__all__ = ["ClipRenderer"]

_LOW_LIGHT_GAIN = 0.16
_LOW_LIGHT_OFFSET = 5
_LOW_LIGHT_LUT = [round(level * _LOW_LIGHT_GAIN + _LOW_LIGHT_OFFSET) for level in range(256)] * 3
_LOW_LIGHT_NOISE = 3.0
_NOISE_BANK = 6  # distinct noise frames cycled through (cheaper than fresh noise per frame)


_ROLL_STEP_DEG = 0.5  # rolls are rendered from a cache of sprites turned in steps of this


@dataclass
class _Person:
    """One person of a clip: the sprite at its mean size, turned sprites on demand, and the motion."""

    sprite: Image.Image  # premultiplied RGBa, scaled to the person's mean face size
    face_center_xy: tuple[float, float]
    base_face_height_px: float
    motion: PersonMotion
    _turned: dict[int, Image.Image] = field(default_factory=dict)
    _margin_px: int = 0

    def __post_init__(self) -> None:
        # Room for the corners to swing out when the sprite turns by up to ~6 degrees.
        self._margin_px = math.ceil(0.11 * max(self.sprite.size))

    def turned(self, roll_deg: float) -> tuple[Image.Image, float, float]:
        """The sprite turned about its face centre by ``roll_deg`` (quantized), and that centre."""
        step = round(roll_deg / _ROLL_STEP_DEG)
        margin = self._margin_px
        fx, fy = self.face_center_xy
        if step not in self._turned:
            angle = math.radians(step * _ROLL_STEP_DEG)
            cos, sin = math.cos(angle), math.sin(angle)
            # Inverse map (canvas -> sprite) about the face centre, which sits at (fx + m, fy + m).
            coeffs = (
                cos,
                sin,
                fx - cos * (fx + margin) - sin * (fy + margin),
                -sin,
                cos,
                fy + sin * (fx + margin) - cos * (fy + margin),
            )
            size = (self.sprite.size[0] + 2 * margin, self.sprite.size[1] + 2 * margin)
            self._turned[step] = self.sprite.transform(
                size, Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR
            )
        return self._turned[step], fx + margin, fy + margin


def _posed_sprite(
    person: _Person, pose: Pose, frame_size: tuple[int, int]
) -> tuple[Image.Image, int, int] | None:
    """The sprite posed for one frame, cut to the frame: straight-alpha RGBA and its top-left."""
    canvas, fx, fy = person.turned(pose.roll_deg)
    zoom = pose.face_height_px / person.base_face_height_px
    scaled_w, scaled_h = round(canvas.size[0] * zoom), round(canvas.size[1] * zoom)
    zoom_x, zoom_y = scaled_w / canvas.size[0], scaled_h / canvas.size[1]
    left, top = round(pose.center_x_px - fx * zoom_x), round(pose.center_y_px - fy * zoom_y)
    x0, y0 = max(0, -left), max(0, -top)
    x1, y1 = min(scaled_w, frame_size[0] - left), min(scaled_h, frame_size[1] - top)
    if x1 <= x0 or y1 <= y0:
        return None
    box = (x0 / zoom_x, y0 / zoom_y, x1 / zoom_x, y1 / zoom_y)
    # Scaling premultiplied colour keeps dark fringes off the soft edges.
    patch = canvas.resize((x1 - x0, y1 - y0), Image.Resampling.BILINEAR, box=box)
    return patch.convert("RGBA"), left + x0, top + y0


@dataclass
class ClipRenderer:
    """Renders the frames of one clip (uint8 RGB ``[H, W, 3]``) from its ``ClipSpec``."""

    spec: ClipSpec
    _background: Image.Image = field(init=False, repr=False)
    _people: list[_Person] = field(init=False, repr=False)
    _noise: np.ndarray | None = field(init=False, repr=False, default=None)
    _pan: CameraPan = field(init=False, repr=False)

    def __post_init__(self) -> None:
        spec = self.spec
        self._pan = spec.scene.pan
        width = math.ceil(spec.width_px * (1 + self._pan.margin_x)) + 1
        height = math.ceil(spec.height_px * (1 + self._pan.margin_y)) + 1
        background = make_background(spec.scene.background_seed, spec.scene.background_style, height, width)
        self._background = Image.fromarray(background, "RGB")
        self._people = [self._person(index) for index in range(len(spec.scene.motions))]
        if spec.low_light:
            rng = np.random.default_rng(spec.scene.background_seed + 1)
            shape = (_NOISE_BANK, spec.height_px, spec.width_px, 1)
            self._noise = np.round(rng.normal(0.0, _LOW_LIGHT_NOISE, size=shape)).astype(np.int16)

    def _person(self, index: int) -> _Person:
        spec = self.spec
        sprite: Sprite = identity_sprite(spec.scene.identities[index])
        motion = spec.scene.motions[index]
        face_height_px = motion.face_height * min(spec.width_px, spec.height_px)
        zoom = face_height_px / sprite.face_size_px[1]
        if spec.face_donor is not None and spec.swapped_person == index:
            sprite = swap_face(sprite, identity_sprite(spec.face_donor), output_scale=zoom)
        scaled = sprite.scaled(zoom)
        image = Image.fromarray(scaled.rgba, "RGBA").convert("RGBa")
        return _Person(image, scaled.face_center_xy, scaled.face_size_px[1], motion)

    def frame_image(self, index: int) -> Image.Image:
        """Frame ``index`` of the clip as a PIL RGB image."""
        spec = self.spec
        width, height = spec.width_px, spec.height_px
        progress = index / spec.num_frames
        off_x, off_y = self._pan.offset_px(progress, width, height)
        image = self._background.crop((off_x, off_y, off_x + width, off_y + height))
        for person in self._people:
            posed = _posed_sprite(person, person.motion.pose(progress, width, height), (width, height))
            if posed is not None:
                patch, left, top = posed
                image.paste(patch, (left, top), patch)
        if self._noise is not None:
            dark = np.asarray(image.point(_LOW_LIGHT_LUT), dtype=np.int16) + self._noise[index % _NOISE_BANK]
            image = Image.fromarray(np.clip(dark, 0, 255).astype(np.uint8), "RGB")
        return image

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` of the clip, uint8 RGB ``[H, W, 3]``."""
        return np.asarray(self.frame_image(index))
