#!/usr/bin/env bash
# W2: PostgreSQL -> PostgreSQL, dpone against the raw transport, side by side on this machine.
#
#   Benchmarks/harness/compare-postgres.sh [ROWS] [RUNS]     (defaults: 1000000 rows, 3 runs)
#
# Prepares bench.src (bigint, timestamptz, numeric(12,2), text, bool) on the local PostgreSQL, then
# alternates, RUNS times:
#   A  dpone full_refresh PG -> PG (release build) into bench.dst_dpone
#   B  raw: psql \copy (SELECT ...) TO STDOUT (FORMAT binary) | psql \copy bench.dst_raw FROM STDIN (FORMAT binary)
#      into a keyed table truncated first
#   C  dpone incremental_merge of a changed 20% (xmin window) into bench.dst_dpone
# and reports medians, the A/B ratio, peak RSS and CPU seconds per million rows, verifying row counts
# equal in source and targets. Writes test_artifacts/benchmarks/<date>_pg-to-pg-<rows>.md (+ .json).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS="${1:-1000000}"
RUNS="${2:-3}"
scripts/install-deps.sh
# DPONE_BENCH_BIN: run another build of dpone (an earlier commit's, for a before/after comparison).
[ -n "${DPONE_BENCH_BIN:-}" ] || swift build -c release --product dpone >/dev/null
DPONE="${DPONE_BENCH_BIN:-$PWD/.build/release/dpone}"
URL="$(scripts/postgres.sh start | tail -n 1)"
export DPONE_CONN_BENCH_URL="$URL"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 "$URL")
WORK="$PWD/.build/bench-pg"
rm -rf "$WORK"; mkdir -p "$WORK"

"${PSQL[@]}" <<SQL
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
CREATE TABLE bench.src (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, amount numeric(12,2), note text, active boolean);
INSERT INTO bench.src SELECT g, timestamptz '2026-01-01' + g * interval '1 second', (g % 100000) / 100.0,
  'note ' || g || ' lorem ipsum', g % 2 = 0 FROM generate_series(1, $ROWS) g;
CREATE TABLE bench.dst_raw (LIKE bench.src INCLUDING ALL);
VACUUM ANALYZE bench.src;
SQL

cat > "$WORK/full.yml" <<YAML
name: bench_full
source: {type: postgres, connection_ref: bench, table: {schema: bench, name: src}}
sink: {type: postgres, connection_ref: bench, table: {schema: bench, name: dst_dpone}, strategy: {mode: full_refresh}}
state: {dir: $WORK/state}
YAML
cat > "$WORK/merge.yml" <<YAML
name: bench_merge
source: {type: postgres, connection_ref: bench, table: {schema: bench, name: src}, options: {incremental_strategy: xmin}}
sink: {type: postgres, connection_ref: bench, table: {schema: bench, name: dst_dpone}, strategy: {mode: incremental_merge, unique_key: id}}
state: {dir: $WORK/state}
YAML

measure() { # label command... -> appends "label seconds rss_kb cpu_s" to $WORK/times
  local label=$1; shift
  /usr/bin/time -f "%e %M %U %S" -o "$WORK/time.txt" "$@" >"$WORK/$label.out" 2>"$WORK/$label.err" || {
    cat "$WORK/$label.err"; exit 1; }
  read -r secs rss user sys <"$WORK/time.txt"
  echo "$label $secs $rss $(awk "BEGIN { print $user + $sys }")" >>"$WORK/times"
}

raw() {
  "${PSQL[@]}" -c "TRUNCATE bench.dst_raw"
  "${PSQL[@]}" -c "\\copy (SELECT id, created_at, amount, note, active FROM bench.src) TO STDOUT (FORMAT binary)" |
    "${PSQL[@]}" -c "\\copy bench.dst_raw FROM STDIN (FORMAT binary)"
}
export -f raw; export URL

for run in $(seq 1 "$RUNS"); do
  measure "dpone_full" "$DPONE" batch "$WORK/full.yml" --progress none --format json
  measure "raw_full" bash -c 'PSQL=(psql -X -q -v ON_ERROR_STOP=1 "$URL"); raw'
  # incremental merge: a fresh xmin baseline, then 20% of the rows change.
  "$DPONE" state reset "$WORK/merge.yml" >/dev/null
  "$DPONE" batch "$WORK/merge.yml" --progress none >/dev/null
  "${PSQL[@]}" -c "UPDATE bench.src SET note = note || ' v$run' WHERE id % 5 = 0"
  measure "dpone_merge" "$DPONE" batch "$WORK/merge.yml" --progress none --format json
done

SRC=$("${PSQL[@]}" -At -c "SELECT count(*) FROM bench.src")
DST=$("${PSQL[@]}" -At -c "SELECT count(*) FROM bench.dst_dpone")
RAWN=$("${PSQL[@]}" -At -c "SELECT count(*) FROM bench.dst_raw")
DIFF=$("${PSQL[@]}" -At -c "SELECT count(*) FROM (SELECT id, created_at, amount, note, active FROM bench.src EXCEPT SELECT id, created_at, amount, note, active FROM bench.dst_dpone) d")
CHANGED=$(( ROWS / 5 ))
# PROFILE=1: one more (untimed) full refresh and merge under a system-wide profile.
if [ "${PROFILE:-0}" = 1 ]; then
  Benchmarks/harness/profile.sh "w2-full-$ROWS" "$DPONE" batch "$WORK/full.yml" --progress none
  "$DPONE" state reset "$WORK/merge.yml" >/dev/null
  "$DPONE" batch "$WORK/merge.yml" --progress none >/dev/null
  "${PSQL[@]}" -c "UPDATE bench.src SET note = note || ' vp' WHERE id % 5 = 0"
  Benchmarks/harness/profile.sh "w2-merge-$ROWS" "$DPONE" batch "$WORK/merge.yml" --progress none
fi

python3 - "$WORK/times" "$ROWS" "$CHANGED" "$SRC" "$DST" "$RAWN" "$DIFF" "$RUNS" <<'PY'
import json, statistics, sys, datetime, subprocess, platform, os
times, rows, changed, src, dst, rawn, diff, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *map(int, sys.argv[4:8]), int(sys.argv[8])
data = {}
for line in open(times):
    label, secs, rss, cpu = line.split()
    data.setdefault(label, []).append((float(secs), int(rss), float(cpu)))
def summary(label, n):
    xs = data[label]
    med = statistics.median(x[0] for x in xs)
    return {"runs": [x[0] for x in xs], "median_s": med, "rows_per_s": round(n / med), "peak_rss_mb": round(max(x[1] for x in xs) / 1024, 1),
            "cpu_s_per_million_rows": round(statistics.median(x[2] for x in xs) / (n / 1e6), 2)}
res = {"dpone_full_refresh": summary("dpone_full", rows), "raw_binary_copy": summary("raw_full", rows),
       "dpone_incremental_merge_20pct": summary("dpone_merge", changed)}
ratio = res["dpone_full_refresh"]["rows_per_s"] / res["raw_binary_copy"]["rows_per_s"]
date = datetime.date.today().isoformat()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
report = {"name": f"W2 PostgreSQL -> PostgreSQL, {rows} rows", "date": date, "machine": {"cores": os.cpu_count(), "cpu": cpu},
          "versions": {"swift": swift, "psql": pg}, "rows": rows, "runs": runs, "results": res,
          "ratio_dpone_to_raw": round(ratio, 2),
          "verification": {"source_rows": src, "dpone_target_rows": dst, "raw_target_rows": rawn, "rows_differing": diff},
          "commands": {"dpone_full": "dpone batch full.yml (full_refresh)", "raw": "psql \\copy (SELECT ...) TO STDOUT (FORMAT binary) | psql \\copy dst FROM STDIN (FORMAT binary)",
                       "dpone_merge": "dpone batch merge.yml (xmin + incremental_merge after 20% of rows changed)"}}
base = f"test_artifacts/benchmarks/{date}_pg-to-pg-{rows}"
os.makedirs("test_artifacts/benchmarks", exist_ok=True)
json.dump(report, open(base + ".json", "w"), indent=2)
with open(base + ".md", "w") as f:
    f.write(f"# W2 PostgreSQL -> PostgreSQL, {rows:,} rows — {date}\n\n")
    f.write(f"- machine: {os.cpu_count()} cores, {cpu}; {swift}; {pg}\n- runner: `Benchmarks/harness/compare-postgres.sh {rows} {runs}` (A/B alternated, medians of {runs} runs)\n")
    f.write(f"- verification: source {src} rows, dpone target {dst}, raw target {rawn}, rows differing source vs dpone target: {diff}\n\n")
    f.write("| workload | median s | rows/s | peak RSS MB | CPU s / M rows |\n| --- | --- | --- | --- | --- |\n")
    for k, v in res.items():
        f.write(f"| {k} | {v['median_s']:.2f} | {v['rows_per_s']:,} | {v['peak_rss_mb']} | {v['cpu_s_per_million_rows']} |\n")
    f.write(f"\nRatio dpone full_refresh / raw binary COPY pipe: **{ratio:.2f}** (the raw pipe writes into a keyed table truncated first; dpone also stages, checks and publishes in one transaction).\n")
print(open(base + ".md").read())
PY
[ "$SRC" = "$DST" ] && [ "$SRC" = "$RAWN" ] && [ "$DIFF" = "0" ]
