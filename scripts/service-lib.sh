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

# The pid recorded in PIDFILE when that process is alive and its command line holds PATTERN (a
# crash can leave a pid that now belongs to another process). usage: service_live_pid PATTERN
service_live_pid() {
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid="$(head -n 1 "$PIDFILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$1" || return 1
  echo "$pid"
}

# Starts COMMAND unless the service already runs (a stale pid file is removed; something else
# answering the port is refused), in its own session (setsid: it outlives this shell, and signals
# to the caller's process group do not reach it), output appended to LOG; then waits as
# service_wait_ready. usage: service_start URL TRIES SLEEP WHAT COMMAND...
service_start() {
  local url="$1" tries="$2" pause="$3" what="$4"
  shift 4
  if live_pid >/dev/null && ping_ok; then
    echo "$url"
    return 0
  fi
  if ! live_pid >/dev/null; then
    if [ -f "$PIDFILE" ]; then
      echo "$NAME: removing stale pid file" >&2
      rm -f "$PIDFILE"
    fi
    if ping_ok; then
      echo "$NAME: something else answers at $url (no live pid in $PIDFILE)" >&2
      exit 1
    fi
    mkdir -p "$(dirname "$PIDFILE")" "$(dirname "$LOG")"
    setsid "$@" >>"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
  fi
  service_wait_ready "$url" "$tries" "$pause" "$what"
}

# Exit 0 and "running (pid N) DETAIL" when up; exit 3 and "stopped" when down.
# usage: service_status DETAIL
service_status() {
  local pid
  if pid="$(live_pid)" && ping_ok; then
    echo "running (pid $pid) $1"
  else
    echo "stopped"
    return 3
  fi
}
