#!/usr/bin/env bash
# `make demo`: synth -> ingest -> status -> verify -> train -> predict on a small generated corpus,
# everything under $1 (default demo-out/). Rerunning resumes: the corpus and committed chunks are reused.
set -euo pipefail
out=${1:-demo-out}
corpus="$out/corpus"
lake="$out/lake"
runs="$out/runs"
mkdir -p "$out"

step() { printf '\n== %s\n' "$*"; }

if [ ! -f "$corpus/.complete" ]; then
  step "synth: a small DFDC-shaped corpus with real faces and every hard case -> $corpus"
  rm -rf "$corpus"
  dfdc-lake synth "$corpus" --profile tiny --parts 2 --families ${DEMO_FAMILIES:-8} --seed 0
  touch "$corpus/.complete"
else
  step "synth: reusing $corpus"
fi
ls "$corpus"

step "ingest: $corpus -> $lake (local Ray; rerun resumes)"
dfdc-lake ingest "$corpus" "$lake"

step "status"
dfdc-lake status "$lake"

step "verify"
dfdc-lake verify "$lake"

step "train: Ray Train on the lake's committed shards -> $runs"
dfdc-lake train "$lake" --storage-path "$runs" --name demo ${DEMO_TRAIN_ARGS:-}

step "predict: score the corpus's part 1 videos as raw files -> $out/submission.csv"
dfdc-lake predict "$runs/demo" --folder "$corpus/dfdc_train_part_1" --out "$out/submission.csv"
head -5 "$out/submission.csv"
