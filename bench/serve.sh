#!/usr/bin/env bash
# `sweep serve` under load: 50 clients following a running sweep for 60 s, against the same
# sweep alone. Prints README's table (throughput change, server peak memory, API latency).
#   bench/serve.sh                          50 clients, 60 s, 2 trials at once
#   CLIENTS=10 SECONDS=20 bench/serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --quiet --bench serve_load
