#!/usr/bin/env bash
# Performance benchmark: sweep against the PyTorch reference, side by side on this machine.
# Installs torch (CPU use; the PyPI wheel brings CUDA libraries, ~5 GB) into bench/.venv if it
# is missing, builds sweep, and prints the tables docs/performance.md shows.
#   bench/run.sh            everything (throughput, sweep wall time, quality parity)
#   bench/run.sh wall       one section (throughput, wall or parity)
#   STEPS=N bench/run.sh    timed steps per throughput measurement (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=bench/.venv
if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
  echo "installing torch into $venv (about 5 GB, once)..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q torch
fi
cargo build --release --quiet
cargo bench --no-run --quiet --bench throughput 2>/dev/null
exec "$venv/bin/python" bench/compare.py "$@"
