#!/usr/bin/env bash
# Benchmarks (PostgreSQL at BENCH_DATABASE_URL, default the local server): `bench/run.sh` runs
# all of them, `bench/run.sh recon ledger` only those named. Results: bench/results/ (<stamp>.md
# for the whole run; the import, orders, ledger, recon, progress, storm and pay_api benchmarks also keep their last
# results in import.json, orders.json, ledger.json, recon.json, progress.json, storm.json and pay_api.json).
set -euo pipefail
cd "$(dirname "$0")/.."
all=(lookup import orders ledger recon progress storm pay_api)
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  names=("${all[@]}")
fi
for name in "${names[@]}"; do
  if [[ ! " ${all[*]} " == *" $name "* ]]; then
    echo "unknown benchmark: $name (one of: ${all[*]})" >&2
    exit 2
  fi
done
mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
{
  echo "# benchmarks $stamp ($(nproc) cores)"
  for name in "${names[@]}"; do
    echo "## $name"
    .venv/bin/python -m "bench.${name}_bench"
  done
} | tee "bench/results/$stamp.md"
