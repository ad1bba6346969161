# Sourced by the long-running checks (bigfile-check.sh, rest-export-check.sh): runs a dpone command
# under /usr/bin/time -v and reads what both report.
#
#   timed_run WORK COMMAND...   runs COMMAND with stdout in WORK/result.json and time's report in
#                               WORK/time.txt (printed, and the script stops, when COMMAND fails);
#                               then sets PEAK_KB, PEAK_MB, ELAPSED, CPU_USER, CPU_SYS (time -v) and
#                               EXTRACTED, RPS (dpone's --format json result).
timed_run() {
  local work="$1"; shift
  /usr/bin/env time -v "$@" > "$work/result.json" 2> "$work/time.txt" || { cat "$work/time.txt"; exit 1; }
  PEAK_KB=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
  PEAK_MB=$((PEAK_KB / 1024))
  ELAPSED=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")
  CPU_USER=$(awk -F': ' '/User time/ {print $2}' "$work/time.txt")
  CPU_SYS=$(awk -F': ' '/System time/ {print $2}' "$work/time.txt")
  EXTRACTED=$(grep '"extracted_rows"' "$work/result.json" | tr -dc '0-9')
  RPS=$(printf '%.0f' "$(grep '"rows_per_second"' "$work/result.json" | sed 's/.*: //; s/,//')")
}
