#!/usr/bin/env bash
# All benchmarks (PostgreSQL at BENCH_DATABASE_URL, default the local server). Results: bench/results/
# (<stamp>.md for the whole run; the orders and ledger benchmarks also keep their last results in
# orders.json and ledger.json).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
{
  echo "# benchmarks $stamp ($(nproc) cores)"
  echo "## lookup"
  .venv/bin/python -m bench.lookup_bench
  echo "## import"
  .venv/bin/python -m bench.import_bench
  echo "## orders"
  .venv/bin/python -m bench.orders_bench
  echo "## ledger"
  .venv/bin/python -m bench.ledger_bench
} | tee "bench/results/$stamp.md"
