#!/usr/bin/env bash
# W1: PostgreSQL -> ClickHouse full_refresh, dpone against the raw transport, side by side.
#
#   Benchmarks/harness/compare-clickhouse.sh [ROWS] [RUNS] [SHAPE]   (defaults: 5000000 rows, 3 runs, narrow)
#
# SHAPE narrow: 5 columns; wide: 50 columns (bigint, numeric(12,2), text, bool, timestamptz, integer,
# double precision, cycling), the issue's wide-table variant.
#
# Prepares bench.src (bigint, timestamptz, numeric(12,2), text, bool) on the local PostgreSQL and
# alternates, RUNS times, on the local ClickHouse 18.16:
#   A  dpone full_refresh PG -> ClickHouse (release build), Native format
#   B  raw: psql \copy (SELECT ...) TO STDOUT | curl -X POST -T - (streamed upload) '...INSERT INTO raw FORMAT TabSeparated'
#      streamed, into a MergeTree table truncated first
# reporting medians, the A/B ratio, peak RSS and CPU seconds per million rows, and verifying row
# counts and sums equal. Writes test_artifacts/benchmarks/<date>_pg-to-clickhouse-<rows>.md (+ .json).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS="${1:-5000000}"
RUNS="${2:-3}"
SHAPE="${3:-narrow}"
scripts/install-deps.sh
# DPONE_BENCH_BIN: run another build of dpone (an earlier commit's, for a before/after comparison).
[ -n "${DPONE_BENCH_BIN:-}" ] || swift build -c release --product dpone >/dev/null
DPONE="${DPONE_BENCH_BIN:-$PWD/.build/release/dpone}"
export PG_URL="$(scripts/postgres.sh start | tail -n 1)"
export CH_URL="$(scripts/clickhouse.sh start | tail -n 1)"
export DPONE_CONN_BENCH_PG_URL="$PG_URL" DPONE_CONN_BENCH_CH_URL="$CH_URL"
WORK="$PWD/.build/bench-ch"
rm -rf "$WORK"; mkdir -p "$WORK"
ch() { curl -sS --fail-with-body --data-binary "$1" "$CH_URL"; }

# Column lists per shape: PG DDL, PG generator, the raw pipe's SELECT (text for timestamps, 0/1 for
# bools), the raw ClickHouse table's columns.
eval "$(python3 - "$SHAPE" <<'PY'
import sys
shape = sys.argv[1]
if shape == "narrow":
    cols = [("created_at", "timestamptz"), ("amount", "numeric(12,2)"), ("note", "text"), ("active", "boolean")]
else:
    cycle = ["bigint", "numeric(12,2)", "text", "boolean", "timestamptz", "integer", "double precision"]
    cols = [(f"c{k:02d}", cycle[(k - 1) % len(cycle)]) for k in range(1, 50)]
gen = {"bigint": "g * {k}", "numeric(12,2)": "(g % 100000) / 100.0 + {k}", "text": "'note ' || g || ' lorem ipsum {k}'",
       "boolean": "(g + {k}) % 2 = 0", "timestamptz": "timestamptz '2026-01-01' + (g + {k}) * interval '1 second'",
       "integer": "(g % 1000000)::int + {k}", "double precision": "g / 3.0 + {k}"}
raw = {"timestamptz": "{c}::text", "boolean": "{c}::int"}
ch = {"bigint": "Int64", "numeric(12,2)": "Decimal(12,2)", "text": "String", "boolean": "UInt8", "timestamptz": "String",
      "integer": "Int32", "double precision": "Float64"}
ddl = ", ".join(f"{c} {t}" for c, t in cols)
generator = ", ".join(gen[t].format(k=i + 1) for i, (c, t) in enumerate(cols))
select = ", ".join(raw.get(t, "{c}").format(c=c) for c, t in cols)
chcols = ", ".join(f"{c} {ch[t]}" for c, t in cols)
first = cols[1][0] if shape == "narrow" else "c02"
print(f'PG_COLS="{ddl}"; PG_GEN="{generator}"; RAW_SELECT="{select}"; CH_COLS="{chcols}"; SUM_COL="{first}"')
PY
)"
psql -X -q -v ON_ERROR_STOP=1 "$PG_URL" <<SQL
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
CREATE TABLE bench.src (id bigint PRIMARY KEY, $PG_COLS);
INSERT INTO bench.src SELECT g, $PG_GEN FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE bench.src;
SQL
ch "DROP DATABASE IF EXISTS bench" >/dev/null
ch "CREATE DATABASE bench" >/dev/null
ch "CREATE TABLE bench.raw (id Int64, $CH_COLS) ENGINE = MergeTree ORDER BY id" >/dev/null

cat > "$WORK/full.yml" <<YAML
name: bench_ch_full
source: {type: postgres, connection_ref: bench_pg, table: {schema: bench, name: src}}
sink: {type: clickhouse, connection_ref: bench_ch, table: {schema: bench, name: dst}, strategy: {mode: full_refresh, unique_key: id}}
state: {dir: $WORK/state}
YAML

measure() {
  local label=$1; shift
  /usr/bin/time -f "%e %M %U %S" -o "$WORK/time.txt" "$@" >"$WORK/$label.out" 2>"$WORK/$label.err" || {
    cat "$WORK/$label.err" "$WORK/$label.out"; exit 1; }
  read -r secs rss user sys <"$WORK/time.txt"
  echo "$label $secs $rss $(awk "BEGIN { print $user + $sys }")" >>"$WORK/times"
}
raw() {
  curl -sS --fail-with-body --data-binary "TRUNCATE TABLE bench.raw" "$CH_URL" >/dev/null
  psql -X -q -v ON_ERROR_STOP=1 "$PG_URL" -c "\\copy (SELECT id, $RAW_SELECT FROM bench.src) TO STDOUT" |
    curl -sS --fail-with-body -X POST -T - \
      "${CH_URL}?query=INSERT%20INTO%20bench.raw%20FORMAT%20TabSeparated"
}
export -f raw
export RAW_SELECT

for run in $(seq 1 "$RUNS"); do
  measure dpone_full "$DPONE" batch "$WORK/full.yml" --progress none --format json
  measure raw_full bash -c raw
done

# PROFILE=1: one more (untimed) run under a system-wide profile: where the time goes.
[ "${PROFILE:-0}" = 1 ] && Benchmarks/harness/profile.sh "w1-$SHAPE-$ROWS" "$DPONE" batch "$WORK/full.yml" --progress none
SRC=$(psql -X -At "$PG_URL" -c "SELECT count(*) || ' ' || sum(id) || ' ' || sum($SUM_COL) FROM bench.src")
DST=$(ch "SELECT concat(toString(count()), ' ', toString(sum(id)), ' ', toString(sum($SUM_COL))) FROM bench.dst")
RAWN=$(ch "SELECT concat(toString(count()), ' ', toString(sum(id)), ' ', toString(sum($SUM_COL))) FROM bench.raw")
python3 - "$WORK/times" "$ROWS" "$RUNS" "$SRC" "$DST" "$RAWN" "$SHAPE" <<'PY'
import json, statistics, sys, datetime, subprocess, os
times, rows, runs, src, dst, rawn, shape = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5].strip(), sys.argv[6].strip(), sys.argv[7]
data = {}
for line in open(times):
    label, secs, rss, cpu = line.split()
    data.setdefault(label, []).append((float(secs), int(rss), float(cpu)))
def summary(label):
    xs = data[label]; med = statistics.median(x[0] for x in xs)
    return {"runs": [x[0] for x in xs], "median_s": med, "rows_per_s": round(rows / med),
            "peak_rss_mb": round(max(x[1] for x in xs) / 1024, 1), "cpu_s_per_million_rows": round(statistics.median(x[2] for x in xs) / (rows / 1e6), 2)}
res = {"dpone_full_refresh_native": summary("dpone_full"), "raw_psql_copy_to_curl_tsv": summary("raw_full")}
ratio = res["dpone_full_refresh_native"]["rows_per_s"] / res["raw_psql_copy_to_curl_tsv"]["rows_per_s"]
def norm(x):  # "count sum amount" with amount printed as the server likes
    c, s, a = x.split(); return (int(c), int(s), round(float(a), 2))
ok = norm(src) == norm(dst) == norm(rawn)
date = datetime.date.today().isoformat()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
chv = subprocess.run(["curl", "-s", "--data-binary", "SELECT version()", os.environ["CH_URL"]], capture_output=True, text=True).stdout.strip()
report = {"name": f"W1 PostgreSQL -> ClickHouse full_refresh, {rows} rows, {shape} ({'50' if shape == 'wide' else '5'} columns)", "date": date, "machine": {"cores": os.cpu_count(), "cpu": cpu},
          "versions": {"swift": swift, "clickhouse": chv}, "rows": rows, "runs": runs, "results": res, "ratio_dpone_to_raw": round(ratio, 2),
          "verification": {"source": src, "dpone_target": dst, "raw_target": rawn, "equal": ok}}
base = f"test_artifacts/benchmarks/{date}_pg-to-clickhouse-{rows}" + ("-wide" if shape == "wide" else "")
json.dump(report, open(base + ".json", "w"), indent=2)
with open(base + ".md", "w") as f:
    f.write(f"# W1 PostgreSQL -> ClickHouse full_refresh, {rows:,} rows, {shape} table — {date}\n\n")
    f.write(f"- machine: {os.cpu_count()} cores, {cpu}; {swift}; ClickHouse {chv} (local, Debian package)\n")
    f.write(f"- runner: `Benchmarks/harness/compare-clickhouse.sh {rows} {runs} {shape}` (A/B alternated, medians of {runs} runs)\n")
    f.write(f"- verification (count, sum(id), sum of a numeric column): source `{src}`, dpone `{dst}`, raw `{rawn}` — {'equal' if ok else 'DIFFERENT'}\n\n")
    f.write("| contender | median s | rows/s | peak RSS MB | CPU s / M rows |\n| --- | --- | --- | --- | --- |\n")
    for k, v in res.items():
        f.write(f"| {k} | {v['median_s']:.2f} | {v['rows_per_s']:,} | {v['peak_rss_mb']} | {v['cpu_s_per_million_rows']} |\n")
    f.write(f"\nRatio dpone / raw pipe: **{ratio:.2f}**. dpone stages into a table of the target's structure, checks keys, swaps (RENAME on 18.16) and records a ledger row; the raw pipe inserts text straight into one table. On 18.16 dpone stores timestamptz as lossless text (no DateTime64 there), as the raw pipe does.\n")
print(open(base + ".md").read())
sys.exit(0 if ok else 1)
PY
