#!/usr/bin/env bash
# The local Kafka: librdkafka's mock cluster (real Kafka protocol on loopback) hosted by the
# project's dev executable dpone-kafka-mock. Kafka itself is not installable here.
#
# usage: scripts/kafka.sh start|stop|status|url
#
#   start   builds dpone-kafka-mock when its binary is missing (DPONE_KAFKA_MOCK_BIN overrides the
#           path), starts it with 3 brokers and its control port on 127.0.0.1:PORT (a no-op when it
#           already runs; a stale pid file is removed), waits until the control port answers and
#           prints the control address. Topics are created through it: `create <topic> <partitions>`
#           (one line; answer `ok`); `bootstrap` answers the brokers' bootstrap servers.
#   stop    stops it by pid (SIGTERM, then SIGKILL after 10 s). No-op when down.
#   status  exit 0 and "running (pid N) ..." when up; exit 3 and "stopped" when down.
#   url     prints the control address 127.0.0.1:PORT.
#
# Mock limits (probed): each partition keeps only ~5 MB (older messages are dropped); a consumer
# that exits without leaving its group blocks the next join for the session timeout; transactions
# are accepted but aborted messages are still delivered. Brokers listen on random loopback ports.
# Layout: $SERVICES/kafka/{log,run} with SERVICES=${DPONE_SERVICES_DIR:-$ROOT/.services}.
# Port: DPONE_KAFKA_CONTROL_PORT (default 19092).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES="${DPONE_SERVICES_DIR:-$ROOT/.services}"
BASE="$SERVICES/kafka"
RUN="$BASE/run"
LOG="$BASE/log/kafka-mock.log"
PIDFILE="$RUN/kafka-mock.pid"
PORT="${DPONE_KAFKA_CONTROL_PORT:-19092}"
BIN="${DPONE_KAFKA_MOCK_BIN:-$ROOT/.build/debug/dpone-kafka-mock}"

die() { echo "kafka.sh: $*" >&2; exit 1; }

live_pid() {
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid="$(head -n 1 "$PIDFILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "dpone-kafka-mock --brokers 3 --control-port $PORT" || return 1
  echo "$pid"
}

# Sends one control line and prints the answer.
control() {
  exec 3<>"/dev/tcp/127.0.0.1/$PORT" || return 1
  printf '%s\n' "$1" >&3
  local reply
  read -r -t 5 reply <&3 || { exec 3>&-; return 1; }
  exec 3>&-
  echo "$reply"
}

ping_ok() { [ "$(control ping 2>/dev/null)" = "ok" ]; }

start() {
  if live_pid >/dev/null && ping_ok; then
    echo "127.0.0.1:$PORT"
    return 0
  fi
  if [ ! -x "$BIN" ]; then
    echo "kafka.sh: building dpone-kafka-mock" >&2
    (cd "$ROOT" && swift build --product dpone-kafka-mock >&2) || die "cannot build dpone-kafka-mock"
  fi
  if ! live_pid >/dev/null; then
    [ -f "$PIDFILE" ] && { echo "kafka.sh: removing stale pid file" >&2; rm -f "$PIDFILE"; }
    mkdir -p "$RUN" "$(dirname "$LOG")"
    setsid "$BIN" --brokers 3 --control-port "$PORT" >>"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
  fi
  local i
  for i in $(seq 1 100); do
    ping_ok 2>/dev/null && { echo "127.0.0.1:$PORT"; return 0; }
    live_pid >/dev/null || { tail -n 20 "$LOG" >&2 || true; die "the mock cluster exited during startup (log: $LOG)"; }
    sleep 0.1
  done
  die "the mock cluster did not answer on 127.0.0.1:$PORT within 10 s (log: $LOG)"
}

stop() {
  local pid
  if ! pid="$(live_pid)"; then
    echo "kafka.sh: not running"
    rm -f "$PIDFILE"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do
    [ -d "/proc/$pid" ] || break
    sleep 0.1
  done
  [ -d "/proc/$pid" ] && { echo "kafka.sh: pid $pid ignored SIGTERM; sending SIGKILL" >&2; kill -KILL "$pid" 2>/dev/null || true; }
  rm -f "$PIDFILE"
  echo "kafka.sh: stopped pid $pid"
}

status() {
  local pid
  if pid="$(live_pid)" && ping_ok; then
    echo "running (pid $pid) on 127.0.0.1:$PORT, bootstrap $(control bootstrap)"
  else
    echo "stopped"
    return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  url) echo "127.0.0.1:$PORT" ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
