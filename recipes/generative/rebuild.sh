#!/usr/bin/env bash
# Rebuild the bundled generative enhancer `generative` (issue #24) from scratch, on the CPU, in one command:
#   CSPEC_DATA=../shared/data bash recipes/generative/rebuild.sh
# Steps (times on the 2-core development machine, two trainings side by side on one thread each):
#   1. the Opus decode cache of speech_read; Debian's sound packages as noise; the sentence dev set
#   2. FlowSE and the predictive twin: 800 steps each from scratch (about 2 h at 8 s a step with both running)
#   3. side by side, each 800 more steps at lr 3e-4 (about 25-30 min at 1.8-2.8 s a step):
#      the twin from its weights (1600 in all); the Schrodinger bridge from the twin's 800-step weights (the twin's
#      pass net([y, y], t=1) is the bridge's first, so 800 + 800 steps: the twin's budget); then FlowSE from its
#      weights (1600 in all, about 40 min), for the table
#   4. benchmarks/generative.py: the three at 1, 2, 4, 8 and 30 passes on 6 dev pairs and 6 sentence pairs
#   5. side by side: the bridge's 2-pass sampler trained end to end (crp_steps=2, the second stage of Lay et al.
#      2023), 400 steps at lr 2e-4 and 400 more at 1.5e-4 (about 4 s a step: 2 passes forward and back, 55 min);
#      the twin 800 more steps at lr 2e-4 (2400 in all, the budget of the first CRP stage)
#   6. benchmarks/generative.py: both CRP stages and the 2400-step twin at 1, 2 and 4 passes (a second section)
#   7. side by side: a third CRP stage, 400 steps at lr 1.5e-4 (about 4000 plain steps in all); the twin 1600
#      more steps at lr 1.5e-4 (4000 in all: the same budget; about 55 min at 2 s a step)
#   8. benchmarks/generative.py: the third stage and both twins at 1, 2, 4, 8 and 30 passes on all 15 dev pairs
#      and 15 sentence pairs (a third section, about 45 min)
#   9. a fourth CRP stage through the ODE sampler: 400 steps at lr 1.5e-4 (27 min at 4 s a step)
#  10. benchmarks/generative.py: it beside the third stage at 1, 2, 4 and 8 passes, and at 30 (two sections, 40 min)
#  11. a fifth CRP stage through the ODE sampler: 400 steps at lr 1e-4 (27-40 min)
#  12. benchmarks/generative.py: it at 1, 2, 4 and 8 passes (about 20 min)
#  13. a sixth CRP stage through the ODE sampler: 400 steps at lr 1e-4 (44 min at 6.6 s a step on an AMD EPYC
#      beside another run)
#  14. benchmarks/generative.py: it at 1, 2, 4 and 8 passes, beside the 2400-step twin (about 25 min)
#  15. side by side, both from the 4000-step twin (runs/generative/predictive-d): the twin 2400 more steps at lr
#      1e-4 (6400 in all); the bridge's 2-pass ODE sampler trained end to end, 1200 CRP steps at lr 2e-4 (about
#      2400 single-pass steps: the same budget); about 70 min on an Intel Xeon at 1.75 and 2.8 s a step
#  16. benchmarks/generative.py: both at 1, 2, 4 and 8 passes (about 12 min), the CRP bridge at 30 (20 min)
#  17. recipes/generative/bundle.py: the CRP bridge of step 15 at 2 passes (ODE sampler) into
#      src/cspec/pretrained/generative/ (steps 2-14 build the lineage's tables; the bundle needs only the twin's
#      chain, steps 2, 3, 5 and 7, and step 15)
# The trainings resume (cspec train --resume) when the script is run again.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
CSPEC=${CSPEC:-.venv/bin/cspec}
export CSPEC_DATA="${CSPEC_DATA:-../shared/data}"
export CSPEC_DEBIAN_NOISE="${CSPEC_DEBIAN_NOISE:-$HOME/.cache/cspec/debian-noise-v2}"
export OMP_NUM_THREADS=1
SENT="$HOME/.cache/cspec/dev-sentences"
# benchmarks/generative.py on the first N pairs of both dev sets, its section written to benchmarks/RESULTS.md
bench() {
  local n=$1
  shift
  "$PY" benchmarks/generative.py "$@" --sets "dev=$CSPEC_DATA/dev_pairs" "sentences=$SENT" --max-pairs "$n" \
    --out benchmarks/RESULTS.md
}
"$PY" recipes/read/decode_cache.py
[ -f "$CSPEC_DEBIAN_NOISE/manifest.csv" ] || "$PY" recipes/pool/debian_noise.py --out "$CSPEC_DEBIAN_NOISE"
[ -f "$HOME/.cache/cspec/debian-noise-new/manifest.csv" ] || \
  "$PY" recipes/pool/debian_noise.py --out "$HOME/.cache/cspec/debian-noise-new" --only new
[ -d "$SENT" ] || "$PY" recipes/read/dev_sentences.py --noise "$HOME/.cache/cspec/debian-noise-new" --out "$SENT"
for m in flowse predictive; do
  "$CSPEC" train "recipes/generative/$m.yaml" --resume &
done
wait
MORE="trainer.max_steps=800 optim.lr=0.0003 schedule.warmup_steps=50 seed=25"
"$CSPEC" train recipes/generative/predictive.yaml model.init=runs/generative/predictive/model $MORE \
  --out runs/generative/predictive-b --resume &
"$CSPEC" train recipes/generative/sbridge.yaml model.init=runs/generative/predictive/model $MORE \
  --out runs/generative/sbridge-w --resume &
wait
"$CSPEC" train recipes/generative/flowse.yaml model.init=runs/generative/flowse/model $MORE \
  --out runs/generative/flowse-b --resume
bench 6 --model flowse=runs/generative/flowse-b/model \
  --model sbridge=runs/generative/sbridge-w/model --model predictive=runs/generative/predictive-b/model \
  --steps 1 2 4 8 30
CRP="model.options.crp_steps=2 model.options.steps=2 checkpoint.every=100 validation.every=200"
( "$CSPEC" train recipes/generative/sbridge.yaml model.init=runs/generative/sbridge-w/model $CRP optim.lr=0.0002 \
    schedule.warmup_steps=30 trainer.max_steps=400 seed=28 --out runs/generative/sbridge-crp --resume &&
  "$CSPEC" train recipes/generative/sbridge.yaml model.init=runs/generative/sbridge-crp/model $CRP \
    optim.lr=0.00015 schedule.warmup_steps=20 trainer.max_steps=400 seed=29 --out runs/generative/sbridge-crp2 \
    --resume ) &
"$CSPEC" train recipes/generative/predictive.yaml model.init=runs/generative/predictive-b/model optim.lr=0.0002 \
  schedule.warmup_steps=30 trainer.max_steps=800 validation.every=400 seed=30 --out runs/generative/predictive-c \
  --resume &
wait
bench 6 --model crp=runs/generative/sbridge-crp/model \
  --model crp2=runs/generative/sbridge-crp2/model --model predictive-2400=runs/generative/predictive-c/model \
  --steps 1 2 4 --section "## Generative enhancement: the few-step sampler trained end to end"
"$CSPEC" train recipes/generative/sbridge.yaml model.init=runs/generative/sbridge-crp2/model $CRP optim.lr=0.00015 \
  schedule.warmup_steps=20 trainer.max_steps=400 seed=32 --out runs/generative/sbridge-crp3 --resume &
"$CSPEC" train recipes/generative/predictive.yaml model.init=runs/generative/predictive-c/model optim.lr=0.00015 \
  schedule.warmup_steps=30 trainer.max_steps=1600 validation.every=800 seed=33 --out runs/generative/predictive-d \
  --resume &
wait
bench 15 --model crp3=runs/generative/sbridge-crp3/model \
  --model predictive-4000=runs/generative/predictive-d/model --model predictive-2400=runs/generative/predictive-c/model \
  --steps 1 2 4 8 30 --section "## Generative enhancement: the bundle at every count of passes, against its equal-budget twin"
"$CSPEC" train recipes/generative/sbridge.yaml model.init=runs/generative/sbridge-crp3/model $CRP \
  model.options.sampler=ode optim.lr=0.00015 schedule.warmup_steps=20 trainer.max_steps=400 seed=35 \
  --out runs/generative/sbridge-crp-ode --resume
bench 15 --model crp-ode=runs/generative/sbridge-crp-ode/model \
  --model generative=runs/generative/sbridge-crp3/model --steps 1 2 4 8 \
  --section "## Generative enhancement: CRP with the ODE sampler"
bench 15 --model crp-ode=runs/generative/sbridge-crp-ode/model --steps 30 \
  --section "## Generative enhancement: CRP with the ODE sampler, 30 passes"
"$CSPEC" train recipes/generative/sbridge.yaml model.init=runs/generative/sbridge-crp-ode/model $CRP \
  model.options.sampler=ode optim.lr=0.0001 schedule.warmup_steps=20 trainer.max_steps=400 seed=36 \
  --out runs/generative/sbridge-crp-ode2 --resume
bench 15 --model crp-ode2=runs/generative/sbridge-crp-ode2/model --steps 1 2 4 8 \
  --section "## Generative enhancement: a fifth CRP stage (ODE), bundled"
"$CSPEC" train recipes/generative/sbridge.yaml model.init=runs/generative/sbridge-crp-ode2/model $CRP \
  model.options.sampler=ode optim.lr=0.0001 schedule.warmup_steps=20 trainer.max_steps=400 seed=38 \
  --out runs/generative/sbridge-crp-ode3 --resume
bench 15 --model crp-ode3=runs/generative/sbridge-crp-ode3/model \
  --model predictive-2400-rebuilt=runs/generative/predictive-c/model --steps 1 2 4 8 \
  --section "## Generative enhancement: a sixth CRP stage (ODE), bundled; the twin rebuilt"
"$CSPEC" train recipes/generative/predictive.yaml model.init=runs/generative/predictive-d/model optim.lr=0.0001 \
  schedule.warmup_steps=30 trainer.max_steps=2400 validation.every=800 seed=36 --out runs/generative/predictive-e \
  --resume &
"$CSPEC" train recipes/generative/sbridge.yaml model.init=runs/generative/predictive-d/model \
  model.options.crp_steps=2 model.options.steps=2 model.options.sampler=ode optim.lr=0.0002 \
  schedule.warmup_steps=30 trainer.max_steps=1200 validation.every=400 seed=40 --out runs/generative/crp-from-twin \
  --resume &
wait
bench 15 --model crp-from-twin=runs/generative/crp-from-twin/model \
  --model predictive-6400=runs/generative/predictive-e/model --steps 1 2 4 8 \
  --section "## Generative enhancement: CRP from the 4000-step twin, against the 6400-step twin (equal budget)"
bench 15 --model crp-from-twin=runs/generative/crp-from-twin/model --steps 30 \
  --section "## Generative enhancement: the bundle (CRP from the 4000-step twin) at 30 passes"
"$PY" recipes/generative/bundle.py --run runs/generative/crp-from-twin --steps 2 --twin runs/generative/predictive-e
