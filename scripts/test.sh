#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine with the Swift toolchain:
# installs the C libraries, builds, starts the local services on loopback under .services/
# (PostgreSQL 15, ClickHouse 18.16, the modern ClickHouse 26.9 engine (chDB behind scripts/services/clickhouse_http.py), the fake
# schema registry of scripts/fakes, the BigQuery emulator bqemulator; the Python venv of the Confluent interop tests), runs every
# test layer that needs no external vendor (unit, contract, files, local services, replay) and stops
# the services again. Prints Swift's test summary; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# The Confluent interop tests run confluent-kafka-python's serializers from this venv (pinned
# packages; created on first use, needs PyPI then).
DPONE_INTEROP_PYTHON="$(scripts/interop-venv.sh | tail -n 1)"
export DPONE_INTEROP_PYTHON
# The ODBC drivers (psqlODBC, SQLite ODBC, FreeTDS), registered in .services/odbc/odbcinst.ini.
ODBCSYSINI="$(scripts/odbc.sh | tail -n 1)"
export ODBCSYSINI
swift build --build-tests
swift build -c release --product dpone   # the memory-bound test runs a 200 MB file through it
export DPONE_RELEASE_BIN="$PWD/.build/release/dpone"
# Local services: started here, stopped on exit (only those this script started).
started=()
start_service() { # script variable: starts it and exports its URL in the variable
  "scripts/$1" status >/dev/null 2>&1 || started+=("$1")
  local url
  url="$("scripts/$1" start | tail -n 1)"
  export "$2=$url"
}
stop_services() { for s in "${started[@]}"; do "scripts/$s" stop >/dev/null 2>&1 || true; done; }
trap stop_services EXIT
start_service postgres.sh DPONE_TEST_POSTGRES_URL
start_service clickhouse.sh DPONE_TEST_CLICKHOUSE_URL
start_service clickhouse-modern.sh DPONE_TEST_CLICKHOUSE_MODERN_URL
start_service kafka.sh DPONE_TEST_KAFKA_CONTROL
start_service schema-registry.sh DPONE_TEST_SCHEMA_REGISTRY_URL
# The BigQuery emulator (bqemulator over DuckDB, from PyPI into its own venv); tests read host:port.
start_service bigquery.sh DPONE_TEST_BIGQUERY_URL
export DPONE_TEST_BIGQUERY_HOST="${DPONE_TEST_BIGQUERY_URL#http://}"
export DPONE_RUN_INTEGRATION=1
export DPONE_RUN_INTEGRATION_REPLAY=1
# The matrix's local layer (every case it drives, end to end on these services).
export DPONE_RUN_INTEGRATION_MATRIX=1
export DPONE_BIN="$PWD/.build/debug/dpone"
swift test --skip-build
# Fuzzing: every decoder target for 20 s under AddressSanitizer (scripts/fuzz.sh; a crash fails CI).
scripts/fuzz.sh --seconds 20
# The soak, short: three daemons under a workload with kills and server restarts, exact at the end.
scripts/soak.sh 2
# The benchmark layer: allocation thresholds and scaled W1/W2 (correctness + memory bound).
scripts/ci-benchmarks.sh
