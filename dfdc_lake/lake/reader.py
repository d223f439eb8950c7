"""The one reader of committed shards, used by training, ``predict``'s tests and the benchmarks alike.

Shards are found through commit records (:meth:`Lake.shard_urls`, never a listing of ``chunks/``)
and streamed over a pyarrow filesystem, shard after shard, without local copies:
- Parquet: record batches of the wanted columns, read ahead in a thread, turned into rows whose
  crops stay zero-copy Arrow buffers (:func:`arrow_rows`);
- WebDataset: tars parsed by ``tar_stream`` into the same rows as Parquet (same keys).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from dfdc_lake.io.read_ahead import read_ahead
from dfdc_lake.lake.schema import projected_schema, sample_schema, with_current_columns

if TYPE_CHECKING:
    from dfdc_lake.lake.lake import Lake

__all__ = ["ArrowCrops", "ShardReader", "arrow_rows", "read_samples_table"]


class ArrowCrops(Sequence[Any]):
    """A row's crops as zero-copy Arrow buffers: only the crops a sample picks are ever copied."""

    def __init__(self, values: Any) -> None:
        self._values = values  # pyarrow.BinaryArray

    def __len__(self) -> int:
        return len(self._values)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self._values[int(index)].as_buffer()


def arrow_rows(batch: Any) -> list[dict[str, Any]]:
    """Rows of an Arrow record batch or table, crops as :class:`ArrowCrops`, spectrograms as buffers.

    Like ``to_pylist`` but without copying every crop and spectrogram into Python ``bytes``: a row
    holds all of its track's crops (~30) and a training sample decodes only a few of them.
    """
    heavy = [name for name in ("crops_jpeg", "logmel_f16") if name in batch.column_names]
    rows: list[dict[str, Any]] = batch.drop_columns(heavy).to_pylist()
    if "crops_jpeg" in heavy:
        crops = batch.column("crops_jpeg")
        for row, track_crops in zip(rows, crops, strict=True):
            row["crops_jpeg"] = ArrowCrops(track_crops.values)
    if "logmel_f16" in heavy:
        mels = batch.column("logmel_f16")
        for row, mel in zip(rows, mels, strict=True):
            row["logmel_f16"] = mel.as_buffer() if mel.is_valid else None
    return rows


@dataclass
class ShardReader:
    """Streams rows out of committed shards of one format (picklable: safe to send to Ray workers).

    Args:
        filesystem: a pyarrow filesystem (``Lake.arrow_filesystem()[0]``).
        fmt: ``"parquet"`` or ``"webdataset"``.
        columns: Parquet columns to read (None: all); WebDataset rows always hold every field.
        batch_rows: rows per Parquet record batch.
        read_ahead_batches: Parquet record batches read ahead in a background thread (README,
            Benchmarks: it pays where requests wait on the network; on local disk it changes nothing).
    """

    filesystem: Any
    fmt: str = "parquet"
    columns: list[str] | None = None
    batch_rows: int = 64
    read_ahead_batches: int = 2

    @classmethod
    def of(cls, lake: Lake, fmt: str = "parquet", **options: Any) -> ShardReader:
        """A reader over ``lake``'s filesystem."""
        return cls(lake.arrow_filesystem()[0], fmt, **options)

    def parquet_batches(self, paths: list[str]) -> Iterator[pa.RecordBatch]:
        """Record batches of Parquet shards, in order, read ahead."""
        import pyarrow.parquet as pq

        def batches() -> Iterator[pa.RecordBatch]:
            for path in paths:
                with self.filesystem.open_input_file(path) as handle:
                    shard = pq.ParquetFile(handle)
                    present = set(shard.schema_arrow.names)
                    wanted = self.columns or sample_schema().names
                    read = [name for name in wanted if name in present]
                    for batch in shard.iter_batches(batch_size=self.batch_rows, columns=read):
                        # An older shard lacks the newer columns: they come back null.
                        yield with_current_columns(batch, wanted)

        if self.read_ahead_batches <= 0:
            return batches()
        return read_ahead(batches(), self.read_ahead_batches, name="parquet-read-ahead")

    def webdataset_rows(self, paths: list[str]) -> Iterator[dict[str, Any]]:
        """Rows of WebDataset tars, one tar after another, parsed by ``tar_stream``."""
        from dfdc_lake.lake.tar_stream import iter_tar_samples
        from dfdc_lake.lake.wds_format import members_to_row

        for path in paths:
            with self.filesystem.open_input_stream(path) as stream:
                for sample in iter_tar_samples(stream, path):
                    yield members_to_row(sample)

    def rows(self, paths: list[str]) -> Iterator[dict[str, Any]]:
        """Rows of the shards at ``paths`` (in the filesystem's terms), in order."""
        if self.fmt == "webdataset":
            yield from self.webdataset_rows(paths)
            return
        for batch in self.parquet_batches(paths):
            yield from arrow_rows(batch)


def read_samples_table(
    lake: Lake, columns: list[str] | None = None, config_hash: str | None = None
) -> pa.Table:
    """Every committed Parquet row as one table with the sample schema (empty table for an empty lake).

    Args:
        lake: the lake.
        columns: a subset of columns to read (default: all).
        config_hash: only chunks committed with this config (default: all).
    """
    schema = projected_schema(columns)
    reader = ShardReader.of(lake, "parquet", columns=columns, read_ahead_batches=0, batch_rows=1 << 16)
    paths = lake.shard_paths("parquet", config_hash=config_hash)
    batches = [batch.cast(schema) for batch in reader.parquet_batches(paths)]
    return pa.Table.from_batches(batches, schema=schema)
