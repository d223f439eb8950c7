"""Every random draw of a training run comes from here: a generator derived from the run's seed, the
epoch and what the draw is for (a sample id, a rank, a purpose), never from a global RNG.

Two runs with the same seed therefore draw the same numbers for the same sample in the same epoch,
whatever process, worker count or resume point reads that sample (STYLE.md, point 16).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["key_entropy", "numpy_rng", "torch_generator"]


def key_entropy(*keys: int | str) -> list[int]:
    """Non-negative 32-bit words standing for ``keys`` (strings hashed with BLAKE2b: stable across runs)."""
    words: list[int] = []
    for key in keys:
        if isinstance(key, str):
            digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
            words.extend((int.from_bytes(digest[:4], "little"), int.from_bytes(digest[4:], "little")))
        else:
            value = int(key)
            words.extend((value & 0xFFFFFFFF, (value >> 32) & 0xFFFFFFFF, int(value < 0)))
    return words


def numpy_rng(seed: int, epoch: int, *keys: int | str) -> np.random.Generator:
    """A NumPy generator for (seed, epoch, keys...): the same arguments give the same stream."""
    return np.random.default_rng(np.random.SeedSequence(key_entropy(seed, epoch, *keys)))


def torch_generator(seed: int, epoch: int, *keys: int | str) -> torch.Generator:
    """A CPU ``torch.Generator`` for (seed, epoch, keys...), seeded from the same entropy as ``numpy_rng``."""
    import torch

    state = np.random.SeedSequence(key_entropy(seed, epoch, *keys)).generate_state(2, dtype=np.uint32)
    generator = torch.Generator()
    generator.manual_seed(int(state[0]) << 32 | int(state[1]))
    return generator
