#!/usr/bin/env bash
# The replay bench: synchronous and asynchronous successive halving and Hyperband on 2 to 512
# virtual workers, over bench/replay/search.json (every configuration of sweeps/search.json's
# space trained to its 900 steps on this machine). Prints a table; see benches/replay.rs.
#   bench/replay.sh                          27 and 300 configurations × 2, 8, 64, 512 workers
#   CONFIGS=300 WORKERS=8,64 bench/replay.sh
#   bench/replay.sh --make-table             trains the 300 configurations (about 20 minutes
#                                            on 2 cores) and writes bench/replay/search.json
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--make-table" ]; then
  out=bench/out/replay
  mkdir -p "$out"
  # sweeps/search.json's space, 300 random configurations, every one to the end.
  python3 - "$out/full.json" <<'PY'
import json, sys
grid = json.load(open("sweeps/search.json"))
grid["name"] = "replay-table"
grid["search"] = {"method": "random", "trials": 300, "seed": 0}
grid.pop("early_stopping", None)
json.dump(grid, open(sys.argv[1], "w"), indent=2)
PY
  cargo build --release --quiet
  target/release/sweep "$out/full.json" --out "$out/full" --jobs "${JOBS:-2}" 2>/dev/null || true
  TABLE_FROM="$out/full" exec cargo bench --quiet --bench replay
fi
exec cargo bench --quiet --bench replay
