"""How a sample row is laid out as WebDataset tar members, and back.

Key = ``sample_id``. Members: ``KEY.json`` (every column except the crops and the spectrogram; NaN
floats are written as ``null`` so the file is strict JSON), ``KEY.NNN.jpg`` (crop N, zero-padded to
3 digits), ``KEY.logmel.npy`` (float16 ``[n_mels, n_frames]``; absent without audio).
"""

from __future__ import annotations

import io
import json
import math
import re
from typing import Any

import numpy as np

from dfdc_lake.lake.schema import SCHEMA_VERSION, schema_spec

__all__ = ["members_to_row", "row_to_members", "tar_member_bytes"]

_BINARY_COLUMNS = ("crops_jpeg", "logmel_f16")
_CROP_SUFFIX = re.compile(r"^(\d+)\.jpg$")
_TAR_BLOCK = 512


def _check_key(key: str) -> str:
    # webdataset splits a member name at the first dot: a key must not contain one (nor a slash).
    if not key or "." in key or "/" in key:
        raise ValueError(f"sample_id {key!r} cannot be a WebDataset key (no '.' or '/' allowed)")
    return key


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    return value


def row_to_members(row: dict[str, Any]) -> list[tuple[str, bytes]]:
    """The tar members (name, bytes) of one sample row (as made by ``sample_to_row``)."""
    key = _check_key(row["sample_id"])
    meta = {name: _nan_to_none(value) for name, value in row.items() if name not in _BINARY_COLUMNS}
    members = [(f"{key}.json", json.dumps(meta, allow_nan=False, separators=(",", ":")).encode())]
    members += [(f"{key}.{i:03d}.jpg", bytes(crop)) for i, crop in enumerate(row["crops_jpeg"])]
    if row.get("logmel_f16") is not None:
        shape = tuple(int(n) for n in row["logmel_shape"])
        array = np.frombuffer(row["logmel_f16"], dtype="<f2").reshape(shape)
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        members.append((f"{key}.logmel.npy", buffer.getvalue()))
    return members


def tar_member_bytes(members: list[tuple[str, bytes]]) -> int:
    """Bytes the members take in a tar (one header block each, data padded to 512)."""
    return sum(_TAR_BLOCK + -(-len(data) // _TAR_BLOCK) * _TAR_BLOCK for _, data in members)


def _float_fields(version: int) -> set[str]:
    return {f["name"] for f in schema_spec(version)["fields"] if "float" in f["type"]}


def _restore_nan(value: Any) -> Any:
    if value is None:
        return math.nan
    if isinstance(value, list):
        return [_restore_nan(v) for v in value]
    return value


def members_to_row(sample: dict[str, Any]) -> dict[str, Any]:
    """A sample row (same keys and values as the Parquet row) from a webdataset sample dict.

    Args:
        sample: what ``webdataset`` yields before decoding: ``__key__`` plus raw bytes per suffix
            (``json``, ``000.jpg``, ``logmel.npy``).
    """
    meta = json.loads(sample["json"])
    # Every field of the current version: the columns an older row lacks come back None.
    floats = _float_fields(SCHEMA_VERSION)
    crops = sorted(
        (int(match.group(1)), data)
        for suffix, data in sample.items()
        if (match := _CROP_SUFFIX.match(suffix)) is not None
    )
    logmel = None
    if "logmel.npy" in sample:
        array = np.load(io.BytesIO(sample["logmel.npy"]), allow_pickle=False)
        logmel = array.astype("<f2").tobytes()
    row: dict[str, Any] = {}
    for field in schema_spec(SCHEMA_VERSION)["fields"]:
        name = field["name"]
        if name == "crops_jpeg":
            row[name] = [bytes(data) for _, data in crops]
        elif name == "logmel_f16":
            row[name] = logmel
        elif name in floats and not (field["nullable"] and meta.get(name) is None):
            row[name] = _restore_nan(meta.get(name))
        else:
            row[name] = meta.get(name)
    return row
