"""Train the audio-visual detector from a lake on a Ray cluster.

    ray job submit --working-dir . -- python pipelines/train.py s3://lake --storage-path s3://runs --num-workers 8 --use-gpu
    python pipelines/train.py ./lake --storage-path ./runs          # local Ray on this machine

Joins the cluster named by --address or RAY_ADDRESS (set by `ray job submit`); starts a local Ray
otherwise. Rerunning the same command (same --storage-path and --name) resumes from the last checkpoint.
"""

import sys

from dfdc_lake.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("train", prog="pipelines/train.py"))
