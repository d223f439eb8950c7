"""The lake: where samples are stored, and the protocol that makes them visible (docs/lake-format.md).

- ``lake``: the :class:`~dfdc_lake.lake.lake.Lake` handle, opened once per command from a URL and
  passed to everything that touches the lake (typed commit and run records, committed shard URLs,
  filesystems, the lock, the manifest). Only it picks a storage backend for a URL.
- ``storage`` (+ ``local_storage``, ``s3_storage``): the bytes of a lake root on local disk or
  ``s3://``: atomic writes and conditional puts. The backends import ``storage``, never the reverse.
- ``schema``, ``wds_format``: the versioned row schema and its WebDataset layout.
- ``shard``, ``writers``: size-bounded Parquet / WebDataset shard writers, ``ChunkWriter``.
- ``commit``, ``runs``, ``lock``: commit records (the last write), run records, the lake lock.
- ``reader``: the one reader of committed shards (training, tests and benchmarks alike).
- ``status``, ``verify``: what ``dfdc-lake status``, ``verify`` and ``gc`` compute (their CLI is in ``cli/``).

Nothing is imported here, so importing one module of the lake stays cheap.
"""
