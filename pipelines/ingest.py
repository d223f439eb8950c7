"""Ingest DFDC into a lake on a Ray cluster.

    ray job submit --working-dir . -- python pipelines/ingest.py s3://dfdc s3://lake
    ray submit docker/cluster.yaml pipelines/ingest.py -- s3://dfdc s3://lake
    python pipelines/ingest.py ./dfdc ./lake            # local Ray on this machine

Joins the cluster named by --address or RAY_ADDRESS (set by `ray job submit`); starts a local Ray
otherwise. Rerunning the same command resumes: committed chunks are skipped.
"""

import sys

from dfdc_lake.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("ingest", prog="pipelines/ingest.py"))
