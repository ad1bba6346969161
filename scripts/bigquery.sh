#!/usr/bin/env bash
# The local BigQuery: bqemulator (PyPI 1.4.0; BigQuery's REST API over DuckDB) on loopback, offline.
# Installed into its own venv on first use; started and stopped by pid. No Docker, no network at start.
#
# usage: scripts/bigquery.sh start|stop|status|url|install
#
#   install  creates $SERVICES/bigquery/venv (bqemulator 1.4.0, DuckDB 1.5.5 and its spatial extension
#            from PyPI, copied where DuckDB looks, so the emulator does not download it at start).
#   start    installs when needed, starts the emulator on 127.0.0.1:PORT for project PROJECT with its
#            data in $SERVICES/bigquery/data (a no-op when it already runs; a stale pid file is
#            removed), waits until the datasets endpoint answers and prints the URL as its last line
#            (clients use BIGQUERY_EMULATOR_HOST=127.0.0.1:PORT, as Google's do).
#   stop     SIGTERM, then SIGKILL after 10 s. No-op when down.
#   status   exit 0 and "running (pid N) ..." when up; exit 3 and "stopped" when down.
#   url      prints http://127.0.0.1:PORT.
#
# Port: DPONE_BIGQUERY_PORT (default 19050; the gRPC port is PORT+1). Project: DPONE_BIGQUERY_PROJECT
# (default dpone-test). Layout: $SERVICES/bigquery/{venv,data,log,run}, SERVICES=${DPONE_SERVICES_DIR:-$ROOT/.services}.
# Offline, DuckDB's avro extension is missing: Avro load jobs are not served; NDJSON and CSV are.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NAME=bigquery.sh
source "$ROOT/scripts/service-lib.sh"
SERVICES="${DPONE_SERVICES_DIR:-$ROOT/.services}"
BASE="$SERVICES/bigquery"
VENV="$BASE/venv"
DATA="$BASE/data"
RUN="$BASE/run"
LOG="$BASE/log/bigquery.log"
PIDFILE="$RUN/bigquery.pid"
PORT="${DPONE_BIGQUERY_PORT:-19050}"
PROJECT="${DPONE_BIGQUERY_PROJECT:-dpone-test}"
URL="http://127.0.0.1:$PORT"
BQEMULATOR=1.4.0
DUCKDB=1.5.5

die() { echo "bigquery.sh: $*" >&2; exit 1; }

installed() {
  [ -x "$VENV/bin/bqemulator" ] \
    && "$VENV/bin/python" -c "import duckdb, sys; sys.exit(duckdb.__version__ != '$DUCKDB')" 2>/dev/null \
    && [ -f "$VENV/duckdb-home/.duckdb/extensions/v$DUCKDB/linux_amd64/spatial.duckdb_extension" ]
}

install() {
  installed && return 0
  command -v python3 >/dev/null || die "python3 is missing"
  echo "bigquery.sh: installing bqemulator $BQEMULATOR into $VENV" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "bqemulator==$BQEMULATOR" numpy >&2
  # bqemulator pins an older DuckDB loosely; this one has a spatial extension wheel on PyPI.
  "$VENV/bin/pip" install -q "duckdb==$DUCKDB" "duckdb-extension-spatial==$DUCKDB" 2>&1 | grep -vi 'dependency' >&2 || true
  local ext
  ext="$("$VENV/bin/python" -c "import duckdb_extension_spatial, os; print(os.path.join(os.path.dirname(duckdb_extension_spatial.__file__), 'extensions', 'v$DUCKDB', 'spatial.duckdb_extension'))")"
  [ -f "$ext" ] || die "the spatial extension is not where expected: $ext"
  mkdir -p "$VENV/duckdb-home/.duckdb/extensions/v$DUCKDB/linux_amd64"
  cp "$ext" "$VENV/duckdb-home/.duckdb/extensions/v$DUCKDB/linux_amd64/"
}

# The recorded pid when that process is alive and is our emulator on our port.
live_pid() { service_live_pid "--rest-port $PORT "; }

ping_ok() { curl -sf --max-time 2 "$URL/bigquery/v2/projects/$PROJECT/datasets" >/dev/null 2>&1; }

start() {
  install
  mkdir -p "$DATA"
  service_start "$URL" 240 0.25 "the emulator did not answer on 127.0.0.1:$PORT within 60 s" \
    env HOME="$VENV/duckdb-home" "$VENV/bin/bqemulator" start --rest-host 127.0.0.1 --rest-port "$PORT" \
    --grpc-host 127.0.0.1 --grpc-port $((PORT + 1)) --project "$PROJECT" --persistent --data-dir "$DATA" --log-level warning
}

stop() { service_stop 100; }

status() { service_status "on 127.0.0.1:$PORT, project $PROJECT, data $DATA"; }

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 start|stop|status|url|install" >&2; exit 2 ;;
esac
