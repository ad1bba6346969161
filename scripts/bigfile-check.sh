#!/usr/bin/env bash
# Flat-memory check: generates a CSV of SIZE_MB (default 2048) and runs a files -> files full_refresh
# through the release binary, then verifies row counts and records peak RSS, throughput and the exact
# commands in test_artifacts/long_running/<date>_files-<size>mb.md (+ .json).
# Usage: scripts/bigfile-check.sh [SIZE_MB]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/timed-run.sh
SIZE_MB="${1:-2048}"
LIMIT_MB=150
scripts/install-deps.sh
swift build -c release --product dpone >/dev/null
DPONE="$PWD/.build/release/dpone"
WORK="${BIGFILE_DIR:-$PWD/.build/bigfile}"
rm -rf "$WORK"; mkdir -p "$WORK"

# ~100 bytes a row: int64, string, decimal(12,2), timestamptz, bool, quoted text with a comma.
awk -v target=$((SIZE_MB * 1024 * 1024)) 'BEGIN {
  print "id,customer,amount,created_at,active,note"
  bytes = 0
  for (i = 1; bytes < target; i++) {
    line = sprintf("%d,customer-%07d,%d.%02d,2026-%02d-%02dT%02d:%02d:%02d.%06dZ,%s,\"note %d, with comma\"", i, i % 1000003, i % 100000, i % 100, i % 12 + 1, i % 28 + 1, i % 24, i % 60, i % 60, i % 1000000, (i % 2 ? "true" : "false"), i)
    print line
    bytes += length(line) + 1
  }
}' > "$WORK/big.csv"
ROWS=$(( $(wc -l < "$WORK/big.csv") - 1 ))
BYTES=$(stat -c %s "$WORK/big.csv")

cat > "$WORK/pipeline.yml" <<YAML
name: bigfile
source:
  type: files
  path: $WORK/big.csv
  options:
    schema:
      - {name: id, type: int64, nullable: false}
      - {name: customer, type: string}
      - {name: amount, type: "decimal(12,2)"}
      - {name: created_at, type: timestamptz}
      - {name: active, type: bool}
      - {name: note, type: string}
sink:
  type: files
  path: $WORK/out.csv
  strategy: {mode: full_refresh}
  options: {row_hash: true, lineage: true}
state: {dir: $WORK/state}
YAML

COMMAND="$DPONE batch $WORK/pipeline.yml --format json --progress none"
timed_run "$WORK" $COMMAND
OUT_ROWS=$(( $(wc -l < "$WORK/out.csv") - 1 ))
MBPS=$(printf '%.1f' "$(grep '"megabytes_per_second"' "$WORK/result.json" | sed 's/.*: //; s/,//')")
STATUS=pass
[ "$ROWS" -eq "$OUT_ROWS" ] && [ "$ROWS" -eq "$EXTRACTED" ] || STATUS=fail
[ "$PEAK_MB" -lt "$LIMIT_MB" ] || STATUS=fail

DATE=$(date -u +%Y-%m-%d)
SLUG="files-${SIZE_MB}mb"
ART="test_artifacts/long_running/${DATE}_${SLUG}"
mkdir -p test_artifacts/long_running
cat > "$ART.json" <<JSON
{"name": "files -> files full_refresh, ${SIZE_MB} MB CSV", "date": "$DATE", "status": "$STATUS",
 "machine": {"cores": $(nproc), "cpu": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)", "memory_gb": $(free -g | awk '/Mem:/ {print $2}')},
 "swift": "$(swift --version 2>/dev/null | head -1)", "command": "$COMMAND",
 "input_bytes": $BYTES, "source_rows": $ROWS, "extracted_rows": $EXTRACTED, "output_rows": $OUT_ROWS,
 "peak_rss_mb": $PEAK_MB, "limit_mb": $LIMIT_MB, "elapsed": "$ELAPSED", "cpu_user_s": $CPU_USER, "cpu_sys_s": $CPU_SYS,
 "rows_per_second": $RPS, "source_mb_per_second": $MBPS}
JSON
cat > "$ART.md" <<MD
# files -> files full_refresh over a ${SIZE_MB} MB CSV — $STATUS

- date: $DATE; runner: \`scripts/bigfile-check.sh $SIZE_MB\`
- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB; $(swift --version 2>/dev/null | head -1)
- command: \`$COMMAND\` (release build) under \`/usr/bin/time -v\`
- coverage: files source (CSV, declared schema: int64, string, decimal(12,2), timestamptz, bool, quoted string) ->
  row hash + lineage columns -> files sink (CSV), strategy full_refresh

| metric | value |
| --- | --- |
| input | $BYTES bytes, $ROWS rows |
| extracted / written rows | $EXTRACTED / $OUT_ROWS |
| peak RSS | **$PEAK_MB MB** (limit $LIMIT_MB MB) |
| wall time | $ELAPSED |
| CPU user / sys | $CPU_USER s / $CPU_SYS s |
| throughput | $RPS rows/s, $MBPS MB/s of source batches |

Warnings/failures: $( [ "$STATUS" = pass ] && echo none || echo "row counts or memory bound violated" )
MD
cat "$ART.md"
rm -rf "$WORK"
[ "$STATUS" = pass ]
