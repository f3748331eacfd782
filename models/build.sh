#!/usr/bin/env bash
# Build the built-in policy: venv -> SFT warm start -> ONNX graphs -> goldens -> pytest.
#   models/build.sh                 full build (deterministic, ~10-15 min on 1 CPU thread)
#   models/build.sh --skip-train    re-export graphs + goldens from artifacts/weights.bin
#   SKIP_TESTS=1 / SKIP_BENCH=0     control the pytest and benchmark steps
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.tools/venv"
if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/models/requirements.txt"
cd "$ROOT/models"
export PYTHONHASHSEED=0 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
"$VENV/bin/python" -u -m valor_model.build "$@"
if [[ "${SKIP_TESTS:-0}" != 1 ]]; then
  "$VENV/bin/python" -m pytest -q tests
fi
if [[ "${SKIP_BENCH:-1}" != 1 ]]; then
  "$VENV/bin/python" -u -m valor_model.bench
fi
