"""The lake: where samples are stored, and the protocol that makes them visible (docs/lake-format.md).

- ``storage`` (+ ``local_storage``, ``s3_storage``): one storage layer for local paths and ``s3://``,
  atomic writes and conditional puts; retries and S3 settings (with secret redaction) are in
  ``dfdc_lake.io``, shared with the source reader.
- ``schema``, ``wds_format``: the versioned row schema and its WebDataset layout.
- ``shard``, ``writers``: size-bounded Parquet / WebDataset shard writers, ``ChunkWriter``.
- ``commit``, ``runs``, ``lock``: commit records (the last write), run records, the lake lock.
- ``reader``: committed shards for training (never a listing of ``chunks/``).
- ``status``, ``verify``, ``commands``: the ``status`` / ``verify`` / ``gc`` commands.

Nothing is imported here, so ``import dfdc_lake.lake.commands`` stays cheap.
"""
