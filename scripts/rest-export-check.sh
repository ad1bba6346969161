#!/usr/bin/env bash
# Flat-memory check of the REST source: a paginated export of about SIZE_MB (default 2048) of JSON
# from the fixture API (dpone-rest-mock, 1000 records a page) into a CSV file, through the release
# binary; verifies the row count and records peak RSS, throughput and the exact commands in
# test_artifacts/long_running/<date>_rest-export-<size>mb.md (+ .json).
# Usage: scripts/rest-export-check.sh [SIZE_MB]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/timed-run.sh
SIZE_MB="${1:-2048}"
LIMIT_MB=150
PER_PAGE=1000
scripts/install-deps.sh
[ -n "${DPONE_BENCH_BIN:-}" ] || swift build -c release --product dpone >/dev/null
[ -n "${DPONE_REST_MOCK_BIN:-}" ] || swift build -c release --product dpone-rest-mock >/dev/null
DPONE="${DPONE_BENCH_BIN:-$PWD/.build/release/dpone}"
MOCK="${DPONE_REST_MOCK_BIN:-$PWD/.build/release/dpone-rest-mock}"
WORK="${REST_EXPORT_DIR:-$PWD/.build/rest-export}"
rm -rf "$WORK"; mkdir -p "$WORK"

start_mock() {
  "$MOCK" --records "$1" --per-page "$PER_PAGE" > "$WORK/mock.out" 2>&1 &
  MOCK_PID=$!
  for _ in $(seq 1 100); do grep -q listening "$WORK/mock.out" 2>/dev/null && break; sleep 0.1; done
  URL=$(awk '/listening/ {print $2}' "$WORK/mock.out")
}
trap 'kill $MOCK_PID 2>/dev/null || true' EXIT
# Bytes a record takes in a page, measured on a first page of the fixture; then the real server.
start_mock "$PER_PAGE"
PAGE_BYTES=$(curl -s "$URL/page?page=1&per_page=$PER_PAGE" | wc -c)
kill $MOCK_PID; wait $MOCK_PID 2>/dev/null || true
RECORDS=$(( SIZE_MB * 1024 * 1024 * PER_PAGE / PAGE_BYTES ))
start_mock "$RECORDS"
BYTES=$PAGE_BYTES
PAGES=$(( (RECORDS + PER_PAGE - 1) / PER_PAGE ))

cat > "$WORK/pipeline.yml" <<YAML
name: rest-export
source:
  type: rest
  connection: {url: "$URL"}
  options:
    path: /page
    params: {per_page: $PER_PAGE}
    records: data
    paginator: {type: page_number, total_pages_path: total_pages}
    flatten: true
    schema:
      - {name: id, type: int64, nullable: false}
      - {name: name, type: string}
      - {name: amount, type: float64}
      - {name: updated_at, type: timestamptz}
      - {name: active, type: bool}
      - {name: meta__source, type: string}
      - {name: meta__score, type: int64}
      - {name: tags, type: json}
sink: {type: files, path: $WORK/out.csv, strategy: {mode: full_refresh}}
state: {dir: $WORK/state}
YAML

COMMAND="$DPONE batch $WORK/pipeline.yml --format json --progress none"
timed_run "$WORK" $COMMAND
OUT_ROWS=$(( $(wc -l < "$WORK/out.csv") - 1 ))
JSON_MB=$(( BYTES * PAGES / 1024 / 1024 ))
STATUS=pass
[ "$RECORDS" -eq "$OUT_ROWS" ] && [ "$RECORDS" -eq "$EXTRACTED" ] || STATUS=fail
[ "$PEAK_MB" -lt "$LIMIT_MB" ] || STATUS=fail

DATE=$(date -u +%Y-%m-%d)
ART="test_artifacts/long_running/${DATE}_rest-export-${SIZE_MB}mb"
mkdir -p test_artifacts/long_running
cat > "$ART.json" <<JSON
{"name": "rest -> files full_refresh, ~${SIZE_MB} MB paginated JSON export", "date": "$DATE", "status": "$STATUS",
 "machine": {"cores": $(nproc), "cpu": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)", "memory_gb": $(free -g | awk '/Mem:/ {print $2}')},
 "swift": "$(swift --version 2>/dev/null | head -1)", "command": "$COMMAND",
 "records": $RECORDS, "pages": $PAGES, "approx_json_mb": $JSON_MB, "extracted_rows": $EXTRACTED, "output_rows": $OUT_ROWS,
 "peak_rss_mb": $PEAK_MB, "limit_mb": $LIMIT_MB, "elapsed": "$ELAPSED", "cpu_user_s": $CPU_USER, "cpu_sys_s": $CPU_SYS,
 "rows_per_second": $RPS}
JSON
cat > "$ART.md" <<MD
# rest -> files full_refresh over a ~${SIZE_MB} MB paginated export — $STATUS

- date: $DATE; runner: \`scripts/rest-export-check.sh $SIZE_MB\`
- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB; $(swift --version 2>/dev/null | head -1)
- server: \`dpone-rest-mock --records $RECORDS --per-page $PER_PAGE\` (release) on loopback, the same machine (it shares the 2 cores)
- command: \`$COMMAND\` (release build) under \`/usr/bin/time -v\`
- coverage: rest source (page_number paginator, records at \`data\`, flatten, declared schema) -> files sink (CSV), full_refresh

| metric | value |
| --- | --- |
| export | $RECORDS records, $PAGES pages, ~$JSON_MB MB of JSON |
| extracted / written rows | $EXTRACTED / $OUT_ROWS |
| peak RSS | **$PEAK_MB MB** (limit $LIMIT_MB MB) |
| wall time | $ELAPSED |
| CPU user / sys (dpone) | $CPU_USER s / $CPU_SYS s |
| throughput | $RPS rows/s |

Warnings/failures: $( [ "$STATUS" = pass ] && echo none || echo "row counts or memory bound violated" )
MD
cat "$ART.md"
rm -rf "$WORK"
[ "$STATUS" = pass ]
