# Sourced by the scripts of the pid-file services (bigquery.sh, clickhouse-modern.sh,
# schema-registry.sh). The caller defines `live_pid` (prints the recorded pid when that process is
# alive and is this service) and `ping_ok` (the service answers), and sets NAME, PIDFILE and LOG.

# Waits until ping_ok, up to TRIES checks SLEEP seconds apart, then prints URL; dies with the log's
# tail when the process exits or the time is up. usage: service_wait_ready URL TRIES SLEEP WHAT
service_wait_ready() {
  local url="$1" tries="$2" pause="$3" what="$4" i
  for i in $(seq 1 "$tries"); do
    ping_ok && { echo "$url"; return 0; }
    if ! live_pid >/dev/null; then
      tail -n 20 "$LOG" >&2 || true
      echo "$NAME: the service exited during startup (log: $LOG)" >&2
      exit 1
    fi
    sleep "$pause"
  done
  tail -n 20 "$LOG" >&2 || true
  echo "$NAME: $what (log: $LOG)" >&2
  exit 1
}

# SIGTERM, then SIGKILL after TENTHS tenths of a second; a no-op when down. usage: service_stop TENTHS
service_stop() {
  local pid i
  if ! pid="$(live_pid)"; then
    echo "$NAME: not running"
    rm -f "$PIDFILE"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 "$1"); do
    [ -d "/proc/$pid" ] || break
    sleep 0.1
  done
  if [ -d "/proc/$pid" ]; then
    echo "$NAME: pid $pid did not exit after SIGTERM; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  echo "$NAME: stopped pid $pid"
}
