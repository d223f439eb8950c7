"""The report tests run on local disk and on the real S3 server, as the lake tests do."""

from tests.lake.conftest import lake, lake_url, storage

__all__ = ["lake", "lake_url", "storage"]
