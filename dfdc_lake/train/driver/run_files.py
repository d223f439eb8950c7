"""The files a training run keeps next to its checkpoints, on local disk or S3.

``RUN = STORAGE_PATH/NAME``. Ray Train writes ``RUN/epoch_NNNN/`` checkpoints; we add ``run.json``
(settings, lake, imbalance choice), ``folds.json`` and ``metrics.jsonl``. The pyarrow filesystem comes
from :func:`dfdc_lake.io.urls.arrow_filesystem`, the one handed to Ray (``RunConfig.storage_filesystem``)
and to the workers, so S3 endpoint and credentials travel with it.
"""

from __future__ import annotations

import json
import os
import posixpath
from dataclasses import dataclass
from typing import Any

from dfdc_lake.errors import StorageError
from dfdc_lake.io.urls import arrow_filesystem

__all__ = ["RunFiles"]


@dataclass
class RunFiles:
    """Small text files of one run directory (picklable: safe to send to Ray workers)."""

    filesystem: Any  # pyarrow.fs.FileSystem
    root: str  # the run directory in the filesystem's terms
    url: str  # the run directory as the user wrote it (for messages)

    @classmethod
    def open(cls, storage_path: str, name: str) -> RunFiles:
        """The run directory ``storage_path/name``."""
        filesystem, base = arrow_filesystem(storage_path)
        return cls(filesystem, posixpath.join(base, name), f"{storage_path.rstrip('/')}/{name}")

    def path(self, rel: str) -> str:
        return posixpath.join(self.root, rel)

    def exists(self, rel: str) -> bool:
        import pyarrow.fs as pafs

        return self.filesystem.get_file_info(self.path(rel)).type != pafs.FileType.NotFound

    def read_bytes(self, rel: str) -> bytes | None:
        """The file's bytes, or None when it does not exist."""
        if not self.exists(rel):
            return None
        with self.filesystem.open_input_stream(self.path(rel)) as stream:
            return bytes(stream.read())

    def read_text(self, rel: str) -> str | None:
        """The file's text, or None when it does not exist."""
        data = self.read_bytes(rel)
        return None if data is None else data.decode()

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write a whole file atomically: temp name then rename locally, a single PUT on S3.

        A reader (or a run restarted after a kill) sees the old file or the new one, never a part.
        """
        import pyarrow.fs as pafs

        target = self.path(rel)
        try:
            self.filesystem.create_dir(posixpath.dirname(target), recursive=True)
            if isinstance(self.filesystem, pafs.LocalFileSystem):
                tmp = f"{target}.tmp-{os.getpid()}"
                with self.filesystem.open_output_stream(tmp) as stream:
                    stream.write(data)
                self.filesystem.move(tmp, target)
            else:
                with self.filesystem.open_output_stream(target) as stream:
                    stream.write(data)
        except OSError as err:
            raise StorageError(f"cannot write {self.url}/{rel}: {err}") from err

    def write_text(self, rel: str, text: str) -> None:
        """Write a whole text file (see ``write_bytes``)."""
        self.write_bytes(rel, text.encode())

    def write_json(self, rel: str, payload: Any) -> None:
        self.write_text(rel, json.dumps(payload, indent=1, sort_keys=True, default=str) + "\n")

    def read_jsonl(self, rel: str) -> list[dict[str, Any]]:
        text = self.read_text(rel) or ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def write_jsonl(self, rel: str, records: list[dict[str, Any]]) -> None:
        self.write_text(rel, "".join(json.dumps(r, sort_keys=True) + "\n" for r in records))

    def dir_exists(self, rel: str) -> bool:
        import pyarrow.fs as pafs

        return self.filesystem.get_file_info(self.path(rel)).type == pafs.FileType.Directory
