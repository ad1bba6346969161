#!/usr/bin/env bash
# Peers on W2 (PostgreSQL -> PostgreSQL full refresh): dpone against Sling and dpone-python 0.88.0,
# alternated, same source table, each into its own target table (replaced every run).
#
#   Benchmarks/harness/peers-postgres.sh [ROWS] [RUNS]     (defaults: 5000000 rows, 3 runs)
#
# Sling comes from PyPI as the `sling-linux-amd64` binary wheel (its bundled Go binary is run
# directly: the Python wrapper would try to download one). Telemetry is disabled.
# dpone-python (the Python predecessor) comes from PyPI as `dpone[postgres]==0.88.0` into the venv
# .build/bench-peers/dpone-python-venv (created when missing). It runs a legacy single-process
# manifest: its strict runtime wants a verified connection registry for `connection_ref`, so the
# manifest opts into `runtime.compatibility.legacy_runtime_connections: explicit_only` and names an
# env connection (`connection_id: peers_pg`, `connection_type: env` -> DPONE_CONN_PEERS_PG_*).
# Two variants: "dpone-python" = its defaults (batch_commit_mode separate: LIMIT/OFFSET batches of
# 10,000 rows, one CSV COPY round trip each) and "dpone-python-tuned" = `batch_commit_mode: whole`
# (one CSV COPY TO file, one COPY FROM into staging). `export_format: binary` would be the other
# documented knob but fails in 0.88.0 ("'utf-8' codec can't decode byte 0xff"), so it is not used.
# Writes test_artifacts/benchmarks/<date>_peers-pg-to-pg-<rows>.md (+ .json).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS="${1:-5000000}"
RUNS="${2:-3}"
scripts/install-deps.sh
# DPONE_BENCH_BIN: run another build of dpone (an earlier commit's, for a before/after comparison).
[ -n "${DPONE_BENCH_BIN:-}" ] || swift build -c release --product dpone >/dev/null
DPONE="${DPONE_BENCH_BIN:-$PWD/.build/release/dpone}"
URL="$(scripts/postgres.sh start | tail -n 1)"
WORK="$PWD/.build/bench-peers"
mkdir -p "$WORK"
source Benchmarks/harness/peers-lib.sh
install_sling "$WORK"
export PG="$URL?sslmode=disable" SLING_DISABLE_TELEMETRY=true SLING_HOME_DIR="$WORK/sling-home"
mkdir -p "$SLING_HOME_DIR"

install_dpone_python "$WORK/dpone-python-venv" postgres 'import psycopg'
export_pg_connection PEERS_PG "$URL"
mkdir -p "$WORK/dpone-python-cwd"   # its runtime dirs (.dpone/...) land here, not in the checkout

psql -X -q -v ON_ERROR_STOP=1 "$URL" <<SQL
DROP SCHEMA IF EXISTS peers CASCADE;
CREATE SCHEMA peers;
CREATE TABLE peers.src (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, amount numeric(12,2), note text, active boolean);
INSERT INTO peers.src SELECT g, timestamptz '2026-01-01' + g * interval '1 second', (g % 100000) / 100.0,
  'note ' || g || ' lorem ipsum', g % 2 = 0 FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE peers.src;
SQL
cat > "$WORK/dpone.yml" <<YAML
name: peers_dpone
source: {type: postgres, connection: {url: "$URL"}, table: {schema: peers, name: src}}
sink: {type: postgres, connection: {url: "$URL"}, table: {schema: peers, name: dst_dpone}, strategy: {mode: full_refresh}}
state: {type: disabled}
YAML
# dpone-python manifests: $1 = target table, $2 = extra source options (YAML flow mapping entries).
dpone_python_manifest() {
  cat <<YAML
name: peers_$1
runtime:
  compatibility: {legacy_runtime_connections: explicit_only}
source:
  type: postgres
  connection_id: peers_pg
  connection_type: env
  table: {schema: peers, name: src}
  options: {$2}
sink:
  type: postgres
  connection_id: peers_pg
  connection_type: env
  table: {schema: peers, name: $1}
  staging: {schema: peers}
  strategy: {mode: full_refresh}
state: {type: disabled}
YAML
}
dpone_python_manifest dst_dpone_python "" >"$WORK/dpone-python.yml"
dpone_python_manifest dst_dpone_python_tuned "batch_commit_mode: whole" >"$WORK/dpone-python-tuned.yml"
: >"$WORK/times"
measure() {
  local label=$1; shift
  /usr/bin/time -f "%e %M %U %S" -o "$WORK/time.txt" "$@" >"$WORK/$label.out" 2>&1 || { cat "$WORK/$label.out"; exit 1; }
  read -r secs rss user sys <"$WORK/time.txt"
  echo "$label $secs $rss $(awk "BEGIN { print $user + $sys }")" >>"$WORK/times"
}
for run in $(seq 1 "$RUNS"); do
  measure dpone "$DPONE" batch "$WORK/dpone.yml" --progress none
  measure sling "$SLING" run --src-conn PG --src-stream peers.src --tgt-conn PG --tgt-object peers.dst_sling --mode full-refresh
  # dpone-python's bootstrap DDL drops NOT NULL (and timestamptz -> timestamp), and its schema evolution
  # then refuses the next run into that table ("DPONE_SCHEMA_EVOLUTION_BLOCKED ... nullability_tighten"):
  # its target is dropped before each run (outside the timing), so every run is a fresh full refresh.
  psql -X -q "$URL" -c "DROP TABLE IF EXISTS peers.dst_dpone_python"
  measure dpone-python env -C "$WORK/dpone-python-cwd" "$DPONE_PY" run "$WORK/dpone-python.yml"
  psql -X -q "$URL" -c "DROP TABLE IF EXISTS peers.dst_dpone_python_tuned"
  measure dpone-python-tuned env -C "$WORK/dpone-python-cwd" "$DPONE_PY" run "$WORK/dpone-python-tuned.yml"
done
COUNTS=$(psql -X -At "$URL" -c "SELECT concat_ws(' ', (SELECT count(*) FROM peers.src), (SELECT count(*) FROM peers.dst_dpone), (SELECT count(*) FROM peers.dst_sling), (SELECT count(*) FROM peers.dst_dpone_python), (SELECT count(*) FROM peers.dst_dpone_python_tuned))")
python3 - "$WORK/times" "$ROWS" "$RUNS" "$COUNTS" "$SLING_VERSION" "$DPONE_PY_VERSION" "$WORK/dpone-python-tuned.yml" <<'PY'
import json, statistics, sys, datetime, os, subprocess
times, rows, runs, counts, sling_version = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(), sys.argv[5].strip()
dpone_py_version, tuned_manifest = sys.argv[6].strip(), open(sys.argv[7]).read()
data = {}
for line in open(times):
    label, secs, rss, cpu = line.split()
    data.setdefault(label, []).append((float(secs), int(rss), float(cpu)))
res = {}
for label, xs in data.items():
    med = statistics.median(x[0] for x in xs)
    res[label] = {"runs": [x[0] for x in xs], "median_s": med, "rows_per_s": round(rows / med),
                  "peak_rss_mb": round(max(x[1] for x in xs) / 1024, 1), "cpu_s_per_million_rows": round(statistics.median(x[2] for x in xs) / (rows / 1e6), 2)}
ratio = res["dpone"]["rows_per_s"] / res["sling"]["rows_per_s"]
ratios = {f"dpone_to_{k}".replace("-", "_"): round(res["dpone"]["rows_per_s"] / v["rows_per_s"], 2) for k, v in res.items() if k != "dpone"}
ok = len(set(counts)) == 1
date = datetime.date.today().isoformat()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
report = {"name": f"Peers: PostgreSQL -> PostgreSQL full refresh, {rows} rows", "date": date, "machine": {"cores": os.cpu_count(), "cpu": cpu},
          "versions": {"swift": swift, "sling": sling_version, "dpone_python": dpone_py_version}, "results": res,
          "ratio_dpone_to_sling": round(ratio, 2), "ratios": ratios,
          "dpone_python_variants": {"dpone-python": "defaults (batch_commit_mode separate, batch_size 10000, CSV)",
                                    "dpone-python-tuned": "source.options.batch_commit_mode: whole (one CSV COPY export + COPY into staging)"},
          "verification": {"source": counts[0], "dpone": counts[1], "sling": counts[2], "dpone_python": counts[3],
                           "dpone_python_tuned": counts[4], "equal": ok}}
base = f"test_artifacts/benchmarks/{date}_peers-pg-to-pg-{rows}"
json.dump(report, open(base + ".json", "w"), indent=2)
with open(base + ".md", "w") as f:
    f.write(f"# Peers: PostgreSQL -> PostgreSQL full refresh, {rows:,} rows — {date}\n\n")
    f.write(f"- machine: {os.cpu_count()} cores, {cpu}; {swift}; Sling {sling_version} (PyPI `sling-linux-amd64`, binary run directly, telemetry off); dpone-python {dpone_py_version} (PyPI `dpone[postgres]`, own venv)\n")
    f.write(f"- runner: `Benchmarks/harness/peers-postgres.sh {rows} {runs}` (alternated, medians of {runs})\n")
    f.write(f"- verification: row counts source/dpone/sling/dpone-python/dpone-python-tuned = {' / '.join(counts)} — {'equal' if ok else 'DIFFERENT'}\n")
    f.write("- timings are whole processes under `/usr/bin/time` (start-up included: dpone-python spends ~2.5 s importing before it moves a row); "
            "CPU is user+sys of the contender's process, not the PostgreSQL server's\n\n")
    f.write("| contender | median s | rows/s | peak RSS MB | CPU s / M rows |\n| --- | --- | --- | --- | --- |\n")
    for k, v in res.items():
        f.write(f"| {k} | {v['median_s']:.2f} | {v['rows_per_s']:,} | {v['peak_rss_mb']} | {v['cpu_s_per_million_rows']} |\n")
    f.write(f"\nRatio dpone / Sling: **{ratio:.2f}**; dpone / dpone-python: **{ratios['dpone_to_dpone_python']:.2f}** (defaults), **{ratios['dpone_to_dpone_python_tuned']:.2f}** (tuned).\n\n")
    f.write("dpone-python runs `dpone run <manifest>` on a legacy single-process manifest (env connection `DPONE_CONN_PEERS_PG_*`, "
            "`runtime.compatibility.legacy_runtime_connections: explicit_only`, since its strict runtime wants a verified connection registry). "
            "`dpone-python` = its defaults: LIMIT/OFFSET batches of 10,000 rows, each exported with CSV COPY to a file and COPYed into a staging table, "
            "then TRUNCATE + INSERT ... SELECT into the target. `dpone-python-tuned` adds `batch_commit_mode: whole` (one CSV COPY export, one COPY into staging). "
            "`export_format: binary` fails in 0.88.0 (`'utf-8' codec can't decode byte 0xff`), so it is not a variant. "
            "Its target maps `timestamptz` to `timestamp without time zone`, drops NOT NULL and adds `__dpone__loaded_at`/`__dpone__deleted_at` columns; "
            "its schema evolution then blocks a second run into that table (`DPONE_SCHEMA_EVOLUTION_BLOCKED ... nullability_tighten`), "
            "so the harness drops its target before each of its runs (outside the timing). Tuned manifest:\n\n")
    f.write("```yaml\n" + tuned_manifest + "```\n")
print(open(base + ".md").read())
sys.exit(0 if ok else 1)
PY
