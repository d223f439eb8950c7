#!/usr/bin/env bash
# The one command to run on the GPU machine (one H200, 16 cores, python 3.12 with torch, no network,
# no Ray): installs the wheels found in .whl/, checks the imports, then runs bench/gpu.py on CUDA.
#
#   bash bench/gpu.sh                          # report: ${OUT:-bench-out}/gpu.json, tables on stdout
#   GPU_BENCH_INSTALL_ONLY=1 bash bench/gpu.sh # install .whl/*.whl into /tmp/site and stop
#   GPU_BENCH_ARGS="--quick" bash bench/gpu.sh # extra arguments for bench/gpu.py
#
# Wheels: the machine cannot reach a package index, so download them here (CPython 3.12, x86_64) into
# .whl/ at the repo root; the working tree travels to the machine, 64 MiB at most in all, so split
# them over two runs made while the machine stays warm (/tmp/site survives between the two):
#
#   W="pip download --only-binary=:all: --no-deps --python-version 3.12 --platform manylinux2014_x86_64 -d .whl"
#   run 1 (GPU_BENCH_INSTALL_ONLY=1; ~45 MiB):
#     $W "av>=12"                                          # probing, the synthetic corpus, PyAV decoders
#     $W pydantic pydantic-core annotated-types typing-inspection typing-extensions   # dfdc_lake.config
#     $W facenet-pytorch==2.5.3                            # --no-deps: it pins an old torch; MTCNN weights inside
#     $W fsspec                                            # dfdc_lake.source.storage
#   run 2 (empty .whl/ of run 1 first; ~25 MiB), then the benchmark:
#     $W --platform manylinux2010_x86_64 decord==0.6.0     # the ingest's decoder (py3-none wheel)
#     $W PyNvVideoCodec                                    # NVDEC; optional, reported unavailable if absent
#     $W torchcodec                                        # optional; must match the machine's torch
# torch, torchvision, torchaudio, numpy and pillow are expected on the machine; the check below says
# which import is missing before any device time is spent on the benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"
OUT="${OUT:-bench-out}"

shopt -s nullglob
wheels=(.whl/*.whl)
if ((${#wheels[@]})); then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "${wheels[@]}"
fi
if [[ -d /tmp/site ]]; then
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
if [[ -n "${GPU_BENCH_INSTALL_ONLY:-}" ]]; then
    echo "installed ${#wheels[@]} wheel(s) into /tmp/site"
    exit 0
fi

python3 - <<'EOF'
import importlib, sys
required = ["torch", "torchvision", "torchaudio", "numpy", "PIL", "pydantic", "fsspec", "av", "decord",
            "facenet_pytorch", "dfdc_lake.stages.family"]
optional = ["PyNvVideoCodec", "torchcodec"]
missing = []
for name in required + optional:
    try:
        importlib.import_module(name)
    except Exception as err:
        print(f"{'missing' if name in required else 'optional, absent'}: {name} ({type(err).__name__}: {err})")
        missing += [name] if name in required else []
import torch
print(f"python {sys.version.split()[0]}, torch {torch.__version__}, cuda {torch.cuda.is_available()}")
sys.exit(3 if missing or not torch.cuda.is_available() else 0)
EOF

mkdir -p "$OUT"
# shellcheck disable=SC2086  # GPU_BENCH_ARGS is a list of words on purpose
python3 bench/gpu.py --device cuda --out "$OUT/gpu.json" --work bench-out ${GPU_BENCH_ARGS:-}
