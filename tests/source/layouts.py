"""Write DFDC-shaped source trees (part folders, part archives) from small byte blobs."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

__all__ = ["FAMILY_META", "truncate", "write_part_folder", "write_part_zip"]

# One family (a REAL and two FAKEs), a FAKE of an absent original, and a listed-but-missing REAL.
FAMILY_META = {
    "realaaaaaa.mp4": {"label": "REAL", "split": "train", "original": None},
    "fakebbbbbb.mp4": {"label": "FAKE", "split": "train", "original": "realaaaaaa.mp4"},
    "fakecccccc.mp4": {"label": "FAKE", "split": "train", "original": "realaaaaaa.mp4"},
    "orphandddd.mp4": {"label": "FAKE", "split": "train", "original": "absentzzzz.mp4"},
    "missingeee.mp4": {"label": "REAL", "split": "train", "original": None},
}


def _clips(meta: dict, missing: tuple[str, ...], extra: tuple[str, ...]) -> dict[str, bytes]:
    names = [name for name in meta if name not in missing] + list(extra)
    return {name: name.encode() * 10 for name in names}


def write_part_folder(
    root: Path, part: int, meta: dict | None = None, missing=("missingeee.mp4",), extra: tuple[str, ...] = ()
) -> Path:
    """``root/dfdc_train_part_<part>/`` with metadata.json and one blob per listed clip (except ``missing``).

    ``extra`` names files written next to the clips but not listed in the metadata.
    """
    meta = FAMILY_META if meta is None else meta
    folder = root / f"dfdc_train_part_{part}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metadata.json").write_text(json.dumps(meta))
    for name, data in _clips(meta, missing, extra).items():
        (folder / name).write_bytes(data)
    return folder


def write_part_zip(
    root: Path,
    part: int,
    meta: dict | None = None,
    missing=("missingeee.mp4",),
    inner_folder: bool = True,
    extra: tuple[str, ...] = (),
) -> Path:
    """``root/dfdc_train_part_<part>.zip`` laid out as Kaggle ships it (one top folder) or flat."""
    meta = FAMILY_META if meta is None else meta
    root.mkdir(parents=True, exist_ok=True)
    archive = root / f"dfdc_train_part_{part}.zip"
    prefix = f"dfdc_train_part_{part}/" if inner_folder else ""
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(prefix + "metadata.json", json.dumps(meta))
        for name, data in _clips(meta, missing, extra).items():
            zf.writestr(prefix + name, data)
    return archive


def truncate(path: Path, keep: float = 0.5) -> Path:
    """Cut ``path`` to its first ``keep`` share of bytes, as a download still in progress leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path
