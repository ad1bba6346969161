#!/usr/bin/env bash
# Installs what dpone needs, builds it, and runs a real pipeline on a generated sample:
# a files -> files incremental load, then a second run that picks up only the new rows.
# Idempotent: every run starts from a fresh demo-output/ folder.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product dpone
DPONE="$PWD/.build/release/dpone"
export DEMO_DIR="$PWD/demo-output"
rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"

generate() { # first last
  awk -v first="$1" -v last="$2" 'BEGIN {
    split("paid,pending,cancelled,paid,refunded", statuses, ",")
    for (i = first; i <= last; i++) {
      printf "%d,customer-%d,%d.%02d,%s,2026-01-%02dT%02d:%02d:00Z\n", i, i % 977, i % 5000, i % 100, statuses[i % 5 + 1], i % 28 + 1, i % 24, i % 60
    }
  }'
}

echo "id,customer,amount,status,created_at" > "$DEMO_DIR/orders.csv"
generate 1 100000 >> "$DEMO_DIR/orders.csv"

echo "== first run: 100000 source rows (cancelled orders filtered out)"
"$DPONE" manifest validate examples/orders-incremental.yml
"$DPONE" batch examples/orders-incremental.yml --progress plain

generate 100001 101000 >> "$DEMO_DIR/orders.csv"
echo "== second run: 1000 new source rows appended; only they are read"
"$DPONE" batch examples/orders-incremental.yml --progress plain --format json

echo "== output parts and committed state"
ls -l "$DEMO_DIR/out/orders"
wc -l "$DEMO_DIR"/out/orders/part-*
"$DPONE" state show examples/orders-incremental.yml

echo "== full refresh of the same file with lineage and row hash columns"
"$DPONE" batch examples/orders-snapshot.yml
head -3 "$DEMO_DIR/out/orders_snapshot.csv"
