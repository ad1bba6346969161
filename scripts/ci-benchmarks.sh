#!/usr/bin/env bash
# The benchmark layer of CI (scripts/test.sh runs it after the tests):
#   1. the microbenchmarks' deterministic metric (allocations per operation) against the committed
#      thresholds in Benchmarks/Thresholds — a hot-path allocation regression fails CI;
#   2. scaled-down W1 (PostgreSQL -> ClickHouse), W2 (PostgreSQL -> PostgreSQL) and the ODBC source
#      (psqlODBC -> PostgreSQL, beside arrow-odbc), 200,000 rows,
#      one run each: rows verified equal and dpone's peak RSS under 150 MB, artifacts written to
#      test_artifacts/benchmarks/. Timing is recorded, never asserted (shared machines are noisy).
# Expects the services started (scripts/test.sh does) and the release binary built.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${DPONE_CI_BENCH_ROWS:-200000}"
(cd Benchmarks && swift package benchmark thresholds check --no-progress)
Benchmarks/harness/compare-clickhouse.sh "$ROWS" 1 >/dev/null
Benchmarks/harness/compare-postgres.sh "$ROWS" 1 >/dev/null
Benchmarks/harness/compare-odbc.sh "$ROWS" 1 >/dev/null
date="$(date +%F)"
python3 Benchmarks/harness/check-memory.py "test_artifacts/benchmarks/${date}_pg-to-clickhouse-${ROWS}.json" 150
python3 Benchmarks/harness/check-memory.py "test_artifacts/benchmarks/${date}_pg-to-pg-${ROWS}.json" 150
python3 Benchmarks/harness/check-memory.py "test_artifacts/benchmarks/${date}_odbc-${ROWS}.json" 150
