"""What a fresh local Ray costs an ingest before and after its work: ``plan``'s ``RAY_STARTUP_S``.

    python bench/ray_startup.py --repeat 3

Each repeat runs in a fresh interpreter (as ``dfdc-lake ingest`` does): ``import ray``, ``ray.init`` of
a private local cluster (``connect_ray("local")``), one no-op task on a new worker process (its start
and its ``import ray``), ``ray.shutdown``. What a family task then does before its first clip (import
torch, load MTCNN, the first detection calls on a frame size) is not here: ``plan`` measures it itself,
as ``ClipCosts.setup_s``, and adds it to this. Run it on a quiet machine (``uptime`` load under 2).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

ONE_START = """
import json, time
t0 = time.perf_counter()
import ray
from dfdc_lake.ray_cluster import connect_ray
t1 = time.perf_counter()
connect_ray("local")
t2 = time.perf_counter()
ray.get(ray.remote(lambda: 1).remote())
t3 = time.perf_counter()
ray.shutdown()
t4 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "init_s": t2 - t1, "first_task_s": t3 - t2,
                  "shutdown_s": t4 - t3, "total_s": t4 - t0}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh starts to time (default 3)")
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeat):
        out = subprocess.run(
            [sys.executable, "-c", ONE_START], check=True, capture_output=True, text=True
        ).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
        print(json.dumps({k: round(v, 2) for k, v in runs[-1].items()}), flush=True)
    load = os.getloadavg()
    median = {k: round(statistics.median(r[k] for r in runs), 2) for k in runs[0]}
    print(json.dumps({"median": median, "repeats": len(runs), "loadavg": [round(x, 2) for x in load]}))


if __name__ == "__main__":
    main()
