#!/usr/bin/env bash
# Peers on W1 (PostgreSQL -> ClickHouse full refresh) against the modern ClickHouse engine (26.9, the
# chDB engine that scripts/clickhouse-modern.sh serves over HTTP): dpone, the raw pipe, Sling and dpone-python 0.88.0,
# alternated, same source table, each into its own target table.
#
#   Benchmarks/harness/peers-clickhouse.sh [ROWS] [RUNS]     (defaults: 1000000 rows, 3 runs)
#
# Why the modern engine: on ClickHouse 18.16 both peers fail before moving a row (Sling queries
# system.columns.position, dpone-python needs DateTime64), so the side-by-side runs here.
# - dpone: `dpone batch` full_refresh (Native, EXCHANGE TABLES on this engine).
# - raw: psql \copy (SELECT ...) TO STDOUT | curl -T - '...INSERT INTO raw FORMAT TabSeparated'.
# - Sling (PyPI `sling-linux-amd64` binary wheel, run directly, telemetry off) over ClickHouse's HTTP
#   interface (`http_url`: the facade speaks no native protocol).
# - dpone-python (PyPI `dpone[postgres,clickhouse]==0.88.0`, own venv), legacy single-process manifest,
#   env connections (DPONE_CONN_PEERS_*), `driver: http`. Its HTTP client (clickhouse-connect) sends
#   lz4 bodies, so the `lz4` module is installed into the facade's venv (the facade decodes lz4 when it
#   is importable) and the facade restarted once. A contender that fails is recorded with its error;
#   the others still run.
# Writes test_artifacts/benchmarks/<date>_peers-pg-to-clickhouse-modern-<rows>.md (+ .json).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS="${1:-1000000}"
RUNS="${2:-3}"
scripts/install-deps.sh
# DPONE_BENCH_BIN: run another build of dpone (an earlier commit's, for a before/after comparison).
[ -n "${DPONE_BENCH_BIN:-}" ] || swift build -c release --product dpone >/dev/null
DPONE="${DPONE_BENCH_BIN:-$PWD/.build/release/dpone}"
PG_URL="$(scripts/postgres.sh start | tail -n 1)"
CH_URL="$(scripts/clickhouse-modern.sh start | tail -n 1)"
export PG_URL CH_URL DPONE_CONN_BENCH_PG_URL="$PG_URL" DPONE_CONN_BENCH_CH_URL="$CH_URL"
WORK="$PWD/.build/bench-peers-ch"
mkdir -p "$WORK/cwd"
ch() { curl -sS --fail-with-body --data-binary "$1" "$CH_URL"; }

source Benchmarks/harness/peers-lib.sh
install_sling "$WORK"
CH_HOSTPORT="${CH_URL#http://}"; CH_HOSTPORT="${CH_HOSTPORT%%/*}"
export PG="$PG_URL?sslmode=disable" SLING_DISABLE_TELEMETRY=true SLING_HOME_DIR="$WORK/sling-home"
export CHM="{type: clickhouse, http_url: \"http://$CH_HOSTPORT/peers\", host: ${CH_HOSTPORT%%:*}, database: peers, user: default}"
mkdir -p "$SLING_HOME_DIR"

PYVENV="$WORK/dpone-python-venv"
install_dpone_python "$PYVENV" postgres,clickhouse 'import psycopg, clickhouse_connect'
export_pg_connection PEERS_PG "$PG_URL"
export DPONE_CONN_PEERS_CH_HOST="${CH_HOSTPORT%%:*}" DPONE_CONN_PEERS_CH_PORT="${CH_HOSTPORT##*:}" \
  DPONE_CONN_PEERS_CH_USERNAME=default DPONE_CONN_PEERS_CH_PASSWORD= DPONE_CONN_PEERS_CH_DATABASE=peers \
  DPONE_CONN_PEERS_CH_DRIVER=http

psql -X -q -v ON_ERROR_STOP=1 "$PG_URL" <<SQL
DROP SCHEMA IF EXISTS peers CASCADE;
CREATE SCHEMA peers;
CREATE TABLE peers.src (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, amount numeric(12,2), note text, active boolean);
INSERT INTO peers.src SELECT g, timestamptz '2026-01-01' + g * interval '1 second', (g % 100000) / 100.0,
  'note ' || g || ' lorem ipsum', g % 2 = 0 FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE peers.src;
SQL
ch "DROP DATABASE IF EXISTS peers" >/dev/null
ch "CREATE DATABASE peers" >/dev/null
ch "CREATE TABLE peers.raw (id Int64, created_at DateTime64(6, 'UTC'), amount Decimal(12,2), note String, active Bool) ENGINE = MergeTree ORDER BY id" >/dev/null

cat > "$WORK/dpone.yml" <<YAML
name: peers_ch_dpone
source: {type: postgres, connection_ref: bench_pg, table: {schema: peers, name: src}}
sink: {type: clickhouse, connection_ref: bench_ch, table: {schema: peers, name: dst_dpone}, strategy: {mode: full_refresh, unique_key: id}}
state: {type: disabled}
YAML
cat > "$WORK/dpone-python.yml" <<YAML
name: peers_ch_dpone_python
runtime:
  compatibility: {legacy_runtime_connections: explicit_only}
source:
  type: postgres
  connection_id: peers_pg
  connection_type: env
  table: {schema: peers, name: src}
sink:
  type: clickhouse
  connection_id: peers_ch
  connection_type: env
  table: {schema: peers, name: dst_dpone_python}
  staging: {schema: peers}
  strategy: {mode: full_refresh}
state: {type: disabled}
YAML
raw() {
  curl -sS --fail-with-body --data-binary "TRUNCATE TABLE peers.raw" "$CH_URL" >/dev/null
  psql -X -q -v ON_ERROR_STOP=1 "$PG_URL" -c "\\copy (SELECT id, created_at AT TIME ZONE 'UTC', amount, note, active::int FROM peers.src) TO STDOUT" |
    curl -sS --fail-with-body -X POST -T - "${CH_URL}?query=INSERT%20INTO%20peers.raw%20FORMAT%20TabSeparated"
}
export -f raw

: >"$WORK/times"
: >"$WORK/failures"
measure() { # label command...: a failing contender is recorded (its last error line) and not run again
  local label=$1; shift
  grep -q "^$label " "$WORK/failures" && return 0
  if /usr/bin/time -f "%e %M %U %S" -o "$WORK/time.txt" "$@" >"$WORK/$label.out" 2>&1; then
    read -r secs rss user sys <"$WORK/time.txt"
    echo "$label $secs $rss $(awk "BEGIN { print $user + $sys }")" >>"$WORK/times"
  else
    local why
    why=$(grep -E -i "error|fatal|exception" "$WORK/$label.out" | grep -v '^INFO' | tail -n 1 | cut -c1-300)
    echo "$label ${why:-exit status $?}" >>"$WORK/failures"
  fi
}
for run in $(seq 1 "$RUNS"); do
  measure dpone "$DPONE" batch "$WORK/dpone.yml" --progress none
  measure raw bash -c raw
  ch "DROP TABLE IF EXISTS peers.dst_sling" >/dev/null
  measure sling "$SLING" run --src-conn PG --src-stream peers.src --tgt-conn CHM --tgt-object peers.dst_sling --mode full-refresh
  ch "DROP TABLE IF EXISTS peers.dst_dpone_python" >/dev/null
  measure dpone-python env -C "$WORK/cwd" "$PYVENV/bin/dpone" run "$WORK/dpone-python.yml"
done

digest() { curl -sS --fail --data-binary "SELECT concat(toString(count()), ' ', toString(sum(id)), ' ', toString(sum(amount))) FROM peers.$1" "$CH_URL" 2>/dev/null || echo "no target table"; }
SRC=$(psql -X -At "$PG_URL" -c "SELECT count(*) || ' ' || sum(id) || ' ' || sum(amount) FROM peers.src")
printf '%s\n' "source $SRC" "dpone $(digest dst_dpone)" "raw $(digest raw)" "sling $(digest dst_sling)" \
  "dpone-python $(digest dst_dpone_python)" >"$WORK/digests"
python3 - "$WORK" "$ROWS" "$RUNS" "$SLING_VERSION" "$DPONE_PY_VERSION" <<'PY'
import json, statistics, sys, datetime, os, subprocess
work, rows, runs, sling_version, dpone_py_version = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].strip(), sys.argv[5].strip()
data, failures, digests = {}, {}, {}
for line in open(f"{work}/times"):
    label, secs, rss, cpu = line.split()
    data.setdefault(label, []).append((float(secs), int(rss), float(cpu)))
for line in open(f"{work}/failures"):
    label, _, why = line.strip().partition(" ")
    failures[label] = why
for line in open(f"{work}/digests"):
    label, _, d = line.strip().partition(" ")
    digests[label] = d
def norm(x):
    try:
        c, s, a = x.split(); return (int(c), int(s), round(float(a), 2))
    except ValueError:
        return None
res = {}
for label, xs in data.items():
    med = statistics.median(x[0] for x in xs)
    res[label] = {"runs": [x[0] for x in xs], "median_s": med, "rows_per_s": round(rows / med),
                  "peak_rss_mb": round(max(x[1] for x in xs) / 1024, 1),
                  "cpu_s_per_million_rows": round(statistics.median(x[2] for x in xs) / (rows / 1e6), 2),
                  "target_equals_source": norm(digests.get(label, "")) == norm(digests["source"])}
ratios = {f"dpone_to_{k}".replace("-", "_"): round(res["dpone"]["rows_per_s"] / v["rows_per_s"], 2)
          for k, v in res.items() if k != "dpone" and "dpone" in res}
ok = "dpone" in res and all(v["target_equals_source"] for v in res.values())
date = datetime.date.today().isoformat()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
chv = subprocess.run(["curl", "-s", "--data-binary", "SELECT version()", os.environ["CH_URL"]], capture_output=True, text=True).stdout.strip()
report = {"name": f"Peers: PostgreSQL -> ClickHouse (modern engine {chv}) full refresh, {rows} rows", "date": date,
          "machine": {"cores": os.cpu_count(), "cpu": cpu},
          "versions": {"swift": swift, "clickhouse": chv, "sling": sling_version, "dpone_python": dpone_py_version},
          "results": res, "ratios": ratios, "failures": failures, "verification": digests}
base = f"test_artifacts/benchmarks/{date}_peers-pg-to-clickhouse-modern-{rows}"
json.dump(report, open(base + ".json", "w"), indent=2)
with open(base + ".md", "w") as f:
    f.write(f"# Peers: PostgreSQL -> ClickHouse {chv} full refresh, {rows:,} rows — {date}\n\n")
    f.write(f"- machine: {os.cpu_count()} cores, {cpu}; {swift}; ClickHouse {chv} (chDB engine over HTTP, scripts/clickhouse-modern.sh); "
            f"Sling {sling_version}; dpone-python {dpone_py_version}\n")
    f.write(f"- runner: `Benchmarks/harness/peers-clickhouse.sh {rows} {runs}` (alternated, medians of {runs})\n")
    f.write("- verification (count, sum(id), sum(amount)): " + "; ".join(f"{k} `{v}`" for k, v in digests.items()) + "\n")
    f.write("- timings are whole processes under `/usr/bin/time`; the ClickHouse side is one Python process (the facade) for everyone\n\n")
    f.write("| contender | median s | rows/s | peak RSS MB | CPU s / M rows | target = source |\n| --- | --- | --- | --- | --- | --- |\n")
    for k, v in res.items():
        f.write(f"| {k} | {v['median_s']:.2f} | {v['rows_per_s']:,} | {v['peak_rss_mb']} | {v['cpu_s_per_million_rows']} | {'yes' if v['target_equals_source'] else 'NO'} |\n")
    for k, why in failures.items():
        f.write(f"| {k} | failed | — | — | — | — |\n")
    f.write("\nRatios dpone / contender: " + ", ".join(f"{k} **{v}**" for k, v in ratios.items()) + ".\n\n")
    for k, why in failures.items():
        f.write(f"- **{k} failed**: `{why}`\n")
    f.write("\nSling creates its target as all-Nullable columns with `ORDER BY tuple()` and maps bool to String; "
            "dpone keeps the source's types and nullability (DateTime64(6, 'UTC'), Decimal(12,2), Bool) and orders by the key.\n")
print(open(base + ".md").read())
sys.exit(0 if ok else 1)
PY
