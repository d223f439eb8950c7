"""The people of the synthetic corpus: head-and-shoulders sprites built from real face photos.

Faces come from images that ship with scikit-image (no download): ``skimage.data.astronaut()`` and the
100 25x25 grey faces of ``skimage.data.lfw_subset()``. Each LFW face is upscaled, tinted to a skin
tone and given hair, a neck and shoulders; the astronaut is cut out of her portrait. Every sprite
carries its face box in MTCNN's convention (forehead to chin, cheek to cheek), measured once with
facenet-pytorch's MTCNN on the sprites and kept below as constants, so ground-truth boxes are geometry,
not detector output.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image

from dfdc_lake.synth.shapes import ellipse_alpha, over

__all__ = ["IDENTITIES", "Sprite", "face_aspect", "identity_sprite", "swap_face"]

_LFW_SIDE_PX = 224  # side of an upscaled LFW face in its sprite
_ASTRONAUT_SCALE = 2.0  # her face is ~110 px high in the 512x512 photo

# Face box of each LFW face as a share of its square crop, (x1, y1, x2, y2), measured with MTCNN
# on the finished sprite (see tests/synth/test_faces.py::test_sprite_face_boxes_match_mtcnn).
_LFW_FACE_BOX_REL: dict[int, tuple[float, float, float, float]] = {
    1: (-0.011, -0.027, 0.796, 1.018),
    3: (0.049, -0.017, 0.811, 0.995),
    6: (-0.006, -0.045, 0.806, 1.004),
    8: (0.086, 0.025, 0.833, 0.926),
    10: (0.025, -0.067, 0.850, 0.998),
    13: (-0.008, -0.039, 0.771, 0.947),
    18: (0.052, -0.048, 0.850, 0.947),
    19: (0.033, -0.074, 0.818, 0.984),
    20: (-0.012, -0.034, 0.818, 0.963),
    23: (0.055, -0.035, 0.813, 0.933),
    24: (0.027, -0.017, 0.756, 0.980),
    25: (0.039, -0.004, 0.806, 0.967),
    27: (0.027, -0.017, 0.836, 0.941),
    29: (0.028, -0.019, 0.819, 1.087),
    31: (0.063, -0.018, 0.818, 0.968),
    33: (0.054, -0.007, 0.812, 0.996),
    34: (0.060, -0.010, 0.771, 0.960),
    36: (0.081, -0.009, 0.806, 0.930),
    38: (0.024, -0.011, 0.803, 0.954),
    40: (0.076, 0.001, 0.832, 1.038),
    41: (0.068, -0.011, 0.822, 0.946),
    42: (0.103, -0.051, 0.913, 0.970),
    43: (0.077, 0.001, 0.803, 0.920),
    48: (0.147, 0.020, 0.831, 0.936),
}
# Her face box in the 512x512 photo, measured with MTCNN.
_ASTRONAUT_FACE_BOX = (179.8, 60.6, 268.4, 175.2)
_ASTRONAUT_CROP = (40, 0, 420, 340)  # x1, y1, x2, y2 of the head-and-shoulders cut-out
_ASTRONAUT_HEIGHT = 560  # the suit is extended below the crop so the body reaches the frame bottom

IDENTITIES: tuple[str, ...] = ("astronaut", *(f"lfw{index:03d}" for index in sorted(_LFW_FACE_BOX_REL)))

_SKIN_TONES = np.array(
    [(232, 190, 160), (214, 162, 128), (190, 134, 100), (150, 100, 70), (112, 76, 54), (240, 200, 175)],
    dtype=np.float32,
)
_HAIR_COLORS = np.array(
    [(30, 24, 20), (70, 45, 28), (120, 84, 50), (160, 150, 140), (196, 160, 96), (20, 20, 26)],
    dtype=np.float32,
)
_SHIRT_COLORS = np.array(
    [
        (40, 60, 120),
        (150, 30, 40),
        (30, 110, 70),
        (200, 200, 205),
        (60, 60, 60),
        (180, 120, 40),
        (90, 50, 120),
    ],
    dtype=np.float32,
)


@dataclass(frozen=True)
class Sprite:
    """A person cut-out: premultiplied-free RGBA pixels and the face box in sprite pixels."""

    rgba: np.ndarray  # uint8 [H, W, 4]
    face_box_xyxy: tuple[float, float, float, float]

    @property
    def face_center_xy(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.face_box_xyxy
        return (x1 + x2) / 2.0, (y1 + y2) / 2.0

    @property
    def face_size_px(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.face_box_xyxy
        return x2 - x1, y2 - y1

    def scaled(self, factor: float) -> Sprite:
        """This sprite resized by ``factor`` (area-averaging when shrinking)."""
        height, width = self.rgba.shape[:2]
        size = (max(2, round(width * factor)), max(2, round(height * factor)))
        fx, fy = size[0] / width, size[1] / height
        image = Image.fromarray(self.rgba, "RGBA").resize(size, Image.Resampling.LANCZOS)
        x1, y1, x2, y2 = self.face_box_xyxy
        return Sprite(np.asarray(image), (x1 * fx, y1 * fy, x2 * fx, y2 * fy))


def _palette(palette: np.ndarray, key: int) -> np.ndarray:
    return palette[key % len(palette)]


@cache
def _lfw_faces() -> np.ndarray:
    from skimage.data import lfw_subset

    return np.asarray(lfw_subset()[:100], dtype=np.float32)


def _lfw_sprite(index: int) -> Sprite:
    side = _LFW_SIDE_PX
    grey = Image.fromarray(np.uint8(np.clip(_lfw_faces()[index] * 255.0, 0, 255)), "L")
    face = np.asarray(grey.resize((side, side), Image.Resampling.BICUBIC), dtype=np.float32) / 255.0
    skin = _palette(_SKIN_TONES, index * 7 + 3)
    centre = face[side // 4 : 3 * side // 4, side // 4 : 3 * side // 4].mean()
    face_rgb = np.clip(face[..., None] / max(centre, 0.2) * skin * 0.95, 0, 255)

    width, height = 3 * side, int(5.1 * side)  # tall enough to reach the frame bottom
    x0, y0 = side, int(0.7 * side)
    rgb = np.zeros((height, width, 3), np.float32)
    alpha = np.zeros((height, width), np.float32)
    cx = x0 + side / 2
    shirt = _palette(_SHIRT_COLORS, index * 5 + 1)
    shade = np.linspace(1.15, 0.6, height, dtype=np.float32)[:, None, None]
    layers: list[tuple[np.ndarray, np.ndarray]] = [
        (
            ellipse_alpha((height, width), cx, y0 + 2.0 * side, 1.4 * side, 0.85 * side, 6, open_below=True),
            shirt * shade,
        ),
        (ellipse_alpha((height, width), cx, y0 + 1.0 * side, 0.24 * side, 0.35 * side, 4), skin * 0.8),
        (ellipse_alpha((height, width), cx, y0 + 0.28 * side, 0.64 * side, 0.58 * side, 5), _hair(index)),
        (ellipse_alpha((height, width), cx, y0 + 0.5 * side, 0.55 * side, 0.62 * side, 4), skin * 0.92),
    ]
    for layer_alpha, color in layers:
        rgb, alpha = over(rgb, alpha, np.broadcast_to(color, rgb.shape), layer_alpha)
    face_alpha = np.zeros((height, width), np.float32)
    face_alpha[y0 : y0 + side, x0 : x0 + side] = ellipse_alpha(
        (side, side), side / 2, side / 2, 0.5 * side, 0.52 * side, 0.08 * side
    )
    canvas = np.zeros_like(rgb)
    canvas[y0 : y0 + side, x0 : x0 + side] = face_rgb
    rgb, alpha = over(rgb, alpha, canvas, face_alpha)
    rx1, ry1, rx2, ry2 = _LFW_FACE_BOX_REL[index]
    box = (x0 + rx1 * side, y0 + ry1 * side, x0 + rx2 * side, y0 + ry2 * side)
    return Sprite(_to_rgba(rgb, alpha), box)


def _hair(index: int) -> np.ndarray:
    return _palette(_HAIR_COLORS, index * 3 + 2)


def _astronaut_sprite() -> Sprite:
    from skimage.data import astronaut

    x1, y1, x2, y2 = _ASTRONAUT_CROP
    photo = np.asarray(astronaut()[y1:y2, x1:x2], dtype=np.float32)
    extra = _ASTRONAUT_HEIGHT - photo.shape[0]
    fade = np.linspace(1.0, 0.7, extra, dtype=np.float32)[:, None, None]
    photo = np.concatenate([photo, np.repeat(photo[-1:], extra, axis=0) * fade])
    height, width = photo.shape[:2]
    head = ellipse_alpha((height, width), 225 - x1, 104 - y1, 84, 102, 6)
    body = ellipse_alpha((height, width), 205 - x1, 330 - y1, 160, 170, 8, open_below=True)
    alpha = np.maximum(head, body)
    bx1, by1, bx2, by2 = _ASTRONAUT_FACE_BOX
    sprite = Sprite(_to_rgba(photo, alpha), (bx1 - x1, by1 - y1, bx2 - x1, by2 - y1))
    return sprite.scaled(_ASTRONAUT_SCALE)


def _to_rgba(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    out = np.empty((*rgb.shape[:2], 4), np.uint8)
    out[..., :3] = np.clip(rgb + 0.5, 0, 255)
    out[..., 3] = np.clip(alpha * 255.0 + 0.5, 0, 255)
    return out


@cache
def identity_sprite(identity: str) -> Sprite:
    """The master sprite of ``identity`` (one of ``IDENTITIES``).

    Raises:
        ValueError: ``identity`` is not in ``IDENTITIES``.
    """
    if identity == "astronaut":
        return _astronaut_sprite()
    if identity.startswith("lfw") and identity[3:].isdigit() and int(identity[3:]) in _LFW_FACE_BOX_REL:
        return _lfw_sprite(int(identity[3:]))
    raise ValueError(f"unknown synthetic identity {identity!r}")


def _box_ints(
    box: tuple[float, float, float, float], margin: float, limit: tuple[int, int]
) -> tuple[int, ...]:
    x1, y1, x2, y2 = box
    mx, my = (x2 - x1) * margin, (y2 - y1) * margin
    height, width = limit
    return (
        max(0, int(x1 - mx)),
        max(0, int(y1 - my)),
        min(width, int(np.ceil(x2 + mx))),
        min(height, int(np.ceil(y2 + my))),
    )


# A face-swap generator renders the face at a low resolution and rarely matches skin tone exactly;
# these are the traces a detector learns from DFDC, kept here so the synthetic fakes are learnable.
# The render size is a share of the face's size in the video (not in the sprite), so the blur is
# the same at every output resolution.
SWAP_RENDER_SCALE = 1 / 4
SWAP_TINT_RGB = (16.0, -4.0, -10.0)


def _generator_artifacts(face: np.ndarray, output_scale: float) -> np.ndarray:
    """The swapped face as a generator outputs it: rendered small and upscaled, with a slight tint."""
    height, width = face.shape[:2]
    share = SWAP_RENDER_SCALE * min(1.0, output_scale)
    small_size = (max(1, round(width * share)), max(1, round(height * share)))
    image = Image.fromarray(np.clip(face + 0.5, 0, 255).astype(np.uint8), "RGB")
    image = image.resize(small_size, Image.Resampling.BOX).resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float32) + np.asarray(SWAP_TINT_RGB, dtype=np.float32)


def swap_face(target: Sprite, donor: Sprite, output_scale: float = 1.0) -> Sprite:
    """``target`` with ``donor``'s face blended into its face box (colour-matched, soft-edged).

    The head, hair, shoulders and face box stay the target's, as in a DFDC face swap.
    ``output_scale`` is the zoom the sprite is drawn into the video at; the generator's render size
    follows the face's size there.
    """
    tx1, ty1, tx2, ty2 = _box_ints(target.face_box_xyxy, 0.06, target.rgba.shape[:2])
    dx1, dy1, dx2, dy2 = _box_ints(donor.face_box_xyxy, 0.06, donor.rgba.shape[:2])
    width, height = tx2 - tx1, ty2 - ty1
    patch = Image.fromarray(np.ascontiguousarray(donor.rgba[dy1:dy2, dx1:dx2, :3]), "RGB")
    moved = np.asarray(patch.resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)
    region = target.rgba[ty1:ty2, tx1:tx2, :3].astype(np.float32)
    mask = ellipse_alpha((height, width), width / 2, height / 2, 0.44 * width, 0.48 * height, 0.1 * width)
    inner = mask > 0.5
    for channel in range(3):
        src, dst = moved[..., channel], region[..., channel]
        scale = dst[inner].std() / max(float(src[inner].std()), 1.0)
        moved[..., channel] = (src - src[inner].mean()) * scale + dst[inner].mean()
    moved = _generator_artifacts(moved, output_scale)
    blended = region * (1.0 - mask[..., None]) + moved * mask[..., None]
    rgba = target.rgba.copy()
    rgba[ty1:ty2, tx1:tx2, :3] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return Sprite(rgba, target.face_box_xyxy)


def face_aspect(identity: str) -> float:
    """Width / height of ``identity``'s face box, from the calibration constants (no image work).

    Raises:
        ValueError: ``identity`` is not in ``IDENTITIES``.
    """
    if identity == "astronaut":
        x1, y1, x2, y2 = _ASTRONAUT_FACE_BOX
    elif identity in IDENTITIES:
        x1, y1, x2, y2 = _LFW_FACE_BOX_REL[int(identity[3:])]
    else:
        raise ValueError(f"unknown synthetic identity {identity!r}")
    return (x2 - x1) / (y2 - y1)
