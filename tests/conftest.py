"""Shared fixtures: a tiny synthetic DFDC corpus, a real S3 server (SeaweedFS) and one local Ray cluster.

Each lives in its own module under tests/fixtures/ and is session-scoped, so the suite generates the
corpus once, starts ``weed`` once and starts Ray once.
"""

import os

# Ray 2.60 token auth: `ray start --head` turns it on once ~/.ray/auth_token exists, and a client sends
# the token only in token mode. Ray reads the mode when it is first imported, so it is set here, before
# any test module can import ray; tests.fixtures.ray_cluster makes sure the token exists.
os.environ.setdefault("RAY_AUTH_MODE", "token")

pytest_plugins = [
    "tests.fixtures.corpus",
    "tests.fixtures.s3",
    "tests.fixtures.ray_cluster",
    "tests.fixtures.hostile",
]
