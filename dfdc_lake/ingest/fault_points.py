"""Fault points: the places in a family task where a test holds the task, to take its node away there.

Off (one environment lookup) unless a Ray node's processes have ``DFDC_LAKE_FAULT_POINTS`` set to a
folder, which only the node-loss test does (``tests/ingest/test_node_loss.py``, through the node's
environment, never through the config a user writes). A test arms a phase by creating
``<folder>/<phase>.armed``; the first family task (or detection actor) of a node with the variable
that reaches that phase claims it, writes ``<phase>.held`` (its node id and pid) and waits there until
``<phase>.release`` appears or ``HOLD_MAX_S`` pass. The test removes the node meanwhile. One arming
holds one process once, so the retried task on another node runs through.

Phases: ``decode`` (a clip was read, its decoding is next), ``detect`` (inside a detection actor's
call) and ``write`` (a family's samples are in the group's open shard writer, not yet published).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = ["ENV", "HOLD_MAX_S", "PHASES", "hold_if_armed", "read_then_hold"]

ENV = "DFDC_LAKE_FAULT_POINTS"
PHASES = ("decode", "detect", "write")
HOLD_MAX_S = 300.0  # a test that never removes the node must not hang the run forever

T = TypeVar("T")


def hold_if_armed(phase: str) -> None:
    """Wait here if ``phase`` is armed for this node (see the module docstring); else return at once."""
    folder = os.environ.get(ENV)
    if not folder:
        return
    base = Path(folder)
    claimed = base / f"{phase}.claimed-{os.getpid()}"
    try:
        os.rename(base / f"{phase}.armed", claimed)  # atomic: one process wins the arming
    except FileNotFoundError:
        return
    import ray

    info = {"phase": phase, "node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid()}
    claimed.write_text(json.dumps(info))
    os.rename(claimed, base / f"{phase}.held")  # whole, or not there
    deadline = time.monotonic() + HOLD_MAX_S
    while not (base / f"{phase}.release").exists() and time.monotonic() < deadline:
        time.sleep(0.2)


def read_then_hold(read: Callable[[str], T]) -> Callable[[str], T]:
    """``read``, holding at the ``decode`` point after each clip is read when fault points are on."""
    if not os.environ.get(ENV):
        return read

    def read_and_hold(url: str) -> T:
        data = read(url)
        hold_if_armed("decode")
        return data

    return read_and_hold
