#!/usr/bin/env bash
# Rebuild the bundled learned phase family `phase` (issue #23) from scratch, on the CPU, in one command:
#   CSPEC_DATA=../shared/data bash recipes/phase/rebuild.sh
# Steps and their time on the 2-core development machine:
#   1. the Opus decode cache of speech_read (46 s)
#   2. recipes/phase/nspp128.yaml and nspp256.yaml side by side, one thread each, 12000 steps
#      (about 75 and 45 min)
#   3. benchmarks/phase_retrieval.py --learned on the read-test and dev clips (about 15 min), into RESULTS.md
#   4. recipes/phase/bundle.py: the model folders into src/cspec/pretrained/phase/ and the card
# About 2.5 CPU-hours in all. The trainings resume (cspec train --resume) when the script is run again.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
CSPEC=${CSPEC:-.venv/bin/cspec}
export CSPEC_DATA="${CSPEC_DATA:-../shared/data}"
export OMP_NUM_THREADS=1
"$PY" recipes/read/decode_cache.py
"$CSPEC" train recipes/phase/nspp128.yaml --resume &
"$CSPEC" train recipes/phase/nspp256.yaml --resume &
wait
# the runs' models as a family folder for the benchmark, then the measurements the card quotes
FAM=runs/phase/family
mkdir -p "$FAM"
ln -sfn ../nspp128/model "$FAM/hann512-128"
ln -sfn ../nspp256/model "$FAM/hann512-256"
"$PY" benchmarks/phase_retrieval.py --clips read-test --n-clips 20 --learned "$FAM" --learned-iters 0 8 16 32 \
  --threads 1 --out benchmarks/RESULTS.md
"$PY" benchmarks/phase_retrieval.py --clips dev --learned "$FAM" --learned-iters 0 8 16 32 --threads 1 \
  --enhanced default --out benchmarks/RESULTS.md
"$PY" recipes/phase/bundle.py --runs runs/phase/nspp128 runs/phase/nspp256
