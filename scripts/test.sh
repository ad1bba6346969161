#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine with the Swift toolchain:
# installs the C libraries, builds, starts the local services (PostgreSQL 15 on loopback, under
# .services/), runs every test layer that needs no external vendor (unit, contract, files, local
# services, replay) and stops the services again. Prints Swift's test summary; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --build-tests
swift build -c release --product dpone   # the memory-bound test runs a 200 MB file through it
export DPONE_RELEASE_BIN="$PWD/.build/release/dpone"
# Local services: started here, stopped on exit whatever happens.
started_postgres=0
scripts/postgres.sh status >/dev/null 2>&1 || started_postgres=1
export DPONE_TEST_POSTGRES_URL="$(scripts/postgres.sh start | tail -n 1)"
trap '[ "$started_postgres" = 1 ] && scripts/postgres.sh stop >/dev/null 2>&1 || true' EXIT
export DPONE_RUN_INTEGRATION=1
export DPONE_RUN_INTEGRATION_REPLAY=1
export DPONE_BIN="$PWD/.build/debug/dpone"
swift test --skip-build
