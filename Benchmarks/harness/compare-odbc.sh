#!/usr/bin/env bash
# The ODBC source against arrow-odbc (PyPI, the Arrow ODBC reader), side by side on this machine,
# through the same driver (psqlODBC) on the same PostgreSQL table.
#
#   Benchmarks/harness/compare-odbc.sh [ROWS] [RUNS]     (defaults: 1000000 rows, 3 runs)
#
# Prepares bench.odbc_src (bigint, timestamp, numeric(12,2), varchar(40), boolean, integer, float8)
# on the local PostgreSQL, then alternates, RUNS times:
#   A  dpone batch, odbc -> postgres full_refresh into bench.odbc_dst (the acceptance run: exact by
#      aggregates over every column, peak RSS recorded)
#   R  dpone batch, odbc -> a CSV file (the read, with the cheapest sink)
#   B  arrow-odbc: read every record batch of the same SELECT (python, pyarrow)
# and reports medians, rows/s and R/B. Writes test_artifacts/benchmarks/<date>_odbc-<rows>.md (+ .json).
# psqlODBC reads through a server cursor (UseDeclareFetch=1;Fetch=10000) in every run: without it the
# driver holds the whole result in memory.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS="${1:-1000000}"
RUNS="${2:-3}"
scripts/install-deps.sh
export ODBCSYSINI="$(scripts/odbc.sh | tail -n 1)"
[ -n "${DPONE_BENCH_BIN:-}" ] || swift build -c release --product dpone >/dev/null
DPONE="${DPONE_BENCH_BIN:-$PWD/.build/release/dpone}"
URL="$(scripts/postgres.sh start | tail -n 1)"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 "$URL")
WORK="$PWD/.build/bench-odbc"
rm -rf "$WORK/state" "$WORK"/*.csv; mkdir -p "$WORK"

# The peer, pinned, in a venv of its own (wheels from PyPI).
VENV="$WORK/venv"
if ! "$VENV/bin/python" -c "import arrow_odbc, pyarrow" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "arrow-odbc==10.6.2" "pyarrow==26.0.1"
fi

# URL parts -> an ODBC connection string.
read -r USER PASS HOST PORT DB < <(python3 - "$URL" <<'PY'
import sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
print(urllib.parse.unquote(u.username or ""), urllib.parse.unquote(u.password or ""), u.hostname or "127.0.0.1", u.port or 5432, (u.path or "/postgres")[1:])
PY
)
export ODBC_STRING="Driver={PostgreSQL Unicode};Server=$HOST;Port=$PORT;Database=$DB;Uid=$USER;Pwd=$PASS;BoolsAsChar=0;UseDeclareFetch=1;Fetch=10000"
export DPONE_CONN_BENCH_URL="$URL"
SELECT="SELECT id, created_at, amount, note, active, qty, ratio FROM bench.odbc_src"

"${PSQL[@]}" <<SQL
CREATE SCHEMA IF NOT EXISTS bench;
DROP TABLE IF EXISTS bench.odbc_src, bench.odbc_dst;
CREATE TABLE bench.odbc_src (id bigint PRIMARY KEY, created_at timestamp NOT NULL, amount numeric(12,2), note varchar(40),
                             active boolean, qty integer, ratio double precision);
INSERT INTO bench.odbc_src SELECT g, timestamp '2026-01-01' + g * interval '1 second', (g % 100000) / 100.0,
  CASE WHEN g % 101 = 0 THEN NULL ELSE 'note ' || g || ' lorem ipsum' END, g % 2 = 0, g % 1000, g / 7.0
FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE bench.odbc_src;
SQL

cat > "$WORK/pg.yml" <<YAML
name: bench_odbc_pg
source: {type: odbc, connection: {odbc: "\${ODBC_STRING}"}, table: {schema: bench, name: odbc_src}, options: {text_encoding: ${DPONE_ODBC_TEXT:-automatic}}}
sink: {type: postgres, connection_ref: bench, table: {schema: bench, name: odbc_dst}, strategy: {mode: full_refresh}}
state: {type: disabled}
YAML
cat > "$WORK/csv.yml" <<YAML
name: bench_odbc_csv
source: {type: odbc, connection: {odbc: "\${ODBC_STRING}"}, table: {schema: bench, name: odbc_src}, options: {text_encoding: ${DPONE_ODBC_TEXT:-automatic}}}
sink: {type: files, path: $WORK/out.csv}
state: {type: disabled}
YAML
cat > "$WORK/peer.py" <<'PY'
import os, sys
from arrow_odbc import read_arrow_batches_from_odbc
reader = read_arrow_batches_from_odbc(query=sys.argv[1], connection_string=os.environ["ODBC_STRING"], batch_size=65536)
rows = 0
for batch in reader:
    rows += batch.num_rows
print(rows)
PY

measure() { # label command... -> appends "label seconds rss_kb cpu_s" to $WORK/times
  local label=$1; shift
  /usr/bin/time -f "%e %M %U %S" -o "$WORK/time.txt" "$@" >"$WORK/$label.out" 2>"$WORK/$label.err" || {
    cat "$WORK/$label.err"; exit 1; }
  read -r secs rss user sys <"$WORK/time.txt"
  echo "$label $secs $rss $(awk "BEGIN { print $user + $sys }")" >>"$WORK/times"
}
: > "$WORK/times"
for run in $(seq 1 "$RUNS"); do
  measure "dpone_odbc_to_pg" "$DPONE" batch "$WORK/pg.yml" --progress none --format json
  measure "dpone_odbc_read" "$DPONE" batch "$WORK/csv.yml" --progress none --format json
  measure "arrow_odbc_read" "$VENV/bin/python" "$WORK/peer.py" "$SELECT"
done

PEER_ROWS=$(cat "$WORK/arrow_odbc_read.out")
AGG="SELECT count(*), sum(id), sum(extract(epoch FROM created_at)), sum(amount), md5(string_agg(coalesce(note, '∅'), ',' ORDER BY id)), count(*) FILTER (WHERE active), sum(qty), sum(ratio)::numeric(30,6)"
SRC_AGG=$("${PSQL[@]}" -At -c "$AGG FROM bench.odbc_src")
DST_AGG=$("${PSQL[@]}" -At -c "$AGG FROM bench.odbc_dst")
EXACT=$([ "$SRC_AGG" = "$DST_AGG" ] && echo true || echo false)
CSV_ROWS=$(( $(wc -l <"$WORK/out.csv") - 1 ))

python3 - "$WORK/times" "$ROWS" "$EXACT" "$PEER_ROWS" "$CSV_ROWS" <<'PY'
import json, statistics, sys, datetime, os
times, rows, exact, peer_rows, csv_rows = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "true", int(sys.argv[4]), int(sys.argv[5])
by = {}
for line in open(times):
    label, secs, rss, cpu = line.split()
    by.setdefault(label, []).append((float(secs), int(rss), float(cpu)))
med = {k: {"seconds": statistics.median(s for s, _, _ in v), "peak_rss_mb": max(r for _, r, _ in v) / 1024,
           "cpu_seconds": statistics.median(c for _, _, c in v), "runs": len(v)} for k, v in by.items()}
for k in med: med[k]["rows_per_second"] = rows / med[k]["seconds"]
ratio = med["dpone_odbc_read"]["rows_per_second"] / med["arrow_odbc_read"]["rows_per_second"]
date = datetime.date.today().isoformat()
out = {"rows": rows, "results": med, "read_ratio_dpone_over_arrow_odbc": ratio,
       "verification": {"equal": exact and peer_rows == rows and csv_rows == rows, "aggregates_exact": exact,
                        "peer_rows": peer_rows, "csv_rows": csv_rows}}
base = f"test_artifacts/benchmarks/{date}_odbc-{rows}"
os.makedirs("test_artifacts/benchmarks", exist_ok=True)
json.dump(out, open(base + ".json", "w"), indent=2)
with open(base + ".md", "w") as f:
    f.write(f"# ODBC source vs arrow-odbc, {rows:,} rows, psqlODBC on the local PostgreSQL ({date})\n\n")
    f.write("Medians of the runs, side by side in one sitting (Benchmarks/harness/compare-odbc.sh).\n\n")
    f.write("| run | seconds | rows/s | peak RSS MB | CPU s |\n| --- | ---: | ---: | ---: | ---: |\n")
    for k, v in med.items():
        f.write(f"| {k} | {v['seconds']:.2f} | {v['rows_per_second']:,.0f} | {v['peak_rss_mb']:.1f} | {v['cpu_seconds']:.2f} |\n")
    f.write(f"\n- dpone read (odbc -> CSV file) / arrow-odbc read: **{ratio:.2f}×** rows/s\n")
    f.write(f"- odbc -> postgres exact by aggregates over every column: **{exact}**; arrow-odbc read {peer_rows:,} rows, the CSV holds {csv_rows:,}\n")
    f.write(f"- text encoding: {os.environ.get('DPONE_ODBC_TEXT', 'automatic')} (options.text_encoding)\n")
    f.write("- dpone's read is measured through its cheapest sink: it also encodes and writes the CSV file; arrow-odbc only builds Arrow batches in memory.\n")
print(open(base + ".md").read())
if not exact or peer_rows != rows or csv_rows != rows:
    sys.exit("row counts or aggregates differ")
PY
