"""Score a DFDC submission CSV (filename,label = P(fake)) against a part's metadata.json: log loss, AUC."""

import csv
import json
import math
import sys


def main(submission: str, metadata: str) -> int:
    with open(metadata) as f:
        labels = {name: entry["label"] == "FAKE" for name, entry in json.load(f).items()}
    with open(submission, newline="") as f:
        rows = [(row["filename"], float(row["label"])) for row in csv.DictReader(f)]
    scored = [(p, labels[name]) for name, p in rows if name in labels]
    loss = -sum(math.log(p if fake else 1 - p) for p, fake in scored) / len(scored)
    fakes = [p for p, fake in scored if fake]
    reals = [p for p, fake in scored if not fake]
    pairs = sum((f > r) + 0.5 * (f == r) for f in fakes for r in reals)
    auc = pairs / (len(fakes) * len(reals)) if fakes and reals else float("nan")
    accuracy = sum((p >= 0.5) == fake for p, fake in scored) / len(scored)
    print(
        f"held-out submission: {len(scored)} videos ({len(fakes)} fake), log loss {loss:.3f}, AUC {auc:.3f}, "
        f"accuracy at 0.5 {accuracy:.3f} (reals called fake: {sum(r >= 0.5 for r in reals)}/{len(reals)}, "
        f"fakes called real: {sum(f < 0.5 for f in fakes)}/{len(fakes)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
