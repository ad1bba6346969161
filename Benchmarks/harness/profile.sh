#!/usr/bin/env bash
# Where the time goes: one more run of a workload's dpone command under a system-wide sampling
# profile (`perf record -a`, software cpu-clock at 499 Hz: this VM has no hardware PMU), reported
# as the CPU share per process (dpone, postgres, clickhouse, ...) and the hottest symbols of each
# (Swift names demangled).
#
#   Benchmarks/harness/profile.sh SLUG COMMAND...
#
# The compare-*.sh harnesses call it after their timed runs when PROFILE=1 (run-all.sh sets it),
# so the profile is of the same data and manifest; it is not part of any timing. Writes
# test_artifacts/benchmarks/<date>_profile-<SLUG>.txt. Without perf it says so and exits 0.
set -uo pipefail
cd "$(dirname "$0")/../.."
SLUG=$1; shift
OUT="test_artifacts/benchmarks/$(date +%F)_profile-$SLUG.txt"
DATA=".build/profile/$SLUG.data"
mkdir -p .build/profile test_artifacts/benchmarks
if ! command -v perf >/dev/null || ! perf record -o /dev/null -- true >/dev/null 2>&1; then
  echo "profile.sh: perf is not usable here; no profile for $SLUG" >&2
  exit 0
fi
start=$(date +%s.%N)
perf record -q -a -F 499 -o "$DATA" -- "$@" >/dev/null 2>".build/profile/$SLUG.err" || {
  echo "profile.sh: the profiled command failed: $(tail -n 3 ".build/profile/$SLUG.err")" >&2; exit 1; }
end=$(date +%s.%N)
demangle() { if command -v swift >/dev/null; then swift demangle --simplified --compact; else cat; fi; }
{
  echo "# Profile: $SLUG — $(date +%F)"
  echo
  echo "command: $*"
  echo "wall: $(awk "BEGIN { printf \"%.2f\", $end - $start }") s under perf record -a -F 499 (cpu-clock; 2 cores = 2 x wall of samples at most)"
  echo
  echo "## CPU share by process (of all samples on both cores, idle included)"
  perf report -i "$DATA" --stdio --no-children --sort comm --percent-limit 0.5 2>/dev/null | grep -v '^#' | grep -v '^$'
  echo
  echo "## Hottest symbols (process, shared object, symbol; >= 0.7 % of samples)"
  perf report -i "$DATA" --stdio --no-children --sort comm,dso,sym --percent-limit 0.7 2>/dev/null | grep -v '^#' | grep -v '^$' | demangle
} >"$OUT"
cat "$OUT"
