#!/usr/bin/env bash
# sweep's TPE + asynchronous successive halving against Optuna's TPE + SuccessiveHalvingPruner
# training PyTorch, side by side on this machine (see bench/side_by_side.py). Installs torch and
# optuna into bench/.venv if missing (torch's wheel brings CUDA libraries, ~5 GB).
#   bench/side_by_side.sh                        8 search seeds, one after the other
#   SEEDS=3 METHOD=successive_halving bench/side_by_side.sh
#   ONLY=sweep bench/side_by_side.sh             sweep's side alone (a quick look, not the table)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=bench/.venv
if ! "$venv/bin/python" -c "import torch, optuna" 2>/dev/null; then
  echo "installing torch and optuna into $venv (about 5 GB, once)..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q torch optuna
fi
cargo build --release --quiet
exec "$venv/bin/python" bench/side_by_side.py
