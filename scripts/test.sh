#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine with the Swift toolchain:
# installs the C libraries, builds, and runs every test layer that needs no external service
# (unit, contract, file integration, replay), printing Swift's test summary. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --build-tests
swift build -c release --product dpone   # the memory-bound test runs a 200 MB file through it
export DPONE_RELEASE_BIN="$PWD/.build/release/dpone"
export DPONE_RUN_INTEGRATION=1
export DPONE_RUN_INTEGRATION_REPLAY=1
export DPONE_BIN="$PWD/.build/debug/dpone"
swift test --skip-build
