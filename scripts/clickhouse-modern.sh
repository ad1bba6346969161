#!/usr/bin/env bash
# The local modern ClickHouse (26.9, the engine of chDB) behind ClickHouse's HTTP interface, served by
# scripts/services/clickhouse_http.py (its docstring says which part of the interface it implements).
# Loopback only, started and stopped by pid. No Docker, no systemd.
#
# usage: scripts/clickhouse-modern.sh start|stop|status|url
#
#   start   creates the virtualenv $SERVICES/chdb-venv (python3 -m venv) and installs chdb-core==26.9.0
#           into it with --no-deps from PyPI when missing (a ~181 MB wheel, once), with lz4 and
#           zstandard for compressed request bodies, then starts clickhouse_http.py on 127.0.0.1:PORT
#           with --path $SERVICES/clickhouse-modern/data (a no-op when it already runs; a stale pid
#           file is removed), waits until
#           GET /ping answers "Ok." and prints the URL. Measured here (2 cores): 0.4 s from `start`
#           to "Ok." (Python importing chdb; the engine itself is up in ~0.03 s); 0.15 s when already
#           running; creating the venv and installing the wheel the first time took 10 s.
#   stop    stops the server whose pid is in run/clickhouse-modern.pid (SIGTERM, then SIGKILL after
#           15 s). No-op when down.
#   status  exit 0 and "running (pid N) ..." when up; exit 3 and "stopped" when down.
#   url     prints http://127.0.0.1:PORT/ (the server checks no credentials: any user/password is
#           accepted).
#
# Layout: $SERVICES/chdb-venv, $SERVICES/clickhouse-modern/{data,log,run} with SERVICES =
# ${DPONE_SERVICES_DIR:-$ROOT/.services}. Port: DPONE_CH_MODERN_PORT (default 18124).
# Runs as the invoking user (root included: the Python facade needs no privilege drop).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NAME=clickhouse-modern.sh
source "$ROOT/scripts/service-lib.sh"
SERVICES="${DPONE_SERVICES_DIR:-$ROOT/.services}"
FACADE="$ROOT/scripts/services/clickhouse_http.py"
VENV="$SERVICES/chdb-venv"
BASE="$SERVICES/clickhouse-modern"
DATA="$BASE/data"
RUN="$BASE/run"
LOG="$BASE/log/clickhouse-modern.log"
PIDFILE="$RUN/clickhouse-modern.pid"
PORT="${DPONE_CH_MODERN_PORT:-18124}"
CHDB_VERSION="26.9.0"
LZ4_VERSION="4.4.5"
ZSTANDARD_VERSION="0.25.0"
URL="http://127.0.0.1:$PORT/"

die() { echo "clickhouse-modern.sh: $*" >&2; exit 1; }

install_venv() {
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import chdb, lz4.block, zstandard" >/dev/null 2>&1; then
    return 0
  fi
  command -v python3 >/dev/null || die "python3 is missing (apt-get install python3 python3-venv)"
  echo "clickhouse-modern.sh: installing chdb-core==$CHDB_VERSION into $VENV" >&2
  mkdir -p "$SERVICES"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" \
    || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps "chdb-core==$CHDB_VERSION" \
    || die "pip install chdb-core==$CHDB_VERSION failed"
  "$VENV/bin/pip" install -q --disable-pip-version-check "lz4==$LZ4_VERSION" "zstandard==$ZSTANDARD_VERSION" \
    || die "pip install lz4==$LZ4_VERSION zstandard==$ZSTANDARD_VERSION failed"
  "$VENV/bin/python" -c "import chdb" || die "chdb does not import after installing chdb-core==$CHDB_VERSION"
}

# The pid recorded in the pid file when that process is alive and is our facade on our port.
live_pid() { service_live_pid "clickhouse_http.py --host 127.0.0.1 --port $PORT"; }

ping_ok() { [ "$(curl -s --max-time 2 "http://127.0.0.1:$PORT/ping" 2>/dev/null)" = "Ok." ]; }

start() {
  install_venv
  mkdir -p "$DATA"
  service_start "$URL" 300 0.1 "the server did not answer /ping on 127.0.0.1:$PORT within 30 s" \
    "$VENV/bin/python" "$FACADE" --host 127.0.0.1 --port "$PORT" --path "$DATA"
}

stop() { service_stop 150; }

status() { service_status "on 127.0.0.1:$PORT, data $DATA"; }

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
