#!/usr/bin/env bash
# Rebuild the bundled separator `sep2` (issue #22) from scratch, on the CPU, in one command:
#   CSPEC_DATA=../shared/data bash recipes/sep/rebuild.sh
# Steps:
#   1. the Opus decode cache of speech_read; Debian's sound packages as noise (train rows for training, the
#      held-out rows for the test set); the fixed-seed test set of the `test` speakers
#   2. recipes/sep/sep2.yaml on one thread (10000 steps at about 0.5 s a step alone on the 2-core development
#      machine: about 1.5 h), then its four continuations of recipes/sep/lineage.md (attempts 4-7: 10000 steps,
#      6000 with turn-taking mixtures, 5000 + 3500 with one talker alone and the thresholded SI-SDR; about 3.2 h);
#      each stage resumes when the script is run again
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
"$CSPEC" train recipes/sep/sep2.yaml model.init=runs/sep/sep2/model optim.lr=8e-4 schedule.warmup_steps=200 \
  trainer.max_steps=10000 seed=24 --out runs/sep/sep2-c --resume
"$CSPEC" train recipes/sep/sep2.yaml model.init=runs/sep/sep2-c/model data.train.sim.p_partial_overlap=0.5 \
  optim.lr=0.0005 schedule.warmup_steps=200 trainer.max_steps=6000 seed=26 --out runs/sep/sep2-d --resume
"$CSPEC" train recipes/sep/sep2.yaml model.init=runs/sep/sep2-d/model 'loss.weights={thresholded_si_sdr: 1.0}' \
  'loss.options={}' data.train.sim.p_single=0.2 data.train.sim.p_partial_overlap=0.5 optim.lr=0.0005 \
  schedule.warmup_steps=200 trainer.max_steps=5000 seed=27 --out runs/sep/sep2-e --resume
"$CSPEC" train recipes/sep/sep2.yaml model.init=runs/sep/sep2-e/model 'loss.weights={thresholded_si_sdr: 1.0}' \
  'loss.options={}' data.train.sim.p_single=0.2 data.train.sim.p_partial_overlap=0.5 optim.lr=0.0004 \
  schedule.warmup_steps=100 trainer.max_steps=3500 seed=31 --out runs/sep/sep2-f --resume
"$PY" benchmarks/separation.py --test "$TEST" --model sep2-a=runs/sep/sep2/model --model sep2-e=runs/sep/sep2-e/model \
  --model sep2-f=runs/sep/sep2-f/model --out benchmarks/RESULTS.md
"$PY" benchmarks/separation_long.py --model runs/sep/sep2-f/model --out benchmarks/RESULTS.md
"$PY" recipes/sep/bundle.py --run runs/sep/sep2-f --test "$TEST"
