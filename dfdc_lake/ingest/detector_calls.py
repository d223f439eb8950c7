"""A family task's face detection through the run's detection actors, riding out a lost actor.

An actor whose node is lost restarts elsewhere (``max_restarts``); until it is back, calls to it fail
with ``ActorUnavailableError``, and once its restarts are used up with ``ActorDiedError``. Either used
to reach ``FamilyProcessor`` as an error of the video being detected, and the chunk committed those
videos as ``error`` outcomes: a lost node lost videos for good (``tests/ingest/test_node_loss.py``).
Here such a call goes to another actor of the pool, or waits for this one with a bounded backoff; if
no actor answers for ``UNAVAILABLE_FOR_S`` the task fails with :class:`DetectionUnavailableError`,
which, like storage that stays down, fails the chunk (uncommitted; a rerun redoes it) instead of
recording its videos as bad.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any

from dfdc_lake.errors import StorageError

__all__ = ["UNAVAILABLE_FOR_S", "DetectionUnavailableError", "detect_on_actors"]

UNAVAILABLE_FOR_S = 300.0  # a node's death is noticed in ~30 s and its actors restart in seconds after
FIRST_WAIT_S, MAX_WAIT_S = 0.5, 5.0


class DetectionUnavailableError(StorageError):
    """No detection actor answered for ``UNAVAILABLE_FOR_S`` (their nodes are gone): the chunk fails."""


def detect_on_actors(actors: Sequence[Any], frames: Any) -> Any:
    """``detect(frames)`` on a random actor of ``actors``, retried on another (or the same, once it has
    restarted) while actors are unavailable.

    Raises:
        DetectionUnavailableError: every actor died for good, or none answered for ``UNAVAILABLE_FOR_S``.
    """
    import ray
    from ray.exceptions import ActorDiedError, ActorUnavailableError

    alive = list(actors)
    deadline, wait_s = time.monotonic() + UNAVAILABLE_FOR_S, FIRST_WAIT_S
    while True:
        actor = random.choice(alive)
        try:
            return ray.get(actor.detect.remote(frames))
        except ActorDiedError as err:  # restarts used up: never again
            alive.remove(actor)
            if not alive:
                raise DetectionUnavailableError(f"every detection actor died: {err}") from err
        except ActorUnavailableError as err:  # restarting (its node was lost): another, or later
            if time.monotonic() > deadline:
                raise DetectionUnavailableError(
                    f"no detection actor answered for {UNAVAILABLE_FOR_S:.0f} s: {err}"
                ) from err
            time.sleep(wait_s)
            wait_s = min(MAX_WAIT_S, wait_s * 2)
