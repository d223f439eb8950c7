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
    from tests.fixtures.s3 import S3Server, find_weed

    server = S3Server(weed=find_weed(), root=Path(tempfile.mkdtemp(prefix="dfdc-bench-s3-")))
    server.start()
    try:
        bucket = server.make_bucket("bench")
        loader = [str(REPO / "bench" / "loader.py"), "--root", f"s3://{bucket}/layout", *sys.argv[1:]]
        print(f"S3 server {server.endpoint_url}: {' '.join(loader)}", flush=True)
        result = subprocess.run([sys.executable, *loader], env={**os.environ, **server.env()}, check=False)
        return result.returncode
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
