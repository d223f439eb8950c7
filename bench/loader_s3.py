"""bench/loader.py with both layouts on a real S3 server: SeaweedFS ``weed mini`` on loopback.

Starts the server the way the test suite does (``tests/fixtures/s3.py``), creates a bucket, points the
AWS variables at it and runs ``bench/loader.py --root s3://bench/layout`` with the remaining options;
the lake is copied into the bucket first, so lake and files are read from the same store.

    python bench/loader_s3.py --lake demo-out/lake --passes 3
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    sys.path.insert(0, str(REPO))
    import s3fs

    from tests.fixtures.s3 import S3Server, find_weed

    server = S3Server(weed=find_weed(), root=Path(tempfile.mkdtemp(prefix="dfdc-bench-s3-")))
    server.start()
    try:
        aws = {
            "AWS_ACCESS_KEY_ID": server.access_key,
            "AWS_SECRET_ACCESS_KEY": server.secret_key,
            "AWS_ENDPOINT_URL": server.endpoint_url,
            "AWS_DEFAULT_REGION": server.region,
            "AWS_REGION": server.region,
        }
        fs = s3fs.S3FileSystem(
            key=server.access_key,
            secret=server.secret_key,
            client_kwargs={"endpoint_url": server.endpoint_url, "region_name": server.region},
        )
        fs.mkdir("bench")
        command = [
            sys.executable,
            str(REPO / "bench" / "loader.py"),
            "--root",
            "s3://bench/layout",
            *sys.argv[1:],
        ]
        print(f"S3 server {server.endpoint_url}: {' '.join(command[1:])}", flush=True)
        return subprocess.run(command, env={**os.environ, **aws}, check=False).returncode
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
