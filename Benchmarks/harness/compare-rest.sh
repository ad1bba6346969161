#!/usr/bin/env bash
# The REST source against dlt's rest_api source (PyPI `dlt[postgres]==1.31.0`), side by side on this
# machine: both page through the same local HTTP API (dpone-rest-mock) into the same PostgreSQL.
#
#   Benchmarks/harness/compare-rest.sh [RECORDS] [RUNS]     (defaults: 1000000 records, 3 runs)
#
# The API: `dpone-rest-mock --records RECORDS --per-page 1000`, route /page?page=N&per_page=1000 ->
# {"data": [...], "total_pages": T} (Tests/Support/RESTFixtureAPI.swift): RECORDS / 1000 pages of
# {id, name, amount, updated_at, active, meta {source, score}, tags [..]}. One server serves every
# run of both tools. Then, alternated RUNS times:
#   A  dpone batch: rest (page_number paginator, declared schema; meta and tags as json) ->
#      postgres full_refresh into bench.rest_dpone
#   B  dlt: rest_api_source (page_number paginator, base_page 1, total_path total_pages,
#      data_selector data) -> postgres, write_disposition replace, into bench_dlt.rest_dlt
# Each run is one whole process under /usr/bin/time (start-up included; peak RSS is the process's,
# or its largest child's). Both loads must be exact: count(*) = RECORDS and sum(id) = n(n+1)/2 in
# each table, and the two tables equal row by row over every column (a full join on id), else the
# script fails (after writing the artifact). Acceptance target: dpone >= 3x dlt's rows/s at lower
# peak RSS (reported, not enforced).
#
# dlt runs its defaults (extract -> normalize -> load, insert_values files) with two settings, both
# noted in the artifact: the resource declares the same column types as dpone's manifest (bigint,
# text, double, timestamp, bool, json, json: without them dlt would flatten `meta` into columns and
# `tags` into a child table, and keep updated_at as text unless its detection fires), and telemetry is
# off (RUNTIME__DLTHUB_TELEMETRY=false). DLT_LOADER_FORMAT=csv (or parquet) tries another of its
# postgres file formats; the artifact then says so.
#
# Env: DPONE_BENCH_BIN (dpone to run; default: build .build/release/dpone), DPONE_REST_MOCK_BIN (the
# API server; default: build .build/release/dpone-rest-mock), BENCH_ARTIFACT_DIR (where the artifact
# goes; default test_artifacts/benchmarks: point it elsewhere for a trial at a small size).
# Writes <BENCH_ARTIFACT_DIR>/<date>_rest-to-pg-<records>.md (+ .json).
set -euo pipefail
cd "$(dirname "$0")/../.."
RECORDS="${1:-1000000}"
RUNS="${2:-3}"
PER_PAGE=1000
ARTIFACTS="${BENCH_ARTIFACT_DIR:-test_artifacts/benchmarks}"
scripts/install-deps.sh
[ -n "${DPONE_BENCH_BIN:-}" ] || swift build -c release --product dpone >/dev/null
[ -n "${DPONE_REST_MOCK_BIN:-}" ] || swift build -c release --product dpone-rest-mock >/dev/null
DPONE="${DPONE_BENCH_BIN:-$PWD/.build/release/dpone}"
MOCK="${DPONE_REST_MOCK_BIN:-$PWD/.build/release/dpone-rest-mock}"
URL="$(scripts/postgres.sh start | tail -n 1)"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 "$URL")
export DPONE_CONN_BENCH_URL="$URL"   # the sink's connection_ref (keeps the URL out of the artifact's manifest)
WORK="$PWD/.build/bench-rest"
rm -rf "$WORK/state" "$WORK/dlt-pipelines" "$WORK/mock.out"; mkdir -p "$WORK"

# The peer, pinned, in a venv of its own (wheels from PyPI).
VENV="$WORK/venv"
DLT_PIN=1.31.0
if ! "$VENV/bin/python" -c "import dlt, psycopg2; from dlt.sources.rest_api import rest_api_source; assert dlt.__version__ == '$DLT_PIN'" 2>/dev/null; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "dlt[postgres]==$DLT_PIN"
fi
DLT_VERSION=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("dlt"))')
export RUNTIME__DLTHUB_TELEMETRY=false

# The API server, on a free port, stopped on exit (by its pid).
MOCK_PID=""
cleanup() { [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null || true; }
trap cleanup EXIT
"$MOCK" --port 0 --records "$RECORDS" --per-page "$PER_PAGE" >"$WORK/mock.out" 2>&1 &
MOCK_PID=$!
API=""
for _ in $(seq 1 100); do
  API=$(awk '/^listening /{ print $2; exit }' "$WORK/mock.out")
  [ -n "$API" ] && break
  kill -0 "$MOCK_PID" 2>/dev/null || { cat "$WORK/mock.out"; echo "dpone-rest-mock exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$API" ] || { echo "dpone-rest-mock did not start" >&2; exit 1; }

"${PSQL[@]}" <<SQL
SET client_min_messages = warning;
CREATE SCHEMA IF NOT EXISTS bench;
DROP TABLE IF EXISTS bench.rest_dpone;
DROP SCHEMA IF EXISTS bench_dlt CASCADE;
SQL

cat > "$WORK/dpone.yml" <<YAML
name: bench-rest
source:
  type: rest
  connection: {url: "$API"}
  options:
    path: /page
    params: {per_page: $PER_PAGE}
    records: data
    paginator: {type: page_number, param: page, total_pages_path: total_pages}
    schema:
      - {name: id, type: int64, nullable: false}
      - {name: name, type: string}
      - {name: amount, type: float64}
      - {name: updated_at, type: timestamptz}
      - {name: active, type: bool}
      - {name: meta, type: json}
      - {name: tags, type: json}
sink:
  type: postgres
  connection_ref: bench
  table: {schema: bench, name: rest_dpone}
  strategy: {mode: full_refresh}
state: {dir: $WORK/state}
YAML

cat > "$WORK/dlt_rest.py" <<'PY'
# dlt's rest_api source -> postgres: argv = API base URL, postgres URL, per_page, pipelines dir.
import os, sys
import dlt
from dlt.sources.rest_api import rest_api_source

api, pg, per_page, pipelines_dir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
source = rest_api_source({
    "client": {"base_url": api.rstrip("/") + "/"},
    "resources": [{
        "name": "rest_dlt",
        "write_disposition": "replace",
        "endpoint": {
            "path": "page",
            "params": {"per_page": per_page},
            "data_selector": "data",
            "paginator": {"type": "page_number", "base_page": 1, "page_param": "page", "total_path": "total_pages"},
        },
        # The same column types as dpone's manifest declares.
        "columns": {
            "id": {"data_type": "bigint", "nullable": False},
            "name": {"data_type": "text"},
            "amount": {"data_type": "double"},
            "updated_at": {"data_type": "timestamp"},
            "active": {"data_type": "bool"},
            "meta": {"data_type": "json"},
            "tags": {"data_type": "json"},
        },
    }],
})
pipeline = dlt.pipeline(pipeline_name="bench_rest", pipelines_dir=pipelines_dir,
                        destination=dlt.destinations.postgres(credentials=pg), dataset_name="bench_dlt")
fmt = os.environ.get("DLT_LOADER_FORMAT") or None
info = pipeline.run(source, loader_file_format=fmt)
info.raise_on_failed_jobs()
print(pipeline.last_trace.last_normalize_info.row_counts.get("rest_dlt", 0))
PY

source Benchmarks/harness/peers-lib.sh   # measure
: > "$WORK/times"
for run in $(seq 1 "$RUNS"); do
  measure dpone "$DPONE" batch "$WORK/dpone.yml" --progress none --format json
  measure dlt "$VENV/bin/python" "$WORK/dlt_rest.py" "$API" "$URL" "$PER_PAGE" "$WORK/dlt-pipelines"
  echo "run $run/$RUNS: $(tail -n 2 "$WORK/times" | awk '{ printf "%s %ss %.0fMB  ", $1, $2, $3 / 1024 }')"
done

# Exact: count and sum(id) of every target table against the API's records.
CHECK="SELECT count(*) || ' ' || coalesce(sum(id), 0)"
DPONE_CHECK=$("${PSQL[@]}" -At -c "$CHECK FROM bench.rest_dpone")
DLT_CHECK=$("${PSQL[@]}" -At -c "$CHECK FROM bench_dlt.rest_dlt")
# And the same values, row by row, in both tables (ids present in one only count too).
DIFFERENT=$("${PSQL[@]}" -At -c "SELECT count(*) FROM bench.rest_dpone d FULL JOIN bench_dlt.rest_dlt t USING (id)
  WHERE d.id IS NULL OR t.id IS NULL OR (d.name, d.amount, d.updated_at, d.active, d.meta::jsonb, d.tags::jsonb)
    IS DISTINCT FROM (t.name::text, t.amount, t.updated_at, t.active, t.meta::jsonb, t.tags::jsonb)")
# The columns each tool created (informational: both tables should hold the same types).
COLUMNS() { "${PSQL[@]}" -At -c "SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position)
  FROM information_schema.columns WHERE table_schema = '$1' AND table_name = '$2'"; }
DPONE_COLUMNS=$(COLUMNS bench rest_dpone)
DLT_COLUMNS=$(COLUMNS bench_dlt rest_dlt)
DPONE_VERSION=$("$DPONE" --version 2>/dev/null | sed 's/^dpone //' || echo "?")

python3 - "$WORK/times" "$RECORDS" "$RUNS" "$DPONE_CHECK" "$DLT_CHECK" "$DIFFERENT" "$DLT_VERSION" "$DPONE_VERSION" \
  "$DPONE_COLUMNS" "$DLT_COLUMNS" "$ARTIFACTS" "$DPONE" "$MOCK" "$WORK/dpone.yml" <<'PY'
import datetime, json, os, statistics, sys
(times, records, runs, dpone_check, dlt_check, different, dlt_version, dpone_version, dpone_cols, dlt_cols, artifacts,
 dpone_bin, mock_bin, manifest) = sys.argv[1:]
records, runs, different = int(records), int(runs), int(different)
expect = f"{records} {records * (records + 1) // 2}"
by = {}
for line in open(times):
    label, secs, rss, cpu = line.split()
    by.setdefault(label, []).append((float(secs), int(rss), float(cpu)))
res = {k: {"runs_s": [s for s, _, _ in v], "median_s": statistics.median(s for s, _, _ in v),
           "peak_rss_mb": round(max(r for _, r, _ in v) / 1024, 1),
           "cpu_s": round(statistics.median(c for _, _, c in v), 2)} for k, v in by.items()}
for v in res.values():
    v["rows_per_s"] = round(records / v["median_s"])
ratio = res["dpone"]["rows_per_s"] / res["dlt"]["rows_per_s"]
rss_lower = res["dpone"]["peak_rss_mb"] < res["dlt"]["peak_rss_mb"]
exact = {"dpone": dpone_check == expect, "dlt": dlt_check == expect}
met = ratio >= 3 and rss_lower
fmt = os.environ.get("DLT_LOADER_FORMAT") or "insert_values (default)"
date = datetime.date.today().isoformat()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
report = {"name": f"REST -> PostgreSQL: dpone vs dlt rest_api, {records} records", "date": date,
          "machine": {"cores": os.cpu_count(), "cpu": cpu},
          "versions": {"dpone": dpone_version, "dlt": dlt_version},
          "binaries": {"dpone": dpone_bin, "dpone_rest_mock": mock_bin},
          "shape": {"records": records, "per_page": 1000, "pages": -(-records // 1000), "runs": runs},
          "dlt_settings": {"loader_file_format": fmt, "column_hints": "same types as dpone's schema (meta, tags: json)",
                           "telemetry": "off"},
          "results": res, "ratio_rows_per_s_dpone_over_dlt": round(ratio, 2),
          "target": {"rule": "dpone rows/s >= 3x dlt rows/s at lower peak RSS", "met": met,
                     "ratio_ok": ratio >= 3, "rss_lower": rss_lower},
          "verification": {"expected_count_sum_id": expect, "dpone": dpone_check, "dlt": dlt_check, "exact": exact,
                           "rows_differing_between_tables": different},
          "columns": {"dpone": dpone_cols, "dlt": dlt_cols}}
os.makedirs(artifacts, exist_ok=True)
base = os.path.join(artifacts, f"{date}_rest-to-pg-{records}")
json.dump(report, open(base + ".json", "w"), indent=2)
with open(base + ".md", "w") as f:
    f.write(f"# REST -> PostgreSQL: dpone vs dlt rest_api, {records:,} records ({date})\n\n")
    f.write(f"- machine: {os.cpu_count()} cores, {cpu}; dpone {dpone_version}; dlt {dlt_version} (PyPI `dlt[postgres]`, own venv)\n")
    f.write(f"- runner: `Benchmarks/harness/compare-rest.sh {records} {runs}` (alternated, medians of {runs}); "
            f"API: dpone-rest-mock, /page?page=N&per_page=1000, {-(-records // 1000):,} pages, one server for all runs\n")
    f.write("- timings are whole processes under `/usr/bin/time` (start-up included); peak RSS is the process's (or its largest child's); "
            "CPU is user+sys of the tool's process, not the API server's or PostgreSQL's\n\n")
    f.write("| tool | median s | rows/s | peak RSS MB | CPU s |\n| --- | ---: | ---: | ---: | ---: |\n")
    for k, v in res.items():
        f.write(f"| {k} | {v['median_s']:.2f} | {v['rows_per_s']:,} | {v['peak_rss_mb']} | {v['cpu_s']:.2f} |\n")
    f.write(f"\n- dpone rows/s / dlt rows/s: **{ratio:.2f}×**\n")
    f.write(f"- target: dpone ≥ 3× dlt's rows/s at lower peak RSS: **{'met' if met else 'NOT met'}** "
            f"(ratio {ratio:.2f}, peak RSS {res['dpone']['peak_rss_mb']} vs {res['dlt']['peak_rss_mb']} MB)\n")
    f.write(f"- exact (count(*) and sum(id) = {expect}): dpone `{dpone_check}` **{exact['dpone']}**, dlt `{dlt_check}` **{exact['dlt']}**\n")
    f.write(f"- same values in both tables (full join on id over every column): **{different == 0}** ({different:,} rows differ)\n")
    f.write(f"- dlt settings: defaults (extract -> normalize -> load, loader file format {fmt}) except: the resource declares the "
            "same column types as dpone's manifest (without them dlt flattens `meta` into columns and `tags` into a child table), "
            "telemetry off\n")
    f.write(f"- columns, dpone: {dpone_cols}\n- columns, dlt: {dlt_cols}\n\n")
    f.write("dpone manifest:\n\n```yaml\n" + open(manifest).read() + "```\n")
print(open(base + ".md").read())
if not all(exact.values()) or different:
    sys.exit(f"not exact: expected {expect}, dpone {dpone_check}, dlt {dlt_check}; {different} rows differ between the tables")
PY
