"""Binds the versioned sample schema in ``schemas/`` to pyarrow and converts ``Sample`` records to rows.

The schema is read from the JSON file, never inferred from data, so every shard of a lake has the
same columns whatever the first batch looked like.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pyarrow as pa

from dfdc_lake.records import Sample

__all__ = [
    "KNOWN_SCHEMA_VERSIONS",
    "SCHEMA_VERSION",
    "projected_schema",
    "sample_schema",
    "sample_to_row",
    "schema_spec",
    "with_current_columns",
]

SCHEMA_VERSION = 5
KNOWN_SCHEMA_VERSIONS = (1, 2, 3, 4, 5)

_SCALARS: dict[str, pa.DataType] = {
    "string": pa.string(),
    "binary": pa.binary(),
    "bool": pa.bool_(),
    "int8": pa.int8(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float32": pa.float32(),
    "float64": pa.float64(),
}


def _arrow_type(name: str) -> pa.DataType:
    if name.startswith("list<") and name.endswith(">"):
        return pa.list_(_arrow_type(name[5:-1]))
    try:
        return _SCALARS[name]
    except KeyError:
        raise ValueError(f"unknown type {name!r} in the sample schema") from None


@cache
def schema_spec(version: int = SCHEMA_VERSION) -> dict[str, Any]:
    """The JSON schema document (field names, types, docs) of a schema version."""
    if version not in KNOWN_SCHEMA_VERSIONS:
        raise ValueError(f"unknown sample schema version {version}; known: {KNOWN_SCHEMA_VERSIONS}")
    text = resources.files("dfdc_lake.schemas").joinpath(f"sample_v{version}.json").read_text()
    return json.loads(text)


@cache
def sample_schema(version: int = SCHEMA_VERSION) -> pa.Schema:
    """The Arrow schema of a sample row, with each field's doc in its metadata."""
    spec = schema_spec(version)
    fields = [
        pa.field(f["name"], _arrow_type(f["type"]), nullable=f["nullable"], metadata={"doc": f["doc"]})
        for f in spec["fields"]
    ]
    return pa.schema(fields, metadata={"dfdc_lake.schema_version": str(version), "name": spec["name"]})


def projected_schema(columns: list[str] | None) -> pa.Schema:
    """The sample schema, or only ``columns`` of it in that order (metadata kept)."""
    schema = sample_schema()
    if columns is None:
        return schema
    return pa.schema([schema.field(name) for name in columns], metadata=schema.metadata)


def with_current_columns(batch: pa.RecordBatch, columns: list[str] | None = None) -> pa.RecordBatch:
    """``batch``, read from a shard of any known version, as ``columns`` of the current schema in order.

    A column the shard's version lacks (version 1 has no score columns, version 2 no
    ``face_detail_kept``, version 3 no ``face_detail_kept_half_res``, version 4 no ``crop_landmarks`` or
    ``crop_landmarks_interpolated``) comes back all null.
    """
    schema = projected_schema(columns)
    if batch.schema.names == schema.names:
        return batch
    arrays = [
        batch.column(field.name) if field.name in batch.schema.names else pa.nulls(batch.num_rows, field.type)
        for field in schema
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def sample_to_row(sample: Sample) -> dict[str, Any]:
    """A ``Sample`` as a dict of plain Python values matching ``sample_schema()``."""
    audio = sample.audio
    return {
        "schema_version": SCHEMA_VERSION,
        "sample_id": sample.sample_id,
        "video_id": sample.video_id,
        "filename": sample.filename,
        "part": sample.part,
        "family_id": sample.family_id,
        "original": sample.original,
        "label": sample.label,
        "is_fake": sample.is_fake,
        "face_fake": sample.face_fake,
        "audio_fake": sample.audio_fake,
        "track_id": sample.track_id,
        "num_tracks": sample.num_tracks,
        "frame_indices": np.asarray(sample.frame_indices, dtype=np.int32).tolist(),
        "timestamps_s": np.asarray(sample.timestamps_s, dtype=np.float32).tolist(),
        "boxes_xyxy": np.asarray(sample.boxes_xyxy, dtype=np.float32).reshape(-1).tolist(),
        "det_scores": np.asarray(sample.det_scores, dtype=np.float32).tolist(),
        "crops_jpeg": list(sample.crops_jpeg),
        "face_frame_share": float(sample.face_frame_share),
        "has_audio": audio is not None,
        "logmel_f16": None if audio is None else audio.logmel.astype("<f2").tobytes(),
        "logmel_shape": None if audio is None else list(audio.logmel.shape),
        "audio_sample_rate_hz": 0 if audio is None else audio.sample_rate_hz,
        "logmel_hop_s": 0.0 if audio is None else audio.hop_s,
        "source_fps": sample.info.fps,
        "source_width_px": sample.info.width_px,
        "source_height_px": sample.info.height_px,
        "source_num_frames": sample.info.num_frames,
        "source_duration_s": sample.info.duration_s,
        "config_hash": sample.config_hash,
        "face_diff": sample.face_diff,
        "face_diff_per_frame": None
        if sample.face_diff_per_frame is None
        else np.asarray(sample.face_diff_per_frame, dtype=np.float32).tolist(),
        "face_contrast": sample.face_contrast,
        "audio_diff_db": sample.audio_diff_db,
        "face_detail_kept": sample.face_detail_kept,
        "face_detail_kept_half_res": sample.face_detail_kept_half_res,
        "crop_landmarks": _float_list(sample.crop_landmarks),
        "crop_landmarks_interpolated": None
        if sample.crop_landmarks_interpolated is None
        else np.asarray(sample.crop_landmarks_interpolated, dtype=bool).tolist(),
    }


def _float_list(values: np.ndarray | None) -> list[float] | None:
    """``values`` flattened to a float32 list (None stays None)."""
    return None if values is None else np.asarray(values, dtype=np.float32).reshape(-1).tolist()
