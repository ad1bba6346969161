#!/usr/bin/env bash
# The local schema registry: scripts/fakes/schema_registry.py, a Python (standard library only) fake
# of the Confluent Schema Registry REST API (ids, subjects, versions, lookup, delete, config; no
# compatibility checks). Loopback only, started and stopped by pid. No Docker, no Java.
#
# usage: scripts/schema-registry.sh start|stop|status|url
#
#   start   starts the fake on 127.0.0.1:PORT with its state in $SERVICES/schema-registry/data/registry.json
#           (so ids survive restarts; a no-op when it already runs; a stale pid file is removed), waits
#           until GET /subjects answers and prints the URL as its last line.
#   stop    stops the fake whose pid is in run/schema-registry.pid (SIGTERM, then SIGKILL after 10 s).
#           No-op when down.
#   status  exit 0 and "running (pid N) ..." when up; exit 3 and "stopped" when down.
#   url     prints http://127.0.0.1:PORT (without credentials).
#
# Layout: $SERVICES/schema-registry/{data,log,run} with SERVICES=${DPONE_SERVICES_DIR:-$ROOT/.services}.
# Port: DPONE_SCHEMA_REGISTRY_PORT (default 18081). DPONE_SCHEMA_REGISTRY_AUTH=user:password turns on
# HTTP basic auth (clients then need user:password@ in the URL). To forget every schema: stop, then
# delete the data file.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NAME=schema-registry.sh
source "$ROOT/scripts/service-lib.sh"
SERVICES="${DPONE_SERVICES_DIR:-$ROOT/.services}"
FAKE="$ROOT/scripts/fakes/schema_registry.py"
BASE="$SERVICES/schema-registry"
DATA="$BASE/data/registry.json"
RUN="$BASE/run"
LOG="$BASE/log/schema-registry.log"
PIDFILE="$RUN/schema-registry.pid"
PORT="${DPONE_SCHEMA_REGISTRY_PORT:-18081}"
AUTH="${DPONE_SCHEMA_REGISTRY_AUTH:-}"
URL="http://127.0.0.1:$PORT"

die() { echo "schema-registry.sh: $*" >&2; exit 1; }

# The pid recorded in the pid file when that process is alive and is our fake on our port.
live_pid() { service_live_pid "schema_registry.py --host 127.0.0.1 --port $PORT "; }

# Any HTTP answer from GET /subjects (401 included: the fake is up, it just wants credentials).
ping_ok() {
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/subjects" 2>/dev/null || true)"
  [ "$code" = "200" ] || [ "$code" = "401" ]
}

start() {
  command -v python3 >/dev/null || die "python3 is missing"
  # The interpreter itself, not a version-manager shim (a shim would own the pid for a moment
  # with another command line).
  local python
  python="$(python3 -c 'import sys; print(sys.executable)')" || die "python3 does not run"
  mkdir -p "$(dirname "$DATA")"
  local args=(--host 127.0.0.1 --port "$PORT" --data "$DATA")
  [ -n "$AUTH" ] && args+=(--user "$AUTH")
  service_start "$URL" 100 0.1 "the fake did not answer GET /subjects on 127.0.0.1:$PORT within 10 s" "$python" "$FAKE" "${args[@]}"
}

stop() { service_stop 100; }

status() { service_status "on 127.0.0.1:$PORT, data $DATA"; }

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
