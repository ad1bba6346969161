#!/usr/bin/env bash
# W4: PostgreSQL CDC -> PostgreSQL with `dpone stream` (logical replication, cdc_apply).
#
#   Benchmarks/harness/compare-cdc.sh [ROWS] [CHANGES] [BATCH]   (defaults: 1000000 rows, 1000000 changes, 10000 per transaction)
#
# Seeds benchcdc.src (bigint key, numeric, text, int) with ROWS rows on the local PostgreSQL, starts
# `dpone stream` (release build; slot + exported snapshot, then streaming, --checkpoint-interval 1s,
# --metrics-port) into benchcdc.dst, waits for the snapshot, then updates CHANGES rows in
# transactions of BATCH rows while scraping /metrics every 200 ms. Reports:
#   - changes/s: CHANGES / (time from the first update to the target holding every change)
#   - the workload's own rate (how fast the server took the updates), for comparison
#   - replication lag p50/p99 (dpone_replication_lag_seconds: age of the oldest change not yet
#     durable) and checkpoint duration p50/p99 (barrier to durable state), from the scrapes
#   - dpone's peak RSS and CPU seconds per million changes
# verifies the target equals the source, and writes
# test_artifacts/benchmarks/<date>_pg-cdc-to-pg-<changes>.md (+ .json). Targets of the issue:
# >= 50k changes/s sustained with checkpoint lag p99 <= 2 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS="${1:-1000000}"
CHANGES="${2:-1000000}"
BATCH="${3:-10000}"
scripts/install-deps.sh
# DPONE_BENCH_BIN: run another build of dpone (an earlier commit's, for a before/after comparison).
[ -n "${DPONE_BENCH_BIN:-}" ] || swift build -c release --product dpone >/dev/null
DPONE="${DPONE_BENCH_BIN:-$PWD/.build/release/dpone}"
URL="$(scripts/postgres.sh start | tail -n 1)"
export DPONE_CONN_BENCH_URL="$URL"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 "$URL")
WORK="$PWD/.build/bench-cdc"
rm -rf "$WORK"; mkdir -p "$WORK"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cleanup() {
  [ -n "${WORKER:-}" ] && pkill -TERM -P "$WORKER" 2>/dev/null || true
  [ -n "${SCRAPER:-}" ] && kill "$SCRAPER" 2>/dev/null || true
  sleep 1
  "${PSQL[@]}" -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'bench_cdc_slot' AND NOT active" >/dev/null 2>&1 || true
  "${PSQL[@]}" -c "DROP PUBLICATION IF EXISTS bench_cdc_pub" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup

"${PSQL[@]}" <<SQL
DROP SCHEMA IF EXISTS benchcdc CASCADE;
CREATE SCHEMA benchcdc;
CREATE TABLE benchcdc.src (id bigint PRIMARY KEY, amount numeric(12,2), note text, updated int NOT NULL DEFAULT 0);
INSERT INTO benchcdc.src SELECT g, (g % 100000) / 100.0, 'note ' || g || ' lorem ipsum', 0 FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE benchcdc.src;
SQL

cat > "$WORK/cdc.yml" <<YAML
name: bench_cdc
source:
  type: postgres
  connection_ref: bench
  table: {schema: benchcdc, name: src}
  options: {cdc: {slot: bench_cdc_slot, publication: bench_cdc_pub, create: true}}
sink: {type: postgres, connection_ref: bench, table: {schema: benchcdc, name: dst}, strategy: {mode: cdc_apply, unique_key: id}}
state: {dir: $WORK/state}
YAML

count() { "${PSQL[@]}" -At -c "$1" 2>/dev/null || echo 0; }
wait_for() { # sql expected timeout_s
  local deadline=$(( $(date +%s) + $3 ))
  while [ "$(count "$1")" != "$2" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "timed out waiting for $1 = $2" >&2; cat "$WORK/worker.err" >&2; exit 1; }
    sleep 0.1
  done
}

/usr/bin/time -f "%e %M %U %S" -o "$WORK/time.txt" \
  "$DPONE" stream "$WORK/cdc.yml" --checkpoint-interval 1s --metrics-port "$PORT" --progress none \
  >"$WORK/worker.out" 2>"$WORK/worker.err" &
WORKER=$!
SNAP_START=$(date +%s.%N)
wait_for "SELECT count(*) FROM benchcdc.dst" "$ROWS" 600
SNAP_END=$(date +%s.%N)

( while true; do
    printf '%s\n' "$(date +%s.%N)" >>"$WORK/scrapes"
    curl -sf --max-time 1 "http://127.0.0.1:$PORT/metrics" | grep -E '^dpone_(replication_lag_seconds|last_checkpoint_duration_seconds|checkpoints_total)[ {]' >>"$WORK/scrapes" || true
    sleep 0.2
  done ) &
SCRAPER=$!

T0=$(date +%s.%N)
"${PSQL[@]}" <<SQL
DO \$\$
DECLARE lo bigint := 1;
BEGIN
  WHILE lo <= $CHANGES LOOP
    UPDATE benchcdc.src SET updated = updated + 1, amount = amount + 1 WHERE id >= lo AND id < lo + $BATCH;
    COMMIT;
    lo := lo + $BATCH;
  END LOOP;
END
\$\$;
SQL
TW=$(date +%s.%N)
wait_for "SELECT count(*) FROM benchcdc.dst WHERE updated = 1" "$CHANGES" 1200
T1=$(date +%s.%N)
sleep 2
kill "$SCRAPER"; SCRAPER=""
# SIGTERM to dpone itself (time(1), its parent, would die without forwarding it).
pkill -TERM -P "$WORKER" || true; wait "$WORKER" || true; WORKER=""
DIFF=$(count "SELECT count(*) FROM (SELECT id, amount, note, updated FROM benchcdc.src EXCEPT SELECT id, amount, note, updated FROM benchcdc.dst) d")
DSTN=$(count "SELECT count(*) FROM benchcdc.dst")

python3 - "$WORK" "$ROWS" "$CHANGES" "$BATCH" "$SNAP_START" "$SNAP_END" "$T0" "$TW" "$T1" "$DIFF" "$DSTN" <<'PY'
import json, statistics, sys, datetime, subprocess, os
work, rows, changes, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
snap0, snap1, t0, tw, t1 = map(float, sys.argv[5:10])
diff, dstn = int(sys.argv[10]), int(sys.argv[11])
secs, rss, user, sys_ = open(f"{work}/time.txt").read().split()
lags, durations, seen = [], [], set()
now = None
for line in open(f"{work}/scrapes"):
    parts = line.split()
    if len(parts) == 1:
        now = float(parts[0]); continue
    name, value = parts[0], float(parts[1])
    if now is None or now < t0 or now > t1: continue
    if name.startswith("dpone_replication_lag_seconds"): lags.append(value)
    if name == "dpone_last_checkpoint_duration_seconds" and value not in seen: seen.add(value); durations.append(value)
def q(xs, p):
    if not xs: return None
    xs = sorted(xs); return round(xs[min(len(xs) - 1, int(p * len(xs)))], 3)
apply_s = t1 - t0
res = {
    "snapshot_rows_per_s": round(rows / (snap1 - snap0)),
    "changes": changes, "transaction_rows": batch,
    "apply_seconds": round(apply_s, 2), "changes_per_s": round(changes / apply_s),
    "workload_seconds": round(tw - t0, 2), "workload_changes_per_s": round(changes / (tw - t0)),
    "drain_after_workload_s": round(t1 - tw, 2),
    "replication_lag_s": {"p50": q(lags, 0.5), "p99": q(lags, 0.99), "max": max(lags) if lags else None, "samples": len(lags)},
    "checkpoint_duration_s": {"p50": q(durations, 0.5), "p99": q(durations, 0.99), "checkpoints_sampled": len(durations)},
    "peak_rss_mb": round(int(rss) / 1024, 1),
    "cpu_s_per_million_changes": round((float(user) + float(sys_)) / ((rows + changes) / 1e6), 2),
}
date = datetime.date.today().isoformat()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
met = res["changes_per_s"] >= 50000 and (res["replication_lag_s"]["p99"] or 0) <= 2
report = {"name": f"W4 PostgreSQL CDC -> PostgreSQL, {changes} changes", "date": date, "machine": {"cores": os.cpu_count(), "cpu": cpu},
          "versions": {"swift": swift, "psql": pg}, "rows": rows, "results": res, "targets_met": met,
          "verification": {"target_rows": dstn, "source_rows": rows, "rows_differing": diff},
          "commands": {"dpone": "dpone stream cdc.yml --checkpoint-interval 1s --metrics-port P (PG CDC -> PG cdc_apply)",
                       "workload": f"UPDATE ... WHERE id in [lo, lo + {batch}) ; COMMIT, in one DO block"}}
base = f"test_artifacts/benchmarks/{date}_pg-cdc-to-pg-{changes}"
os.makedirs("test_artifacts/benchmarks", exist_ok=True)
json.dump(report, open(base + ".json", "w"), indent=2)
lag, dur = res["replication_lag_s"], res["checkpoint_duration_s"]
with open(base + ".md", "w") as f:
    f.write(f"# W4 PostgreSQL CDC -> PostgreSQL (dpone stream, cdc_apply), {changes:,} changes — {date}\n\n")
    f.write(f"- machine: {os.cpu_count()} cores, {cpu}; {swift}; {pg}\n")
    f.write(f"- runner: `Benchmarks/harness/compare-cdc.sh {rows} {changes} {batch}` ({rows:,} seeded rows snapshotted first, then {changes:,} rows updated in transactions of {batch:,})\n")
    f.write(f"- verification: target {dstn} rows, rows differing from the source after the drain: {diff}\n\n")
    f.write("| measure | value |\n| --- | --- |\n")
    f.write(f"| snapshot | {res['snapshot_rows_per_s']:,} rows/s |\n")
    f.write(f"| changes applied (first update to target complete) | {res['apply_seconds']} s, **{res['changes_per_s']:,} changes/s** |\n")
    f.write(f"| the workload itself (server side) | {res['workload_seconds']} s, {res['workload_changes_per_s']:,} changes/s |\n")
    f.write(f"| drain after the workload ended | {res['drain_after_workload_s']} s |\n")
    f.write(f"| replication lag (oldest change not yet durable) p50 / p99 / max | {lag['p50']} / {lag['p99']} / {lag['max']} s ({lag['samples']} samples) |\n")
    f.write(f"| checkpoint duration (barrier to durable state) p50 / p99 | {dur['p50']} / {dur['p99']} s ({dur['checkpoints_sampled']} checkpoints sampled) |\n")
    f.write(f"| dpone peak RSS | {res['peak_rss_mb']} MB |\n| dpone CPU per million rows (snapshot + changes) | {res['cpu_s_per_million_changes']} s |\n\n")
    f.write(f"Targets (>= 50k changes/s, lag p99 <= 2 s): **{'met' if met else 'not met'}**.\n")
print(open(base + ".md").read())
PY
[ "$DIFF" = "0" ] && [ "$DSTN" = "$ROWS" ]
