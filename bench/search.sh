#!/usr/bin/env bash
# Search methods side by side: random search and TPE, each with and without successive
# halving, on the space of sweeps/search.json. Prints docs/grid-file.md's table and writes the anytime
# chart (bench/out/search/anytime.png). The sweeps resume, so a rerun only rereads them.
#   bench/search.sh                       30 configurations × 3 search seeds, every core
#   TRIALS=12 SEEDS=2 JOBS=2 bench/search.sh
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --quiet --bench search_methods
