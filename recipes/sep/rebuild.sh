#!/usr/bin/env bash
# Rebuild the bundled separator `sep2` (issue #22) from scratch, on the CPU, in one command:
#   CSPEC_DATA=../shared/data bash recipes/sep/rebuild.sh
# Steps:
#   1. the Opus decode cache of speech_read; Debian's sound packages as noise (train rows for training, the
#      held-out rows for the test set); the fixed-seed test set of the `test` speakers
#   2. recipes/sep/sep2.yaml on one thread (10000 steps at about 0.5 s a step alone on the 2-core development
#      machine: about 1.5 h; it resumes when the script is run again)
#   3. benchmarks/separation.py (test mixtures, oracle masks beside) and benchmarks/separation_long.py (the
#      10-minute turn-taking file and a 1-hour file), into benchmarks/RESULTS.md
#   4. recipes/sep/bundle.py: the model into src/cspec/pretrained/sep2/, its ONNX export and the card
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
CSPEC=${CSPEC:-.venv/bin/cspec}
export CSPEC_DATA="${CSPEC_DATA:-../shared/data}"
export CSPEC_DEBIAN_NOISE="${CSPEC_DEBIAN_NOISE:-$HOME/.cache/cspec/debian-noise-v2}"
export OMP_NUM_THREADS=1
TEST="$HOME/.cache/cspec/sep-test"
"$PY" recipes/read/decode_cache.py
[ -f "$CSPEC_DEBIAN_NOISE/manifest.csv" ] || "$PY" recipes/pool/debian_noise.py --out "$CSPEC_DEBIAN_NOISE"
[ -f "$HOME/.cache/cspec/debian-noise-new/manifest.csv" ] || \
  "$PY" recipes/pool/debian_noise.py --out "$HOME/.cache/cspec/debian-noise-new" --only new
[ -f "$TEST/manifest.csv" ] || "$PY" recipes/sep/test_set.py --out "$TEST" --noise "$HOME/.cache/cspec/debian-noise-new"
"$CSPEC" train recipes/sep/sep2.yaml --resume
"$PY" benchmarks/separation.py --test "$TEST" --model sep2=runs/sep/sep2/model --out benchmarks/RESULTS.md
"$PY" benchmarks/separation_long.py --model runs/sep/sep2/model --out benchmarks/RESULTS.md
"$PY" recipes/sep/bundle.py --run runs/sep/sep2 --test "$TEST"
