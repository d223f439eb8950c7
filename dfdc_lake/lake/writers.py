"""Shard writers: Parquet and WebDataset, each size-bounded and rotating, and ``ChunkWriter`` for both.

Rows always go through the explicit Arrow schema (``schemas/sample_v5.json``), never an inferred
one. Memory stays bounded: the Parquet writer buffers one row group (``row_group_bytes``, at most a
shard) before writing it to the staging file; the tar writer streams every row straight to disk.
"""

from __future__ import annotations

import io
import tarfile
import time
from typing import IO, Any, ClassVar

from dfdc_lake.config import LakeConfig
from dfdc_lake.lake.schema import sample_schema, sample_to_row
from dfdc_lake.lake.shard import (
    DEFAULT_SHARD_TARGET_BYTES,
    PublishOnSuccess,
    RotatingShardWriter,
    ShardFormat,
    ShardInfo,
)
from dfdc_lake.lake.storage import Storage
from dfdc_lake.lake.wds_format import row_to_members, tar_member_bytes
from dfdc_lake.records import Sample

__all__ = ["WRITERS", "ChunkWriter", "ParquetShardWriter", "ShardInfo", "WebDatasetShardWriter"]

DEFAULT_ROW_GROUP_BYTES = 32 * 1024 * 1024
# Columns worth min/max statistics (not the crops, lists or the spectrogram).
_STAT_COLUMNS = [
    "schema_version", "sample_id", "video_id", "filename", "part", "family_id", "original", "label",
    "is_fake", "face_fake", "audio_fake", "track_id", "num_tracks", "face_frame_share", "has_audio",
    "config_hash",
]  # fmt: skip
_DICTIONARY_COLUMNS = ["video_id", "filename", "family_id", "original", "label", "config_hash"]
_ROW_OVERHEAD_BYTES = 256


class ParquetShardWriter(RotatingShardWriter):
    """Rows to ``part-NNNNN.parquet`` shards (zstd; JPEG crops stored uncompressed)."""

    format: ClassVar[ShardFormat] = "parquet"
    suffix = ".parquet"

    def __init__(
        self,
        storage: Storage,
        chunk_id: str,
        attempt_id: str,
        shard_target_bytes: int = DEFAULT_SHARD_TARGET_BYTES,
        row_group_bytes: int = DEFAULT_ROW_GROUP_BYTES,
        subdir: str = "",
    ) -> None:
        super().__init__(storage, chunk_id, attempt_id, shard_target_bytes, subdir)
        self.row_group_bytes = max(1, min(row_group_bytes, shard_target_bytes))
        self._writer: Any = None
        self._sink: Any = None
        self._path = ""
        self._buffer: list[dict[str, Any]] = []
        self._buffered_bytes = 0
        self._flushed_bytes = 0

    def _prepare(self, row: dict[str, Any]) -> tuple[Any, int]:
        payload = sum(len(crop) for crop in row["crops_jpeg"]) + len(row["logmel_f16"] or b"")
        numbers = len(row["frame_indices"]) + len(row["timestamps_s"]) + len(row["boxes_xyxy"])
        numbers += len(row.get("crop_landmarks") or ())  # a bool per crop is too little to count
        return row, payload + 4 * (numbers + len(row["det_scores"])) + _ROW_OVERHEAD_BYTES

    def _open(self, path: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._path = path
        self._sink = pa.OSFile(
            path, "wb"
        )  # ours, so a discarded shard's file is closed even if the writer fails
        self._writer = pq.ParquetWriter(
            self._sink,
            sample_schema(),
            compression={name: "zstd" for name in sample_schema().names} | {"crops_jpeg": "none"},
            use_dictionary=_DICTIONARY_COLUMNS,
            write_statistics=_STAT_COLUMNS,
        )
        self._flushed_bytes = 0

    def _append(self, prepared: Any, nbytes: int) -> None:
        self._buffer.append(prepared)
        self._buffered_bytes += nbytes
        if self._buffered_bytes >= self.row_group_bytes:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self._buffer:
            self._writer.write_table(pa.Table.from_pylist(self._buffer, schema=sample_schema()))
            self._buffer, self._buffered_bytes = [], 0
            self._flushed_bytes = self._sink.tell()

    def _shard_bytes(self) -> int:
        return self._flushed_bytes + self._buffered_bytes

    def _close_file(self, discard: bool) -> None:
        try:
            if not discard:
                self._flush()
        finally:
            self._buffer, self._buffered_bytes = [], 0
            writer, sink, self._writer, self._sink = self._writer, self._sink, None, None
            try:
                if writer is not None:
                    writer.close()
            finally:
                if sink is not None:
                    sink.close()


class WebDatasetShardWriter(RotatingShardWriter):
    """Rows to ``part-NNNNN.tar`` WebDataset shards (members as in ``wds_format``), streamed to disk."""

    format: ClassVar[ShardFormat] = "webdataset"
    suffix = ".tar"

    def __init__(
        self,
        storage: Storage,
        chunk_id: str,
        attempt_id: str,
        shard_target_bytes: int = DEFAULT_SHARD_TARGET_BYTES,
        subdir: str = "",
    ) -> None:
        super().__init__(storage, chunk_id, attempt_id, shard_target_bytes, subdir)
        self._file: IO[bytes] | None = None
        self._tar: tarfile.TarFile | None = None
        self._mtime = int(time.time())

    def _prepare(self, row: dict[str, Any]) -> tuple[Any, int]:
        members = row_to_members(row)
        return members, tar_member_bytes(members)

    def _open(self, path: str) -> None:
        # Both stay open across write_row calls; _close_file closes them.
        self._file = open(path, "wb")  # noqa: SIM115
        self._tar = tarfile.open(fileobj=self._file, mode="w", format=tarfile.USTAR_FORMAT)  # noqa: SIM115

    def _append(self, prepared: Any, nbytes: int) -> None:
        assert self._tar is not None
        for name, data in prepared:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), self._mtime, 0o644
            self._tar.addfile(info, io.BytesIO(data))

    def _shard_bytes(self) -> int:
        assert self._file is not None
        return self._file.tell()

    def _close_file(self, discard: bool) -> None:
        try:
            if self._tar is not None and not discard:
                self._tar.close()
        finally:
            if self._file is not None:
                self._file.close()
            self._tar, self._file = None, None


WRITERS: dict[str, type[RotatingShardWriter]] = {
    "parquet": ParquetShardWriter,
    "webdataset": WebDatasetShardWriter,
}


class ChunkWriter(PublishOnSuccess):
    """Writes each sample of one chunk attempt to every configured format.

    Example::

        with lake.chunk_writer("p00-c0003", new_attempt_id(), config.lake) as writer:
            for sample in samples:
                writer.write(sample)
        shards = writer.shards  # -> the commit record
    """

    def __init__(
        self,
        storage: Storage,
        chunk_id: str,
        attempt_id: str,
        formats: tuple[str, ...] | list[str] = ("parquet", "webdataset"),
        shard_target_bytes: int = DEFAULT_SHARD_TARGET_BYTES,
        subdir: str = "",
    ) -> None:
        unknown = [f for f in formats if f not in WRITERS]
        if not formats or unknown or len(set(formats)) != len(formats):
            raise ValueError(f"formats {formats!r} must be distinct names from {sorted(WRITERS)}")
        self.chunk_id, self.attempt_id = chunk_id, attempt_id
        self.writers = [
            WRITERS[f](storage, chunk_id, attempt_id, shard_target_bytes, subdir=subdir) for f in formats
        ]
        self.num_samples = 0

    @classmethod
    def from_config(
        cls, storage: Storage, chunk_id: str, attempt_id: str, config: LakeConfig, subdir: str = ""
    ) -> ChunkWriter:
        """A writer with the formats and shard size of ``config.lake`` (under ``subdir``, if given)."""
        return cls(storage, chunk_id, attempt_id, tuple(config.formats), config.shard_target_bytes, subdir)

    def write(self, sample: Sample) -> None:
        """Append one sample to every format (the row is built once)."""
        self.write_row(sample_to_row(sample))

    def write_row(self, row: dict[str, Any]) -> None:
        """Append one row made by ``sample_to_row`` to every format."""
        for writer in self.writers:
            writer.write_row(row)
        self.num_samples += 1

    @property
    def shards(self) -> list[ShardInfo]:
        """Shards published so far, all formats."""
        return [shard for writer in self.writers for shard in writer.shards]

    def close(self) -> list[ShardInfo]:
        """Publish the open shards and return every shard of the attempt."""
        for writer in self.writers:
            writer.close()
        return self.shards

    def abort(self) -> None:
        """Drop open shards (published ones stay as orphans for gc)."""
        for writer in self.writers:
            writer.abort()
