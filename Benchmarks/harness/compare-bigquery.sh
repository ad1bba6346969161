#!/usr/bin/env bash
# PostgreSQL -> BigQuery: dpone against dlt (PyPI `dlt[bigquery]==1.31.0`, its sql_table source),
# side by side on this machine, both loading the same PostgreSQL table into the same BigQuery
# emulator (scripts/bigquery.sh: bqemulator over DuckDB).
#
#   Benchmarks/harness/compare-bigquery.sh [ROWS] [RUNS]     (defaults: 5000000 rows, 3 runs)
#
# The table: bench.bq_src (id bigint, created_at timestamptz, amount numeric(12,2), note text,
# active boolean), ROWS rows. Alternated RUNS times:
#   A  dpone batch: postgres -> bigquery full_refresh into bench_dpone.items (one load job per
#      checkpoint, NDJSON in 8 MiB chunks of a resumable upload, then the publish script)
#   B  dlt: sql_table (sqlalchemy backend) -> bigquery, write_disposition replace, into
#      bench_dlt.bq_src (its default loader file format, jsonl, loaded by a load job)
# Each run is one whole process under /usr/bin/time (start-up included; peak RSS is the process's).
# Both loads must be exact: count(*) = ROWS and sum(id) = n(n+1)/2 in each target, else the script
# fails (after writing the artifact). Acceptance: dpone's peak RSS under 150 MB (enforced); the
# rows/s ratio is reported.
#
# The emulator runs both loads, so both rates include its DuckDB work; neither tool's number says
# what BigQuery itself would take.
#
# Env: DPONE_BENCH_BIN (default: build .build/release/dpone), BENCH_ARTIFACT_DIR (default
# test_artifacts/benchmarks). Writes <BENCH_ARTIFACT_DIR>/<date>_pg-to-bigquery-<rows>.md (+ .json).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS="${1:-5000000}"
RUNS="${2:-3}"
ARTIFACTS="${BENCH_ARTIFACT_DIR:-test_artifacts/benchmarks}"
scripts/install-deps.sh
[ -n "${DPONE_BENCH_BIN:-}" ] || swift build -c release --product dpone >/dev/null
DPONE="${DPONE_BENCH_BIN:-$PWD/.build/release/dpone}"
PG_URL="$(scripts/postgres.sh start | tail -n 1)"
BQ_URL="$(scripts/bigquery.sh start | tail -n 1)"
PROJECT="${DPONE_BIGQUERY_PROJECT:-dpone-test}"
export DPONE_CONN_BENCH_URL="$PG_URL"   # keeps the URL out of the artifact's manifest
WORK="$PWD/.build/bench-bigquery"
rm -rf "$WORK/state" "$WORK/dlt-pipelines"; mkdir -p "$WORK"

VENV="$WORK/venv"
DLT_PIN=1.31.0
if ! "$VENV/bin/python" -c "import dlt, sqlalchemy, psycopg2, google.cloud.bigquery; assert dlt.__version__ == '$DLT_PIN'" 2>/dev/null; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "dlt[bigquery]==$DLT_PIN" "sqlalchemy>=2" psycopg2-binary
fi
DLT_VERSION=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("dlt"))')
export RUNTIME__DLTHUB_TELEMETRY=false
# The emulator reads load files as they are: dlt must not gzip them (BigQuery would inflate them).
export DATA_WRITER__DISABLE_COMPRESSION=true

psql -X -q -v ON_ERROR_STOP=1 "$PG_URL" <<SQL
SET client_min_messages = warning;
CREATE SCHEMA IF NOT EXISTS bench;
DROP TABLE IF EXISTS bench.bq_src;
CREATE TABLE bench.bq_src (id bigint PRIMARY KEY, created_at timestamptz, amount numeric(12,2), note text, active boolean);
INSERT INTO bench.bq_src SELECT g, timestamptz '2026-01-01' + g * interval '1 second', (g % 100000) / 100.0, 'note ' || g || ' lorem ipsum', g % 2 = 0
  FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE bench.bq_src;
SQL

cat > "$WORK/dpone.yml" <<YAML
name: bench-bigquery
source:
  type: postgres
  connection_ref: bench
  table: {schema: bench, name: bq_src}
sink:
  type: bigquery
  connection: {url: "bigquery://$PROJECT"}
  table: {schema: bench_dpone, name: items}
  strategy: {mode: full_refresh}
state: {dir: $WORK/state}
YAML

source Benchmarks/harness/peers-lib.sh   # measure
: > "$WORK/times"
for run in $(seq 1 "$RUNS"); do
  measure dpone env BIGQUERY_EMULATOR_HOST="${BQ_URL#http://}" "$DPONE" batch "$WORK/dpone.yml" --progress none --format json
  measure dlt env BIGQUERY_EMULATOR_HOST="$BQ_URL" "$VENV/bin/python" Benchmarks/harness/dlt_bigquery.py \
    "$PG_URL" bench bq_src "$PROJECT" bench_dlt "$WORK/dlt-pipelines"
  echo "run $run/$RUNS: $(tail -n 2 "$WORK/times" | awk '{ printf "%s %ss %.0fMB  ", $1, $2, $3 / 1024 }')"
done

bq() { # SQL -> the first row's values, space-separated
  curl -sS --fail-with-body -X POST "$BQ_URL/bigquery/v2/projects/$PROJECT/queries" -H 'Content-Type: application/json' \
    -d "$(python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1], "useLegacySql": False}))' "$1")" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(c["v"] for c in d["rows"][0]["f"]) if d.get("rows") else "error: %s" % d.get("errors"))'
}
DPONE_CHECK=$(bq 'SELECT COUNT(*), SUM(`id`) FROM `bench_dpone`.`items`')
DLT_CHECK=$(bq 'SELECT COUNT(*), SUM(`id`) FROM `bench_dlt`.`bq_src`')
DPONE_VERSION=$("$DPONE" --version 2>/dev/null | sed 's/^dpone //' || echo "?")

python3 - "$WORK/times" "$ROWS" "$RUNS" "$DPONE_CHECK" "$DLT_CHECK" "$DLT_VERSION" "$DPONE_VERSION" "$ARTIFACTS" "$WORK/dpone.yml" <<'PY'
import datetime, json, os, statistics, sys
times, rows, runs, dpone_check, dlt_check, dlt_version, dpone_version, artifacts, manifest = sys.argv[1:]
rows, runs = int(rows), int(runs)
expect = f"{rows} {rows * (rows + 1) // 2}"
by = {}
for line in open(times):
    label, secs, rss, cpu = line.split()
    by.setdefault(label, []).append((float(secs), int(rss), float(cpu)))
res = {k: {"runs_s": [s for s, _, _ in v], "median_s": statistics.median(s for s, _, _ in v),
           "peak_rss_mb": round(max(r for _, r, _ in v) / 1024, 1),
           "cpu_s": round(statistics.median(c for _, _, c in v), 2)} for k, v in by.items()}
for v in res.values():
    v["rows_per_s"] = round(rows / v["median_s"])
ratio = res["dpone"]["rows_per_s"] / res["dlt"]["rows_per_s"]
exact = {"dpone": dpone_check == expect, "dlt": dlt_check == expect}
rss_ok = res["dpone"]["peak_rss_mb"] < 150
date = datetime.date.today().isoformat()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
report = {"name": f"PostgreSQL -> BigQuery (emulator): dpone vs dlt, {rows} rows", "date": date,
          "machine": {"cores": os.cpu_count(), "cpu": cpu}, "versions": {"dpone": dpone_version, "dlt": dlt_version},
          "rows": rows, "runs": runs, "results": res, "ratio_rows_per_s": round(ratio, 2),
          "exact": exact, "checks": {"expected": expect, "dpone": dpone_check, "dlt": dlt_check},
          "dpone_peak_rss_under_150mb": rss_ok}
os.makedirs(artifacts, exist_ok=True)
base = os.path.join(artifacts, f"{date}_pg-to-bigquery-{rows}")
json.dump(report, open(base + ".json", "w"), indent=2)
with open(base + ".md", "w") as f:
    f.write(f"# {report['name']}\n\n")
    f.write(f"{date}, {os.cpu_count()} cores ({cpu}); dpone {dpone_version}, dlt {dlt_version}; {runs} alternated runs, medians.\n\n")
    f.write("Both tools read the same PostgreSQL 15 table (id bigint, created_at timestamptz, amount numeric(12,2), note text, active boolean) "
            "and load the same BigQuery emulator (bqemulator 1.4.0 over DuckDB 1.5.5) on loopback; each run is a whole process under "
            "/usr/bin/time. The emulator's DuckDB does the loading for both, so the rates say how the tools compare, not what BigQuery takes.\n\n")
    f.write("| tool | median s | rows/s | peak RSS MB | CPU s | exact |\n|---|---|---|---|---|---|\n")
    for k in ("dpone", "dlt"):
        v = res[k]
        f.write(f"| {k} | {v['median_s']:.2f} | {v['rows_per_s']:,} | {v['peak_rss_mb']} | {v['cpu_s']} | {'yes' if exact[k] else 'NO'} |\n")
    f.write(f"\nRatio (dpone rows/s ÷ dlt rows/s): **{ratio:.2f}×**. dpone peak RSS under 150 MB: **{'yes' if rss_ok else 'NO'}**.\n\n")
    f.write(f"Checks: count and sum(id) expected `{expect}`; dpone `{dpone_check}`, dlt `{dlt_check}`.\n\n")
    f.write("dpone: full_refresh, one checkpoint, NDJSON in 8 MiB chunks of one resumable upload, one load job into staging, then the "
            "publish script (DELETE + INSERT in one transaction, ledger row). dlt: `sql_table` (sqlalchemy backend) with "
            "`write_disposition=replace`, its default jsonl load files and load jobs; google-cloud-bigquery honours "
            "BIGQUERY_EMULATOR_HOST, and its token requests go to a loopback stub (Benchmarks/harness/dlt_bigquery.py).\n\n")
    f.write("Runs (s): " + "; ".join(f"{k} {', '.join(f'{s:.2f}' for s in res[k]['runs_s'])}" for k in ("dpone", "dlt")) + "\n\n")
    f.write("Manifest:\n\n```yaml\n" + open(manifest).read() + "```\n")
print(open(base + ".md").read())
sys.exit(0 if all(exact.values()) and rss_ok else 1)
PY
