#!/usr/bin/env bash
# Rebuild the bundled generative enhancer `generative` (issue #24) from scratch, on the CPU, in one command:
#   CSPEC_DATA=../shared/data bash recipes/generative/rebuild.sh
# Steps (times on the 2-core development machine, the two trainings side by side on one thread each):
#   1. the Opus decode cache of speech_read; Debian's sound packages as noise; the sentence dev set
#   2. FlowSE and its predictive twin: 800 steps each from scratch (about 2 h at 8 s a step with both running),
#      then FlowSE 800 more from its weights at lr 3e-4 (about 40 min at 2.8 s a step); the twin stays at 800
#   3. benchmarks/generative.py: both models at 1, 2, 4, 8 and 30 passes on 6 dev pairs and 6 sentence pairs
#   4. recipes/generative/bundle.py: FlowSE at 2 passes (its best on both sets) into src/cspec/pretrained/generative/ with its card
# The trainings resume (cspec train --resume) when the script is run again.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
CSPEC=${CSPEC:-.venv/bin/cspec}
export CSPEC_DATA="${CSPEC_DATA:-../shared/data}"
export CSPEC_DEBIAN_NOISE="${CSPEC_DEBIAN_NOISE:-$HOME/.cache/cspec/debian-noise-v2}"
export OMP_NUM_THREADS=1
SENT="$HOME/.cache/cspec/dev-sentences"
"$PY" recipes/read/decode_cache.py
[ -f "$CSPEC_DEBIAN_NOISE/manifest.csv" ] || "$PY" recipes/pool/debian_noise.py --out "$CSPEC_DEBIAN_NOISE"
[ -f "$HOME/.cache/cspec/debian-noise-new/manifest.csv" ] || \
  "$PY" recipes/pool/debian_noise.py --out "$HOME/.cache/cspec/debian-noise-new" --only new
[ -d "$SENT" ] || "$PY" recipes/read/dev_sentences.py --noise "$HOME/.cache/cspec/debian-noise-new" --out "$SENT"
for m in flowse predictive; do
  "$CSPEC" train "recipes/generative/$m.yaml" --resume &
done
wait
"$CSPEC" train recipes/generative/flowse.yaml model.init=runs/generative/flowse/model trainer.max_steps=800 \
  optim.lr=0.0003 schedule.warmup_steps=50 seed=25 --out runs/generative/flowse-b --resume
"$PY" benchmarks/generative.py --model flowse=runs/generative/flowse-b/model \
  --model predictive=runs/generative/predictive/model --steps 1 2 4 8 30 \
  --sets "dev=$CSPEC_DATA/dev_pairs" "sentences=$SENT" --max-pairs 6 --out benchmarks/RESULTS.md
"$PY" recipes/generative/bundle.py --run runs/generative/flowse-b --steps 2 --twin runs/generative/predictive
