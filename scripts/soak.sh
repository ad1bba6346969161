#!/usr/bin/env bash
# The soak of `dpone stream`: three daemons for MINUTES (default 30) under a steady workload, with
# random SIGKILLs, PostgreSQL and ClickHouse restarts and broker outages; then every target must equal
# its source exactly, and no daemon's RSS may grow (see scripts/soak.py for the rules).
#   A  PostgreSQL CDC -> PostgreSQL     B  PostgreSQL CDC -> ClickHouse     C  Kafka -> PostgreSQL
# Writes test_artifacts/long_running/<date>_soak-<minutes>m.md; exits non-zero when the soak fails.
# Starts the local services it needs (and stops those it started). CI runs `scripts/soak.sh 2`.
# Usage: scripts/soak.sh [MINUTES] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-30}"
seed="${2:-$(date +%s)}"
scripts/install-deps.sh
python="$(scripts/interop-venv.sh | tail -n 1)"   # confluent-kafka, for the producer
swift build -c release --product dpone >/dev/null
[ -x .build/debug/dpone-kafka-mock ] || swift build --product dpone-kafka-mock >/dev/null
started=()
url_of() { # script: starts it when down, prints its URL
  "scripts/$1" status >/dev/null 2>&1 || started+=("$1")
  "scripts/$1" start | tail -n 1
}
stop_services() { for s in "${started[@]}"; do "scripts/$s" stop >/dev/null 2>&1 || true; done; }
trap stop_services EXIT
pg="$(url_of postgres.sh)"
ch="$(url_of clickhouse.sh)"
kafka="$(url_of kafka.sh)"
work=".build/soak"
rm -rf "$work"
mkdir -p "$work" test_artifacts/long_running
out="test_artifacts/long_running/$(date +%F)_soak-${minutes}m.md"
"$python" scripts/soak.py --minutes "$minutes" --seed "$seed" --dpone "$PWD/.build/release/dpone" \
  --pg "$pg" --ch "$ch" --kafka-control "$kafka" --work "$work" --out "$out"
