"""Named sets of training defaults: ``demo`` (a small CPU detector in minutes) and ``dfdc`` (the DFDC
1st-place setup, as far as the lake allows).

A recipe only supplies defaults: the config file's fields and ``--set key=value`` go on top of it, in
that order. Where each ``dfdc`` value comes from (Selim Seferbekov's 1st-place solution, private log
loss 0.42798, github.com/selimsef/dfdc_deepfake_challenge):

- ``backbone``: EfficientNet-B7 NoisyStudent (timm ``tf_efficientnet_b7.ns_jft_in1k``), ImageNet
  weights (``pretrained``), as the winner started from;
- ``image_size_px`` 380: the winner's 380x380 input;
- ``resize`` ``isotropic``: the longest side scaled to the input size, the rest zero-padded (the
  winner's ``IsotropicResize`` + ``PadIfNeeded``), in training, validation and predict;
- ``augmentation`` ``dfdc``: the winner's chain (``train.inputs.augment``) with the landmark cutout;
- ``eval_frames`` 32: the winner scored 32 frames per video, evenly spaced;
- ``aggregation`` ``confident``: the winner's "confident strategy" over per-frame scores;
- ``precision`` ``auto`` and ``channels_last``: mixed precision and NHWC convolutions on the GPU, as the
  winner trained with apex AMP (O1);
- ``frames_per_sample`` 4 and the audio stream: this detector's own (the winner scored single frames
  and had no audio stream).
"""

from __future__ import annotations

from typing import Any

__all__ = ["RECIPES", "recipe_defaults"]

RECIPES: dict[str, dict[str, Any]] = {
    # Today's CPU demo: every field keeps the TrainConfig default.
    "demo": {},
    "dfdc": {
        "backbone": "tf_efficientnet_b7.ns_jft_in1k",
        "pretrained": True,
        "image_size_px": 380,
        "resize": "isotropic",
        "augmentation": "dfdc",
        "frames_per_sample": 4,
        "eval_frames": 32,
        "aggregation": "confident",
        "precision": "auto",
        "channels_last": True,
    },
}


def recipe_defaults(name: str) -> dict[str, Any]:
    """The field defaults of recipe ``name`` (a copy); ``ValueError`` naming the known ones otherwise."""
    if name not in RECIPES:
        raise ValueError(f"unknown training recipe {name!r}; known: {', '.join(RECIPES)}")
    return dict(RECIPES[name])
