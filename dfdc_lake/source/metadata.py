"""Parse one DFDC ``metadata.json`` into ``VideoEntry`` records, refusing anything that is not plain data.

A DFDC metadata file maps ``"<name>.mp4"`` to ``{"label": "REAL"|"FAKE", "split": ..., "original":
"<name>.mp4"|null}``. Keys become paths inside the source, so anything that is not a bare ``.mp4`` file
name (``../x.mp4``, ``/etc/passwd``, ``a/b.mp4``, ``""``) is refused rather than sanitized.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from dfdc_lake.errors import CatalogError
from dfdc_lake.records import VideoEntry

__all__ = ["LABELS", "is_clip_file_name", "parse_metadata"]

LABELS = ("REAL", "FAKE")
# A bare file name: no separators, no leading dot (so no "..", no hidden files), ends in ".mp4".
_CLIP_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}\.mp4")


def is_clip_file_name(name: object) -> bool:
    """Whether ``name`` is a plain ``<name>.mp4`` file name safe to join onto a folder URL."""
    return isinstance(name, str) and _CLIP_NAME.fullmatch(name) is not None


def _load_object(raw: bytes | str, source: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CatalogError(f"metadata file {source} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise CatalogError(f"metadata file {source} must hold a JSON object, not {type(data).__name__}")
    return data


def _parse_entry(key: str, value: Any, source: str) -> tuple[str, str | None]:
    """Validate one entry; returns ``(label, original)``."""
    if not is_clip_file_name(key):
        raise CatalogError(f"metadata key {key!r} in {source} is not a plain '<name>.mp4' file name")
    if not isinstance(value, dict):
        raise CatalogError(
            f"metadata key {key!r} in {source}: value must be an object, not {type(value).__name__}"
        )
    if "label" not in value:
        raise CatalogError(f"metadata key {key!r} in {source}: 'label' is missing")
    label = value["label"]
    if not isinstance(label, str) or label not in LABELS:
        raise CatalogError(f"metadata key {key!r} in {source}: label {label!r} is not one of {LABELS}")
    original = value.get("original")
    if original is not None and not is_clip_file_name(original):
        raise CatalogError(
            f"metadata key {key!r} in {source}: original {original!r} is not a plain '.mp4' file name"
        )
    if label == "FAKE" and original is None:
        raise CatalogError(f"metadata key {key!r} in {source}: a FAKE needs its 'original'")
    if label == "REAL" and original is not None:
        raise CatalogError(
            f"metadata key {key!r} in {source}: a REAL must not name an original ({original!r})"
        )
    if original == key:
        raise CatalogError(f"metadata key {key!r} in {source}: a clip cannot be its own original")
    return label, original


def parse_metadata(
    raw: bytes | str,
    *,
    source: str,
    part: int,
    url_for: Callable[[str], str],
    sizes: Mapping[str, int],
) -> list[VideoEntry]:
    """Parse one part's ``metadata.json``.

    Args:
        raw: the file's content.
        source: where it came from (for error messages).
        part: K of ``dfdc_train_part_K``.
        url_for: maps a clip file name to its fsspec URL.
        sizes: sizes in bytes of the clips present next to the metadata; a listed clip absent here gets
            ``size_bytes=None``.

    Returns:
        One entry per metadata key, sorted by file name.

    Raises:
        CatalogError: the file is not a JSON object, or an entry has a hostile key, a wrong type, or a
            missing or unknown label. The message names the file and the key.
    """
    data = _load_object(raw, source)
    entries = []
    for key in sorted(data):
        label, original = _parse_entry(key, data[key], source)
        entries.append(
            VideoEntry(
                video_id=key.removesuffix(".mp4"),
                filename=key,
                part=part,
                label=label,  # type: ignore[arg-type]  # checked against LABELS above
                original=original,
                url=url_for(key),
                size_bytes=sizes.get(key),
            )
        )
    return entries
