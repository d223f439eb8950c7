#!/usr/bin/env bash
# `make demo`: synth -> ingest -> status -> verify -> report -> sql -> train -> predict on a small
# generated corpus, everything under $1 (default demo-out/). Rerunning resumes: the corpora, committed
# chunks and the trained run are reused.
set -euo pipefail
out=${1:-demo-out}
corpus="$out/corpus"
heldout="$out/heldout"
lake="$out/lake"
runs="$out/runs"
families=${DEMO_FAMILIES:-30}
mkdir -p "$out"

step() { printf '\n== %s\n' "$*"; }

synth() {  # synth DIR ARGS...: generate once, reuse afterwards
  local dir=$1; shift
  if [ ! -f "$dir/.complete" ]; then
    rm -rf "$dir"
    dfdc-lake synth "$dir" "$@"
    touch "$dir/.complete"
  else
    echo "reusing $dir"
  fi
}

step "synth: a DFDC-shaped corpus (real faces, face/voice/both fakes, every hard case) -> $corpus"
synth "$corpus" --profile tiny --parts 2 --families "$families" --seed 0

step "ingest: $corpus -> $lake (a private local Ray; a rerun skips committed chunks)"
dfdc-lake ingest "$corpus" "$lake" --address local

step "status"
dfdc-lake status "$lake"

step "verify"
dfdc-lake verify "$lake"

step "report: a static HTML report of the lake (open it from disk) -> $out/report/index.html"
dfdc-lake report "$lake" --out "$out/report"

step "sql: face tracks by label and per-modality labels (DuckDB over the committed shards)"
dfdc-lake sql "$lake" "SELECT label, face_fake, audio_fake, count(*) AS tracks,
  count(DISTINCT family_id) AS families, round(avg(len(frame_indices)), 1) AS crops_per_track
  FROM samples GROUP BY ALL ORDER BY ALL"

step "train: Ray Train on the lake's committed shards, folds by family -> $runs/demo"
dfdc-lake train "$lake" --storage-path "$runs" --name demo --address local ${DEMO_TRAIN_ARGS:-}

step "predict: score a held-out corpus (another seed, never ingested) as raw videos"
synth "$heldout" --profile tiny --parts 1 --families 8 --seed 1 --cases none
dfdc-lake predict "$runs/demo" --folder "$heldout/dfdc_train_part_0" --out "$out/submission.csv"
head -4 "$out/submission.csv"
python scripts/score_submission.py "$out/submission.csv" "$heldout/dfdc_train_part_0/metadata.json"
