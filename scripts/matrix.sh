#!/usr/bin/env bash
# The source -> sink -> strategy matrix (200 cases, `<source>_to_<sink>__<strategy>`), or a part of it.
#
#   scripts/matrix.sh [--layer contract|local] [--source S[,S]] [--sink S[,S]] [--strategy M[,M]] [--case ID[,ID]]
#                     [--artifact] [--list]
#
# contract (default): the selected cases' manifest, validation, operators and the sink's plan against
#   Tests/PipelineTests/MatrixGolden/; no server.
# local: the selected cases end to end through the binary on the local services (start them first,
#   as scripts/test.sh does, with their DPONE_TEST_* variables exported); two loads of the behaviour
#   model, the strategy's semantics asserted on the target.
# --artifact writes test_artifacts/integration_matrix/<date>_<layer>.md and .json (all 200 cases).
# --list prints the selected case ids and exits. Examples:
#   scripts/matrix.sh --source postgres --sink clickhouse
#   scripts/matrix.sh --layer local --case postgres_to_bigquery__scd2
set -euo pipefail
cd "$(dirname "$0")/.."
list=0
artifact=0
layer=contract
while [ $# -gt 0 ]; do
  case "$1" in
    --layer) layer="$2"; shift 2 ;;
    --source) export DPONE_MATRIX_SOURCE="$2"; shift 2 ;;
    --sink) export DPONE_MATRIX_SINK="$2"; shift 2 ;;
    --strategy) export DPONE_MATRIX_STRATEGY="$2"; shift 2 ;;
    --case) export DPONE_MATRIX_CASE="$2"; shift 2 ;;
    --artifact) artifact=1; shift ;;
    --list) list=1; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "matrix.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
swift build --build-tests >/dev/null
if [ "$list" = 1 ]; then
  # The ids are the golden file names; the filter is applied as the tests apply it.
  for f in Tests/PipelineTests/MatrixGolden/*.txt; do
    id=$(basename "$f" .txt); src=${id%%_to_*}; rest=${id#*_to_}; sink=${rest%%__*}; strategy=${id##*__}
    match() { [ -z "$1" ] || [[ ",$1," == *",$2,"* ]]; }
    match "${DPONE_MATRIX_SOURCE:-}" "$src" && match "${DPONE_MATRIX_SINK:-}" "$sink" && match "${DPONE_MATRIX_STRATEGY:-}" "$strategy" \
      && match "${DPONE_MATRIX_CASE:-}" "$id" && echo "$id"
  done
  exit 0
fi
if [ "$artifact" = 1 ]; then export DPONE_MATRIX_ARTIFACT_DIR="$PWD/test_artifacts/integration_matrix"; fi
case "$layer" in
  contract) swift test --skip-build --filter MatrixContractTests ;;
  local)
    export DPONE_RUN_INTEGRATION_MATRIX=1 DPONE_BIN="${DPONE_BIN:-$PWD/.build/debug/dpone}"
    swift test --skip-build --filter MatrixLocalTests ;;
  *) echo "matrix.sh: --layer is contract or local" >&2; exit 2 ;;
esac
