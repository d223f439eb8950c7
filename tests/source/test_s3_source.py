"""The catalog and clip reads against a real S3 server (SeaweedFS): part folders and a part archive."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dfdc_lake.source.catalog import load_catalog
from dfdc_lake.source.storage import read_bytes, read_clip
from tests.source.layouts import FAMILY_META, write_part_folder, write_part_zip

pytestmark = pytest.mark.s3


def test_s3_source_with_folder_and_archive(s3_env, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    local = tmp_path / "src"
    write_part_folder(local, 0)
    write_part_zip(local, 1, {"zipclipaaa.mp4": {"label": "REAL", "original": None}}, missing=())
    bucket = s3_env.make_bucket()
    s3_env.filesystem().put(str(local) + "/", f"{bucket}/dfdc/", recursive=True)
    caplog.set_level(logging.DEBUG)

    catalog = load_catalog(f"s3://{bucket}/dfdc/")

    assert catalog.parts == [0, 1] and len(catalog) == len(FAMILY_META) + 1
    for entry in catalog.entries:
        if entry.size_bytes is None:
            assert entry.filename == "missingeee.mp4"
            with pytest.raises(FileNotFoundError):
                read_bytes(entry.url)
            with pytest.raises(FileNotFoundError):
                read_clip(entry.url)
        else:
            assert read_bytes(entry.url) == entry.filename.encode() * 10
            assert read_clip(entry.url) == entry.filename.encode() * 10  # objects are read whole
    (zipped,) = [e for e in catalog.entries if e.part == 1]
    assert zipped.url == f"zip://dfdc_train_part_1/zipclipaaa.mp4::s3://{bucket}/dfdc/dfdc_train_part_1.zip"
    assert s3_env.secret_key not in caplog.text
