"""How much room a local file system has, said for messages about a full disk (the lake's, a run's)."""

from __future__ import annotations

import os
import shutil

__all__ = ["space_left"]


def space_left(path: str) -> str:
    """``N MiB free of M MiB`` on the local file system holding ``path`` (its nearest existing folder),
    or ``""`` when that cannot be read."""
    folder = path
    while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    try:
        usage = shutil.disk_usage(folder)
    except OSError:
        return ""
    # in MiB, without dfdc_lake.units: the lake package, which says this, imports nothing above io
    return f"{usage.free / 2**20:.1f} MiB free of {usage.total / 2**20:.1f} MiB"
