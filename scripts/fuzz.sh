#!/usr/bin/env bash
# Fuzzes the decoders that face bytes from other systems (Sources/dpone-fuzz, one target each):
# builds dpone-fuzz with AddressSanitizer and libFuzzer's coverage into .build-fuzz/, then runs every
# target (or those named) for SECONDS each, from its committed seed corpus Fuzz/corpus/<target>/
# (the manifest target's are Tests/ManifestTests/Fixtures/ and examples/). New inputs go to
# .build-fuzz/corpus/<target>/ (not committed); a crash, leak, trap or 10 s hang is written to
# .build-fuzz/crashes/ and fails the script.
#
# Usage: scripts/fuzz.sh [--seconds N] [--artifact] [TARGET ...]
#   --seconds N   per target (default 20, what CI runs)
#   --artifact    also write test_artifacts/fuzz/<date>_fuzz-<N>s.md, with the latest result of every
#                 target at that duration (runs of different targets may go in parallel)
# A crash found: copy its file to Fuzz/corpus/<target>/regress-<what>, fix the decoder, and add a unit
# test; FuzzCorpusReplayTests replays every committed input through the target in the normal suite.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=20
artifact=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --artifact) artifact=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=(pgoutput copy-binary clickhouse-native clickhouse-compressed avro protobuf json-schema confluent-wire csv jsonl manifest)
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

# libFuzzer without its main(): dpone-fuzz finds LLVMFuzzerRunDriver at run time (dlsym), so the
# normal build of the same target links without it and replays files instead.
toolchain_lib="$(dirname "$(dirname "$(command -v swiftc)")")/lib"
libfuzzer="$(find "$toolchain_lib/clang" -name 'libclang_rt.fuzzer_no_main-x86_64.a' | head -n 1)"
[ -n "$libfuzzer" ] || { echo "fuzz.sh: libclang_rt.fuzzer_no_main not found under $toolchain_lib/clang" >&2; exit 1; }
echo "fuzz.sh: building dpone-fuzz with AddressSanitizer and coverage (.build-fuzz/)" >&2
swift build --product dpone-fuzz --scratch-path .build-fuzz \
  -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table \
  -Xlinker -u -Xlinker LLVMFuzzerRunDriver -Xlinker --export-dynamic-symbol=LLVMFuzzerRunDriver \
  -Xlinker "$libfuzzer" -Xlinker -lstdc++ 2>&1 | grep -v "Cannot export local symbol" | tail -n 3
bin="$PWD/.build-fuzz/debug/dpone-fuzz"

mkdir -p .build-fuzz/crashes
failed=()
for t in "${targets[@]}"; do
  work=".build-fuzz/corpus/$t"
  mkdir -p "$work"
  seeds=()
  [ -d "Fuzz/corpus/$t" ] && seeds+=("Fuzz/corpus/$t")
  # The manifest target's seeds are the manifest tests' fixtures and the examples.
  [ "$t" = manifest ] && seeds+=(Tests/ManifestTests/Fixtures/good Tests/ManifestTests/Fixtures/bad examples)
  log=".build-fuzz/$t.log"
  echo "fuzz.sh: $t for ${seconds}s" >&2
  status=0
  # The Swift backtracer would wait on a crashing child; ASan reports the crash instead.
  DPONE_FUZZ_TARGET="$t" SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=1:leak_check_at_exit=0 \
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix=".build-fuzz/crashes/$t-" "$work" "${seeds[@]}" >"$log" 2>&1 || status=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
  cov="$( (grep -o 'cov: [0-9]*' "$log" || true) | tail -n 1 | cut -d' ' -f2)"
  corp="$( (grep -o 'corp: [0-9]*' "$log" || true) | tail -n 1 | cut -d' ' -f2)"
  if [ "$status" -eq 0 ]; then result="no crash"; else
    result="FAILED (exit $status): $(grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|Fatal error' "$log" || echo "see $log")"
    failed+=("$t")
    tail -n 40 "$log" >&2
  fi
  echo "fuzz.sh: $t: ${execs:-0} executions (${rate:-0}/s), coverage ${cov:-?}, corpus ${corp:-?}: $result" >&2
  mkdir -p ".build-fuzz/results-${seconds}s"
  echo "| \`$t\` | $seconds | ${execs:-0} | ${rate:-0} | ${cov:-?} | ${corp:-?} | $result |" >".build-fuzz/results-${seconds}s/$t"
done

if [ "$artifact" = 1 ]; then
  mkdir -p test_artifacts/fuzz
  out="test_artifacts/fuzz/$(date +%F)_fuzz-${seconds}s.md"
  {
    echo "# Fuzzing the decoders, ${seconds} s per target ($(date -u +'%F %H:%M UTC'))"
    echo
    echo "\`scripts/fuzz.sh --seconds $seconds --artifact\` on $(nproc) cores, $(swift --version 2>&1 | head -n 1)."
    echo "libFuzzer with AddressSanitizer and LeakSanitizer, \`-timeout=10 -rss_limit_mb=2048\`, one target at a time,"
    echo "each from its committed seed corpus (\`Fuzz/corpus/<target>/\`, made from the decoders' golden test inputs)."
    echo "\"coverage\" is libFuzzer's count of covered edges, \"corpus\" the inputs it kept."
    echo
    echo "| target | seconds | executions | executions/s | coverage | corpus | result |"
    echo "|---|---|---|---|---|---|---|"
    # Every target's latest result at this duration, also from other runs (targets may be run in parallel).
    for t in "${all[@]}"; do [ -f ".build-fuzz/results-${seconds}s/$t" ] && cat ".build-fuzz/results-${seconds}s/$t"; done
  } >"$out"
  echo "fuzz.sh: wrote $out" >&2
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: FAILED: ${failed[*]} (inputs in .build-fuzz/crashes/)" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, ${seconds}s each, no crash, leak or hang"
