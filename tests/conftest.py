"""Shared fixtures: a tiny synthetic DFDC corpus, a real S3 server (SeaweedFS) and one local Ray cluster.

Each lives in its own module under tests/fixtures/ and is session-scoped, so the suite generates the
corpus once, starts ``weed`` once and starts Ray once.
"""

pytest_plugins = [
    "tests.fixtures.corpus",
    "tests.fixtures.s3",
    "tests.fixtures.ray_cluster",
    "tests.fixtures.hostile",
]
