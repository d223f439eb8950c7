"""Parse one DFDC ``metadata.json`` into ``VideoEntry`` records, refusing anything that is not plain data.

A DFDC metadata file maps ``"<name>.mp4"`` to ``{"label": "REAL"|"FAKE", "split": ..., "original":
"<name>.mp4"|null}``. A REAL has no ``original`` key (the full dataset) or ``"original": null``
(Kaggle's sample folder); both are read the same way.

Keys become paths inside the source, so each must be a safe base name; nothing is sanitized:

- accepted: any letters, in any case or script (``ABCDEFGHIJ.MP4``, ``vidéo_ü.mp4``, ``c d.mp4``), ending
  in ``.mp4`` in any case. The video id is the name without that extension.
- refused: path separators (``/``, ``\\``) and with them parent and absolute paths, ``.`` and ``..``, a
  leading dot, ``::`` (fsspec reads it as URL chaining), NUL and other control characters, lone
  surrogates, the empty name, names over 255 bytes in UTF-8 (the file-name limit of common file
  systems), and any other container: only ``.mp4`` clips are accepted (``.mov``, ``.avi``... are
  refused: DFDC ships none).

A file is judged whole: every problem in it (a refused name, a malformed entry, a key or field given
twice, which ``json.loads`` would silently resolve to the last) is collected and raised together in one
:class:`~dfdc_lake.errors.SourceProblemsError`, so a user fixes them all in one round.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dfdc_lake.errors import SourceProblemsError
from dfdc_lake.records import CLIP_SUFFIX, VideoEntry, video_id_of

__all__ = ["CLIP_SUFFIX", "LABELS", "clip_name_problem", "is_clip_file_name", "parse_metadata", "video_id_of"]

LABELS = ("REAL", "FAKE")
MAX_NAME_BYTES = 255
# Unicode categories refused in a name: control characters (NUL, newline, DEL, C1), lone surrogates
# (they cannot be written as UTF-8), and line/paragraph separators (they break log lines too).
_UNSAFE_CATEGORIES = {
    "Cc": "control character",
    "Cs": "lone surrogate",
    "Zl": "line separator",
    "Zp": "paragraph separator",
}


def _unsafe_character(name: str) -> str | None:
    for char in name:
        kind = _UNSAFE_CATEGORIES.get(unicodedata.category(char))
        if kind is not None:
            return f"holds the {kind} U+{ord(char):04X}"
    return None


def clip_name_problem(name: object) -> str | None:
    """Why ``name`` is not a safe ``<name>.mp4`` base name (a phrase following "it"), or None if it is."""
    if not isinstance(name, str):
        return f"is not a string but {type(name).__name__}"
    if not name:
        return "is empty"
    unsafe = _unsafe_character(name)
    if unsafe is not None:
        return unsafe
    if "/" in name or "\\" in name:
        return "holds a path separator ('/' or '\\'): a key must be a bare file name, not a path"
    if "::" in name:
        return "holds '::', which fsspec reads as URL chaining"
    if name in (".", ".."):
        return f"is {name!r}, not a file"
    if name.startswith("."):
        return "starts with a dot (a hidden file)"
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        return f"is {size} bytes in UTF-8, over the {MAX_NAME_BYTES}-byte file name limit"
    if video_id_of(name) == name:
        return "is not an .mp4 file: only .mp4 clips are accepted"
    return None


def is_clip_file_name(name: object) -> bool:
    """Whether ``name`` is a safe ``<name>.mp4`` base name, fit to join onto a folder URL."""
    return clip_name_problem(name) is None


class _JsonObject(dict[str, Any]):
    """A JSON object that remembers the keys given more than once (``json.loads`` keeps the last)."""

    def __init__(self, pairs: Iterable[tuple[str, Any]]) -> None:
        super().__init__()
        self.repeated: list[tuple[str, Any, Any]] = []  # (key, first value, later value)
        for key, value in pairs:
            if key in self:
                self.repeated.append((key, self[key], value))
            else:
                self[key] = value


def _refuse(source: str, problems: list[str]) -> SourceProblemsError:
    return SourceProblemsError(f"metadata file {source}", problems)


def _load_object(raw: bytes | str, source: str) -> _JsonObject:
    try:
        data = json.loads(raw, object_pairs_hook=_JsonObject)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _refuse(source, [f"metadata file {source} is not valid JSON: {err}"]) from None
    except RecursionError:
        raise _refuse(source, [f"metadata file {source} is not valid JSON: nested too deeply"]) from None
    if not isinstance(data, _JsonObject):
        problem = f"metadata file {source} must hold a JSON object, not {type(data).__name__}"
        raise _refuse(source, [problem])
    return data


def _as_json(value: Any) -> str:
    # Letters stay readable; lone surrogates, DEL and separators are escaped so the message always prints.
    text = json.dumps(value, ensure_ascii=False)
    return "".join(char if char.isprintable() else f"\\u{ord(char):04x}" for char in text)


def _value_problem(key: str, value: Any) -> str | None:
    """What is wrong with the entry of ``key``, or None."""
    if not isinstance(value, dict):
        return f"value must be an object, not {type(value).__name__}"
    if isinstance(value, _JsonObject) and value.repeated:
        field, first, later = value.repeated[0]
        return f"field {field!r} is given twice ({_as_json(first)} and {_as_json(later)})"
    if "label" not in value:
        return "'label' is missing"
    label = value["label"]
    if not isinstance(label, str) or label not in LABELS:
        return f"label {label!r} is not one of {LABELS}"
    original = value.get("original")
    name_problem = None if original is None else clip_name_problem(original)
    if name_problem is not None:
        return f"original {original!r} is not a safe '<name>.mp4' file name: it {name_problem}"
    if label == "FAKE" and original is None:
        return "a FAKE needs its 'original'"
    if label == "REAL" and original is not None:
        return f"a REAL must not name an original ({original!r})"
    if original is not None and video_id_of(original) == video_id_of(key):
        return "a clip cannot be its own original"
    return None


def _entry_problems(key: str, name_problem: str | None, value: Any, source: str) -> list[str]:
    problems = []
    if name_problem is not None:
        problems.append(
            f"metadata key {key!r} in {source} is not a safe '<name>.mp4' file name: it {name_problem}"
        )
    value_problem = _value_problem(key, value)
    if value_problem is not None:
        problems.append(f"metadata key {key!r} in {source}: {value_problem}")
    return problems


def _repeated_key_problems(data: _JsonObject, source: str) -> list[str]:
    return [
        f"metadata file {source} lists key {key!r} twice: {_as_json(first)} and {_as_json(later)} "
        "(json.loads would silently keep the later one)"
        for key, first, later in data.repeated
    ]


def _shared_id_problems(safe_keys: list[str], source: str) -> list[str]:
    """Safe keys that differ only in the extension's case (``a.mp4``, ``a.MP4``) would share a video id."""
    key_of_id: dict[str, str] = {}
    problems = []
    for key in safe_keys:
        first = key_of_id.setdefault(video_id_of(key), key)
        if first != key:
            problems.append(
                f"metadata keys {first!r} and {key!r} in {source} name the same video id {video_id_of(key)!r}"
            )
    return problems


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
        One entry per metadata key, sorted by file name; empty for an empty object ``{}``.

    Raises:
        SourceProblemsError: (a ``CatalogError``) the file is not a JSON object, or lists a key twice, or
            has entries with a refused key, a wrong type, a missing or unknown label, or two keys for
            one video id (``a.mp4`` and ``a.MP4``). ``problems`` holds every one, each naming the file
            and the key.
    """
    data = _load_object(raw, source)
    keys = sorted(data)
    problems = _repeated_key_problems(data, source)
    safe_keys = []
    for key in keys:
        name_problem = clip_name_problem(key)
        if name_problem is None:
            safe_keys.append(key)
        problems.extend(_entry_problems(key, name_problem, data[key], source))
    problems.extend(_shared_id_problems(safe_keys, source))
    if problems:
        raise _refuse(source, problems)
    return [
        VideoEntry(
            video_id=video_id_of(key),
            filename=key,
            part=part,
            label=data[key]["label"],
            original=data[key].get("original"),
            url=url_for(key),
            size_bytes=sizes.get(key),
        )
        for key in keys
    ]
