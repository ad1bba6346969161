#!/usr/bin/env bash
# Installs what dpone needs, builds it, and runs real pipelines on generated samples:
#  1. files -> files: an incremental load, then a second run that picks up only the new rows;
#  2. PostgreSQL -> PostgreSQL: starts the local PostgreSQL 15 (loopback, under .services/), seeds
#     demo.orders, loads it with an xmin incremental merge, changes some rows, and runs again: only
#     the changed rows are read;
#  3. PostgreSQL -> ClickHouse (the main job): starts the local ClickHouse 18.16 and merges the same
#     orders into a ReplacingMergeTree, then the changed rows again.
# Services it started are stopped afterwards.
# Idempotent: every run starts from a fresh demo-output/ folder and a fresh demo schema.
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

echo
echo "== PostgreSQL -> PostgreSQL: xmin incremental merge with target-atomic state"
started_postgres=0
scripts/postgres.sh status >/dev/null 2>&1 || started_postgres=1
export DPONE_CONN_DEMO_PG_URL="$(scripts/postgres.sh start | tail -n 1)"
started_clickhouse=0
scripts/clickhouse.sh status >/dev/null 2>&1 || started_clickhouse=1
trap '[ "$started_postgres" = 1 ] && scripts/postgres.sh stop >/dev/null 2>&1; [ "$started_clickhouse" = 1 ] && scripts/clickhouse.sh stop >/dev/null 2>&1; true' EXIT
scripts/postgres.sh psql -d dpone <<'SQL'
DROP SCHEMA IF EXISTS demo CASCADE;
DROP SCHEMA IF EXISTS analytics CASCADE;
CREATE SCHEMA demo AUTHORIZATION dpone;
CREATE TABLE demo.orders (
  id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12,2), status text,
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO demo.orders (id, customer, amount, status, created_at)
SELECT g, 'customer-' || (g % 977), (g % 5000) + (g % 100) / 100.0,
       (ARRAY['paid', 'pending', 'cancelled', 'refunded'])[1 + g % 4],
       timestamptz '2026-01-01' + g * interval '1 minute'
FROM generate_series(1, 200000) AS g;
ALTER TABLE demo.orders OWNER TO dpone;
SQL
"$DPONE" manifest validate examples/pg-orders-xmin.yml
"$DPONE" batch examples/pg-orders-xmin.yml --progress plain
echo
echo "== PostgreSQL -> ClickHouse (main job): the same orders merged into a ReplacingMergeTree"
export DPONE_CONN_DEMO_CH_URL="$(scripts/clickhouse.sh start | tail -n 1)"
curl -s --data-binary "DROP DATABASE IF EXISTS analytics" "$DPONE_CONN_DEMO_CH_URL" >/dev/null || true
"$DPONE" batch examples/pg-to-clickhouse.yml --progress plain

echo "-- 1,000 orders change status and 500 new ones arrive"
scripts/postgres.sh psql -d dpone -c "UPDATE demo.orders SET status = 'shipped' WHERE id % 200 = 0; INSERT INTO demo.orders (id, customer, amount, status) SELECT g, 'late', 1.00, 'paid' FROM generate_series(200001, 200500) AS g;"
"$DPONE" batch examples/pg-orders-xmin.yml --progress plain
scripts/postgres.sh psql -d dpone -c "SELECT status, count(*) FROM analytics.orders GROUP BY status ORDER BY status;"
"$DPONE" batch examples/pg-to-clickhouse.yml --progress plain
echo "-- ClickHouse: latest version per key (FINAL)"
curl -s --data-binary "SELECT status, count() FROM analytics.orders FINAL GROUP BY status ORDER BY status FORMAT PrettyCompact" "$DPONE_CONN_DEMO_CH_URL"
"$DPONE" state show examples/pg-orders-xmin.yml
